"""App-wide behaviour: Ctrl+Q during a job, the palette's commands, screenshots, the crash report."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app
from dlenv_tui.execute import DemoRunner
from dlenv_tui.model import Plan
from dlenv_tui.profiles import ProfileStore


class HeldRunner:
    """A job that runs until the test lets it finish."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def run(
        self, plan: Plan, on_event: Callable[[Any], None], cancel: threading.Event | None = None
    ) -> Any:
        self.release.wait(20)
        return DemoRunner(speed=0).run(plan, on_event, cancel)


async def test_ctrl_q_during_a_running_job_warns_first(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    new_profile: Any,
    press_next: Any,
) -> None:
    release = threading.Event()
    app, _, _, _ = demo_app("ubuntu-4090", lambda _pw: HeldRunner(release))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await new_profile(pilot)
            await press_next(pilot, "DriverScreen", "ApplyScreen")
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: app.screen.phase == "running", "the job")
            await pilot.press("ctrl+q")
            await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "the warning")
            assert "as root" in str(app.screen.query_one(".dialog-title").render())
            await pilot.press("n")
            await wait_for(pilot, lambda: screen_name(app) == "ApplyScreen", "back to the job")
            assert app.is_running
    finally:
        release.set()


@pytest.mark.parametrize("profiles", [0, 1])
async def test_palette_offers_rebuild_only_with_a_profile(
    tmp_path: Path,
    profiles: int,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
    store: ProfileStore,
) -> None:
    from dlenv_tui.model import Profile

    if profiles:
        store.save(Profile(name="p"))
    app = make_app(demo="ubuntu-4090", store=store, now=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert ("Rebuild image" in titles) is bool(profiles), titles
        if not profiles:
            await pilot.press("b")
            await pilot.pause()
            assert any("press n" in str(n.message) for n in app._notifications), "silent key"


async def test_screenshot_lands_in_the_data_dir_and_says_where(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
    store: ProfileStore,
) -> None:
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    app = make_app(
        demo="ubuntu-4090",
        store=store,
        now=clock,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
        app.action_screenshot()
        await pilot.pause()
        shots = list((tmp_path / "data" / "screenshots").glob("*.svg"))
        assert len(shots) == 1
        assert any(str(shots[0]) in str(n.message) for n in app._notifications)


def test_the_crash_report_shows_no_local_variables(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    store: ProfileStore,
) -> None:
    """A frame may hold the sudo password: the report of an unhandled error must not print locals."""
    import io

    from rich.console import Console

    app = make_app(demo="ubuntu-4090", store=store)
    monkeypatch.setattr(app, "_close_messages_no_wait", lambda: None)  # the app is not running
    monkeypatch.setattr(app, "bell", lambda: None)

    def boom() -> None:
        password = "-".join(("hunter2", "secret"))  # not in the source the report quotes
        raise RuntimeError("boom " + str(len(password)))

    try:
        boom()
    except RuntimeError:
        app._fatal_error()  # what Textual calls for an unhandled exception
    out = io.StringIO()
    console = Console(file=out, width=120)
    for renderable in app._exit_renderables:
        console.print(renderable)
    assert "RuntimeError" in out.getvalue()
    assert "hunter2-secret" not in out.getvalue()
