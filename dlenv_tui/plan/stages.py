"""Planning entry points: one stage, or every privileged stage in order."""

from __future__ import annotations

import dataclasses

from dlenv_tui.model import HostFacts, Plan, PlanInputs, Profile, Stage
from dlenv_tui.plan.distros import resolve
from dlenv_tui.plan.driver import plan_driver
from dlenv_tui.plan.engine import plan_engine
from dlenv_tui.plan.steps import PlanError
from dlenv_tui.plan.toolkit import plan_toolkit

#: The stages `plan` knows, in the order they must run.
PLANNED_STAGES = (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE)


def plan_inputs(profile: Profile) -> PlanInputs:
    """The part of ``profile`` the planners read: what the root worker gets to plan from."""
    image = profile.image
    return PlanInputs(
        profile=profile.name,
        driver=profile.driver,
        engine=profile.engine,
        cuda=image.cuda,
        ubuntu=image.ubuntu,
        variant=image.variant,
        cudnn=image.cudnn,
    )


def profile_from_inputs(inputs: PlanInputs) -> Profile:
    """A profile holding exactly ``inputs`` (defaults elsewhere): what the worker plans with."""
    from dlenv_tui.model import ImageOptions

    image = ImageOptions(
        cuda=inputs.cuda, ubuntu=inputs.ubuntu, variant=inputs.variant, cudnn=inputs.cudnn
    )
    return Profile(name=inputs.profile, driver=inputs.driver, engine=inputs.engine, image=image)


def plan_stage(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    """The plan for one of DRIVER, TOOLKIT, ENGINE on ``facts``; PlanError when none can be made.

    The planners read only ``plan_inputs(profile)``: planning again from those inputs on the same
    facts gives the same steps, which is how the root worker checks what the user was shown.
    """
    profile = profile_from_inputs(plan_inputs(profile))
    plan = _plan(facts, profile, stage)
    return dataclasses.replace(plan, inputs=plan_inputs(profile))


def _plan(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    target = resolve(facts)
    if stage is Stage.DRIVER:
        return plan_driver(facts, profile, target)
    if stage is Stage.TOOLKIT:
        return plan_toolkit(facts, profile, target)
    if stage is Stage.ENGINE:
        return plan_engine(facts, profile, target)
    raise PlanError(
        f"The {stage.value} stage has no privileged plan; stages with one: "
        + ", ".join(s.value for s in PLANNED_STAGES)
        + "."
    )


def plan_all(facts: HostFacts, profile: Profile) -> tuple[Plan, ...]:
    return tuple(plan_stage(facts, profile, stage) for stage in PLANNED_STAGES)
