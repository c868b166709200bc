"""Host drift: opening a profile whose host snapshot differs from this host shows what changed;
Continue refreshes the snapshot, Esc goes back to the profiles and leaves it alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dlenv_tui.model import HostFacts, Profile
from dlenv_tui.profiles import ProfileStore


@pytest.fixture
def lab_app(
    demo_app: Any, saved_profile: Any
) -> Callable[[], tuple[Any, ProfileStore, Profile, HostFacts]]:
    """``lab_app()`` → ``(app, store, old, facts)``: the Ubuntu demo whose store holds the
    profile "lab" (``old``) made on an older state of this host (today's ``facts``)."""

    def make() -> tuple[Any, ProfileStore, Profile, HostFacts]:
        app, store, _, _ = demo_app("ubuntu-4090")
        old, facts = saved_profile(store, "ubuntu-4090")
        return app, store, old, facts

    return make


@pytest.fixture
def open_lab(
    wait_for: Callable[..., Any], screen_name: Callable[[Any], str], wait_for_start: Any
) -> Any:
    """``await open_lab(pilot)``: Enter on the start screen's profile; returns on the drift
    dialog."""

    async def run(pilot: Any) -> None:
        await wait_for_start(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(pilot.app) == "DriftDialog", "the drift dialog")

    return run


async def test_changes_are_shown_and_continue_refreshes_the_snapshot(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    lab_app: Any,
    open_lab: Any,
) -> None:
    app, store, old, facts = lab_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        text = str(app.screen.query_one("#changes Static").render())
        assert "GPU removed: GeForce RTX 4090 (2684) at 0000:02:00.0." in text
        assert "no longer loaded (was 570.133.07 open)" in text
        assert store.load("lab").host == old.host  # nothing written before the answer
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "prerequisites")
        assert store.load("lab").host == facts
        # the same profile opened again: nothing changed since, so no dialog
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "prerequisites again")
    lab = store.load("lab")
    assert lab.host == facts
    assert lab.driver == old.driver and lab.image == old.image  # the choices are kept


async def test_escape_goes_back_and_keeps_the_snapshot(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    lab_app: Any,
    open_lab: Any,
) -> None:
    app, store, old, _ = lab_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
    assert store.load("lab").host == old.host


async def test_rebuild_from_the_start_screen_asks_first(
    wait_for: Callable[..., Any], screen_name: Callable[[Any], str], lab_app: Any
) -> None:
    app, _, _, _ = lab_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "DriftDialog", "the drift dialog")
        await pilot.click("#continue")
        await wait_for(pilot, lambda: screen_name(app) == "BuildScreen", "the build")


async def test_what_the_wizard_itself_did_is_not_news(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    new_profile: Any,
    walk_to_end: Any,
) -> None:
    """The demo driver stage 'reboots' and loads the driver; re-opening the profile does not warn."""
    app, store, _, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await walk_to_end(pilot)
        assert app.ctx.facts.driver.loaded
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) != "StartScreen", "the profile")
        assert screen_name(app) == "SummaryScreen"
    assert store.load("gpu-dev").host == app.ctx.facts


async def test_drift_undoes_the_driver_and_the_wizard_goes_back_to_it(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    lab_app: Any,
    open_lab: Any,
) -> None:
    """ "The NVIDIA driver is no longer loaded": the Driver stage is no longer ticked, and the
    wizard resumes there instead of carrying on."""
    from dlenv_tui.model import Stage, StageState
    from dlenv_tui.profiles import mark_stage
    from dlenv_tui.stages import resume_stage

    app, store, old, _ = lab_app()
    for stage in (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE, Stage.IMAGE):
        old = mark_stage(old, stage, StageState.DONE)
    store.save(old)
    assert resume_stage(store.load("lab")) == "build"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "back at the driver")
    lab = store.load("lab")
    assert lab.progress["driver"].state is StageState.PENDING
    assert "no longer loaded" in lab.progress["driver"].detail
    assert lab.progress["toolkit"].state is StageState.DONE  # its facts did not change
    assert resume_stage(lab) == "driver"
