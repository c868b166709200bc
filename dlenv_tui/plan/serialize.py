"""Plans as JSON: what `dlenv plan --format json` prints and the root worker accepts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dlenv_tui.model import DataError, Plan, from_data, to_data
from dlenv_tui.plan.steps import PlanError


def plan_to_json(plan: Plan) -> str:
    return json.dumps(to_data(plan), indent=2, ensure_ascii=False) + "\n"


def plans_to_json(plans: Sequence[Plan]) -> str:
    """Several stages as one JSON array (each element is what ``plan_from_json`` reads)."""
    return json.dumps([to_data(p) for p in plans], indent=2, ensure_ascii=False) + "\n"


def plan_from_json(text: str) -> Plan:
    """Read a plan back; PlanError with one sentence for anything that is not a plan."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"The plan is not valid JSON ({exc}).") from None
    try:
        return from_data(Plan, data, "plan")
    except DataError as exc:
        raise PlanError(f"The JSON is not a dlenv plan ({exc}).") from None
