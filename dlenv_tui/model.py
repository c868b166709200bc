"""The data everything else passes around: host facts, checks, plans, profiles and worker events.

Frozen dataclasses and string enums only; no I/O. ``to_data`` / ``from_data`` turn any of them into
plain JSON/TOML-ready dicts and back, so `dlenv check --json` output, plan JSON for the root worker
and profile files all share one serialisation.

Convention (from subiquity): ``None`` means "not probed / unknown", an empty tuple means
"probed and none found".
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union

T = TypeVar("T")


class StrEnum(str, enum.Enum):
    """A str-valued enum that prints as its value (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)


# --------------------------------------------------------------------------------------------
# Host facts


class PkgFamily(StrEnum):
    APT = "apt"
    DNF = "dnf"
    ZYPPER = "zypper"
    OTHER = "other"


class DriverFlavour(StrEnum):
    OPEN = "open"
    PROPRIETARY = "proprietary"


@dataclass(frozen=True)
class Distro:
    """What /etc/os-release says about the OS."""

    id: str
    """Lower-case ID, e.g. ``ubuntu``, ``debian``, ``fedora``, ``rocky``, ``opensuse-leap``."""
    version_id: str = ""
    """``VERSION_ID``, e.g. ``24.04``, ``12``, ``9.4``, ``15.6``; empty on rolling releases."""
    codename: str = ""
    """``VERSION_CODENAME`` / ``UBUNTU_CODENAME``, e.g. ``noble``, ``bookworm``."""
    like: tuple[str, ...] = ()
    """``ID_LIKE`` split on spaces."""
    name: str = ""
    """``PRETTY_NAME`` for display."""


@dataclass(frozen=True)
class Gpu:
    """One NVIDIA GPU, merged from sysfs / lspci / NVML."""

    pci_address: str
    """Domain:bus:device.function, e.g. ``0000:01:00.0``."""
    device_id: str
    """Four lower-case hex digits without ``0x``, e.g. ``2684``."""
    name: str = ""
    """Marketing name, e.g. ``GeForce RTX 4090`` (NVML, else the PCI table, else lspci)."""
    chip: str = ""
    """Chip codename from the PCI table, e.g. ``AD102``."""
    architecture: str = ""
    """``Maxwell`` … ``Blackwell``; empty when unknown."""
    compute_capability: str = ""
    """``major.minor`` e.g. ``8.9``; empty when unknown."""
    memory_mib: int | None = None
    """Total memory from NVML; None without NVML."""
    uuid: str = ""
    """``GPU-…`` from NVML; empty without NVML."""
    subsystem_vendor: str = ""
    subsystem_device: str = ""
    bound_driver: str = ""
    """Kernel driver bound to the PCI function (``nvidia``, ``nouveau``, ``vfio-pci``…), empty if none."""


@dataclass(frozen=True)
class DriverInfo:
    """The NVIDIA kernel driver as the running kernel sees it."""

    loaded: bool = False
    version: str = ""
    """e.g. ``580.95.05``; empty when not loaded."""
    flavour: DriverFlavour | None = None
    """Open vs proprietary, from /proc/driver/nvidia/version; None when unknown."""
    cuda_version: str = ""
    """Newest CUDA the driver supports, from NVML (``13.0``); empty without NVML."""
    nvml: bool = False
    """Whether NVML loaded and answered."""
    nouveau_loaded: bool = False


@dataclass(frozen=True)
class SecureBoot:
    """Whether the firmware enforces signed kernel modules, and how that was found out."""

    enabled: bool | None = None
    """True / False, or None when it cannot be told (no mokutil and no EFI variables: a BIOS box)."""
    efi: bool | None = None
    """Whether the machine booted through UEFI (/sys/firmware/efi exists)."""
    source: str = ""
    """How it was determined: ``mokutil``, ``efivar`` or ``none``."""


@dataclass(frozen=True)
class Tool:
    """A program on PATH and the version it reports."""

    present: bool = False
    version: str = ""
    path: str = ""
    running: bool | None = None
    """For engines: whether the daemon / API socket answers; None when not probed."""


