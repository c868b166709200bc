"""Snapshots of every screen at 80×24 and 120×40 (demo scenarios, fixed timestamps, no cursor blink).

Update after an intended change: ``pytest tests/ui/test_ui_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SIZES = [(80, 24), (120, 40)]


@dataclass(frozen=True)
class Steps:
    """What the steps below use from the conftest fixtures."""

    wait_for: Callable[..., Awaitable[None]]
    screen_name: Callable[[Any], str]
    saved_profile: Callable[..., Any]


Step = Callable[[Steps, Any], Awaitable[None]]
"""Run before the snapshot: ``step(steps, pilot)``."""


@pytest.fixture
def steps(wait_for: Any, screen_name: Any, saved_profile: Any) -> Steps:
    return Steps(wait_for, screen_name, saved_profile)


async def to_start(s: Steps, pilot: Any) -> None:
    await s.wait_for(pilot, lambda: pilot.app.ctx.facts is not None, "facts")


async def new_profile(s: Steps, pilot: Any) -> None:
    await to_start(s, pilot)
    await pilot.press("n")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "NameDialog", "the name dialog")


async def to_stage(s: Steps, pilot: Any, target: str) -> None:
    """New profile, then Ctrl+N (running plans) until ``target`` is on screen."""
    app = pilot.app
    await new_profile(s, pilot)
    await pilot.press("enter")
    await s.wait_for(pilot, lambda: s.screen_name(app) == "PrereqScreen", "prerequisites")
    for _ in range(30):
        name = s.screen_name(app)
        if name == target:
            break
        if name == "ApplyScreen" and app.screen.phase == "confirm":
            await pilot.press("ctrl+n")
            await s.wait_for(pilot, lambda: app.screen.phase == "done", "the plan")
        elif name == "BuildScreen":
            await s.wait_for(pilot, lambda: app.screen.built is not None, "the build")
        elif name == "LaunchScreen":
            await pilot.press("ctrl+r")
            await s.wait_for(pilot, lambda: app.screen.started, "the container")
        await pilot.press("ctrl+n")
        await s.wait_for(
            pilot, lambda n=name: s.screen_name(app) != n or n == "ApplyScreen", f"leaving {name}"
        )
        await pilot.pause()
    assert s.screen_name(app) == target
    app.clear_notifications()  # toasts come and go with wall-clock time
    await pilot.pause(0.4)  # debounced previews


def stage(target: str) -> Step:
    async def run(s: Steps, pilot: Any) -> None:
        await to_stage(s, pilot, target)

    return run


async def driver_plan(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "DriverScreen")
    await pilot.press("ctrl+n")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "ApplyScreen", "the plan")


async def built(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "BuildScreen")
    await s.wait_for(pilot, lambda: pilot.app.screen.built is not None, "the build")


async def launched(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "LaunchScreen")
    await pilot.press("ctrl+r")
    await s.wait_for(pilot, lambda: pilot.app.screen.started, "the container")


async def dockerfile(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "ImageScreen")
    await pilot.press("f2")
    await pilot.pause(0.3)


async def help_screen(s: Steps, pilot: Any) -> None:
    await to_start(s, pilot)
    await pilot.press("f1")
    await pilot.pause(0.3)


async def delete_dialog(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "PrereqScreen")
    await pilot.press("escape")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "StartScreen", "start")
    await pilot.press("d")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "ConfirmDialog", "confirm")


async def drift_dialog(s: Steps, pilot: Any) -> None:
    await to_start(s, pilot)
    s.saved_profile(pilot.app.ctx.store, "ubuntu-4090")
    pilot.app.screen.reload(select="lab")
    await pilot.press("enter")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "DriftDialog", "the drift dialog")


async def profile_list(s: Steps, pilot: Any) -> None:
    """Three saved profiles, one of them a broken file, the cursor on the second."""
    from dlenv_tui.demo import load_scenario
    from dlenv_tui.model import Stage, StageState
    from dlenv_tui.profiles import mark_stage, recommended_profile

    await to_start(s, pilot)
    store = pilot.app.ctx.store
    facts = load_scenario("ubuntu-4090").facts
    for name, stages in (("gpu-dev", 2), ("team-podman", 0)):
        profile = recommended_profile(name, facts)
        for stage in list(Stage)[:stages]:
            profile = mark_stage(profile, stage, StageState.DONE)
        store.save(profile)
    (store.directory / "broken.toml").write_text("schema = [\n")
    pilot.app.screen.reload(select="gpu-dev")
    await pilot.pause(0.2)


def offer_finished_job(s: Steps, pilot: Any) -> None:
    """A toolkit job for profile gpu-dev that finished while nobody watched; following it replays
    the demo runner's events (the real journal is covered by test_ui_job_real)."""
    from dlenv_tui.execute import DemoRunner
    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.model import Stage
    from dlenv_tui.profiles import recommended_profile
    from dlenv_tui.screens.services import plan_stage

    app = pilot.app
    profile = recommended_profile("gpu-dev", app.ctx.facts)
    app.ctx.store.save(profile)
    plan = plan_stage(app.ctx.facts, profile, Stage.TOOLKIT)
    job = JobInfo("20250601T090000Z-3f9c2a7e", Path("/nonexistent"), running=False, plan=plan)
    app.ctx.deps = dataclasses.replace(
        app.ctx.deps,
        find_job=lambda: job,
        follow_job=lambda _id, on_event: DemoRunner(speed=0).run(plan, on_event),
    )
    app.screen.reload()
    app.screen.look_for_job()


