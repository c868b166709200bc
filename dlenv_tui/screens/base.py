"""What every stage screen shares: its result type, the stage bar, back / next / skip keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from dlenv_tui.model import HostFacts, Profile, StageState
from dlenv_tui.screens.context import Context
from dlenv_tui.widgets.footer import Footer
from dlenv_tui.widgets.stage_bar import StageBar

Action = Literal["next", "back", "skip", "apply", "quit", "jump"]


@dataclass(frozen=True)
class StageResult:
    """What a stage screen hands back to the wizard."""

    action: Action
    profile: Profile
    """The profile with this screen's choices applied."""
    target: str = ""
    """For ``jump``: the stage key to go to (``build``, ``launch``)."""


def done_stages(profile: Profile) -> frozenset[str]:
    """Stages finished (done or skipped). Prerequisites keep no progress of their own: they were
    passed once any stage after them has some (as ``resume_stage`` sees it)."""
    done = {
        k for k, p in profile.progress.items() if p.state in (StageState.DONE, StageState.SKIPPED)
    }
    if profile.progress:
        done.add("prereq")
    if profile.last_image is not None and profile.last_image.tag:
        done.add("build")
    return frozenset(done)


def skipped_stages(profile: Profile) -> frozenset[str]:
    return frozenset(k for k, p in profile.progress.items() if p.state is StageState.SKIPPED)


class StageScreen(Screen[StageResult]):
    """A wizard stage: the stage bar, a title, a scrolling body and the footer."""

    KEY = ""
    TITLE_TEXT = ""
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "next", "Next", priority=True),
    ]

    def __init__(self, ctx: Context, profile: Profile, facts: HostFacts | None = None) -> None:
        super().__init__(classes="stage")
        self.ctx = ctx
        self.profile = profile
        known = facts if facts is not None else ctx.facts
        if known is None:
            raise RuntimeError("a stage screen needs the host's facts: probe the host first")
        self.facts: HostFacts = known
        """The host's facts the wizard walks with (passed down; a re-probe makes new screens)."""

    def compose(self) -> ComposeResult:
        yield StageBar(
            self.KEY, done_stages(self.profile), self.profile.name, skipped_stages(self.profile)
        )
        yield Static(self.TITLE_TEXT, classes="stage-title")
        with VerticalScroll(classes="stage-body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def current_profile(self) -> Profile:
        """The profile with what is on screen applied (forms override this)."""
        return self.profile

    def invalid_reason(self) -> str:
        """One sentence when the form holds something invalid, else ""."""
        return ""

    def action_back(self) -> None:
        self.dismiss(StageResult("back", self.current_profile()))

    def action_next(self) -> None:
        reason = self.invalid_reason()
        if reason:
            self.notify(reason, title="Fix this first", severity="error")
            return
        self.dismiss(StageResult(self.next_action(), self.current_profile()))

    def next_action(self) -> Action:
        return "next"

    def jump(self, target: str) -> None:
        self.dismiss(StageResult("jump", self.current_profile(), target))
