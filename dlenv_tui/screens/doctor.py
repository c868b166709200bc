"""The Doctor screen: `dlenv doctor`'s report on this host (start screen key o, command palette).

A finding's fix is previewed and run like any stage's plan: ``f`` opens the Apply screen on each
fix in turn, which runs it through the root worker as a doctor request (the worker diagnoses the
host itself and runs only the fix shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dlenv_tui.model import Plan
    from dlenv_tui.screens.context import Context


class DoctorScreen(ModalScreen[None]):
    """What is wrong with this host, the evidence, why, and the fix (``f`` previews and runs it)."""

    BINDINGS = [
        Binding("escape,q", "close", "Close"),
        Binding("f", "fix", "Fix"),
    ]

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.fixes: list[Plan] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="help"):
            yield Static("Diagnosing this host…", id="doctor-report")

    def on_mount(self) -> None:
        self.diagnose()

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor")
    def diagnose(self) -> None:
        facts = self.ctx.facts
        findings: tuple[Any, ...] = ()
        if facts is None:
            text = "The host has not been probed yet; try again in a moment."
        else:
            text, findings = self.ctx.doctor_report(facts)
        fixes = [f.fix for f in findings if f.fix is not None and f.fix.steps]
        self.app.call_from_thread(self._show, text, fixes)

    def _show(self, text: str, fixes: list[Plan]) -> None:
        self.fixes = fixes
        if fixes:
            what = (
                "the fix and run it" if len(fixes) == 1 else f"the {len(fixes)} fixes and run them"
            )
            footer = (
                f"\n\nPress f to preview {what} through the root worker, one plan at a time "
                "(or `dlenv doctor --fix` in a terminal).  Esc closes."
            )
        else:
            footer = "\n\nEsc closes."
        self.query_one("#doctor-report", Static).update(escape(text) + footer)

    def action_fix(self) -> None:
        if self.fixes:
            self.run_fixes(list(self.fixes))

    @work(exclusive=True, group="doctor-fix")
    async def run_fixes(self, fixes: list[Plan]) -> None:
        from dlenv_tui.model import Profile
        from dlenv_tui.screens.apply import ApplyScreen

        profile = self.ctx.profile or Profile(name="doctor")
        for plan in fixes:
            outcome = await self.app.push_screen_wait(ApplyScreen(self.ctx, plan, profile))
            if outcome.state != "done":
                break  # back, aborted, or a reboot first: the rest waits for the next visit
        self.query_one("#doctor-report", Static).update("Diagnosing this host again…")
        self.diagnose()

    def action_close(self) -> None:
        self.dismiss(None)
