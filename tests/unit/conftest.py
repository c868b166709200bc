"""Unit-layer fixtures: the release matrix the plan tests run over, and a model host that runs
steps and checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from dlenv_tui.model import (
    Distro,
    DriverFlavour,
    EngineName,
    Gpu,
    HostFacts,
    PkgFamily,
    Profile,
    SecureBoot,
    Step,
    StepKind,
    UserInfo,
)
from dlenv_tui.plan import programs as p
from dlenv_tui.profiles import recommended_profile

RTX4090 = Gpu("0000:01:00.0", "2684", "GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")
GTX1080 = Gpu("0000:01:00.0", "1b80", "GeForce GTX 1080", "GP104", "Pascal", "6.1")

# (os-release, package family, kernel) for every supported release
DISTROS = [
    (
        Distro("ubuntu", "22.04", "jammy", ("debian",), "Ubuntu 22.04"),
        PkgFamily.APT,
        "5.15.0-122-generic",
    ),
    (
        Distro("ubuntu", "24.04", "noble", ("debian",), "Ubuntu 24.04"),
        PkgFamily.APT,
        "6.8.0-45-generic",
    ),
    (Distro("debian", "12", "bookworm", (), "Debian 12"), PkgFamily.APT, "6.1.0-26-amd64"),
    (Distro("debian", "13", "trixie", (), "Debian 13"), PkgFamily.APT, "6.12.48-1-amd64"),
    (Distro("fedora", "42", "", (), "Fedora 42"), PkgFamily.DNF, "6.14.0-63.fc42.x86_64"),
    (Distro("fedora", "43", "", (), "Fedora 43"), PkgFamily.DNF, "6.17.7-300.fc43.x86_64"),
    (
        Distro("rhel", "8.10", "", ("fedora",), "RHEL 8.10"),
        PkgFamily.DNF,
        "4.18.0-553.el8_10.x86_64",
    ),
    (Distro("rhel", "9.6", "", ("fedora",), "RHEL 9.6"), PkgFamily.DNF, "5.14.0-570.el9_6.x86_64"),
    (Distro("rhel", "10.0", "", ("fedora",), "RHEL 10.0"), PkgFamily.DNF, "6.12.0-55.el10.x86_64"),
    (
        Distro("rocky", "8.10", "", ("rhel",), "Rocky 8.10"),
        PkgFamily.DNF,
        "4.18.0-553.el8_10.x86_64",
    ),
    (Distro("rocky", "9.6", "", ("rhel",), "Rocky 9.6"), PkgFamily.DNF, "5.14.0-570.el9_6.x86_64"),
    (
        Distro("almalinux", "10.0", "", ("rhel",), "AlmaLinux 10.0"),
        PkgFamily.DNF,
        "6.12.0-55.el10.x86_64",
    ),
    (
        Distro("centos", "9", "", ("rhel", "fedora"), "CentOS Stream 9"),
        PkgFamily.DNF,
        "5.14.0-600.el9.x86_64",
    ),
    (
        Distro("centos", "10", "", ("rhel", "fedora"), "CentOS Stream 10"),
        PkgFamily.DNF,
        "6.12.0-100.el10.x86_64",
    ),
    (
        Distro("opensuse-leap", "15.6", "", ("suse",), "openSUSE Leap 15.6"),
        PkgFamily.ZYPPER,
        "6.4.0-150600.23.25-default",
    ),
    (
        Distro("opensuse-tumbleweed", "20251120", "", ("suse",), "openSUSE Tumbleweed"),
        PkgFamily.ZYPPER,
        "6.17.8-1-default",
    ),
    (
        Distro("sles", "15.6", "", ("suse",), "SLES 15 SP6"),
        PkgFamily.ZYPPER,
        "6.4.0-150600.21-default",
    ),
]


def matrix_facts(
    distro: Distro, pm: PkgFamily, kernel: str, flavour: DriverFlavour, secure_boot: bool
) -> HostFacts:
    return HostFacts(
        arch="x86_64",
        distro=distro,
        pkg_family=pm,
        systemd=True,
        kernel=kernel,
        kernel_headers=True,
        gpus=(RTX4090 if flavour is DriverFlavour.OPEN else GTX1080,),
        secure_boot=SecureBoot(enabled=secure_boot, efi=True, source="mokutil"),
        user=UserInfo(name="alice", uid=1000, gid=1000, groups=("alice",)),
    )


def matrix_profile(facts: HostFacts, engine: EngineName) -> Profile:
    profile = recommended_profile("matrix", facts, engine=engine)
    return replace(profile, engine=replace(profile.engine, docker_group=True))


def matrix() -> list[tuple[str, HostFacts, Profile]]:
    """Every supported release × engine × flavour × Secure Boot state."""
    out = []
    for distro, pm, kernel in DISTROS:
        for engine in EngineName:
            for flavour in DriverFlavour:
                for sb in (False, True):
                    facts = matrix_facts(distro, pm, kernel, flavour, sb)
                    name = f"{distro.id}-{distro.version_id}-{engine.value}-{flavour.value}{'-sb' if sb else ''}"
                    out.append((name, facts, matrix_profile(facts, engine)))
    return out


MATRIX = matrix()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@pytest.mark.release_matrix``: run over ``(name, facts, profile)`` of the matrix, or of
    every ``every``-th case, ``families`` (package family values) only when given."""
    mark = metafunc.definition.get_closest_marker("release_matrix")
    if mark is None:
        return
    every: int = mark.kwargs.get("every", 1)
    families: tuple[str, ...] | None = mark.kwargs.get("families")
    cases = [m for m in MATRIX if families is None or m[1].pkg_family.value in families][::every]
    metafunc.parametrize(("name", "facts", "profile"), cases, ids=[m[0] for m in cases])


