"""Which supported distribution release a host runs, with the names its repositories use."""

from __future__ import annotations

from dataclasses import dataclass

from dlenv_tui import compat
from dlenv_tui.model import HostFacts, PkgFamily
from dlenv_tui.plan.steps import PlanError

# Releases whose os-release may lack VERSION_CODENAME (minimal images): the codename Docker's
# repository needs for them.
_CODENAMES = {
    ("ubuntu", "22.04"): "jammy",
    ("ubuntu", "24.04"): "noble",
    ("ubuntu", "26.04"): "resolute",
    ("debian", "12"): "bookworm",
    ("debian", "13"): "trixie",
}
_DEB_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
# NVIDIA's CUDA repositories call 64-bit Arm servers "sbsa"
_CUDA_ARCH = {"x86_64": "x86_64", "aarch64": "sbsa"}
_PM = {
    "ubuntu": PkgFamily.APT,
    "debian": PkgFamily.APT,
    "fedora": PkgFamily.DNF,
    "rhel": PkgFamily.DNF,
    "suse": PkgFamily.ZYPPER,
}


@dataclass(frozen=True)
class Target:
    """A supported distribution release on a supported architecture, resolved for planning."""

    key: str
    """compat's key, e.g. ``ubuntu-24.04``, ``rocky-9``, ``opensuse-tumbleweed``."""
    family: str
    """``ubuntu``, ``debian``, ``fedora``, ``rhel`` or ``suse``."""
    id: str
    """os-release ``ID``: ``rhel``, ``rocky``, ``almalinux``, ``centos``, ``sles`` ..."""
    version: str
    major: int
    """Major version (``24`` for Ubuntu 24.04); 0 for rolling releases."""
    codename: str
    arch: str
    pm: PkgFamily
    name: str

    @property
    def deb_arch(self) -> str:
        return _DEB_ARCH[self.arch]

    @property
    def cuda_arch(self) -> str:
        return _CUDA_ARCH[self.arch]

    @property
    def cuda_repo(self) -> str:
        """NVIDIA's CUDA repository directory: ``ubuntu2404``, ``debian12``, ``rhel9``, ``sles15`` ..."""
        if self.family == "ubuntu":
            return "ubuntu" + self.version.replace(".", "")
        if self.family == "debian":
            return f"debian{self.major}"
        if self.family == "rhel":
            return f"rhel{self.major}"
        if self.family == "fedora":
            return f"fedora{self.major}"
        major = self.major if self.major >= 15 else 15
        return f"sles{major}" if self.id == "sles" else f"opensuse{major}"

    @property
    def docker_repo(self) -> str:
        """download.docker.com/linux/<this>; empty where Docker publishes no x86_64/arm64 packages."""
        if self.family in ("ubuntu", "debian", "fedora"):
            return self.family
        if self.family == "rhel":
            return "rhel" if self.id == "rhel" else "centos"
        return ""

    @property
    def suse_gfx_repo(self) -> str:
        """NVIDIA's driver repository for openSUSE / SLE (the SUSE maintainer's list)."""
        if self.id == "sles" and self.major >= 16:
            # the SUSE NVIDIA maintainer's G07 post (2026-02-22) lists an SLE 16 repository
            return f"https://download.nvidia.com/suse/sle{self.major}/"
        if self.id == "sles":
            sp = self.version.split(".")[1] if "." in self.version else "0"
            return f"https://download.nvidia.com/suse/sle15sp{sp}/"
        if "tumbleweed" in self.id:
            return "https://download.nvidia.com/opensuse/tumbleweed/"
        return f"https://download.nvidia.com/opensuse/leap/{self.version}/"


def resolve(facts: HostFacts) -> Target:
    """The Target for ``facts``, or PlanError saying what is unsupported and what is."""
    support = compat.distro_support(facts.distro)
    if not support.supported:
        raise PlanError(support.reason)
    if facts.arch not in _DEB_ARCH:
        raise PlanError(
            f"unsupported: the {facts.arch or 'unknown'} architecture; supported: x86_64, aarch64"
        )
    family = support.family
    version = facts.distro.version_id
    if support.newer_than_data:
        # a release newer than the data: its repositories are named after the newest known one
        version = support.plan_version
    try:
        major = int(version.split(".")[0]) if version else 0
    except ValueError:
        major = 0
    codename = (
        compat.distro_codename(facts.distro.id, version)
        if support.newer_than_data
        else facts.distro.codename
    ) or _CODENAMES.get((family, version if family == "ubuntu" else str(major)), "")
    if family in ("ubuntu", "debian") and not codename:
        raise PlanError(
            f"{facts.distro.name or support.key} does not name its release codename in "
            "/etc/os-release; dlenv needs it for Docker's repository."
        )
    return Target(
        key=support.key,
        family=family,
        id=facts.distro.id.lower(),
        version=version,
        major=major,
        codename=codename,
        arch=facts.arch,
        pm=_PM[family],
        name=facts.distro.name or support.key,
    )
