"""UI-layer fixtures: the wizard in demo mode on a fixed clock, with its runner recorded, the
walks through it that Pilot tests share (a new profile, Ctrl+N to a screen, a stage's plan run,
a build, a launch, the whole wizard), and Textual's text cursors kept still so that snapshots do
not depend on when they were taken."""

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
def wait_for_start(wait_for: Callable[..., Any], screen_name: Callable[[Any], str]) -> Any:
    """``await wait_for_start(pilot)``: until the start screen is on top and the host's facts are
    in (the probe runs in a worker)."""

    async def run(pilot: Any) -> None:
        app = pilot.app
        await wait_for(
            pilot, lambda: screen_name(app) == "StartScreen" and app.ctx.facts is not None, "start"
        )

    return run


@pytest.fixture
def new_profile(
    wait_for: Callable[..., Any], screen_name: Callable[[Any], str], wait_for_start: Any
) -> Any:
    """``await new_profile(pilot)``: on the start screen with the host's facts, n and Enter (the
    default name, "gpu-dev"); returns on the Prerequisites screen."""

    async def run(pilot: Any) -> None:
        app = pilot.app
        await wait_for_start(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "NameDialog", "the name dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "prerequisites")

    return run


@pytest.fixture
def press_next(wait_for: Callable[..., Any], screen_name: Callable[[Any], str]) -> Any:
    """``await press_next(pilot, "DriverScreen", "ToolkitScreen")``: for each name in turn,
    Ctrl+N and wait until that screen is on top."""

    async def run(pilot: Any, *names: str) -> None:
        for name in names:
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda n=name: screen_name(pilot.app) == n, name)

    return run


@pytest.fixture
def apply_stage(wait_for: Callable[..., Any], press_next: Any) -> Any:
    """``await apply_stage(pilot)`` → ``"done"`` or ``"failed"``: from a stage screen, Ctrl+N to
    its plan (the Apply screen), Ctrl+N to run it, and wait until it has finished."""

    async def run(pilot: Any) -> str:
        app = pilot.app
        await press_next(pilot, "ApplyScreen")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.phase in ("done", "failed"), "the plan to finish")
        return str(app.screen.phase)

    return run


@pytest.fixture
def build_image(wait_for: Callable[..., Any], press_next: Any) -> Any:
    """``await build_image(pilot)``: from the Image screen, Ctrl+N to the Build screen and wait
    for the build to finish there."""

    async def run(pilot: Any) -> None:
        await press_next(pilot, "BuildScreen")
        await wait_for(pilot, lambda: pilot.app.screen.built is not None, "the build")

    return run


@pytest.fixture
def launch_container(wait_for: Callable[..., Any]) -> Any:
    """``await launch_container(pilot)``: on the Launch screen, Ctrl+R and wait for the container
    to be started."""

    async def run(pilot: Any) -> None:
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: pilot.app.screen.started, "the container")

    return run


@pytest.fixture
def walk_to_engine(new_profile: Any, press_next: Any) -> Any:
    """``await walk_to_engine(pilot)``: a new profile, Ctrl+N past the host stages up to the
    Engine screen (on a host that needs nothing, as rocky-ready)."""

    async def run(pilot: Any) -> None:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen", "ToolkitScreen", "EngineScreen")

    return run


@pytest.fixture
def walk_to_image(walk_to_engine: Any, press_next: Any) -> Any:
    """``await walk_to_image(pilot)``: as walk_to_engine, then Ctrl+N to the Image screen."""

    async def run(pilot: Any) -> None:
        await walk_to_engine(pilot)
        await press_next(pilot, "ImageScreen")

    return run


@pytest.fixture
def walk_to_launch(walk_to_image: Any, build_image: Any, press_next: Any) -> Any:
    """``await walk_to_launch(pilot)``: as walk_to_image, then build, and Ctrl+N to Launch."""

    async def run(pilot: Any) -> None:
        await walk_to_image(pilot)
        await build_image(pilot)
        await press_next(pilot, "LaunchScreen")

    return run


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