@dataclass(frozen=True)
class UserInfo:
    """The user running dlenv: identity, groups and what sudo allows."""

    name: str = ""
    uid: int = -1
    gid: int = -1
    groups: tuple[str, ...] = ()
    is_root: bool = False
    sudo_nopasswd: bool | None = None
    """``sudo -n true`` succeeded; None when sudo is not installed."""
    sudo_present: bool = False
    home: str = ""


@dataclass(frozen=True)
class DiskInfo:
    """Free and total space where container images will be stored."""

    path: str = "/"
    """Where images will live (``/var/lib/docker`` or ``/var/lib/containers`` or their nearest parent)."""
    free_bytes: int | None = None
    total_bytes: int | None = None


@dataclass(frozen=True)
class HostFacts:
    """Everything the probe learned about the host; read-only, serialisable, replayable."""

    arch: str
    """``uname -m`` style: ``x86_64``, ``aarch64``."""
    distro: Distro
    pkg_family: PkgFamily = PkgFamily.OTHER
    systemd: bool = False
    """Whether PID 1 is systemd."""
    kernel: str = ""
    """Running kernel release (``uname -r``)."""
    kernel_headers: bool | None = None
    """Headers for the running kernel are installed (needed for DKMS); None if unknown."""
    gpus: tuple[Gpu, ...] = ()
    driver: DriverInfo = field(default_factory=DriverInfo)
    secure_boot: SecureBoot = field(default_factory=SecureBoot)
    docker: Tool = field(default_factory=Tool)
    podman: Tool = field(default_factory=Tool)
    nvidia_ctk: Tool = field(default_factory=Tool)
    lspci: bool = False
    user: UserInfo = field(default_factory=UserInfo)
    disk: DiskInfo = field(default_factory=DiskInfo)
    hostname: str = ""
    probed_at: str = ""
    """ISO-8601 UTC timestamp of the probe."""


# --------------------------------------------------------------------------------------------
# Checks


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One row of the prerequisite table."""

    id: str
    title: str
    status: Status
    detail: str = ""
    """One line: what was found."""
    fix: str = ""
    """One line: what to do about it (empty when nothing to do)."""


# --------------------------------------------------------------------------------------------
# Plans


class Stage(StrEnum):
    DRIVER = "driver"
    TOOLKIT = "toolkit"
    ENGINE = "engine"
    IMAGE = "image"
    LAUNCH = "launch"


class StepKind(StrEnum):
    RUN = "run"
    """Run ``argv`` (no shell)."""
    WRITE_FILE = "write_file"
    """Write ``file`` atomically with its mode (the worker does this itself)."""
    DOWNLOAD = "download"
    """Fetch ``download.url`` over https to ``download.dest``, verifying the fingerprint/sha256."""
    REBOOT = "reboot"
    """The user must reboot; never run automatically."""


@dataclass(frozen=True)
class FileSpec:
    """A file a ``WRITE_FILE`` step writes: path, content and mode."""

    path: str
    """Absolute path on the host."""
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class DownloadSpec:
    """A file a ``DOWNLOAD`` step fetches over https and verifies before installing it."""

    url: str
    """https only."""
    dest: str
    """Absolute path on the host."""
    mode: int = 0o644
    fingerprint: str = ""
    """OpenPGP fingerprint to verify (keys), spaces allowed; empty when none is published."""
    sha256: str = ""
    dearmor: bool = False
    """Convert an ASCII-armoured key into a binary keyring (``gpg --dearmor``)."""


@dataclass(frozen=True)
class Step:
    """One privileged or read-only action of a plan: an argv, a file to write or a download."""

    id: str
    """Stable within a plan (``driver.install``); used for progress and resume."""
    title: str
    kind: StepKind = StepKind.RUN
    argv: tuple[str, ...] = ()
    needs_root: bool = True
    check: tuple[str, ...] = ()
    """A read-only command; exit status 0 means the step is already done. Empty: always run."""
    file: FileSpec | None = None
    download: DownloadSpec | None = None
    timeout_s: int = 3600
    env: tuple[tuple[str, str], ...] = ()
    """Extra environment (e.g. DEBIAN_FRONTEND=noninteractive); LC_ALL=C is always set."""
    note: str = ""
    """Why this step exists, one sentence for the preview."""


@dataclass(frozen=True)
class Plan:
    """What one stage would do on this host, step by step, with reasons and warnings for the UI."""

    stage: Stage
    steps: tuple[Step, ...] = ()
    reasons: tuple[str, ...] = ()
    """Why the plan looks the way it does (short sentences for the UI)."""
    warnings: tuple[str, ...] = ()
    """Things the user must know before confirming (Secure Boot enrolment, root-equivalent group)."""
    satisfied: bool = False
    """The stage is already done on this host; steps may be empty."""
    profile: str = ""
    distro: str = ""


# --------------------------------------------------------------------------------------------
# Profiles


class EngineName(StrEnum):
    DOCKER = "docker"
    PODMAN = "podman"


class EngineSource(StrEnum):
    DOCKER_CE = "docker-ce"
    """Docker's own repository."""
    DISTRO = "distro"
    """The distribution's package (docker.io, moby-engine, podman)."""


