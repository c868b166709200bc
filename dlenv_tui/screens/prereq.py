"""Prerequisites: what the probe found, one row per check with what to do about it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from dlenv_tui.model import Status
from dlenv_tui.screens import services
from dlenv_tui.screens.base import StageScreen
from dlenv_tui.widgets.check_table import CheckTable


class PrereqScreen(StageScreen):
    KEY = "prereq"
    TITLE_TEXT = "Prerequisites — what this host has"
    BINDINGS = [Binding("enter", "next", "Next", show=False)]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="verdict", classes="hint")
        yield CheckTable(id="checks")

    def on_mount(self) -> None:
        assert self.ctx.facts is not None
        checks = services.run_checks(self.ctx.facts)
        self.query_one(CheckTable).show(checks)
        fails = [c for c in checks if c.status is Status.FAIL]
        warns = [c for c in checks if c.status is Status.WARN]
        if fails:
            text = f"[$error]✗ {len(fails)} blocking problem(s)[/]: fix them before going on (see “What to do”)."
        elif warns:
            text = f"[$warning]! {len(warns)} item(s) the next stages take care of.[/] Ctrl+N to go on."
        else:
            text = "[$success]✓ Everything needed is in place.[/] Ctrl+N to go on."
        self.query_one("#verdict", Static).update(text)
        self.query_one(CheckTable).focus()
