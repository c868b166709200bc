"""The prerequisite table: HostFacts → one Check row per topic (pure; no I/O).

Statuses: ``fail`` = the host cannot be set up until this is fixed (by hand, or it is something
dlenv does not change: architecture, distro, no GPU, a wrong driver already loaded, a full disk);
``warn`` = needs attention, usually done by a later stage; ``ok``; ``skipped`` = does not apply
here or was not probed.
"""

from __future__ import annotations

from collections.abc import Callable

from dlenv_tui import compat
from dlenv_tui.model import Check, DriverFlavour, Gpu, HostFacts, PkgFamily, Status

GIB = 1024**3
DISK_WARN_BYTES = 30 * GIB
"""Below this, a CUDA devel image plus PyTorch (15-25 GiB unpacked) and one rebuild will not fit."""
DISK_FAIL_BYTES = 10 * GIB
"""Below this, not even a runtime image with PyTorch fits."""
SUPPORTED_ARCHS = ("x86_64", "aarch64")
TOOLKIT_SAFE = (1, 17, 8)
"""Container Toolkit 1.17.8 fixed CVE-2025-23266 (container escape through a hook)."""

OK, WARN, FAIL, SKIPPED = Status.OK, Status.WARN, Status.FAIL, Status.SKIPPED


def run_checks(facts: HostFacts) -> tuple[Check, ...]:
    """Every row of the prerequisite table, in the order the Prerequisites screen shows them."""
    rows: list[Callable[[HostFacts], Check]] = [
        check_arch,
        check_distro,
        check_pkg_family,
        check_init,
        check_gpus,
        check_driver,
        check_nouveau,
        check_secure_boot,
        check_kernel_headers,
        check_disk,
        check_privileges,
        check_docker,
        check_podman,
        check_toolkit,
        check_docker_group,
    ]
    if compat.fabric_manager_advice(facts.gpus, facts.nvswitches).needed:
        # a row of its own only on NVSwitch boards, where CUDA depends on it
        rows.insert(rows.index(check_driver) + 1, check_fabric_manager)
    return tuple(row(facts) for row in rows)


def failed(checks: tuple[Check, ...]) -> bool:
    return any(c.status is FAIL for c in checks)


# --------------------------------------------------------------------------------------------
# The system


def check_arch(facts: HostFacts) -> Check:
    title = "Architecture"
    if facts.arch in SUPPORTED_ARCHS:
        return Check("arch", title, OK, facts.arch)
    if not facts.arch:
        return Check(
            "arch", title, WARN, "unknown", "run `uname -m`; dlenv supports x86_64 and aarch64"
        )
    return Check(
        "arch",
        title,
        FAIL,
        f"{facts.arch} is not supported",
        "use an x86_64 or aarch64 host: NVIDIA ships drivers and CUDA images only for those",
    )


def check_distro(facts: HostFacts) -> Check:
    title = "Distribution"
    support = compat.distro_support(facts.distro)
    shown = facts.distro.name or " ".join(
        p for p in (facts.distro.id, facts.distro.version_id) if p
    )
    if support.supported and support.warning:
        fix = (
            f"upgrade to a supported release, e.g. {support.newest}"
            if support.eol_passed
            else "run `dlenv data refresh`, or check that NVIDIA's repositories have this release"
        )
        return Check("distro", title, WARN, support.warning, fix)
    if support.supported:
        about = "about " if support.eol_approximate else ""
        eol = f" (supported until {about}{support.eol})" if support.eol else ""
        return Check("distro", title, OK, shown + eol)
    return Check(
        "distro",
        title,
        FAIL,
        f"{shown or 'this distribution'} is not supported",
        f"use one of: {compat.SUPPORTED_DISTROS_TEXT}",
    )


def check_pkg_family(facts: HostFacts) -> Check:
    title = "Package manager"
    if facts.pkg_family is not PkgFamily.OTHER:
        return Check("pkg", title, OK, str(facts.pkg_family))
    return Check(
        "pkg",
        title,
        FAIL,
        "none of apt, dnf or zypper",
        "dlenv installs packages with apt, dnf or zypper only",
    )


def check_init(facts: HostFacts) -> Check:
    title = "Init system"
    if facts.systemd:
        return Check("init", title, OK, "systemd is PID 1")
    return Check(
        "init",
        title,
        WARN,
        "PID 1 is not systemd (a container or WSL without systemd?)",
        "services cannot be enabled here: run dlenv on the host itself, or start engines by hand",
    )