class ImageVariant(StrEnum):
    BASE = "base"
    RUNTIME = "runtime"
    DEVEL = "devel"


class StageState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    NEEDS_REBOOT = "needs-reboot"


@dataclass(frozen=True)
class DriverChoice:
    """The profile's choices for the NVIDIA driver stage."""

    flavour: DriverFlavour | None = None
    """None: let compat decide from the GPUs."""
    branch: str = ""
    """Pinned branch, e.g. ``580``; empty: the distro's current one."""
    source: str = "auto"
    """``auto``, ``distro`` (ubuntu-drivers, RPM Fusion, SUSE GFX) or ``cuda-repo`` (NVIDIA's repo)."""
    skip: bool = False


@dataclass(frozen=True)
class EngineChoice:
    """The profile's choices for the container engine stage."""

    engine: EngineName = EngineName.DOCKER
    source: EngineSource = EngineSource.DOCKER_CE
    docker_group: bool = False
    """Add the user to the docker group (root-equivalent)."""
    rootless: bool = False


@dataclass(frozen=True)
class ImageOptions:
    """What goes into the image: CUDA base, packages, services and build settings."""

    cuda: str = ""
    """``12.8`` / ``13.0``; empty: newest the GPUs and driver allow."""
    variant: ImageVariant = ImageVariant.RUNTIME
    cudnn: bool = True
    ubuntu: str = "24.04"
    base_override: str = ""
    """Use this image instead of nvidia/cuda (NGC, a mirror, a local image)."""
    python_packages: tuple[str, ...] = (
        "numpy",
        "scipy",
        "pandas",
        "matplotlib",
        "seaborn",
        "scikit-learn",
        "tqdm",
        "torch",
    )
    """Preset names (see ``dlenv_tui.image``) or plain PyPI requirement strings."""
    extra_apt: tuple[str, ...] = ()
    extra_pip: tuple[str, ...] = ()
    jupyter: bool = True
    ssh: bool = True
    tmux: bool = True
    create_user: bool = True
    """A non-root user with the host UID/GID."""
    apt_mirror: str = ""
    pip_index: str = ""
    ca_certs: tuple[str, ...] = ()
    """Host paths of extra CA certificates (PEM) to trust inside the image."""
    tag: str = ""
    """Image tag; empty: ``dlenv/<profile>:latest``."""


@dataclass(frozen=True)
class Mount:
    """A host directory bind-mounted into the container."""

    source: str
    """Host path (absolute)."""
    target: str
    """Container path (absolute)."""
    read_only: bool = False


@dataclass(frozen=True)
class PortMap:
    """A container port published on the host."""

    container: int
    host: int
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True)
class RunOptions:
    """How the container is started: GPUs, shared memory, mounts, ports, name and user."""

    gpus: str = "all"
    """``all``, a count (``2``) or comma-separated indices / UUIDs (``0,1``), or ``none``."""
    shm_size: str = "8g"
    mounts: tuple[Mount, ...] = ()
    ports: tuple[PortMap, ...] = (PortMap(8888, 8888), PortMap(22, 2222))
    name: str = ""
    """Container name; empty: ``dlenv-<profile>``."""
    as_root: bool = False
    restart: str = "no"
    """``no``, ``unless-stopped``, ``always``, ``on-failure``."""


