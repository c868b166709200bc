"""Host drift: opening a profile whose host snapshot differs from this host shows what changed;
Continue refreshes the snapshot, Esc goes back to the profiles and leaves it alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from test_ui_wizard import FIXED, make, run_async, screen_name, wait_for, walk_to_end

from dlenv_tui.demo import load_scenario
from dlenv_tui.model import DriverFlavour, DriverInfo, HostFacts, Profile
from dlenv_tui.profiles import ProfileStore, recommended_profile


def older_snapshot(facts: HostFacts) -> HostFacts:
    """The host as it was: a second RTX 4090 and the 570 driver loaded."""
    extra = dataclasses.replace(facts.gpus[0], pci_address="0000:02:00.0")
    driver = DriverInfo(loaded=True, version="570.133.07", flavour=DriverFlavour.OPEN)
    return dataclasses.replace(facts, gpus=(*facts.gpus, extra), driver=driver)


def saved_profile(store: ProfileStore, scenario: str) -> tuple[Profile, HostFacts]:
    """A profile "lab" made on an older state of ``scenario``'s host; returns it and today's facts."""
    facts = load_scenario(scenario).facts
    profile = recommended_profile("lab", facts)
    profile = dataclasses.replace(
        profile, host=older_snapshot(facts), created_at=FIXED, updated_at=FIXED
    )
    store.save(profile)
    return profile, facts


async def open_lab(pilot: Any) -> None:
    app = pilot.app
    await wait_for(
        pilot, lambda: screen_name(app) == "StartScreen" and app.ctx.facts is not None, "start"
    )
    await pilot.press("enter")


@run_async
async def test_changes_are_shown_and_continue_refreshes_the_snapshot(tmp_path: Path) -> None:
    app, store, _, _ = make(tmp_path, "ubuntu-4090")
    old, facts = saved_profile(store, "ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "DriftDialog", "the drift dialog")
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


@run_async
async def test_escape_goes_back_and_keeps_the_snapshot(tmp_path: Path) -> None:
    app, store, _, _ = make(tmp_path, "ubuntu-4090")
    old, _ = saved_profile(store, "ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "DriftDialog", "the drift dialog")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
    assert store.load("lab").host == old.host


@run_async
async def test_rebuild_from_the_start_screen_asks_first(tmp_path: Path) -> None:
    app, store, _, _ = make(tmp_path, "ubuntu-4090")
    saved_profile(store, "ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
        await pilot.press("b")
        await wait_for(pilot, lambda: screen_name(app) == "DriftDialog", "the drift dialog")
        await pilot.click("#continue")
        await wait_for(pilot, lambda: screen_name(app) == "BuildScreen", "the build")


@run_async
async def test_what_the_wizard_itself_did_is_not_news(tmp_path: Path) -> None:
    """The demo driver stage 'reboots' and loads the driver; re-opening the profile does not warn."""
    app, store, _, _ = make(tmp_path, "ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
        await pilot.press("n", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "prerequisites")
        await walk_to_end(pilot)
        assert app.ctx.facts.driver.loaded
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) != "StartScreen", "the profile")
        assert screen_name(app) == "SummaryScreen"
    assert store.load("gpu-dev").host == app.ctx.facts


@run_async
async def test_drift_undoes_the_driver_and_the_wizard_goes_back_to_it(tmp_path: Path) -> None:
    """ "The NVIDIA driver is no longer loaded": the Driver stage is no longer ticked, and the
    wizard resumes there instead of carrying on."""
    from dlenv_tui.model import Stage, StageState
    from dlenv_tui.profiles import mark_stage
    from dlenv_tui.stages import resume_stage

    app, store, _, _ = make(tmp_path, "ubuntu-4090")
    old, _ = saved_profile(store, "ubuntu-4090")
    for stage in (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE, Stage.IMAGE):
        old = mark_stage(old, stage, StageState.DONE)
    store.save(old)
    assert resume_stage(store.load("lab")) == "build"
    async with app.run_test(size=(80, 24)) as pilot:
        await open_lab(pilot)
        await wait_for(pilot, lambda: screen_name(app) == "DriftDialog", "the drift dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "back at the driver")
    lab = store.load("lab")
    assert lab.progress["driver"].state is StageState.PENDING
    assert "no longer loaded" in lab.progress["driver"].detail
    assert lab.progress["toolkit"].state is StageState.DONE  # its facts did not change
    assert resume_stage(lab) == "driver"