# --------------------------------------------------------------------------------------------
# GPUs and the driver


def describe_gpu(gpu: Gpu) -> str:
    """``GeForce RTX 4090 (Ada Lovelace, CC 8.9, 24 GiB)``."""
    name = gpu.name or f"NVIDIA device {gpu.device_id}"
    extras = [gpu.architecture or "architecture unknown"]
    if gpu.compute_capability:
        extras.append(f"CC {gpu.compute_capability}")
    if gpu.memory_mib:
        extras.append(f"{round(gpu.memory_mib / 1024)} GiB")
    return f"{name} ({', '.join(extras)})"


def check_gpus(facts: HostFacts) -> Check:
    title = "NVIDIA GPUs"
    gpus = facts.gpus
    if not gpus:
        return Check(
            "gpus",
            title,
            FAIL,
            "no NVIDIA GPU on the PCI bus",
            "seat the card (or pass it through to this VM), then run `dlenv check` again",
        )
    count = f"{len(gpus)} GPU{'s' if len(gpus) > 1 else ''}: "
    # Eight identical GPUs read as "8 × H100 …", not the same name eight times.
    described: dict[str, int] = {}
    for gpu in gpus:
        text = describe_gpu(gpu)
        described[text] = described.get(text, 0) + 1
    detail = count + "; ".join(
        text if times == 1 else f"{times} × {text}" for text, times in described.items()
    )
    unknown = [g for g in gpus if not g.architecture]
    passed_through = [g for g in gpus if g.bound_driver in ("vfio-pci", "pci-stub")]
    if passed_through:
        addrs = ", ".join(g.pci_address for g in passed_through)
        return Check(
            "gpus",
            title,
            WARN,
            f"{detail}; {addrs} bound to {passed_through[0].bound_driver} (reserved for a VM)",
            "unbind it from vfio-pci if this host should use it",
        )
    if unknown:
        ids = ", ".join(g.device_id for g in unknown)
        return Check(
            "gpus",
            title,
            WARN,
            f"{detail}; device {ids} is not in dlenv's PCI table",
            "dlenv treats it as Turing or newer; update dlenv for exact CUDA limits",
        )
    return Check("gpus", title, OK, detail)


def _advice_text(advice: compat.DriverAdvice) -> str:
    text = f"{advice.flavour} kernel modules"
    if advice.branch:
        text += f", {advice.branch} branch"
    return text


def _major(version: str) -> int | None:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def _max_cuda(facts: HostFacts) -> str:
    if facts.driver.cuda_version:
        return facts.driver.cuda_version
    try:
        return compat.max_cuda_for_driver(facts.driver.version).value
    except compat.CompatError:
        return ""


def check_driver(facts: HostFacts) -> Check:
    title = "NVIDIA driver"
    driver = facts.driver
    if not facts.gpus:
        return Check("driver", title, SKIPPED, "no NVIDIA GPU")
    advice = compat.driver_advice(facts.gpus)
    wanted = _advice_text(advice)
    if not driver.loaded:
        return Check(
            "driver",
            title,
            WARN,
            f"not loaded; recommended: {wanted}",
            "the Driver stage installs it (`dlenv`, or `dlenv apply PROFILE --stage driver`)",
        )
    flavour = f"{driver.flavour} kernel modules" if driver.flavour else "flavour unknown"
    version = driver.version or "version unknown"
    cuda = _max_cuda(facts)
    found = f"{version} ({flavour})" + (f", runs CUDA ≤ {cuda}" if cuda else "")
    reinstall = f"reinstall with the {wanted} in the Driver stage"
    if advice.conflict:
        return Check(
            "driver",
            title,
            WARN,
            f"{found}; no single driver runs all of these GPUs",
            "one GPU stays unused: the Driver stage says which; remove it to use the others fully",
        )
    if driver.flavour is DriverFlavour.OPEN and advice.proprietary_required:
        return Check(
            "driver",
            title,
            FAIL,
            f"{found}, but a GPU older than Turing needs proprietary ones",
            reinstall,
        )
    if driver.flavour is DriverFlavour.PROPRIETARY and advice.open_required:
        return Check(
            "driver",
            title,
            FAIL,
            f"{found}, but a Blackwell-class GPU needs the open ones",
            reinstall,
        )
    major, ceiling = _major(driver.version), _major(advice.branch)
    if major is not None and ceiling is not None and major > ceiling:
        return Check(
            "driver",
            title,
            FAIL,
            f"{found}, newer than the {advice.branch} branch, the last for these GPUs",
            reinstall,
        )
    return Check("driver", title, OK, found)


