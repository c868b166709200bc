"""What `dlenv doctor` reads beyond the host facts: raw files and command answers, through the Host seam.

Every field is what one file or one read-only command said (``None`` = not read: missing file,
program not installed; empty = read and nothing found), so the signatures are pure functions of
``HostFacts`` + ``HostReads`` and every one is testable with a recorded sysroot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from dlenv_tui.probe.driver import CDI_SPECS as CDI_SPECS
from dlenv_tui.probe.driver import cdi_driver_versions as cdi_driver_versions
from dlenv_tui.probe.host import Host

SYS_MODULE_VERSION = "/sys/module/nvidia/version"
PROC_VERSION = "/proc/driver/nvidia/version"
LIB_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
)
DPKG_STATUS = "/var/lib/dpkg/status"
RPM_QUERY = ("rpm", "-qa", "*nvidia*")
DKMS_STATUS = ("dkms", "status")
KERNEL_LOG = (("dmesg",), ("journalctl", "-k", "-b", "--no-pager"))
DAEMON_JSON = "/etc/docker/daemon.json"
CTK_CONFIG = "/etc/nvidia-container-runtime/config.toml"
SELINUX_ENFORCE = "/sys/fs/selinux/enforce"
SELINUX_BOOL = "/sys/fs/selinux/booleans/container_use_devices"
DEV_CHAR = "/dev/char"
FM_ACTIVE = ("systemctl", "is-active", "nvidia-fabricmanager")
FM_VERSION = ("nv-fabricmanager", "--version")
DOCKER_CGROUP = ("docker", "info", "--format", "{{.CgroupDriver}}")
REBOOT_REQUIRED = "/run/reboot-required"
REBOOT_REQUIRED_PKGS = "/run/reboot-required.pkgs"
NEEDS_RESTARTING = ("needs-restarting", "-r")
#: The module signing certificates the driver plans enrol (Ubuntu shim MOK, DKMS 3, akmods).
MOK_CERTS = (
    "/var/lib/shim-signed/mok/MOK.der",
    "/var/lib/dkms/mok.pub",
    "/etc/pki/akmods/certs/public_key.der",
)
PCI_DEVICES = "/sys/bus/pci/devices"
NVSWITCH_CLASS = "0x068000"
#: Kernel log lines worth keeping: the NVIDIA modules, nouveau, module signing.
_LOG_KEEP = re.compile(
    r"(?i:NVRM|nvidia|nouveau)|Key was rejected|module verification failed|Lockdown: "
)
_VERSION = re.compile(r"\d{2,4}\.\d{1,3}(?:\.\d{1,3})?")
_NML = re.compile(r"^libnvidia-ml\.so\.(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)$")


@dataclass(frozen=True)
class Read:
    """One piece of evidence: where it was read and the lines that matter."""

    source: str
    """A host path or the command line that was run."""
    text: str
    """What it said (trimmed to the lines that matter)."""


@dataclass(frozen=True)
class ContainerShm:
    """The /dev/shm size of a running container."""

    name: str
    engine: str
    shm_bytes: int
    source: str
    """The command that told."""


@dataclass(frozen=True)
class HostReads:
    """Raw reads for the doctor's signatures; None = not available, empty = read, nothing found."""

    sys_module_version: str | None = None
    proc_version: str | None = None
    nvml_libs: tuple[str, ...] = ()
    """Paths of ``libnvidia-ml.so.<version>`` files."""
    packages: tuple[tuple[str, str], ...] | None = None
    """(package, upstream version) of installed NVIDIA driver packages; None: no package db read."""
    package_source: str = ""
    modules_dep: str | None = None
    """The nvidia lines of /lib/modules/<running kernel>/modules.dep ("" = none); None: no file."""
    modules_dep_path: str = ""
    dkms_status: str | None = None
    kernel_log: tuple[str, ...] | None = None
    kernel_log_source: str = ""
    mok_test: tuple[Read, ...] = ()
    """``mokutil --test-key CERT`` answers for the certificates present."""
    nvswitches: tuple[str, ...] = ()
    fm_active: str | None = None
    fm_version: str | None = None
    daemon_json: str | None = None
    cdi_specs: tuple[Read, ...] = ()
    docker_cgroup_driver: str | None = None
    dev_char: tuple[str, ...] | None = None
    etc_group: str | None = None
    session_id: str | None = None
    """``id`` output: the groups of this login session (the facts merge in /etc/group)."""
    ctk_config: str | None = None
    selinux_enforce: str | None = None
    selinux_container_use_devices: str | None = None
    shm: tuple[ContainerShm, ...] = ()
    reboot_required: str | None = None
    """Contents of /run/reboot-required.pkgs (or of /run/reboot-required); None: no reboot pending."""
    needs_restarting: str | None = None
    """``needs-restarting -r`` output when it says a reboot is needed (exit status 1)."""
    initramfs: str | None = None
    """The running kernel's initramfs image ("" = looked, the host boots without one, as a VM
    started straight from a kernel does); None: not looked at."""


