"""The driver stage: pick the distribution's plan, then add nouveau handling and the reboot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dlenv_tui.model import HostFacts, Plan, Profile, Stage
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.driver import debian, fedora, guardian, rhel, suse, ubuntu
from dlenv_tui.plan.driver.common import (
    DriverContext,
    decide,
    nouveau_steps,
    reboot_step,
    satisfied_reason,
)

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
    flavour, branch, reasons = decide(facts, profile)
    done = satisfied_reason(facts, profile, flavour, branch)
    if done:
        return replace(base, satisfied=True, reasons=(*reasons, done))
    sb = facts.secure_boot
    warnings: list[str] = []
    if not facts.gpus:
        warnings.append("No NVIDIA GPU was found; the driver would have nothing to drive.")
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
    ctx.steps[family_start:family_start] = guardian.unlock_steps(ctx)
    ctx.steps.extend(guardian.hold_steps(ctx))
    if facts.driver.loaded:
        guardian.after_change_warning(ctx)
    reboot_step(ctx)
    return replace(
        base, steps=tuple(ctx.steps), reasons=tuple(ctx.reasons), warnings=tuple(ctx.warnings)
    )
