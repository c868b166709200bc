"""The driver stage: pick the distribution's plan, then add nouveau handling and the reboot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dlenv_tui.model import HostFacts, Plan, Profile, Stage
from dlenv_tui.plan import programs as p
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.driver import debian, fabric, fedora, guardian, rhel, suse, ubuntu
from dlenv_tui.plan.driver.common import (
    DriverContext,
    decide,
    nouveau_steps,
    reboot_step,
    satisfied_reason,
)

NO_GPU = (
    "No NVIDIA GPU was found on this host, so dlenv plans no driver: fit the card (or pass it "
    "through to this VM), check `lspci | grep -i nvidia`, then run dlenv again; the other stages "
    "can go on without it."
)
"""The driver plan's one reason on a host without an NVIDIA GPU (the plan has no steps)."""

_BY_FAMILY: dict[str, Callable[[DriverContext], None]] = {
    "ubuntu": ubuntu.plan,
    "debian": debian.plan,
    "fedora": fedora.plan,
    "rhel": rhel.plan,
    "suse": suse.plan,
}


def plan_driver(facts: HostFacts, profile: Profile, target: Target) -> Plan:
    """The driver stage for ``target``; satisfied when a fitting driver is already loaded."""
    base = Plan(stage=Stage.DRIVER, profile=profile.name, distro=target.key)
    if profile.driver.skip:
        return replace(base, satisfied=True, reasons=("The profile skips the driver stage.",))
    if not facts.gpus:
        # past the prerequisites' "go on anyway": a driver for no GPU would only be a failed
        # module load at the next boot. Nothing is planned, and the plan says why.
        return replace(base, reasons=(NO_GPU,))
    flavour, branch, reasons = decide(facts, profile)
    done = satisfied_reason(facts, profile, flavour, branch)
    if done and facts.fabric_manager.present:
        return replace(base, satisfied=True, reasons=(*reasons, done))
    if done:
        # the driver fits, but an NVSwitch board also needs Fabric Manager at its version
        fm_reasons: list[str] = [*reasons, done]
        fm_warnings: list[str] = []
        fm_steps = fabric.steps(
            facts,
            target,
            branch,
            archive=target.family == "ubuntu" and bool(facts.secure_boot.enabled),
            start_now=True,
            reasons=fm_reasons,
            warnings=fm_warnings,
        )
        if not fm_steps and not fm_warnings:
            return replace(base, satisfied=True, reasons=(*reasons, done))
        return replace(
            base, steps=tuple(fm_steps), reasons=tuple(fm_reasons), warnings=tuple(fm_warnings)
        )
    sb = facts.secure_boot
    warnings: list[str] = []
    if sb.enabled is None and sb.efi:
        warnings.append(
            "dlenv could not tell whether Secure Boot is on (install mokutil to find out); if it "
            "is, the module will not load until its key is enrolled."
        )
    ctx = DriverContext(
        facts=facts,
        profile=profile,
        target=target,
        flavour=flavour,
        branch=branch,
        secure_boot=bool(sb.enabled),
        reasons=reasons,
        warnings=warnings,
    )
    if facts.driver.loaded and facts.driver.version:
        ctx.reasons.append(
            f"The loaded driver {facts.driver.version} does not fit this profile; it is replaced."
        )
    nouveau_steps(ctx)
    family_start = len(ctx.steps)
    _BY_FAMILY[target.family](ctx)
    via_archive = any(st.argv[:1] == (p.UBUNTU_DRIVERS,) for st in ctx.steps)
    ctx.steps.extend(
        fabric.steps(
            facts,
            target,
            branch,
            archive=via_archive,
            start_now=False,
            reasons=ctx.reasons,
            warnings=ctx.warnings,
        )
    )
    ctx.steps[family_start:family_start] = guardian.unlock_steps(ctx)
    ctx.steps.extend(guardian.hold_steps(ctx))
    if facts.driver.loaded:
        guardian.after_change_warning(ctx)
    reboot_step(ctx)
    return replace(
        base, steps=tuple(ctx.steps), reasons=tuple(ctx.reasons), warnings=tuple(ctx.warnings)
    )
