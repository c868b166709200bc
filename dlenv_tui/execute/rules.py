"""The worker's second line of defence: what each program may be asked to do, what files may say.

The worker runs only plans its own planner made, so these rules are not what keeps a user out;
they catch the planner's own bugs. Each rule takes a step's argv (and the plan, where a step may
name a file an earlier step of the same plan downloaded) and returns "" when the argv has a shape
the planners produce, else a short reason. Options are allow-listed per program: anything not
named here (``apt-get -o``, ``systemctl link``, ``docker run -v``, ``usermod -o -u 0``) is refused.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dlenv_tui.model import Plan, StepKind

#: A package name as apt, dnf and zypper spell one (an optional ``=version`` for apt); never a path.
PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._~-]*(?:=[A-Za-z0-9.+~:-]+)?")
#: A package name pattern for version locks (``*nvidia*580*``).
PACKAGE_GLOB = re.compile(r"[A-Za-z0-9*][A-Za-z0-9*+._~-]*")
#: A dnf module stream (``nvidia-driver:open-dkms``, ``nvidia-driver:580-dkms``).
MODULE_STREAM = re.compile(r"[a-z0-9-]+:[a-z0-9.-]+(/[a-z0-9-]+)?")
#: A user or group name as useradd/groupadd accept it.
ACCOUNT = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
#: systemd units plans enable, start or restart.
UNITS = re.compile(
    r"(docker|containerd|podman|nvidia-cdi-refresh|nvidia-fabricmanager|nvidia-persistenced"
    r"|nvlsm|nvidia-dcgm)(\.service|\.socket|\.path)?"
)
#: Hosts a package manager may be pointed at by URL (release packages, repositories).
URL_HOSTS = frozenset(
    {
        "mirrors.rpmfusion.org",
        "download1.rpmfusion.org",
        "download.nvidia.com",
        "developer.download.nvidia.com",
        "nvidia.github.io",
        "download.docker.com",
        "dl.fedoraproject.org",
    }
)
#: Where a smoke test's image comes from: NVIDIA's CUDA images only.
CUDA_IMAGE = re.compile(r"(docker\.io/)?nvidia/cuda:[A-Za-z0-9._-]+")
#: Key files mokutil may enrol (the ones the Secure Boot steps create).
MOK_KEYS = frozenset(
    {
        "/var/lib/shim-signed/mok/MOK.der",
        "/etc/pki/akmods/certs/public_key.der",
        "/var/lib/dkms/mok.pub",
    }
)

Rule = Callable[[Sequence[str], Plan], str]


def _url_ok(arg: str) -> bool:
    m = re.fullmatch(r"https://([A-Za-z0-9.-]+)(/[A-Za-z0-9._~%/+:-]*)?", arg)
    return m is not None and m.group(1).lower() in URL_HOSTS and ".." not in arg


def _split(args: Sequence[str], flags: frozenset[str]) -> tuple[list[str], str]:
    """(the non-option words, "" or the first option not in ``flags``)."""
    words: list[str] = []
    for arg in args:
        if arg.startswith("-"):
            if arg not in flags:
                return words, arg
        else:
            words.append(arg)
    return words, ""


def _packages(words: Sequence[str], urls: bool = False) -> str:
    if not words:
        return "names no package"
    for word in words:
        if urls and word.startswith("https://"):
            if not _url_ok(word):
                return f"installs from {word!r}, not a repository dlenv knows"
            continue
        if not PACKAGE.fullmatch(word):
            return f"{word!r} is not a package name"
    return ""


def apt_mark(argv: Sequence[str], plan: Plan) -> str:
    words, bad = _split(argv[1:], frozenset())
    if bad:
        return f"apt-mark option {bad!r} is not one plans use"
    if not words or words[0] not in ("hold", "unhold"):
        return "apt-mark is used only to hold or unhold packages"
    return _packages(words[1:])


def _downloaded(plan: Plan) -> set[str]:
    return {
        s.download.dest
        for s in plan.steps
        if s.kind is StepKind.DOWNLOAD and s.download is not None
    }


def dpkg(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args == ["--configure", "-a"]:
        return ""
    if len(args) == 2 and args[0] == "-i":
        path = args[1]
        if (
            path in _downloaded(plan)
            and path.startswith("/var/cache/dlenv/")
            and path.endswith(".deb")
        ):
            return ""
        return f"dpkg installs only a package this plan downloaded, not {path!r}"
    return "dpkg is used only to install a downloaded package or finish an interrupted install"


@dataclass(frozen=True)
class PackageManager:
    """The shape apt-get, dnf and zypper share: options, one command, then its words.

    ``bare`` commands take no words, ``installs`` take package names (``urls``: also a
    repository package by URL), ``extra`` holds the commands with a grammar of their own.
    """

    name: str
    flags: frozenset[str]
    bare: tuple[str, ...] = ()
    installs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    extra: Mapping[str, Callable[[list[str]], str]] = field(default_factory=dict)

    def __call__(self, argv: Sequence[str], plan: Plan) -> str:
        words, bad = _split(argv[1:], self.flags)
        if bad:
            return f"{self.name} option {bad!r} is not one plans use"
        if not words:
            return f"{self.name} without a command"
        command, rest = words[0], words[1:]
        if command in self.bare:
            return "" if not rest else f"{self.name} {command} takes no arguments here"
        if command in self.installs:
            return _packages(rest, urls=command in self.urls)
        if command in self.extra:
            return self.extra[command](rest)
        return f"{self.name} {command!r} is not a command plans use"


def _dnf_versionlock(rest: list[str]) -> str:
    patterns = rest[1:]
    known = all(PACKAGE_GLOB.fullmatch(w) for w in patterns)
    if rest and rest[0] in ("add", "delete") and patterns and known:
        return ""
    return "dnf versionlock takes add or delete and package patterns"


def _dnf_module(rest: list[str]) -> str:
    streams = rest[1:]
    known = all(MODULE_STREAM.fullmatch(w) or PACKAGE.fullmatch(w) for w in streams)
    if rest and rest[0] in ("install", "enable", "reset") and streams and known:
        return ""
    return "dnf module takes install, enable or reset and module streams"


def _zypper_addrepo(rest: list[str]) -> str:
    if len(rest) == 2 and _url_ok(rest[0]) and ACCOUNT.fullmatch(rest[1]):
        return ""
    return "zypper addrepo takes a known repository URL and a plain name"


apt_get = PackageManager(
    "apt-get",
    frozenset({"-y", "-q", "-qq", "--no-install-recommends", "--autoremove", "--purge"}),
    bare=("update",),
    installs=("install", "remove", "purge"),
)

_dnf = PackageManager(
    "dnf",
    frozenset({"-y", "-q", "--refresh"}),
    bare=("makecache",),
    installs=("install", "remove", "reinstall"),
    urls=("install",),
    extra={"versionlock": _dnf_versionlock, "module": _dnf_module},
)

zypper = PackageManager(
    "zypper",
    frozenset({"--non-interactive", "-n", "--gpg-auto-import-keys", "--refresh", "-y"}),
    bare=("refresh", "ref", "verify"),
    installs=("install", "in", "remove", "rm", "addlock", "al", "removelock", "rl"),
    extra={"addrepo": _zypper_addrepo, "ar": _zypper_addrepo},
)


CRB_REPOS = frozenset({"crb", "powertools"})
RHEL_CRB = re.compile(r"codeready-builder-for-rhel-\d{1,2}-(x86_64|aarch64)-rpms")


def dnf(argv: Sequence[str], plan: Plan) -> str:
    if list(argv[1:3]) == ["config-manager", "--set-enabled"]:
        crb = len(argv) == 4 and argv[3] in CRB_REPOS
        return "" if crb else "dnf config-manager only enables CodeReady Builder here"
    return _dnf(argv, plan)


def subscription_manager(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if len(args) == 3 and args[:2] == ["repos", "--enable"] and RHEL_CRB.fullmatch(args[2]):
        return ""
    return "subscription-manager only enables CodeReady Builder here"


def rpm(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if len(args) == 2 and args[0] == "--import":
        path = args[1]
        if posixpath.dirname(path) == "/etc/pki/rpm-gpg" and ".." not in path:
            return ""
    return "rpm is used only to import a repository key from /etc/pki/rpm-gpg"


def systemctl(argv: Sequence[str], plan: Plan) -> str:
    words, bad = _split(argv[1:], frozenset({"--now", "--quiet"}))
    if bad:
        return f"systemctl option {bad!r} is not one plans use"
    if not words:
        return "systemctl without a command"
    command, units = words[0], words[1:]
    if command == "daemon-reload":
        return "" if not units else "daemon-reload takes no units"
    if command not in ("enable", "start", "restart", "stop", "is-active", "is-enabled", "status"):
        return f"systemctl {command!r} is not a command plans use"
    if not units:
        return f"systemctl {command} names no unit"
    for unit in units:
        if not UNITS.fullmatch(unit):
            return f"{unit!r} is not a unit dlenv manages"
    return ""


def groupadd(argv: Sequence[str], plan: Plan) -> str:
    return "" if list(argv[1:]) == ["-f", "docker"] else "groupadd only creates the docker group"


def usermod(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if len(args) != 3 or args[:2] != ["-aG", "docker"] or not ACCOUNT.fullmatch(args[2]):
        return "usermod only adds a user to the docker group"
    if args[2] == "root":
        return "usermod never changes root"
    import pwd

    try:
        if pwd.getpwnam(args[2]).pw_uid == 0:
            return "usermod never changes an account with uid 0"
    except KeyError:
        return ""  # usermod itself refuses a user that does not exist
    return ""


def docker(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if (
        len(args) == 6
        and args[:4] == ["run", "--rm", "--gpus", "all"]
        and CUDA_IMAGE.fullmatch(args[4])
        and args[5] == "nvidia-smi"
    ):
        return ""
    return (
        "docker runs only the GPU smoke test (nvidia-smi in an nvidia/cuda image, nothing mounted)"
    )


def podman(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    head = ["run", "--rm", "--device", "nvidia.com/gpu=all"]
    rest = args[4:]
    if rest[:1] == ["--security-opt=label=disable"]:
        rest = rest[1:]
    if (
        args[:4] == head
        and len(rest) == 2
        and CUDA_IMAGE.fullmatch(rest[0])
        and rest[1] == ("nvidia-smi")
    ):
        return ""
    return (
        "podman runs only the GPU smoke test (nvidia-smi in an nvidia/cuda image, nothing mounted)"
    )


def nvidia_ctk(argv: Sequence[str], plan: Plan) -> str:
    args = tuple(argv[1:])
    allowed = {
        ("--version",),
        ("cdi", "generate", "--output=/etc/cdi/nvidia.yaml"),
        ("runtime", "configure", "--runtime=docker"),
        ("runtime", "configure", "--runtime=containerd"),
        ("runtime", "configure", "--runtime=crio"),
        # dlenv doctor's repairs: /dev/char links for the cgroup/daemon-reload NVML loss, and
        # no-cgroups for rootless Podman's legacy hook
        ("system", "create-dev-char-symlinks", "--create-all"),
        ("config", "--in-place", "--set", "nvidia-container-cli.no-cgroups"),
    }
    return (
        ""
        if args in allowed
        else "nvidia-ctk is used only to write the CDI spec or configure Docker"
    )


def mokutil(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args == ["--sb-state"]:
        return ""
    key_args = len(args) >= 2 and args[0] in ("--import", "--test-key") and args[1] in MOK_KEYS
    if key_args and args[2:] in ([], ["--root-pw"]):
        return ""
    return "mokutil only enrols or tests dlenv's Secure Boot signing key"


def fixed(*shapes: tuple[str, ...]) -> Rule:
    """A program plans call with one of a few exact argument lists."""
    allowed = set(shapes)

    def rule(argv: Sequence[str], plan: Plan) -> str:
        if tuple(argv[1:]) in allowed:
            return ""
        return f"{posixpath.basename(argv[0])} is called only as plans call it"

    return rule


def ubuntu_drivers(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args[:1] != ["install"]:
        return "ubuntu-drivers is used only to install a driver"
    for arg in args[1:]:
        if arg != "--gpgpu" and not re.fullmatch(
            r"nvidia:[0-9]{3}(-server|-open|-server-open)?", arg
        ):
            return f"ubuntu-drivers argument {arg!r} is not one plans use"
    return ""


def dkms(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args in (["autoinstall"], ["status"]):
        return ""
    if len(args) >= 1 and args[0] == "autoinstall" and args[1:2] == ["-k"] and len(args) == 3:
        return "" if re.fullmatch(r"[A-Za-z0-9._+-]+", args[2]) else "not a kernel release"
    return "dkms is used only to build the module for a kernel (autoinstall)"


def akmods(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if len(args) == 3 and args[:2] == ["--force", "--kernels"]:
        return "" if re.fullmatch(r"[A-Za-z0-9._+-]+", args[2]) else "not a kernel release"
    return "akmods is used only to build the module for a kernel"


def rm(argv: Sequence[str], plan: Plan) -> str:
    from dlenv_tui.plan import programs

    words, bad = _split(argv[1:], frozenset({"-f"}))
    if bad:
        return f"rm option {bad!r} is not one plans use"
    for word in words:
        if word not in programs.REMOVE_FILES:
            return f"removing {word!r} is not something plans do"
    return "" if words else "rm names no file"


# -- checks: read-only, but a "check" that is `systemctl link …` is a step in disguise -----------


def check_test(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args[:1] == ["!"]:
        args = args[1:]
    if len(args) == 2 and args[0] in ("-e", "-f", "-s", "-x", "-d") and args[1].startswith("/"):
        return ""
    if (
        len(args) == 3
        and args[1] in ("-ot", "-nt")
        and args[0].startswith("/")
        and args[2].startswith("/")
    ):
        return ""
    return "test is used only to look at a file"


def check_grep(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if len(args) == 3 and args[0] in ("-q", "-qs", "-qE", "-qsE") and args[2].startswith("/"):
        return ""
    if args[:1] == ["-rqszP"] and len(args) == 3 and args[2] == "/etc/yum.repos.d":
        return ""  # is a repository section enabled (grep -z reads each .repo file whole)
    return "grep is used only to look for a pattern in one file"


def check_dpkg_query(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args[:1] == ["-W"]:
        rest = args[1:]
        if rest and rest[0].startswith("-f="):
            rest = rest[1:]
        return _packages(rest)
    return "dpkg-query is used only to look packages up"


def check_rpm(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args[:1] == ["-q"]:
        return _packages(args[1:])
    return "rpm is used only to look packages up here"


def check_systemctl(argv: Sequence[str], plan: Plan) -> str:
    words = [a for a in argv[1:] if a != "--quiet"]
    if (
        len(words) >= 2
        and words[0] in ("is-active", "is-enabled")
        and all(UNITS.fullmatch(u) for u in words[1:])
    ):
        return ""
    return "a check asks systemctl only whether a unit is active or enabled"


def check_getent(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    ok = len(args) == 2 and args[0] in ("group", "passwd") and ACCOUNT.fullmatch(args[1])
    return "" if ok else "getent only looks up a group or user"


def check_mokutil(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if args == ["--sb-state"] or (
        len(args) == 2 and args[0] == "--test-key" and args[1] in MOK_KEYS
    ):
        return ""
    return "a check asks mokutil only about Secure Boot or dlenv's key"


def check_modinfo(argv: Sequence[str], plan: Plan) -> str:
    args = list(argv[1:])
    if (
        len(args) == 3
        and args[0] == "-k"
        and re.fullmatch(r"[A-Za-z0-9._+-]+", args[1])
        and (args[2] in ("nvidia", "nvidia-current", "nvidia-open"))
    ):
        return ""
    return "modinfo only asks whether the NVIDIA module exists for a kernel"


def _any_args(argv: Sequence[str], plan: Plan) -> str:
    return ""


def step_rules() -> dict[str, Rule]:
    from dlenv_tui.plan import programs as p

    return {
        p.APT_GET: apt_get,
        p.APT_MARK: apt_mark,
        p.DPKG: dpkg,
        p.DNF: dnf,
        p.ZYPPER: zypper,
        p.RPM: rpm,
        p.SYSTEMCTL: systemctl,
        p.GROUPADD: groupadd,
        p.USERMOD: usermod,
        p.DOCKER: docker,
        p.PODMAN: podman,
        p.NVIDIA_CTK: nvidia_ctk,
        p.MOKUTIL: mokutil,
        p.UBUNTU_DRIVERS: ubuntu_drivers,
        p.DKMS: dkms,
        p.RM: rm,
        p.UPDATE_INITRAMFS: fixed(("-u",), ("-u", "-k", "all")),
        p.DRACUT: fixed(("--force",), ("-f",), ("--regenerate-all", "--force")),
        p.UPDATE_SECUREBOOT_POLICY: fixed(("--new-key",), ("--enroll-key",)),
        p.KMODGENCA: fixed(("-a",), ()),
        p.AKMODS: akmods,
        p.MODPROBE: fixed(("nvidia",)),
        p.SETSEBOOL: fixed(("-P", "container_use_devices", "on")),
        p.SUBSCRIPTION_MANAGER: subscription_manager,
    }


def check_rules() -> dict[str, Rule]:
    from dlenv_tui.plan import programs as p

    return {
        p.TEST: check_test,
        p.GREP: check_grep,
        p.DPKG_QUERY: check_dpkg_query,
        p.RPM: check_rpm,
        p.SYSTEMCTL: check_systemctl,
        p.GETENT: check_getent,
        p.MOKUTIL: check_mokutil,
        p.NVIDIA_CTK: fixed(("--version",)),
        p.NVIDIA_SMI: fixed((), ("-L",)),
        p.MODINFO: check_modinfo,
    }


# -- files: content that another program will later act on as root -------------------------------

_MODPROBE_LINE = re.compile(
    r"(blacklist [A-Za-z0-9_-]+|options [A-Za-z0-9_-]+( [A-Za-z0-9_]+=[A-Za-z0-9_,.-]+)+)"
)


def modprobe_conf(content: str) -> str:
    """modprobe.d may only blacklist modules or set options: ``install``/``softdep`` run commands."""
    for line in content.splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if not _MODPROBE_LINE.fullmatch(text):
            return f"the modprobe line {text!r} is neither a blacklist nor an options line"
    return ""


def apt_source(content: str) -> str:
    """apt sources must be signed (signed-by) and never trusted blindly."""
    lowered = content.lower()
    if "trusted=yes" in lowered.replace(" ", "") or re.search(r"(?m)^\s*trusted:\s*yes", lowered):
        return "an apt source marked trusted skips signature checks"
    for line in content.splitlines():
        text = line.strip()
        if text.startswith("deb ") and "signed-by=" not in text:
            return "an apt source line without signed-by"
        if re.match(r"(?i)uris:", text) and not re.search(r"(?im)^\s*signed-by:", content):
            return "a deb822 source without Signed-By"
    return ""


def rpm_repo(content: str) -> str:
    if re.search(r"(?im)^\s*(repo_)?gpgcheck\s*=\s*0", content):
        return "a repository with gpgcheck=0 skips signature checks"
    return ""


def apt_conf(content: str) -> str:
    """apt.conf.d may hold only the unattended-upgrades blacklist (Pre-Invoke hooks run commands)."""
    body = re.sub(r"//[^\n]*", "", content)
    for line in body.splitlines():
        text = line.strip()
        if not text or text in ("};", "}"):
            continue
        if text.startswith("Unattended-Upgrade::Package-Blacklist"):
            continue
        if re.fullmatch(r'"[A-Za-z0-9^$.*+()|\\_-]+";', text):
            continue
        return f"the apt setting {text!r} is not the unattended-upgrades blacklist"
    return ""


def udev_rule(content: str) -> str:
    """udev rules run programs as root: only dlenv doctor's /dev/char rule, exactly."""
    from dlenv_tui.doctor.signatures import DEV_CHAR_RULE_TEXT

    return "" if content == DEV_CHAR_RULE_TEXT else "a udev rule other than dlenv's /dev/char rule"


