"""UI-layer fixtures: the wizard in demo mode on a fixed clock, with its runner recorded, and
Textual's text cursors kept still so that snapshots do not depend on when they were taken."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from dlenv_tui.execute import DemoRunner
from dlenv_tui.model import DriverFlavour, DriverInfo, HostFacts, Plan, Profile
from dlenv_tui.profiles import ProfileStore

FIXED = "2025-06-01T09:00:00Z"


@pytest.fixture
def clock() -> Callable[[], str]:
    """The one clock of UI tests: passed to ``make_app(now=…)`` and to every ProfileStore the
    tests create, so saved profiles, notes and snapshots carry this time."""
    return lambda: FIXED


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Input turns blinking off once mounted, so snapshots do not depend on when they were
    taken (Textual has no app-wide switch; the product keeps Textual's default)."""
    mounted = Input._on_mount

    def still(self: Input, event: Any) -> None:
        mounted(self, event)
        self.cursor_blink = False

    monkeypatch.setattr(Input, "_on_mount", still)


class RecordingRunner:
    """DemoRunner without pauses that remembers every plan it was asked to run."""

    def __init__(self, log: list[Plan], passwords: list[str | None], password: str | None) -> None:
        self.log = log
        passwords.append(password)
        self.inner = DemoRunner(speed=0)

    def run(
        self, plan: Plan, on_event: Callable[[Any], None], cancel: threading.Event | None = None
    ) -> Any:
        self.log.append(plan)
        return self.inner.run(plan, on_event, cancel)


@pytest.fixture
def recording_runner() -> type[RecordingRunner]:
    """``recording_runner(plans, passwords, password)``: a runner that records what it ran."""
    return RecordingRunner


@pytest.fixture
def store(tmp_path: Path, clock: Callable[[], str]) -> ProfileStore:
    """A profile store under ``tmp_path`` on the fixed clock."""
    return ProfileStore(tmp_path / "profiles", clock=clock)


@pytest.fixture
def demo_app(
    store: ProfileStore, clock: Callable[[], str]
) -> Callable[..., tuple[Any, ProfileStore, list[Plan], list[str | None]]]:
    """``demo_app(scenario, runner_factory=None)`` → ``(app, store, plans, passwords)``: the
    wizard in that demo scenario on ``store``, no pauses, the fixed clock. Without a
    ``runner_factory`` the demo runner is recorded: ``plans`` and ``passwords`` fill as it runs."""
    from dlenv_tui.app import make_app

    def make(
        scenario: str, runner_factory: Callable[[str | None], Any] | None = None
    ) -> tuple[Any, ProfileStore, list[Plan], list[str | None]]:
        plans: list[Plan] = []
        passwords: list[str | None] = []
        app = make_app(
            demo=scenario,
            store=store,
            runner_factory=runner_factory or (lambda pw: RecordingRunner(plans, passwords, pw)),
            now=clock,
            demo_speed=0,
        )
        return app, store, plans, passwords

    return make


@pytest.fixture
def walk_to_end(wait_for: Callable[..., Any], screen_name: Callable[[Any], str]) -> Any:
    """``await walk_to_end(pilot)`` → the screens seen from the first stage to the start screen
    again, taking the default choice everywhere."""

    async def walk(pilot: Any) -> list[str]:
        app = pilot.app
        seen: list[str] = []
        for _ in range(40):
            name = screen_name(app)
            seen.append(name)
            if name == "StartScreen":
                return seen
            if name == "ApplyScreen":
                await pilot.press("ctrl+n")
                await wait_for(
                    pilot, lambda: app.screen.phase in ("done", "failed"), "the plan to finish"
                )
                assert app.screen.phase == "done", app.screen.query_one("#failure").render()
                await pilot.press("ctrl+n")
            elif name == "BuildScreen":
                await wait_for(pilot, lambda: app.screen.built is not None, "the build")
                await pilot.press("ctrl+n")
            elif name == "LaunchScreen":
                await pilot.press("ctrl+r")
                await wait_for(pilot, lambda: app.screen.started, "the container")
                await pilot.press("ctrl+n")
            else:
                await pilot.press("ctrl+n")
            await wait_for(
                pilot, lambda n=name: screen_name(app) != n or n == "ApplyScreen", f"leaving {name}"
            )
            await pilot.pause()
        raise AssertionError(f"the wizard did not finish: {seen}")

    return walk


def _older_snapshot(facts: HostFacts) -> HostFacts:
    """The host as it was: a second RTX 4090 and the 570 driver loaded."""
    extra = replace(facts.gpus[0], pci_address="0000:02:00.0")
    driver = DriverInfo(loaded=True, version="570.133.07", flavour=DriverFlavour.OPEN)
    return replace(facts, gpus=(*facts.gpus, extra), driver=driver)


@pytest.fixture
def saved_profile(
    clock: Callable[[], str],
) -> Callable[[ProfileStore, str], tuple[Profile, HostFacts]]:
    """``saved_profile(store, scenario)``: saves a profile "lab" made on an older state of
    ``scenario``'s host (another GPU, the 570 driver); returns it and today's facts."""
    from dlenv_tui.demo import load_scenario
    from dlenv_tui.profiles import recommended_profile

    def save(store: ProfileStore, scenario: str) -> tuple[Profile, HostFacts]:
        facts = load_scenario(scenario).facts
        profile = recommended_profile("lab", facts)
        profile = replace(
            profile, host=_older_snapshot(facts), created_at=clock(), updated_at=clock()
        )
        store.save(profile)
        return profile, facts

    return save
