"""Plans: what the driver, toolkit and engine stages would change, as pure data (see the modules below).

``distros`` resolves the host's release; ``driver/`` holds one module per distribution family;
``toolkit`` and ``engine/`` the later stages; ``script`` and ``serialize`` export plans;
``programs`` lists every program and directory a plan may touch (the root worker's allow-lists).
"""

from __future__ import annotations

from dlenv_tui.plan.programs import CHECK_PROGRAMS, PROGRAMS, REMOVE_FILES, WRITE_DIRS
from dlenv_tui.plan.script import render_script
from dlenv_tui.plan.serialize import plan_from_json, plan_to_json, plans_to_json
from dlenv_tui.plan.stages import PLANNED_STAGES, plan_all, plan_stage
from dlenv_tui.plan.steps import PlanError

__all__ = [
    "CHECK_PROGRAMS",
    "PLANNED_STAGES",
    "PROGRAMS",
    "REMOVE_FILES",
    "WRITE_DIRS",
    "PlanError",
    "plan_all",
    "plan_from_json",
    "plan_stage",
    "plan_to_json",
    "plans_to_json",
    "render_script",
]