async def start_job(s: Steps, pilot: Any) -> None:
    await to_start(s, pilot)
    offer_finished_job(s, pilot)
    await s.wait_for(pilot, lambda: pilot.app.screen.job is not None, "the job banner")
    await pilot.pause(0.2)


async def job_screen(s: Steps, pilot: Any) -> None:
    await start_job(s, pilot)
    await pilot.press("j")
    await s.wait_for(pilot, lambda: s.screen_name(pilot.app) == "JobScreen", "the job screen")
    await s.wait_for(pilot, lambda: pilot.app.screen.result is not None, "the outcome")
    pilot.app.clear_notifications()
    await pilot.pause(0.3)


async def prereq(s: Steps, pilot: Any) -> None:
    await to_stage(s, pilot, "PrereqScreen")
    await s.wait_for(pilot, lambda: pilot.app.screen.reach is not None, "the repository rows")
    await pilot.pause(0.2)


async def reach_rows(s: Steps, pilot: Any) -> None:
    await prereq(s, pilot)
    for _ in range(len(pilot.app.screen.checks + pilot.app.screen.reach)):
        await pilot.press("down")  # to the repository rows at the bottom of the table
    await pilot.pause(0.2)


CASES: dict[str, tuple[str | None, Step]] = {
    "scenarios": (None, lambda _s, pilot: pilot.pause(0.2)),
    "start": ("ubuntu-4090", to_start),
    "start_profiles": ("ubuntu-4090", profile_list),
    "start_job": ("ubuntu-4090", start_job),
    "job": ("ubuntu-4090", job_screen),
    "new_profile": ("ubuntu-4090", new_profile),
    "prereq": ("debian-1080", prereq),
    "driver": ("fedora-a100", stage("DriverScreen")),
    "driver_plan": ("fedora-a100", driver_plan),
    "toolkit_satisfied": ("rocky-ready", stage("ToolkitScreen")),
    "engine": ("ubuntu-4090", stage("EngineScreen")),
    "image": ("debian-1080", stage("ImageScreen")),
    "dockerfile": ("ubuntu-4090", dockerfile),
    "build": ("rocky-ready", built),
    "launch": ("rocky-ready", launched),
    "summary": ("rocky-ready", stage("SummaryScreen")),
    "help": ("ubuntu-4090", help_screen),
    "delete": ("ubuntu-4090", delete_dialog),
    "drift": ("ubuntu-4090", drift_dialog),
    "prereq_reach": ("ubuntu-4090", reach_rows),
}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("case", sorted(CASES))
def test_screen(
    snap_compare: Any,
    case: str,
    size: tuple[int, int],
    steps: Steps,
    demo_app: Callable[..., Any],
    clock: Callable[[], str],
) -> None:
    scenario, before = CASES[case]
    if scenario is None:
        from dlenv_tui.app import make_app

        app = make_app(demo="", store=None, now=clock, demo_speed=0)
        app.ctx.deps = dataclasses.replace(app.ctx.deps, store_for_scenario=None)
    else:
        app, _, _, _ = demo_app(scenario)
    assert snap_compare(app, terminal_size=size, run_before=lambda pilot: before(steps, pilot))
