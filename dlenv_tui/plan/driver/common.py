"""What every driver plan shares: the flavour/branch decision, nouveau, Secure Boot enrolment, reboot."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlenv_tui import compat
from dlenv_tui.model import DriverFlavour, HostFacts, PkgFamily, Profile, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.steps import PlanError

NVIDIA_VERSION_FILE = "/proc/driver/nvidia/version"
NOUVEAU_BLACKLIST = "/etc/modprobe.d/blacklist-nouveau.conf"
NOUVEAU_CONF = (
    "# Written by dlenv: the NVIDIA driver cannot load while nouveau holds the GPU.\n"
    "blacklist nouveau\n"
    "options nouveau modeset=0\n"
)
ENROL_WARNING = (
    "Secure Boot: the signing key is only queued for enrolment. At the next boot the blue "
    "MokManager screen asks you to choose Enroll MOK and type this machine's root password; it "
    "appears on the machine's console, so over SSH you need a screen, a KVM or the BMC's remote "
    "console. If root has no password, set one first (sudo passwd root)."
)


@dataclass
class DriverContext:
    """The inputs of a driver plan and the plan being assembled."""

    facts: HostFacts
    profile: Profile
    target: Target
    flavour: DriverFlavour
    branch: str
    secure_boot: bool
    steps: list[Step] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    any_flavour: bool = False
    """The install route picks the flavour itself, so the reboot check accepts any NVIDIA module."""

    @property
    def pm(self) -> PkgFamily:
        return self.target.pm

    @property
    def is_open(self) -> bool:
        return self.flavour is DriverFlavour.OPEN


def decide(facts: HostFacts, profile: Profile) -> tuple[DriverFlavour, str, list[str]]:
    """Flavour and branch: the profile's choice where it made one, compat's advice otherwise."""
    advice = compat.driver_advice(tuple(facts.gpus))
    reasons = list(advice.reasons)
    if advice.conflict:
        raise PlanError(
            "No single NVIDIA driver runs every GPU in this host: " + " ".join(advice.reasons)
        )
    flavour = profile.driver.flavour or advice.flavour
    if flavour is DriverFlavour.PROPRIETARY and advice.open_required:
        raise PlanError(
            "The profile asks for the proprietary driver, but this host's GPUs need the open "
            "kernel modules; set the driver flavour to open."
        )
    if flavour is DriverFlavour.OPEN and advice.proprietary_required:
        raise PlanError(
            "The profile asks for the open kernel modules, but this host has a GPU older than "
            "Turing that only the proprietary driver runs; set the driver flavour to proprietary."
        )
    branch = profile.driver.branch or advice.branch
    if profile.driver.flavour and profile.driver.flavour is not advice.flavour:
        reasons.append(f"The profile chooses the {flavour.value} flavour.")
    if profile.driver.branch and profile.driver.branch != advice.branch:
        reasons.append(f"The profile pins the {branch} branch.")
    if branch and int(branch) < 580:
        raise PlanError(
            f"The {branch} driver branch (Kepler and older GPUs) is end-of-life and gets no fixes, "
            "so dlenv does not plan it (Ubuntu still publishes nvidia-driver-470; install it "
            "yourself if you must)."
        )
    return flavour, branch, reasons


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return ()


def satisfied_reason(
    facts: HostFacts, profile: Profile, flavour: DriverFlavour, branch: str
) -> str:
    """A sentence when the loaded driver already fits (flavour, branch, CUDA); "" otherwise."""
    drv = facts.driver
    if not drv.loaded or not drv.version:
        return ""
    if drv.flavour is not None and drv.flavour is not flavour:
        return ""
    if branch and drv.version.split(".")[0] != branch:
        return ""
    max_cuda = compat.max_cuda_for_driver(drv.version).value
    need = profile.image.cuda or compat.cuda_for_gpus(tuple(facts.gpus)).value[0]
    if need and max_cuda and _version(max_cuda) < _version(need):
        return ""
    kind = drv.flavour.value if drv.flavour else "NVIDIA"
    runs = f"; it runs CUDA up to {max_cuda}" if max_cuda else ""
    return f"The {kind} driver {drv.version} is loaded{runs}, so nothing needs installing."


def module_check(flavour: DriverFlavour, branch: str) -> tuple[str, ...]:
    """A read-only test that the right kernel module is loaded (after the reboot)."""
    ver = rf" +{branch}\." if branch else ""
    if flavour is DriverFlavour.OPEN:
        pattern = rf"Open Kernel Module for [a-z0-9_]+{ver}"
    else:
        pattern = rf"UNIX [a-z0-9_]+ +Kernel Module{ver}"
    return (p.GREP, "-qE", pattern, NVIDIA_VERSION_FILE)


def nouveau_steps(ctx: DriverContext) -> None:
    """Blacklist nouveau and rebuild the initramfs when nouveau is holding a GPU now."""
    drv = ctx.facts.driver
    if not (drv.nouveau_loaded or any(g.bound_driver == "nouveau" for g in ctx.facts.gpus)):
        return
    ctx.reasons.append("The nouveau driver is loaded; it must be kept out of the initramfs.")
    ctx.steps.append(
        s.write(
            "driver.blacklist-nouveau",
            "Blacklist the nouveau driver",
            NOUVEAU_BLACKLIST,
            NOUVEAU_CONF,
            note="nouveau would claim the GPU before the NVIDIA driver at boot.",
        )
    )
    if ctx.pm is PkgFamily.APT:
        argv: tuple[str, ...] = (p.UPDATE_INITRAMFS, "-u")
    else:
        argv = (p.DRACUT, "--force")
    ctx.steps.append(
        s.run(
            "driver.initramfs",
            "Rebuild the initramfs without nouveau",
            argv,
            note="The blacklist only takes effect at boot once the initramfs carries it.",
            timeout_s=900,
        )
    )


def headers_step(ctx: DriverContext, packages: tuple[str, ...]) -> None:
    """Kernel headers for the running kernel, which DKMS builds need."""
    if ctx.facts.kernel_headers is not False or not ctx.facts.kernel:
        return
    ctx.reasons.append(
        f"Headers for the running kernel {ctx.facts.kernel} are missing; DKMS needs them."
    )
    ctx.steps.append(
        s.install("driver.kernel-headers", "Install kernel headers for DKMS", ctx.pm, packages)
    )


def enrol_key(ctx: DriverContext, cert: str, *, extra: tuple[str, ...] = ()) -> None:
    """Queue ``cert`` for MOK enrolment; done once the firmware or the queue holds it."""
    ctx.steps.append(
        s.run(
            "driver.mok-import",
            "Queue the module signing key for Secure Boot enrolment",
            # --root-pw: the worker has no terminal for mokutil's one-time-password prompt, and a
            # password we generated would have to travel in argv or a file; root's own password
            # hash is already on the machine and is what MokManager then asks for.
            (p.MOKUTIL, "--import", cert, "--root-pw", *extra),
            check=(p.MOKUTIL, "--test-key", cert),
            note="At the next boot MokManager asks for this machine's root password to enrol it.",
            timeout_s=600,
        )
    )
    if ENROL_WARNING not in ctx.warnings:
        ctx.warnings.append(ENROL_WARNING)


def dkms_module_step(ctx: DriverContext) -> None:
    """Build the module for the running kernel if DKMS has not (a build cut off half-way).

    The packages can be installed while DKMS's build was killed (power loss, OOM): the stage is
    done only once ``modinfo -k <kernel> nvidia`` finds the module for the running kernel.
    """
    kernel = ctx.facts.kernel
    if not kernel:
        return
    ctx.steps.append(
        s.run(
            "driver.dkms-module",
            f"Build the NVIDIA kernel module for kernel {kernel}",
            (p.DKMS, "autoinstall", "-k", kernel),
            check=(p.MODINFO, "-k", kernel, "nvidia"),
            note="Skipped when DKMS already built it during the install.",
            timeout_s=1800,
        )
    )


def reboot_step(ctx: DriverContext) -> None:
    check = (
        (p.TEST, "-e", NVIDIA_VERSION_FILE)
        if ctx.any_flavour
        else module_check(ctx.flavour, ctx.branch)
    )
    ctx.steps.append(
        s.reboot(
            "driver.reboot",
            "Reboot to load the NVIDIA driver",
            check,
            note="The new kernel module loads at boot; dlenv then checks which module is loaded.",
        )
    )


def check_nvidia_repo(ctx: DriverContext) -> None:
    """Refuse a plan on an NVIDIA CUDA repository that is known missing or lacks the branch.

    The knowledge is dlenv's snapshot (``nvidia_repos.json``) with `dlenv data refresh`'s reading
    of NVIDIA's listings over it; where nothing is known the plan goes ahead as before.
    """
    from dlenv_tui.knowledge.repos import repo_info

    t = ctx.target
    info = repo_info(t.cuda_repo, t.cuda_arch)
    if info is None:
        return
    where = f"{t.cuda_repo}/{t.cuda_arch}"
    if not info.exists:
        raise PlanError(
            f"NVIDIA publishes no CUDA repository for {t.name} on {t.arch} ({where} does not "
            f"exist, per {info.source}), so dlenv cannot install the driver from it."
        )
    if not info.branches:
        return
    if ctx.branch and ctx.branch not in info.branches:
        raise PlanError(
            f"NVIDIA's {where} repository has no {ctx.branch} driver packages (it has "
            f"{', '.join(info.branches)}, per {info.source})."
        )
    ctx.reasons.append(
        f"NVIDIA's {where} repository has driver branches {', '.join(info.branches)} "
        f"({info.source})."
    )
