"""The operating system: distro (os-release), package-manager family, init system, kernel, arch."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from dlenv_tui.model import Distro, PkgFamily
from dlenv_tui.probe.host import Host

_APT = frozenset(
    {"debian", "ubuntu", "linuxmint", "pop", "raspbian", "elementary", "zorin", "kali"}
)
_DNF = frozenset({"fedora", "rhel", "centos", "rocky", "almalinux", "ol", "amzn", "nobara"})
_ZYPPER = frozenset({"opensuse", "opensuse-leap", "opensuse-tumbleweed", "sles", "sled", "suse"})


def parse_os_release(text: str) -> dict[str, str]:
    """os-release(5) ``KEY=value`` lines → a dict with lower-case keys (as the ``distro`` package).

    Values are shell-quoted; a line that does not lex (an unclosed quote) keeps its raw value.
    Sample (Debian 12)::

        PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
        VERSION_ID="12"
        VERSION_CODENAME=bookworm
    """
    props: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if not key or not key.replace("_", "").isalnum():
            continue
        try:
            words = shlex.split(value, comments=True)
            value = " ".join(words)
        except ValueError:
            value = value.strip().strip("\"'")
        props[key.lower()] = value
    return props


def distro_from_release(info: Mapping[str, str]) -> Distro:
    """Build a Distro from os-release fields (lower-case keys, as `parse_os_release` gives)."""
    version = info.get("version", "")
    # As the distro package: a VERSION_CODENAME key wins even when empty (Fedora's is "", and its
    # VERSION "42 (Server Edition)" names an edition, not a codename).
    for key in ("version_codename", "ubuntu_codename", "codename"):
        if key in info:
            codename = info[key]
            break
    else:
        codename = ""
        if "(" in version and version.endswith(")"):
            # Older os-release files only carry it in VERSION: "9 (stretch)".
            codename = version.rsplit("(", 1)[1].rstrip(")").strip()
    return Distro(
        id=info.get("id", "").lower() or "linux",
        version_id=info.get("version_id", ""),
        codename=(codename or "").lower(),
        like=tuple(info.get("id_like", "").lower().split()),
        name=info.get("pretty_name") or info.get("name", ""),
    )


def read_distro(host: Host) -> Distro:
    """The distro of ``host`` through the ``distro`` package, reading below ``host.root``.

    Falls back to reading os-release through the Host seam when ``distro`` finds nothing there
    (a Host that is not a real directory tree).
    """
    import distro

    # include_* False: no `lsb_release` or `uname` subprocesses, and only files under root_dir.
    ld = distro.LinuxDistribution(
        root_dir=str(host.root), include_lsb=False, include_uname=False, include_oslevel=False
    )
    info: dict[str, str] = dict(ld.os_release_info())
    if not info:
        text = host.read_text("/etc/os-release") or host.read_text("/usr/lib/os-release")
        info = parse_os_release(text) if text else {}
    if not info and ld.id():
        # No os-release at all (very old releases): distro reads /etc/*-release instead.
        info = {
            "id": ld.id(),
            "version_id": ld.version(),
            "codename": ld.codename(),
            "id_like": ld.like(),
            "pretty_name": ld.name(pretty=True),
        }
    return distro_from_release(info)


def pkg_family_for(distro: Distro) -> PkgFamily:
    """apt / dnf / zypper from the distro's ID, then its ID_LIKE; OTHER when neither says."""
    for name in (distro.id, *distro.like):
        if name in _APT:
            return PkgFamily.APT
        if name in _DNF:
            return PkgFamily.DNF
        if name in _ZYPPER or name.startswith("opensuse"):
            return PkgFamily.ZYPPER
    return PkgFamily.OTHER


def read_pkg_family(host: Host, distro: Distro) -> PkgFamily:
    family = pkg_family_for(distro)
    if family is not PkgFamily.OTHER:
        return family
    # An unknown derivative: the package manager on PATH says what it is.
    for program, fam in (
        ("apt-get", PkgFamily.APT),
        ("dnf", PkgFamily.DNF),
        ("zypper", PkgFamily.ZYPPER),
    ):
        if host.which(program):
            return fam
    return PkgFamily.OTHER


def read_systemd(host: Host) -> bool:
    """Whether PID 1 is systemd (/proc/1/comm; else sd_booted()'s test, /run/systemd/system)."""
    comm = host.read_text("/proc/1/comm")
    if comm is not None:
        return comm.strip() == "systemd"
    return host.exists("/run/systemd/system")


def read_first_line(host: Host, *paths: str) -> str:
    for path in paths:
        text = host.read_text(path)
        if text and text.strip():
            return text.strip().splitlines()[0].strip()
    return ""


def read_kernel(host: Host) -> str:
    """``uname -r`` without a subprocess: /proc/sys/kernel/osrelease."""
    release = read_first_line(host, "/proc/sys/kernel/osrelease")
    if not release:
        result = host.run(["uname", "-r"])
        release = result.stdout.strip() if result and result.ok else ""
    return release


def read_arch(host: Host) -> str:
    """``uname -m``: /proc/sys/kernel/arch (Linux ≥ 6.1) else the ``uname -m`` command."""
    arch = read_first_line(host, "/proc/sys/kernel/arch")
    if not arch:
        result = host.run(["uname", "-m"])
        arch = result.stdout.strip() if result and result.ok else ""
    return arch


def read_kernel_headers(host: Host, kernel: str) -> bool | None:
    """Headers for ``kernel`` (what DKMS builds against); None when the kernel is unknown."""
    if not kernel:
        return None
    return any(
        host.exists(path)
        for path in (
            f"/lib/modules/{kernel}/build",  # the link every distro's kernel package points at the headers
            f"/usr/src/linux-headers-{kernel}",  # Debian / Ubuntu
            f"/usr/src/kernels/{kernel}",  # Fedora / RHEL kernel-devel
        )
    )


def read_hostname(host: Host) -> str:
    return read_first_line(host, "/proc/sys/kernel/hostname", "/etc/hostname")