def check_fabric_manager(facts: HostFacts) -> Check:
    """NVSwitch boards need Fabric Manager at the driver's exact version before CUDA initialises."""
    title = "Fabric Manager"
    advice = compat.fabric_manager_advice(facts.gpus, facts.nvswitches)
    if not advice.needed:
        return Check("fabric_manager", title, SKIPPED, "no NVSwitch: not needed")
    fm = facts.fabric_manager
    switches = f"{len(facts.nvswitches)} NVSwitches" if facts.nvswitches else "an HGX board"
    if not fm.present:
        return Check(
            "fabric_manager",
            title,
            WARN,
            f"{switches}, but nv-fabricmanager is not installed: CUDA cannot initialise the GPUs",
            "the Driver stage installs Fabric Manager at the driver's version and enables it",
        )
    drv = facts.driver.version
    if drv and fm.version and fm.version != drv:
        return Check(
            "fabric_manager",
            title,
            FAIL,
            f"Fabric Manager {fm.version} does not match the driver {drv}; it refuses to start",
            f"install Fabric Manager {drv} (the driver's exact version)",
        )
    found = f"{fm.version} " if fm.version else ""
    return Check("fabric_manager", title, OK, f"{found}installed for {switches}")


def check_nouveau(facts: HostFacts) -> Check:
    title = "nouveau"
    if not facts.driver.nouveau_loaded:
        return Check("nouveau", title, OK, "not loaded")
    if not facts.gpus:
        return Check("nouveau", title, SKIPPED, "loaded, but there is no NVIDIA GPU")
    return Check(
        "nouveau",
        title,
        WARN,
        "loaded: it holds the GPU, so the NVIDIA driver cannot load",
        "the Driver stage blacklists it; a reboot follows",
    )


def check_secure_boot(facts: HostFacts) -> Check:
    title = "Secure Boot"
    sb = facts.secure_boot
    if sb.enabled is True:
        if facts.driver.loaded:
            return Check("secure_boot", title, OK, "enabled; the loaded NVIDIA module is signed")
        return Check(
            "secure_boot",
            title,
            WARN,
            "enabled: the NVIDIA kernel module must be signed",
            "the Driver stage uses signed modules or enrols a key (console/BMC needed at next boot)",
        )
    if sb.enabled is False:
        return Check("secure_boot", title, OK, "disabled")
    if sb.efi is False:
        return Check("secure_boot", title, OK, "legacy BIOS boot: no Secure Boot")
    if sb.efi is True:
        return Check(
            "secure_boot",
            title,
            WARN,
            "UEFI boot, but its state could not be read",
            "install mokutil and run `mokutil --sb-state`",
        )
    return Check("secure_boot", title, SKIPPED, "not probed")


def _headers_package(facts: HostFacts) -> str:
    r = facts.kernel
    if facts.pkg_family is PkgFamily.APT:
        return f"sudo apt install linux-headers-{r}"
    if facts.pkg_family is PkgFamily.DNF:
        return f"sudo dnf install kernel-devel-{r}"
    if facts.pkg_family is PkgFamily.ZYPPER:
        return "sudo zypper install kernel-default-devel"
    return f"install the headers for kernel {r}"


def check_kernel_headers(facts: HostFacts) -> Check:
    title = "Kernel headers"
    if facts.kernel_headers is None:
        return Check("headers", title, SKIPPED, "running kernel unknown")
    if facts.kernel_headers:
        return Check("headers", title, OK, f"installed for {facts.kernel}")
    why = (
        "needed to rebuild the driver"
        if facts.driver.loaded
        else "the driver build (DKMS) needs them"
    )
    return Check(
        "headers",
        title,
        WARN,
        f"missing for {facts.kernel}: {why}",
        f"the Driver stage installs them ({_headers_package(facts)})",
    )


# --------------------------------------------------------------------------------------------
# Room and rights


def _gib(n: int) -> str:
    return f"{n / GIB:.0f} GiB" if n >= 10 * GIB else f"{n / GIB:.1f} GiB"


