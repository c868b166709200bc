"""Prerequisites: what the probe found, one row per check with what to do about it; the package
repositories the plans need are tried in a worker after the screen shows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.message import Message
from textual.widgets import Static

from dlenv_tui.model import Check, Status
from dlenv_tui.screens import services
from dlenv_tui.screens.base import StageScreen
from dlenv_tui.widgets.check_table import CheckTable

REACH_PENDING = "checking package repositories…"


class PrereqScreen(StageScreen):
    KEY = "prereq"
    TITLE_TEXT = "Prerequisites — what this host has"
    BINDINGS = [Binding("enter", "next", "Next", show=False)]

    @dataclass
    class Reached(Message):
        """The reachability rows, from the worker."""

        checks: tuple[Check, ...]

    checks: tuple[Check, ...] = ()
    """The probe's rows."""
    reach: tuple[Check, ...] | None = None
    """The repository rows; None while they are being checked."""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="verdict", classes="hint")
        yield CheckTable(id="checks")

    def on_mount(self) -> None:
        self.checks = services.run_checks(self.facts)
        self.query_one(CheckTable).show(self.checks, pending=REACH_PENDING)
        self.show_verdict()
        # The table is taller than the body at 80×24: keep the verdict in view.
        self.query_one(CheckTable).focus(scroll_visible=False)
        self.check_repositories()

    @work(thread=True, exclusive=True, exit_on_error=False, group="reach")
    def check_repositories(self) -> None:
        facts = self.facts
        try:
            rows = services.repository_checks(facts, self.profile, self.ctx.reach)
        except Exception as exc:  # a row saying so, never a traceback
            rows = (
                Check(
                    "reach",
                    services.REACH_TITLE,
                    Status.SKIPPED,
                    f"not checked: {exc.__class__.__name__}: {exc}",
                ),
            )
        self.post_message(self.Reached(rows))

    def on_prereq_screen_reached(self, message: Reached) -> None:
        self.reach = message.checks
        self.query_one(CheckTable).show(self.checks + self.reach, keep_cursor=True)
        self.show_verdict()

    def fails(self) -> list[Check]:
        return [c for c in self.checks + (self.reach or ()) if c.status is Status.FAIL]

    def action_next(self) -> None:
        """Blocking problems block: going on needs an explicit "go on anyway", which is recorded."""
        fails = self.fails()
        if not fails:
            super().action_next()
            return
        self.confirm_go_on(fails)

    @work(exclusive=True, group="go-on")
    async def confirm_go_on(self, fails: list[Check]) -> None:
        from dlenv_tui.screens.dialogs import ConfirmDialog

        detail = "\n".join(escape(f"✗ {c.title}: {c.detail}") for c in fails)
        if not await self.app.push_screen_wait(
            ConfirmDialog(
                f"{len(fails)} blocking problem(s): the next stages will likely fail.",
                detail + "\n\nGoing on anyway is recorded in the profile.",
                yes="Go on anyway",
                no="Fix them first",
            )
        ):
            return
        when = self.ctx.now()
        noted = tuple(f"{when} {c.title}: {c.detail}" for c in fails)
        self.profile = dataclasses.replace(
            self.profile, went_on_anyway=(*self.profile.went_on_anyway, *noted)
        )
        super().action_next()

    def show_verdict(self) -> None:
        checks = self.checks + (self.reach or ())
        fails = [c for c in checks if c.status is Status.FAIL]
        unreachable = [
            c for c in self.reach or () if c.id.startswith("reach.") and c.status is Status.WARN
        ]
        warns = [c for c in checks if c.status is Status.WARN and c not in unreachable]
        if fails:
            text = f"[$text-error]✗ {len(fails)} blocking problem(s)[/]: fix them before going on (see “What to do”); Ctrl+N asks before going on anyway."
        elif warns:
            text = f"[$text-warning]! {len(warns)} item(s) the next stages take care of.[/] Ctrl+N to go on."
        else:
            text = "[$text-success]✓ Everything needed is in place.[/] Ctrl+N to go on."
        if unreachable:
            n = len(unreachable)
            text += (
                f"\n[$text-warning]! {n} package {'repository' if n == 1 else 'repositories'} "
                "did not answer[/]: the plans download from them (see “What to do”)."
            )
        self.query_one("#verdict", Static).update(text)