@dataclass(frozen=True)
class StageProgress:
    """Where one stage of a profile stands, and which plan steps finished."""

    state: StageState = StageState.PENDING
    updated_at: str = ""
    """ISO-8601 UTC."""
    detail: str = ""
    done_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuiltImage:
    """The image last built for a profile."""

    tag: str = ""
    id: str = ""
    built_at: str = ""
    engine: str = ""


@dataclass(frozen=True)
class Profile:
    """One saved setup: every stage's choices, progress and the host it was made on."""

    name: str
    schema: int = 1
    created_at: str = ""
    updated_at: str = ""
    driver: DriverChoice = field(default_factory=DriverChoice)
    engine: EngineChoice = field(default_factory=EngineChoice)
    image: ImageOptions = field(default_factory=ImageOptions)
    run: RunOptions = field(default_factory=RunOptions)
    progress: dict[str, StageProgress] = field(default_factory=dict)
    """Keyed by ``Stage`` value."""
    last_image: BuiltImage | None = None
    host: HostFacts | None = None
    """Snapshot of the facts the profile was made on (to warn when the host changed)."""


# --------------------------------------------------------------------------------------------
# Root-worker events (JSON lines)


class EventKind(StrEnum):
    JOB_STARTED = "job_started"
    STEP_STARTED = "step_started"
    OUTPUT = "output"
    STEP_FINISHED = "step_finished"
    WAITING = "waiting"
    """Waiting for something outside our control (a package-manager lock)."""
    JOB_FINISHED = "job_finished"
    ERROR = "error"


class StepOutcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    """Its check said it was already done."""
    FAILED = "failed"
    CANCELLED = "cancelled"
    REBOOT = "reboot"
    """A reboot step: the user must reboot before the plan goes on."""


@dataclass(frozen=True)
class Event:
    """One line of a root-worker job's event stream (JSON lines)."""

    kind: EventKind
    job: str = ""
    step: str = ""
    index: int = 0
    """1-based step number within the plan."""
    total: int = 0
    line: str = ""
    outcome: StepOutcome | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    message: str = ""
    time: float = 0.0
    """Unix time the event was written."""


# --------------------------------------------------------------------------------------------
# Serialisation


class DataError(ValueError):
    """Data that does not fit the model; the message says which field and why."""


def to_data(obj: Any) -> Any:
    """Turn a model object into JSON/TOML-ready builtins; ``None`` fields are dropped (TOML has no null)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            out[f.name] = to_data(value)
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    return obj


def from_data(cls: type[T], data: Any, where: str = "") -> T:
    """Build ``cls`` from builtins, checking types; raises DataError naming the bad field."""
    return typing.cast(T, _convert(cls, data, where or getattr(cls, "__name__", "value")))


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, data, where)
            except DataError as exc:
                errors.append(str(exc))
        raise DataError(errors[0] if errors else f"{where}: unexpected value {data!r}")
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise DataError(f"{where}: expected a list, got {type(data).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise DataError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(
            _convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is dict:
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a table, got {type(data).__name__}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a table, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(tp)}
        for key in data:
            if key not in names:
                raise DataError(f"{where}: unknown field {key!r}")
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise DataError(f"{where}: missing field {f.name!r}")
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise DataError(f"{where}: {data!r} is not one of {allowed}") from None
    if tp is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise DataError(f"{where}: expected a number, got {data!r}")
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise DataError(f"{where}: expected a whole number, got {data!r}")
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise DataError(f"{where}: expected true or false, got {data!r}")
    if tp is str:
        if isinstance(data, str):
            return data
        raise DataError(f"{where}: expected text, got {data!r}")
    if tp is Any:
        return data
    raise DataError(f"{where}: cannot read a value of type {tp!r}")
