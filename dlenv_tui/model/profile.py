"""A saved setup: the choices of every stage, its progress and the image it built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dlenv_tui.model import DriverFlavour, EngineName, EngineSource, ImageVariant, StageState

if TYPE_CHECKING:
    from dlenv_tui.model.facts import HostFacts


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
    variant: ImageVariant = ImageVariant.BASE
    """``base`` by default: PyTorch's wheels bring their own CUDA runtime, cuDNN, cuBLAS and NCCL, so
    a runtime/cuDNN base would carry CUDA twice; ``devel`` when nvcc is wanted (compiling extensions)."""
    cudnn: bool = False
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
    """The distribution archive's mirror (``http://mirror/debian``, ``https://mirror/ubuntu``)."""
    pip_index: str = ""
    """The index every Python package comes from (PyPI or a mirror of it); empty: PyPI."""
    torch_index: str = ""
    """Where PyTorch comes from: empty: PyTorch's own index for the CUDA version; ``pip``: the pip
    index like every other package (PyPI's torch is a CUDA build); or an index URL."""
    ca_certs: tuple[str, ...] = ()
    """Host paths of extra CA certificates (PEM) to trust inside the image, before any download."""
    build_proxy: bool = True
    """Pass the host's HTTP(S)_PROXY / NO_PROXY to the build (as build arguments, never stored)."""
    tag: str = ""
    """Image tag; empty: ``dlenv/<profile>:latest``."""
    lock: tuple[str, ...] = ()
    """``name==version`` of every Python package the last build installed (`uv pip freeze`):
    rebuilds install exactly these; `dlenv build --upgrade` resolves afresh and shows what changed."""


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
    proxy: bool = False
    """Pass the host's HTTP(S)_PROXY / NO_PROXY into the container as well."""
    env: tuple[str, ...] = ()
    """``KEY=VALUE`` environment variables for the container."""
    secrets: tuple[str, ...] = ()
    """Secrets read at launch, never stored: ``NAME`` (from the host's environment variable NAME)
    or ``NAME=@/path/file`` (the file's content); they reach the container as variables."""
    keep_home: bool = True
    """The user's home inside the container (pip installs, ~/.cache) lives in a named volume per
    profile, so a relaunch keeps it; the SSH host keys live in another."""


@dataclass(frozen=True)
class StageProgress:
    """Where one stage of a profile stands, and which plan steps finished."""

    state: StageState = StageState.PENDING
    updated_at: str = ""
    """ISO-8601 UTC."""
    detail: str = ""
    done_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class GpuCheck:
    """What the in-image GPU check found (`dlenv doctor --profile P`, and after a build)."""

    ok: bool = False
    checked_at: str = ""
    torch: str = ""
    """torch.__version__ inside the image; empty when torch did not import."""
    cuda: str = ""
    """torch.version.cuda."""
    cudnn: str = ""
    arch_list: tuple[str, ...] = ()
    """torch.cuda.get_arch_list(): ``sm_90``, ``compute_90``…"""
    gpu: str = ""
    """``ok: …`` per GPU, or ``skipped: no GPU on this host``."""
    lines: tuple[str, ...] = ()
    """The check's report, one line per item."""


@dataclass(frozen=True)
class BuiltImage:
    """The image last built for a profile."""

    tag: str = ""
    id: str = ""
    built_at: str = ""
    engine: str = ""
    context_digest: str = ""
    """sha256 of the rendered Dockerfile and build context it was built from ("" = not recorded):
    when today's settings render another one, the image is out of date."""
    gpu_check: GpuCheck | None = None
    """The last in-image GPU check of this image; None: never run."""
    lock: tuple[str, ...] = ()
    """``name==version`` of the Python packages the build installed (read back from the image)."""


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
    went_on_anyway: tuple[str, ...] = ()
    """Blocking prerequisite problems the user chose to go on with ("title: detail", with the
    time), so a later failure can be traced to that choice."""
