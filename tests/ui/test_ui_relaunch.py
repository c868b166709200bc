"""Starting a profile's container that is already running asks first (issue 13): what runs, since
when and what replacing it loses; keeping it shows its connection lines, as `dlenv info` does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dlenv_tui.model import EngineName


def _record_runs(app: Any) -> list[bool]:
    """The ``replace`` of every start the session's engine is asked for from now on."""
    engine = app.ctx.engine(EngineName.DOCKER)
    runs: list[bool] = []
    run = engine.run

    def recording(profile: Any, *, replace: bool = True) -> Any:
        runs.append(replace)
        return run(profile, replace=replace)

    engine.run = recording
    return runs


async def _start_again(pilot: Any, wait_for: Callable[..., Any], screen_name: Any) -> None:
    """On to the Summary and back to a fresh Launch screen (as on a later visit), then Ctrl+R
    with the container running: the question comes up."""
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: screen_name(pilot.app) == "SummaryScreen", "the summary")
    await pilot.press("escape")
    await wait_for(pilot, lambda: screen_name(pilot.app) == "LaunchScreen", "launch again")
    assert not pilot.app.screen.started
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: screen_name(pilot.app) == "ReplaceDialog", "the question")


async def test_a_running_container_is_kept_unless_replacing_it_is_confirmed(
    demo_app: Any,
    walk_to_launch: Any,
    launch_container: Any,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        await launch_container(pilot)
        runs = _record_runs(app)
        await _start_again(pilot, wait_for, screen_name)
        dialog = app.screen
        said = " ".join(
            str(w.render()) for w in dialog.query(".dialog-title, .dialog-detail").results()
        )
        said = " ".join(said.split())
        assert "dlenv-gpu-dev is already running" in said
        assert "since 2025-06-01 09:00 UTC" in said  # the demo clock's start
        assert "outside your home and the mounts is lost" in said
        assert "(/workspace)" in said

        await pilot.press("escape")  # keep it
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", "back on Launch")
        await pilot.pause()
        assert runs == []  # nothing was started, nothing replaced
        screen = app.screen
        assert screen.started  # the stage's goal is met: Ctrl+N goes on as after a start
        state = " ".join(str(screen.query_one("#launch-state").render()).split())
        assert "dlenv-gpu-dev keeps running" in state
        lines = screen.connect_lines
        assert any("lab?token=demo3f9c2a7e" in line for line in lines), lines
        assert screen.query_one("#connect").display


async def test_r_in_the_question_replaces_the_running_container(
    demo_app: Any,
    walk_to_launch: Any,
    launch_container: Any,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        await launch_container(pilot)
        runs = _record_runs(app)
        await _start_again(pilot, wait_for, screen_name)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.started, "the replacement")
        assert screen_name(app) == "LaunchScreen"
        state = " ".join(str(app.screen.query_one("#launch-state").render()).split())
        assert "dlenv-gpu-dev is running" in state
    assert runs == [True]  # asked once, after the answer, to replace it


@pytest.mark.parametrize(
    ("started_at", "shown"),
    [
        ("2025-06-01T09:00:00Z", "2025-06-01 09:00 UTC"),
        ("2025-06-01T09:00:00.123456789Z", "2025-06-01 09:00 UTC"),  # Docker
        ("2025-06-01T11:00:00.123456789+02:00", "2025-06-01 11:00 +02:00"),  # Podman, local
        ("", ""),
    ],
)
def test_since_text(started_at: str, shown: str) -> None:
    from dlenv_tui.screens.launch import since_text

    assert since_text(started_at) == shown


def test_the_engines_start_time_of_a_container_that_never_ran_is_unknown() -> None:
    from dlenv_tui.engine.run import started_at

    assert started_at({"State": {"StartedAt": "0001-01-01T00:00:00Z"}}) == ""
    assert started_at({"State": {"StartedAt": "2025-06-01T09:00:00.5Z"}}) == (
        "2025-06-01T09:00:00.5Z"
    )
    assert started_at({}) == ""


def test_the_demo_engine_refuses_to_replace_a_running_container_unless_asked() -> None:
    from dlenv_tui.demo import DemoEngine
    from dlenv_tui.engine import EngineError
    from dlenv_tui.model import Profile

    engine = DemoEngine(delay=0, now=lambda: "2025-06-01T09:00:00Z")
    profile = Profile(name="lab")
    first = engine.run(profile, replace=False)
    assert engine.info(profile) == first and first.started_at == "2025-06-01T09:00:00Z"
    with pytest.raises(EngineError, match="already running"):
        engine.run(profile, replace=False)
    engine.run(profile, replace=True)
