"""The Doctor screen: `dlenv doctor`'s report on this host (start screen key o, command palette)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dlenv_tui.screens.context import Context


class DoctorScreen(ModalScreen[None]):
    """What is wrong with this host, the evidence, why, and the fix (run it with `dlenv doctor --fix`)."""

    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="help"):
            yield Static("Diagnosing this host…", id="doctor-report")

    def on_mount(self) -> None:
        self.diagnose()

    @work(thread=True, exclusive=True, exit_on_error=False, group="doctor")
    def diagnose(self) -> None:
        facts = self.ctx.facts
        if facts is None:
            text = "The host has not been probed yet; try again in a moment."
        else:
            text = self.ctx.doctor_report(facts)
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        footer = "\n\nRun `sudo dlenv doctor --fix` in a terminal to apply the fixes.  Esc closes."
        self.query_one("#doctor-report", Static).update(escape(text) + footer)

    def action_close(self) -> None:
        self.dismiss(None)
