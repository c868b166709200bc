"""The wizard's Doctor entry: the start screen's key and the command palette show the report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlenv_tui.app import make_app
from dlenv_tui.profiles import ProfileStore


def report(app: Any) -> str:
    """The report's text; empty while the screen is still composing."""
    found = app.screen.query("#doctor-report")
    return str(found.first().render()) if found else ""


async def test_start_screen_key_opens_the_doctor_on_the_probed_host(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    store: ProfileStore,
    sysroot: Callable[[str], Path],
) -> None:
    app = make_app(
        sysroot=str(sysroot("doctor-version-mismatch")),
        store=store,
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts", timeout=60)
        await pilot.press("o")
        await wait_for(pilot, lambda: screen_name(app) == "DoctorScreen", "the doctor")
        await wait_for(pilot, lambda: "finding" in report(app), "the report")
        text = report(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "back")
    assert "Driver/library version mismatch" in text
    assert "/sys/module/nvidia/version" in text
    assert "Press f to preview the fix and run it" in text and "dlenv doctor --fix" in text


async def test_palette_command_opens_the_doctor_in_the_demo(
    tmp_path: Path, wait_for: Callable[..., Any], screen_name: Callable[[Any], str], demo_app: Any
) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Doctor" in commands
        app.action_doctor()
        await wait_for(pilot, lambda: screen_name(app) == "DoctorScreen", "the doctor")
        await wait_for(pilot, lambda: "dlenv doctor" in report(app), "the report")


def test_launch_screen_shows_the_recorded_in_image_gpu_check(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    store: ProfileStore,
) -> None:
    """A build's (or doctor's) in-image check, recorded in the profile, is on the Launch screen."""
    from dataclasses import replace

    from dlenv_tui.model import BuiltImage, GpuCheck, Profile
    from dlenv_tui.screens.launch import LaunchScreen

    check = GpuCheck(
        ok=True,
        checked_at="2026-12-01T10:00:00Z",
        torch="2.9.1",
        cuda="13.0",
        cudnn="91300",
        gpu="skipped: no GPU on this host",
    )
    profile = replace(
        Profile(name="gpu-dev"), last_image=BuiltImage(tag="dlenv/gpu-dev:latest", gpu_check=check)
    )

    async def run() -> None:
        app = make_app(demo="ubuntu-4090", store=store)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for(pilot, lambda: app.ctx.facts is not None, "facts", timeout=60)
            app.push_screen(LaunchScreen(app.ctx, profile))
            await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", "launch")
            await pilot.pause(0.3)
            box = app.screen.query_one("#gpu-check")
            assert box.display
            text = " ".join(str(box.render()).split())
            assert "In-image GPU check (2026-12-01) passed" in text
            assert "torch 2.9.1, CUDA 13.0, cuDNN 91300" in text
            assert "skipped: no GPU on this host" in text
            # a profile without a recorded check shows no such line
            app.pop_screen()
            await pilot.pause(0.2)
            app.push_screen(LaunchScreen(app.ctx, Profile(name="gpu-dev")))
            await pilot.pause(0.5)
            assert not app.screen.query_one("#gpu-check").display

    asyncio.run(run())


async def test_the_doctor_screen_previews_a_fix_and_runs_it_like_a_stage(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    sysroot: Callable[[str], Path],
    recording_runner: Callable[..., Any],
) -> None:
    """f opens the Apply screen on the fix; what the runner gets is the doctor's plan, which
    crosses to the root worker as a doctor request (finding id and digest, no steps)."""
    import json

    from dlenv_tui.execute.request import encode_request, plan_digest

    plans: list[Any] = []
    passwords: list[Any] = []
    app = make_app(
        sysroot=str(sysroot("doctor-stale-cdi-spec")),
        dry_run=True,
        store=ProfileStore(tmp_path / "profiles"),
        runner_factory=lambda pw: recording_runner(plans, passwords, pw),
    )
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts", timeout=60)
        await pilot.press("o")
        await wait_for(pilot, lambda: "Press f" in report(app), "the report")
        await pilot.press("f")
        await wait_for(pilot, lambda: screen_name(app) == "ApplyScreen", "the fix's plan")
        title = str(app.screen.query_one("#apply-title").render())
        assert title == "Doctor fix (engine.stale-cdi-spec): the plan"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: bool(plans), "the run")
        await wait_for(pilot, lambda: app.screen.phase == "done", "done")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "DoctorScreen", "back")
        await wait_for(pilot, lambda: "Press f" in report(app), "diagnosed again")
    (plan,) = plans
    assert plan.finding == "engine.stale-cdi-spec"
    assert [s.id for s in plan.steps] == ["doctor.cdi-generate"]
    assert json.loads(encode_request(plan)) == {
        "v": 1,
        "doctor": "engine.stale-cdi-spec",
        "inputs": None,
        "digest": plan_digest(plan),
    }
    assert not list((tmp_path / "profiles").glob("*")), "a doctor fix is no stage's progress"
