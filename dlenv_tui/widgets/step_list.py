"""A list of plan steps with a live status mark in front of each."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from dlenv_tui.model import Step, StepOutcome

#: (mark, style) per state, in theme variables so light themes read well.
_MARKS = {
    "pending": ("·", "$text-muted"),
    "running": ("▶", "bold $accent"),
    "not-run": ("–", "$text-muted"),  # shown, never run (a dry run)
    StepOutcome.OK.value: ("✓", "bold $success"),
    StepOutcome.SKIPPED.value: ("↷", "$text-muted"),
    StepOutcome.FAILED.value: ("✗", "bold $error"),
    StepOutcome.CANCELLED.value: ("■", "$text-muted"),
    StepOutcome.REBOOT.value: ("⟳", "bold $warning"),
}


class StepList(Static):
    """Shows each step of a plan: pending, running, ok, skipped (already done), failed."""

    DEFAULT_CSS = """
    StepList { height: auto; max-height: 12; padding: 0 1; }
    """

    def __init__(self, steps: tuple[Step, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps = steps
        self.states: dict[str, str] = {s.id: "pending" for s in steps}

    def on_mount(self) -> None:
        self._render_steps()

    def set_state(self, step_id: str, state: str) -> None:
        if step_id in self.states:
            self.states[step_id] = state
            self._render_steps()

    def reset(self) -> None:
        for key, state in self.states.items():
            if state != StepOutcome.OK.value and state != StepOutcome.SKIPPED.value:
                self.states[key] = "pending"
        self._render_steps()

    def _render_steps(self) -> None:
        lines = []
        for i, step in enumerate(self.steps, start=1):
            mark, style = _MARKS.get(self.states[step.id], ("?", ""))
            lines.append(f"[{style}] {mark} [/]{i}/{len(self.steps)} {escape(step.title)}")
        self.update("\n".join(lines))