def check_disk(facts: HostFacts) -> Check:
    title = "Disk space"
    disk = facts.disk
    if disk.free_bytes is None:
        return Check("disk", title, SKIPPED, f"free space at {disk.path} unknown")
    detail = f"{_gib(disk.free_bytes)} free at {disk.path}"
    fix = f"free space on the filesystem of {disk.path}, or move the engine's data root"
    if disk.free_bytes < DISK_FAIL_BYTES:
        return Check("disk", title, FAIL, f"{detail} (at least 10 GiB needed)", fix)
    if disk.free_bytes < DISK_WARN_BYTES:
        return Check("disk", title, WARN, f"{detail} (30 GiB recommended)", fix)
    return Check("disk", title, OK, detail)


def check_privileges(facts: HostFacts) -> Check:
    title = "Root / sudo"
    user = facts.user
    if user.is_root:
        return Check("privileges", title, OK, "running as root")
    if user.uid < 0:
        return Check("privileges", title, SKIPPED, "user not probed")
    if user.sudo_nopasswd:
        return Check("privileges", title, OK, f"{user.name}: passwordless sudo")
    if user.sudo_present:
        return Check(
            "privileges", title, OK, f"{user.name}: sudo asks for a password (dlenv will ask once)"
        )
    return Check(
        "privileges",
        title,
        FAIL,
        f"{user.name} is not root and sudo is not installed",
        "install sudo and add the user to the sudo/wheel group, or run dlenv as root",
    )


# --------------------------------------------------------------------------------------------
# Engines and the toolkit


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
        if not piece.isdigit():
            break
    return tuple(parts)


def check_docker(facts: HostFacts) -> Check:
    title = "Docker"
    docker = facts.docker
    if not docker.present:
        if docker.path:
            return Check("docker", title, OK, f"{docker.path} is Podman's Docker emulation")
        if facts.podman.present:
            return Check("docker", title, SKIPPED, "not installed (Podman is)")
        return Check(
            "docker",
            title,
            WARN,
            "no container engine installed",
            "the Engine stage installs Docker CE or Podman",
        )
    detail = docker.version or "version unknown"
    if docker.running is False:
        return Check(
            "docker",
            title,
            WARN,
            f"{detail}; the daemon does not answer",
            "start it: `sudo systemctl enable --now docker`"
            if facts.systemd
            else "start it: `sudo dockerd &` (no systemd here to run it as a service), or use Podman",
        )
    if docker.running:
        detail += "; daemon answers"
    return Check("docker", title, OK, detail)


def check_podman(facts: HostFacts) -> Check:
    title = "Podman"
    podman = facts.podman
    if not podman.present:
        return Check("podman", title, SKIPPED, "not installed (optional)")
    detail = podman.version or "version unknown"
    if podman.running:
        detail += "; API socket answers"
    elif podman.running is False:
        detail += "; API socket off (only needed for builds from dlenv)"
    return Check("podman", title, OK, detail)


def check_toolkit(facts: HostFacts) -> Check:
    title = "Container toolkit"
    ctk = facts.nvidia_ctk
    if not ctk.present:
        return Check(
            "toolkit",
            title,
            WARN,
            "nvidia-ctk not installed: containers cannot see the GPUs",
            "the Container toolkit stage installs it",
        )
    version = _version_tuple(ctk.version)
    if version and version < TOOLKIT_SAFE:
        return Check(
            "toolkit",
            title,
            WARN,
            f"{ctk.version}: older than 1.17.8, which fixes CVE-2025-23266",
            "update nvidia-container-toolkit (the Container toolkit stage does)",
        )
    return Check("toolkit", title, OK, ctk.version or "version unknown")


def check_docker_group(facts: HostFacts) -> Check:
    title = "docker group"
    user = facts.user
    if not facts.docker.present:
        return Check("docker_group", title, SKIPPED, "Docker not installed")
    if user.is_root:
        return Check("docker_group", title, SKIPPED, "running as root")
    if user.uid < 0:
        return Check("docker_group", title, SKIPPED, "user not probed")
    if "docker" in user.groups:
        return Check("docker_group", title, OK, f"{user.name} is a member (root-equivalent)")
    return Check(
        "docker_group",
        title,
        WARN,
        f"{user.name} is not a member: docker needs sudo",
        "the Engine stage can add you (root-equivalent; log in again after), or use Podman",
    )
