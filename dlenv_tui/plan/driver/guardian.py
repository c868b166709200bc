"""The driver-upgrade guardian: keep automatic upgrades away from the NVIDIA driver packages.

An upgrade of the driver's packages replaces the user-space libraries under the running kernel
module, and until the next reboot every GPU program fails with "Driver/library version mismatch".
So the driver stage holds them where the distribution does that: apt's unattended-upgrades
blacklist, dnf's versionlock, zypper's locks. Upgrading on purpose is re-running the driver stage
(with a newer branch): the plan lifts the lock before it installs and sets it again after.
"""

from __future__ import annotations

from dlenv_tui.model import PkgFamily, Step
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


def after_change_warning(ctx: DriverContext) -> None:
    """What follows a driver change: the CDI spec, the engine and the container."""
    ctx.warnings.append(
        "After the reboot, run the engine stage again (`dlenv apply PROFILE --stage engine`): it "
        "generates the CDI spec for the new driver and restarts the engine; then relaunch the "
        "profile's container (`dlenv run PROFILE`). `dlenv doctor` finds a stale CDI spec."
    )
