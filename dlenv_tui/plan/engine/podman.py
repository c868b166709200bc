"""Installing Podman from the distribution (every supported one packages it)."""

from __future__ import annotations

from dlenv_tui.model import Step
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target


def podman_steps(target: Target, reasons: list[str]) -> list[Step]:
    reasons.append("Podman comes from the distribution's own podman package.")
    return [s.install("engine.install", "Install Podman", target.pm, ("podman",))]