@pytest.fixture
def release_matrix() -> list[tuple[str, HostFacts, Profile]]:
    """Every supported release × engine × flavour × Secure Boot state, as ``(name, facts, profile)``."""
    return list(MATRIX)


# --------------------------------------------------------------------------------------------
# A model host: what each step changes, and what each check reads


@dataclass
class FakeHost:
    """Packages, files, units and keys of a pretend host; steps change it, checks read it."""

    flavour: DriverFlavour
    branch: str = ""
    packages: set[str] = field(default_factory=set)
    files: dict[str, str] = field(default_factory=dict)
    mtimes: dict[str, int] = field(default_factory=dict)
    units: set[str] = field(default_factory=set)
    mok: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    clock: int = 0

    def touch(self, path: str, content: str = "x") -> None:
        self.clock += 1
        self.files[path] = content
        self.mtimes[path] = self.clock

    # ---- checks (read-only)
    def check(self, argv: tuple[str, ...]) -> bool:
        prog, args = argv[0], list(argv[1:])
        assert prog in p.CHECK_PROGRAMS, f"check runs {prog}, which is not a check program"
        if prog == p.DPKG_QUERY:
            assert args[0] == "-W" and args[1].startswith("-f=")
            return all(pkg in self.packages for pkg in args[2:])
        if prog == p.RPM:
            assert args[0] == "-q"
            return all(pkg in self.packages for pkg in args[1:])
        if prog == p.TEST:
            if args[0] == "!":
                return not self.check((p.TEST, *args[1:]))
            if len(args) == 3 and args[1] == "-ot":
                a, b = args[0], args[2]
                return a in self.mtimes and b in self.mtimes and self.mtimes[a] < self.mtimes[b]
            assert args[0] in ("-f", "-s", "-x", "-e"), args
            return args[1] in self.files
        if prog == p.GREP:
            flags, pattern, path = args
            assert flags.startswith(("-q", "-rq"))
            if flags.startswith("-r"):  # a directory: any file below it
                return any(
                    re.search(pattern, body) is not None
                    for name, body in self.files.items()
                    if name.startswith(path + "/")
                )
            return path in self.files and re.search(pattern, self.files[path]) is not None
        if prog == p.SYSTEMCTL:
            assert args[0] in ("is-active", "is-enabled") and args[1] == "--quiet"
            return args[2] in self.units
        if prog == p.MOKUTIL:
            assert args[0] == "--test-key"
            return args[1] in self.mok
        if prog == p.NVIDIA_CTK:
            return p.NVIDIA_CTK in self.files
        if prog == p.GETENT:
            return args[1] in self.groups
        if prog == p.MODINFO:
            assert args[0] == "-k" and args[2] == "nvidia"
            return f"/lib/modules/{args[1]}/updates/dkms/nvidia.ko" in self.files
        raise AssertionError(f"the model host cannot evaluate {argv}")

    # ---- steps (changes)
    def apply(self, step: Step) -> None:
        if step.kind is StepKind.WRITE_FILE:
            assert step.file is not None
            self.touch(step.file.path, step.file.content)
            return
        if step.kind is StepKind.DOWNLOAD:
            assert step.download is not None
            self.touch(step.download.dest)
            return
        if step.kind is StepKind.REBOOT:
            kind = (
                "Open Kernel Module for x86_64"
                if self.flavour is DriverFlavour.OPEN
                else "UNIX x86_64 Kernel Module"
            )
            version = f"{self.branch or '595'}.71.05"
            self.touch(
                "/proc/driver/nvidia/version",
                f"NVRM version: NVIDIA {kind}  {version}  Release Build",
            )
            return
        argv = step.argv
        prog, args = argv[0], list(argv[1:])
        assert prog in p.PROGRAMS, f"{step.id} runs {prog}, which is not in PROGRAMS"
        words = [a for a in args if not a.startswith("-")]
        if prog == p.SUBSCRIPTION_MANAGER and words[:1] == ["repos"]:
            self.touch("/etc/yum.repos.d/redhat.repo", f"[{args[-1]}]\nname=x\nenabled = 1\n")
        elif prog == p.DNF and words[:1] == ["config-manager"]:
            self.touch(f"/etc/yum.repos.d/{args[-1]}.repo", f"[{args[-1]}]\nname=x\nenabled=1\n")
        elif prog == p.DNF and words[:2] == ["module", "enable"]:
            self.module_stream = words[2].split(":")[1]
        elif prog in (p.APT_GET, p.DNF, p.ZYPPER) and "install" in words:
            pkgs = words[words.index("install") + 1 :]
            for pkg in pkgs:
                self.install(pkg)
                stream = getattr(self, "module_stream", "")
                if prog == p.DNF and stream and pkg in ("nvidia-open", "cuda-drivers"):
                    # the enabled stream decides which DKMS module package the driver pulls in
                    self.install(
                        "kmod-nvidia-open-dkms" if "open" in stream else "kmod-nvidia-latest-dkms"
                    )
        elif prog == p.DPKG and args[0] == "-i":
            self.install(args[1].rsplit("/", 1)[1].split("_")[0])
        elif prog == p.RPM and args[0] == "--import":
            self.install("gpg-pubkey-621e9f35")
        elif prog == p.SYSTEMCTL and args[:2] == ["enable", "--now"]:
            self.units.update(args[2:])
        elif prog == p.SYSTEMCTL and args[0] == "restart":
            self.touch("/var/run/docker.pid")
        elif prog == p.NVIDIA_CTK and args[:2] == ["runtime", "configure"]:
            self.touch("/etc/docker/daemon.json", '{"runtimes": {"nvidia": {}}}')
        elif prog == p.NVIDIA_CTK and args[:2] == ["cdi", "generate"]:
            self.touch(args[2].split("=", 1)[1])
        elif prog == p.MOKUTIL and args[0] == "--import":
            self.mok.add(args[1])
        elif prog == p.KMODGENCA:
            self.touch("/etc/pki/akmods/certs/public_key.der")
        elif prog == p.UPDATE_SECUREBOOT_POLICY:
            self.touch("/var/lib/shim-signed/mok/MOK.der")
        elif prog == p.DNF and words[:2] == ["versionlock", "add"]:
            # dnf4's plugin list, and dnf5's built-in versionlock.toml (Fedora 41+)
            for path in ("/etc/dnf/plugins/versionlock.list", "/etc/dnf/versionlock.toml"):
                locked = "".join(w.replace("*", ".*") + "\n" for w in words[2:])
                self.touch(path, self.files.get(path, "") + locked)
        elif prog == p.ZYPPER and "addlock" in words:
            entries = "".join(
                f"type: package\nmatch_type: glob\nsolvable_name: {w}\n\n"
                for w in words[words.index("addlock") + 1 :]
            )
            self.touch("/etc/zypp/locks", self.files.get("/etc/zypp/locks", "") + entries)
        elif prog == p.ZYPPER and "addrepo" in words:
            self.touch(f"/etc/zypp/repos.d/{words[-1]}.repo")
        elif prog == p.GROUPADD:
            self.groups.add(args[-1])
        elif prog == p.DKMS and args[:2] == ["autoinstall", "-k"]:
            self.touch(f"/lib/modules/{args[2]}/updates/dkms/nvidia.ko")
        elif prog == p.RM:
            self.files.pop(args[-1], None)
        elif prog == p.UBUNTU_DRIVERS:
            self.touch(p.NVIDIA_SMI)
            if len(words) > 1:
                branch = words[1].split(":")[1]
                self.install(f"linux-modules-nvidia-{branch}-generic")
        elif prog in (
            p.APT_GET,
            p.DNF,
            p.ZYPPER,
            p.UPDATE_INITRAMFS,
            p.DRACUT,
            p.USERMOD,
            p.DOCKER,
            p.PODMAN,
        ):
            pass  # refresh, remove, initramfs, group membership, smoke test: nothing a check reads
        else:
            raise AssertionError(f"the model host does not know what {argv} changes")

    def install(self, pkg: str) -> None:
        if pkg.startswith("https://"):
            pkg = re.sub(r"(-latest)?-[0-9]+\.noarch\.rpm$", "", pkg.rsplit("/", 1)[1])
        self.packages.add(pkg.split("=")[0])
        provides = {
            "nvidia-container-toolkit": p.NVIDIA_CTK,
            "podman": p.PODMAN,
            "docker-ce": p.DOCKER,
            "docker.io": p.DOCKER,
            "docker": p.DOCKER,
            "moby-engine": p.DOCKER,
        }
        if pkg in provides:
            self.touch(provides[pkg])
        if pkg in ("nvidia-open", "cuda-drivers") or pkg.startswith(
            ("nvidia-open-", "cuda-drivers-", "kmod-nvidia")
        ):
            self.touch("/var/lib/dkms/mok.pub")  # DKMS creates its key on the first signed build


def _run_plan(host: FakeHost, steps: tuple[Step, ...]) -> list[str]:
    """Run ``steps`` like the script does (skip what the check says is done); the ids that ran."""
    ran = []
    for step in steps:
        if step.check and host.check(step.check):
            continue
        host.apply(step)
        ran.append(step.id)
    return ran


@pytest.fixture
def fake_host() -> type[FakeHost]:
    """``fake_host(flavour=…)`` → a model host with nothing installed."""
    return FakeHost


@pytest.fixture
def run_plan() -> Callable[[FakeHost, tuple[Step, ...]], list[str]]:
    """``run_plan(host, steps)`` → the ids that ran, skipping what each check says is done."""
    return _run_plan