def read_host(host: Host, kernel: str, containers: Sequence[tuple[str, str]] = ()) -> HostReads:
    """Everything the signatures look at; ``containers`` are (engine, name) to inspect for /dev/shm."""
    packages, package_source = read_packages(host)
    dep_path, dep = _modules_dep(host, kernel)
    log, log_source = _kernel_log(host)
    return HostReads(
        sys_module_version=_strip(host.read_text(SYS_MODULE_VERSION)),
        proc_version=host.read_text(PROC_VERSION),
        nvml_libs=nvml_libraries(host),
        packages=packages,
        package_source=package_source,
        modules_dep=dep,
        modules_dep_path=dep_path,
        dkms_status=_command(host, DKMS_STATUS),
        kernel_log=log,
        kernel_log_source=log_source,
        mok_test=tuple(
            Read(f"mokutil --test-key {cert}", out)
            for cert in MOK_CERTS
            if host.exists(cert)
            and (out := _command(host, ("mokutil", "--test-key", cert), any_rc=True)) is not None
        ),
        nvswitches=nvswitches(host),
        fm_active=_command(host, FM_ACTIVE, any_rc=True),
        fm_version=_command(host, FM_VERSION),
        daemon_json=host.read_text(DAEMON_JSON),
        cdi_specs=tuple(
            Read(path, text) for path in CDI_SPECS if (text := host.read_text(path)) is not None
        ),
        docker_cgroup_driver=_strip(_command(host, DOCKER_CGROUP)),
        dev_char=_list(host, DEV_CHAR),
        etc_group=host.read_text("/etc/group"),
        session_id=_strip(_command(host, ("id",))),
        ctk_config=host.read_text(CTK_CONFIG),
        selinux_enforce=_strip(host.read_text(SELINUX_ENFORCE)),
        selinux_container_use_devices=_strip(host.read_text(SELINUX_BOOL)),
        shm=tuple(s for engine, name in containers if (s := _shm(host, engine, name))),
        reboot_required=read_reboot_required(host),
        needs_restarting=_needs_restarting(host),
        initramfs=_initramfs(host, kernel),
    )


#: Where Debian/Ubuntu (initramfs-tools) and dracut (Fedora, RHEL, SUSE) put the image.
INITRAMFS_IMAGES = ("/boot/initrd.img-{kernel}", "/boot/initramfs-{kernel}.img")


def _initramfs(host: Host, kernel: str) -> str | None:
    if not kernel:
        return None
    paths = [pattern.format(kernel=kernel) for pattern in INITRAMFS_IMAGES]
    return next((path for path in paths if host.exists(path)), "")


def _strip(text: str | None) -> str | None:
    return text.strip() if text is not None else None


def _list(host: Host, path: str) -> tuple[str, ...] | None:
    names = host.list_dir(path)
    return tuple(names) if names is not None else None


def _command(host: Host, argv: Sequence[str], *, any_rc: bool = False) -> str | None:
    """stdout+stderr of a read-only command; None when missing (or failed, unless ``any_rc``)."""
    if host.which(argv[0]) is None:
        return None
    result = host.run(argv)
    if result is None or (not any_rc and not result.ok):
        return None
    return result.output


def nvml_libraries(host: Host) -> tuple[str, ...]:
    """``libnvidia-ml.so.<version>``: the user-space driver's own version in its file name."""
    found = []
    for directory in LIB_DIRS:
        for name in host.list_dir(directory) or ():
            if _NML.match(name):
                found.append(f"{directory}/{name}")
    return tuple(found)


def lib_version(path: str) -> str:
    m = _NML.match(path.rsplit("/", 1)[-1])
    return m.group(1) if m else ""


def parse_dpkg_status(text: str) -> tuple[tuple[str, str], ...]:
    """Installed NVIDIA driver packages from /var/lib/dpkg/status (deb822 stanzas)::

    Package: libnvidia-compute-565
    Status: install ok installed
    Version: 565.57.01-0ubuntu0.24.04.1
    """
    out = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "\t")):
                fields[key.strip()] = value.strip()
        name = fields.get("Package", "")
        if not is_driver_package(name) or not fields.get("Status", "").endswith(" installed"):
            continue
        m = _VERSION.match(fields.get("Version", "").split(":", 1)[-1])
        if m:
            out.append((name, m.group(0)))
    return tuple(out)


def parse_rpm_qa(text: str) -> tuple[tuple[str, str], ...]:
    """``rpm -qa '*nvidia*'`` NVRA lines → (name, version) of driver packages::

    nvidia-driver-cuda-libs-570.172.08-1.el9.x86_64
    kmod-nvidia-open-dkms-570.172.08-1.el9.x86_64
    """
    out = []
    for line in text.split():
        parts = line.rsplit("-", 2)
        if len(parts) != 3:
            continue
        name, version = parts[0], parts[1].split(":", 1)[-1]
        if is_driver_package(name) and _VERSION.fullmatch(version):
            out.append((name, version))
    return tuple(out)