#: (directory, file-name pattern, content rule or None) for every file a plan may write.
WRITE_RULES: tuple[tuple[str, re.Pattern[str], Callable[[str], str] | None], ...] = (
    ("/etc/apt/sources.list.d", re.compile(r"[a-z0-9_.-]+\.(list|sources)"), apt_source),
    ("/etc/apt/keyrings", re.compile(r"[a-z0-9_.-]+\.(asc|gpg)"), None),
    ("/usr/share/keyrings", re.compile(r"[a-z0-9_.-]+\.gpg"), None),
    ("/etc/apt/preferences.d", re.compile(r"dlenv[a-z0-9_.-]*"), None),
    ("/etc/apt/apt.conf.d", re.compile(r"[0-9]{2}dlenv[a-z0-9_.-]*"), apt_conf),
    ("/etc/yum.repos.d", re.compile(r"[a-z0-9_.-]+\.repo"), rpm_repo),
    ("/etc/pki/rpm-gpg", re.compile(r"[A-Za-z0-9_.-]+\.asc"), None),
    ("/etc/zypp/repos.d", re.compile(r"[a-z0-9_.-]+\.repo"), rpm_repo),
    (
        "/etc/modprobe.d",
        re.compile(r"blacklist-nouveau\.conf|dlenv-[a-z0-9_-]+\.conf"),
        modprobe_conf,
    ),
    ("/var/cache/dlenv", re.compile(r"[A-Za-z0-9_.+-]+\.(deb|rpm)"), None),
    ("/etc/udev/rules.d", re.compile(r"71-nvidia-dev-char\.rules"), udev_rule),
)

#: Step environment: the names plans set, each with the values they use.
STEP_ENV: dict[str, frozenset[str]] = {
    "DEBIAN_FRONTEND": frozenset({"noninteractive"}),
    "NEEDRESTART_MODE": frozenset({"a", "l"}),
    "NEEDRESTART_SUSPEND": frozenset({"1"}),
}
