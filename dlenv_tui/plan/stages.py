"""Planning entry points: one stage, or every privileged stage in order."""

from __future__ import annotations

from dlenv_tui.model import HostFacts, Plan, Profile, Stage
from dlenv_tui.plan.distros import resolve
from dlenv_tui.plan.driver import plan_driver
from dlenv_tui.plan.engine import plan_engine
from dlenv_tui.plan.steps import PlanError
from dlenv_tui.plan.toolkit import plan_toolkit

#: The stages `plan` knows, in the order they must run.
PLANNED_STAGES = (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE)


def plan_stage(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    """The plan for one of DRIVER, TOOLKIT, ENGINE on ``facts``; PlanError when none can be made."""
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
