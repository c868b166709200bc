"""The driver-upgrade guardian: keep automatic upgrades away from the NVIDIA driver packages.

An upgrade of the driver's packages replaces the user-space libraries under the running kernel
module, and until the next reboot every GPU program fails with "Driver/library version mismatch".
So the driver stage holds them where the distribution does that: apt's unattended-upgrades
blacklist, dnf's versionlock, zypper's locks. Upgrading on purpose is re-running the driver stage
(with a newer branch): the plan lifts the lock before it installs and sets it again after.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlenv_tui.model import EngineName, HostFacts, PkgFamily, Plan, Profile, Step, StepOutcome
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver.common import DriverContext

APT_HOLD_FILE = "/etc/apt/apt.conf.d/51dlenv-nvidia-driver"
#: Python regular expressions unattended-upgrades matches against package names (re.match).
APT_BLACKLIST = (
    "nvidia-driver-",
    "nvidia-dkms-",
    "nvidia-kernel-",
    "nvidia-utils-",
    "nvidia-compute-utils-",
    "nvidia-firmware-",
    "nvidia-open",
    "nvidia-fabricmanager",
    "cuda-drivers",
    "libnvidia-(allocator|cfg|common|compute|decode|egl|encode|extra|fbc|gl|gpucomp|ml|nscq)",
    "linux-modules-nvidia-",
    "linux-objects-nvidia-",
    "linux-signatures-nvidia-",
    "xserver-xorg-video-nvidia-",
)
DNF4_LOCKS = "/etc/dnf/plugins/versionlock.list"
DNF5_LOCKS = "/etc/dnf/versionlock.toml"
ZYPP_LOCKS = "/etc/zypp/locks"
UPGRADE_HOWTO = (
    "To upgrade the driver on purpose, re-run dlenv's driver stage (with a newer branch if you "
    "want one), then reboot."
)


def apt_hold_text() -> str:
    lines = [
        "// Written by dlenv: unattended-upgrades leaves the NVIDIA driver alone. An automatic",
        "// driver upgrade swaps the libraries under the running kernel module (Driver/library",
        "// version mismatch until a reboot). Upgrade on purpose: re-run dlenv's driver stage.",
        "Unattended-Upgrade::Package-Blacklist {",
        *(f'    "{pattern}";' for pattern in APT_BLACKLIST),
        "};",
    ]
    return "\n".join(lines) + "\n"


def _dnf_packages(ctx: DriverContext) -> tuple[str, ...]:
    """The driver packages to lock (the worker's rules take names, not globs); their subpackages
    require exactly their version, so they stay too."""
    if ctx.target.family == "fedora":
        from dlenv_tui.plan.driver.fedora import packages

        return packages(ctx)
    kmod = "kmod-nvidia-open-dkms" if ctx.is_open else "kmod-nvidia-latest-dkms"
    return ("nvidia-driver", "nvidia-driver-cuda", kmod)


def _dnf5(ctx: DriverContext) -> bool:
    """Fedora 41 and later ship dnf5, whose versionlock is built in and lists /etc/dnf/versionlock.toml."""
    return ctx.target.family == "fedora" and ctx.target.major >= 41


def _zypper_packages(ctx: DriverContext) -> tuple[str, ...]:
    from dlenv_tui.plan.driver.suse import packages

    names = packages(ctx)
    generation = "G07" if "G07" in names[0] else "G06"
    kmp = names[0].replace("-kmp-meta", "-kmp-default")
    return tuple(dict.fromkeys((kmp, *names, f"nvidia-compute-{generation}")))


def unlock_steps(ctx: DriverContext) -> list[Step]:
    """Before replacing a driver that is already installed: lift dlenv's lock so the install can."""
    if not ctx.facts.driver.loaded:
        return []
    if ctx.pm is PkgFamily.DNF:
        return [
            s.run(
                "driver.unhold",
                "Lift the version lock on the NVIDIA driver for this upgrade",
                (p.DNF, "versionlock", "delete", *_dnf_packages(ctx)),
                timeout_s=300,
            )
        ]
    if ctx.pm is PkgFamily.ZYPPER:
        return [
            s.run(
                "driver.unhold",
                "Lift the package lock on the NVIDIA driver for this upgrade",
                (p.ZYPPER, "--non-interactive", "removelock", *_zypper_packages(ctx)),
                timeout_s=300,
            )
        ]
    return []  # apt: the blacklist only stops unattended-upgrades, not an explicit install


def hold_steps(ctx: DriverContext) -> list[Step]:
    """After the install: hold the driver packages from automatic upgrades."""
    ctx.reasons.append(
        "The driver packages are held from automatic upgrades, which would break GPU programs "
        "until a reboot. " + UPGRADE_HOWTO
    )
    if ctx.pm is PkgFamily.APT:
        return [
            s.write(
                "driver.hold",
                "Keep unattended-upgrades away from the NVIDIA driver",
                APT_HOLD_FILE,
                apt_hold_text(),
                note="An unattended-upgrades blacklist; `apt-get install` on purpose still works.",
            )
        ]
    if ctx.pm is PkgFamily.DNF:
        steps: list[Step] = []
        names = _dnf_packages(ctx)
        if not _dnf5(ctx) and not any(st.id == "driver.versionlock-plugin" for st in ctx.steps):
            steps.append(
                s.install(
                    "driver.hold-plugin",
                    "Install dnf's versionlock plugin",
                    PkgFamily.DNF,
                    ("python3-dnf-plugin-versionlock",),
                )
            )
        locks = DNF5_LOCKS if _dnf5(ctx) else DNF4_LOCKS
        steps.append(
            s.run(
                "driver.hold",
                "Lock the NVIDIA driver packages at their installed version",
                (p.DNF, "versionlock", "add", *names),
                check=(p.GREP, "-qs", names[0], locks),
                note="dnf upgrade and dnf-automatic skip locked packages.",
                timeout_s=300,
            )
        )
        return steps
    if ctx.pm is PkgFamily.ZYPPER:
        names = _zypper_packages(ctx)
        return [
            s.run(
                "driver.hold",
                "Lock the NVIDIA driver packages (zypper addlock)",
                (p.ZYPPER, "--non-interactive", "addlock", *names),
                check=(p.GREP, "-qs", f"solvable_name: {names[0]}", ZYPP_LOCKS),
                note="zypper update skips locked packages.",
                timeout_s=300,
            )
        ]
    return []


CDI_SPEC = "/etc/cdi/nvidia.yaml"


def _cdi_in_use(facts: HostFacts, profile: Profile) -> bool:
    """The toolkit is here and GPUs reach containers through a CDI spec dlenv writes."""
    if not facts.nvidia_ctk.present:
        return False
    paths = {spec.path for spec in facts.cdi_specs}
    return CDI_SPEC in paths or (not paths and profile.engine.engine is EngineName.PODMAN)


def after_change_steps(
    facts: HostFacts, profile: Profile, reasons: list[str], *, loaded: str = ""
) -> list[Step]:
    """What follows a driver change, once the new module is loaded: the CDI spec generated for the
    new driver's libraries, then Docker restarted so it reads it (daemonless Podman reads the
    spec at each run). ``loaded``: the new driver's version when it is already loaded."""
    steps: list[Step] = []
    if not _cdi_in_use(facts, profile):
        return steps
    reasons.append(
        "After a driver change the CDI spec still mounts the old driver's libraries: it is "
        "generated again for the new driver"
        + (" and Docker restarted to read it." if facts.docker.present and facts.systemd else ".")
        + f" Then relaunch the profile's container (`dlenv run {profile.name}`)."
    )
    steps.append(
        s.run(
            "driver.cdi-refresh",
            "Generate the CDI spec for the new driver",
            (p.NVIDIA_CTK, "cdi", "generate", f"--output={CDI_SPEC}"),
            check=(p.GREP, "-qs", f".so.{loaded}", CDI_SPEC) if loaded else (),
            note="Containers started with the old spec fail to start (a missing mount source).",
            timeout_s=120,
        )
    )
    if facts.docker.present and facts.systemd:
        steps.append(
            s.run(
                "driver.restart-engine",
                "Restart Docker to read the new CDI spec",
                (p.SYSTEMCTL, "restart", "docker"),
                note="Running containers stop unless live-restore is on; relaunch them after.",
                timeout_s=300,
            )
        )
    return steps


def stale_cdi(facts: HostFacts) -> bool:
    """A loaded driver whose version no NVIDIA CDI spec on the host names (one was upgraded)."""
    version = facts.driver.version
    return bool(version) and any(
        spec.drivers and version not in spec.drivers for spec in facts.cdi_specs
    )


def relaunch_note(plan: Plan, outcomes: Mapping[str, StepOutcome]) -> str:
    """The end of a driver stage that refreshed the CDI spec: offer to relaunch the container,
    which still runs with the old driver's libraries (or was stopped by the engine's restart)."""
    if outcomes.get("driver.cdi-refresh") is not StepOutcome.OK or not plan.profile:
        return ""
    return (
        "The CDI spec and the engine now follow the new driver: relaunch the profile's container "
        f"with `dlenv run {plan.profile}` (the Launch stage)."
    )
