"""Host facts: what the probe reads about this machine (never changes it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlenv_tui.model import DriverFlavour, PkgFamily


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
class CdiSpec:
    """An NVIDIA CDI spec on the host (``/etc/cdi/nvidia.yaml``, ``/var/run/cdi/nvidia.yaml``)."""

    path: str
    drivers: tuple[str, ...] = ()
    """The driver versions its library mounts name (``libnvidia-ml.so.<version>``)."""


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
    nvswitches: tuple[str, ...] = ()
    """PCI addresses of NVIDIA NVSwitch functions (vendor 10de, class 0680 "Bridge"): an HGX/DGX
    board whose GPUs need Fabric Manager before CUDA initialises."""
    fabric_manager: Tool = field(default_factory=Tool)
    """``nv-fabricmanager`` (NVIDIA Fabric Manager); only probed when there are NVSwitches."""
    driver: DriverInfo = field(default_factory=DriverInfo)
    secure_boot: SecureBoot = field(default_factory=SecureBoot)
    docker: Tool = field(default_factory=Tool)
    podman: Tool = field(default_factory=Tool)
    nvidia_ctk: Tool = field(default_factory=Tool)
    cdi_specs: tuple[CdiSpec, ...] = ()
    """The NVIDIA CDI specs Docker/Podman find the GPUs through (empty: none)."""
    lspci: bool = False
    user: UserInfo = field(default_factory=UserInfo)
    disk: DiskInfo = field(default_factory=DiskInfo)
    hostname: str = ""
    probed_at: str = ""
    """ISO-8601 UTC timestamp of the probe."""