def is_driver_package(name: str) -> bool:
    """The packages of the user-space driver (not the container toolkit's libnvidia-container)."""
    if "container" in name or "fabric" in name:
        return False
    return name.startswith(
        (
            "libnvidia-compute-",
            "libnvidia-ml",
            "nvidia-utils-",
            "nvidia-driver",
            "xorg-x11-drv-nvidia",
            "nvidia-compute-G0",
            "nvidia-compute-utils-G0",
            "libnvidia-gl-",
            "nvidia-kernel-common-",
        )
    )


def read_packages(host: Host) -> tuple[tuple[tuple[str, str], ...] | None, str]:
    text = host.read_text(DPKG_STATUS)
    if text is not None:
        return parse_dpkg_status(text), DPKG_STATUS
    out = _command(host, RPM_QUERY)
    if out is not None:
        return parse_rpm_qa(out), " ".join(RPM_QUERY)
    return None, ""


def _modules_dep(host: Host, kernel: str) -> tuple[str, str | None]:
    if not kernel:
        return "", None
    for base in ("/lib/modules", "/usr/lib/modules"):
        path = f"{base}/{kernel}/modules.dep"
        text = host.read_text(path)
        if text is not None:
            lines = [
                ln for ln in text.splitlines() if re.search(r"/nvidia[^/]*\.ko", ln.split(":")[0])
            ]
            return path, "\n".join(lines)
    return f"/lib/modules/{kernel}/modules.dep", None


def has_nvidia_module(modules_dep: str) -> bool:
    """Whether modules.dep lists nvidia.ko itself (``updates/dkms/nvidia.ko.zst: …``)."""
    return any(
        re.search(r"(^|/)nvidia\.ko(\.(xz|zst|gz))?$", ln.split(":", 1)[0])
        for ln in modules_dep.splitlines()
    )


def _kernel_log(host: Host) -> tuple[tuple[str, ...] | None, str]:
    for argv in KERNEL_LOG:
        out = _command(host, argv)
        if out is not None:
            return kernel_log_lines(out), " ".join(argv)
    return None, ""


def kernel_log_lines(text: str, limit: int = 200) -> tuple[str, ...]:
    """The kernel log lines about NVIDIA, nouveau and module signing (the last ``limit``)."""
    lines = [ln for ln in text.splitlines() if _LOG_KEEP.search(ln)]
    return tuple(lines[-limit:])


def nvswitches(host: Host) -> tuple[str, ...]:
    """PCI addresses of NVSwitch bridges (vendor 10de, class 0x068000) from sysfs."""
    found = []
    for addr in host.list_dir(PCI_DEVICES) or ():
        base = f"{PCI_DEVICES}/{addr}"
        vendor = (host.read_text(f"{base}/vendor") or "").strip().lower()
        cls = (host.read_text(f"{base}/class") or "").strip().lower()
        if vendor == "0x10de" and cls == NVSWITCH_CLASS:
            found.append(addr)
    return tuple(found)


def parse_fm_version(text: str) -> str:
    """``nv-fabricmanager --version``: ``Fabric Manager version is : 570.172.08``."""
    m = re.search(r"version is\s*:\s*(\S+)", text)
    return m.group(1) if m else ""


def daemon_json_runtimes(text: str) -> tuple[dict[str, object], bool] | None:
    """/etc/docker/daemon.json → (its object, whether it registers an ``nvidia`` runtime); None: not JSON."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    runtimes = data.get("runtimes")
    return data, isinstance(runtimes, dict) and "nvidia" in runtimes


def read_reboot_required(host: Host) -> str | None:
    if not host.exists(REBOOT_REQUIRED):
        return None
    pkgs = host.read_text(REBOOT_REQUIRED_PKGS)
    if pkgs is not None and pkgs.strip():
        return pkgs
    return host.read_text(REBOOT_REQUIRED) or ""


def _needs_restarting(host: Host) -> str | None:
    if host.which("needs-restarting") is None:
        return None
    result = host.run(NEEDS_RESTARTING, timeout=20)
    # exit status 1: "Reboot is required to fully utilize these updates."
    if result is None or result.returncode != 1:
        return None
    return result.output


def _shm(host: Host, engine: str, name: str) -> ContainerShm | None:
    argv = (engine, "inspect", "--format", "{{.State.Running}} {{.HostConfig.ShmSize}}", name)
    out = _command(host, argv)
    if out is None:
        return None
    # "true 67108864": only a running container's /dev/shm matters now
    fields = (out.strip().splitlines() or [""])[0].split()
    if len(fields) != 2 or fields[0] != "true" or not fields[1].isdigit():
        return None
    return ContainerShm(name, engine, int(fields[1]), " ".join(argv))
