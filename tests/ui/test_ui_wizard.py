"""Pilot flows: the whole wizard in demo mode for every scenario, asserting the saved profile and the
plans the runner received."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app, resume_stage
from dlenv_tui.demo import scenario_keys
from dlenv_tui.model import Stage, StageState
from dlenv_tui.profiles import ProfileStore

EXPECTED_PLANS = {
    "ubuntu-4090": [Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE],
    "fedora-a100": [Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE],
    "debian-1080": [Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE],
    "rocky-ready": [],
}


def test_every_scenario_has_an_expectation() -> None:
    assert sorted(EXPECTED_PLANS) == scenario_keys()


@pytest.mark.parametrize("scenario", sorted(EXPECTED_PLANS))
async def test_whole_wizard(
    tmp_path: Path,
    scenario: str,
    demo_app: Any,
    new_profile: Any,
    walk_to_end: Any,
) -> None:
    app, store, plans, passwords = demo_app(scenario)
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        seen = await walk_to_end(pilot)
    assert seen[:5] == ["PrereqScreen", "DriverScreen", *seen[2:5]]
    assert "SummaryScreen" in seen and "LaunchScreen" in seen and "BuildScreen" in seen

    assert [p.stage for p in plans] == EXPECTED_PLANS[scenario]
    assert all(p.steps for p in plans)
    assert passwords == [None] * len(plans)  # demo never asks for a password

    profile = store.load("gpu-dev")
    for stage in (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE, Stage.IMAGE, Stage.LAUNCH):
        assert profile.progress[stage.value].state is StageState.DONE, stage
    assert profile.last_image is not None and profile.last_image.tag == "dlenv/gpu-dev:latest"
    assert profile.host is not None and profile.host.hostname
    assert resume_stage(profile) == "summary"
    assert str(tmp_path) in str(store.directory)


async def test_debian_pins_the_proprietary_580_branch(
    demo_app: Any, new_profile: Any, press_next: Any, apply_stage: Any
) -> None:
    app, store, plans, _ = demo_app("debian-1080")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen")
        assert await apply_stage(pilot) == "done"
    argv = [" ".join(s.argv) for s in plans[0].steps]
    assert any("nvidia-driver-pinning-580" in a for a in argv), argv
    assert store.load("gpu-dev").driver.flavour.value == "proprietary"


async def test_fedora_secure_boot_warns_about_the_console(
    demo_app: Any, new_profile: Any, press_next: Any
) -> None:
    app, _, _, _ = demo_app("fedora-a100")
    async with app.run_test(size=(120, 40)) as pilot:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen")
        text = str(app.screen.query_one("#secureboot").render())
        assert "console" in text and "mokutil" in text
        await press_next(pilot, "ApplyScreen")
        assert any(s.id == "driver.mok-import" for s in app.screen.plan.steps)


async def test_back_returns_to_the_previous_stage_and_resume_lands_there(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    new_profile: Any,
    press_next: Any,
) -> None:
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen")
        assert app.screen.query_one("#satisfied").display
        await pilot.press("s")  # satisfied: one key skips it
        await wait_for(pilot, lambda: screen_name(app) == "ToolkitScreen", "toolkit")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "back to driver")
        await pilot.press("s")
        await wait_for(pilot, lambda: screen_name(app) == "ToolkitScreen", "toolkit again")
        await pilot.press("ctrl+q")
    profile = store.load("gpu-dev")
    assert profile.progress["driver"].state is StageState.DONE
    assert resume_stage(profile) == "toolkit"


async def test_invalid_input_is_shown_and_blocks_next(
    screen_name: Callable[[Any], str], demo_app: Any, walk_to_image: Any, press_next: Any
) -> None:
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_image(pilot)
        field = app.screen.query_one("#extra-apt")
        field.query_one("Input").value = "ffmpeg Bad;Name"
        await pilot.pause()
        assert not field.valid and field.has_class("-invalid")
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "ImageScreen"
        field.query_one("Input").value = "ffmpeg"
        await pilot.pause()
        assert field.valid
        await press_next(pilot, "BuildScreen")
    assert store.load("gpu-dev").image.extra_apt == ("ffmpeg",)


async def test_delete_asks_first(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    new_profile: Any,
) -> None:
    app, store, _, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "NameDialog", "duplicate")
        await pilot.press("enter")
        await wait_for(pilot, lambda: store.exists("gpu-dev-copy"), "the copy")
        await pilot.press("d")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "confirm")
        await pilot.press("n")
        await pilot.pause()
        assert store.exists("gpu-dev")
        await pilot.press("d")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "confirm")
        await pilot.press("y")
        await pilot.pause()
    assert len(store.list()) == 1


async def test_quitting_at_the_reboot_prompt_resumes_at_the_driver(
    demo_app: Any, new_profile: Any, press_next: Any, apply_stage: Any
) -> None:
    """ "Run dlenv again after the reboot; this profile resumes here": Ctrl+Q there must keep it."""
    app, store, _, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen")
        assert await apply_stage(pilot) == "done"
        assert "Reboot needed" in str(app.screen.query_one("#failure").render())
        await pilot.press("ctrl+q")
    profile = store.load("gpu-dev")
    assert profile.progress["driver"].state is StageState.NEEDS_REBOOT
    assert resume_stage(profile) == "driver"


async def test_dry_run_writes_nothing_to_the_real_profiles_and_says_would(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
    facts_file: Callable[[str], Path],
    store: ProfileStore,
    new_profile: Any,
    launch_container: Any,
) -> None:
    facts = facts_file("ubuntu-24.04-rtx4090-fresh")
    real = store
    app = make_app(
        dry_run=True,
        store=real,
        facts_file=str(facts),
        now=clock,
        demo_speed=0,
    )
    said: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        for _ in range(40):
            name = screen_name(app)
            if name == "StartScreen":
                break
            if name == "ApplyScreen":
                await pilot.press("ctrl+n")
                await wait_for(pilot, lambda: app.screen.phase in ("done", "failed"), "the plan")
                said.append(str(app.screen.query_one("#apply-title").render()))
                said.append(str(app.screen.query_one("#failure").render()))
            elif name == "BuildScreen":
                await pilot.press("r")
                await wait_for(pilot, lambda: app.screen.built is not None, "the build")
                said.append(str(app.screen.query_one("#build-state").render()))
                await pilot.pause(0.2)
                build_log = list(app.screen.query_one("#log").lines)
                dockerfile = app.ctx.render_image(app.screen.profile).dockerfile
            elif name == "LaunchScreen":
                await launch_container(pilot)
                said.append(str(app.screen.query_one("#launch-state").render()))
                connect = list(app.screen.connect_lines)
            elif name == "SummaryScreen":
                said.append(str(app.screen.query_one(".summary").render()))
            await pilot.press("ctrl+n")
            await wait_for(
                pilot, lambda n=name: screen_name(app) != n or n == "ApplyScreen", f"leaving {name}"
            )
            await pilot.pause()
    assert not real.directory.exists() or real.list() == []  # nothing reached the real store
    assert len(said) >= 5, said
    for text in said:
        assert "would" in text.lower() or "dry run" in text.lower(), text
    assert not any("✓ Built" in t or "is running" in t for t in said), said
    summary = said[-1]
    assert "would be done" in summary and "would build" in summary, summary
    # what the build shows is this profile's Dockerfile, as what would run; no invented output
    first = next(line for line in dockerfile.splitlines() if line.startswith("FROM "))
    assert any(line.endswith(f": {first}") and "would run STEP 1/" in line for line in build_log)
    assert not any("Successfully" in line or "--->" in line for line in build_log), build_log
    # and no made-up Jupyter token: the real one is made when the container really starts
    jupyter = next(line for line in connect if line.startswith("JupyterLab:"))
    assert "token=<made-when-it-starts>" in jupyter and "demo" not in jupyter, connect


async def test_a_port_published_twice_is_shown_inline_and_blocks_start_and_next(
    screen_name: Callable[[Any], str],
    demo_app: Any,
    walk_to_launch: Any,
    launch_container: Any,
    press_next: Any,
) -> None:
    """JupyterLab and SSH both on 2222: said on the form, nothing starts, no setting is lost."""
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        app.screen.query_one("#jupyter-port Input").value = "2222"
        await pilot.pause()
        box = app.screen.query_one("#launch-problems")
        assert box.display and "published twice" in str(box.render())
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        assert not app.screen.started
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen_name(app) == "LaunchScreen"
        app.screen.query_one("#jupyter-port Input").value = "8890"
        await pilot.pause()
        assert not app.screen.query_one("#launch-problems").display
        await launch_container(pilot)
        await press_next(pilot, "SummaryScreen")
    ports = {p.container: p.host for p in store.load("gpu-dev").run.ports}
    assert ports == {8888: 8890, 22: 2222}


async def test_gpu_indices_are_checked_against_the_host(demo_app: Any, walk_to_launch: Any) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        count = len(app.ctx.facts.gpus)
        app.screen.query_one("#gpus Input").value = f"device=0,{count}"
        await pilot.pause()
        text = str(app.screen.query_one("#launch-problems").render())
        assert f"GPU {count} does not exist" in text
        await pilot.press("ctrl+r")
        await pilot.pause(0.2)
        assert not app.screen.started


async def test_changed_settings_make_rebuild_the_default(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    walk_to_launch: Any,
    press_next: Any,
) -> None:
    """After the image settings change, Build says so and Ctrl+N rebuilds instead of keeping it."""
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        first = store.load("gpu-dev").last_image
        assert first is not None and first.context_digest.startswith("sha256:")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "BuildScreen", "back to build")
        assert not app.screen.stale  # nothing changed: keeping it is fine
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ImageScreen", "back to image")
        app.screen.query_one("#extra-apt Input").value = "ffmpeg"
        await pilot.pause()
        await press_next(pilot, "BuildScreen")
        assert app.screen.stale
        assert "settings changed since the last build" in str(
            app.screen.query_one("#build-state").render()
        )
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.built is not None, "the rebuild")
        await press_next(pilot, "LaunchScreen")
    last = store.load("gpu-dev").last_image
    assert last is not None and last.context_digest != first.context_digest


async def test_blocking_problems_block_unless_going_on_anyway_is_recorded(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
    facts_file: Callable[[str], Path],
    store: ProfileStore,
    new_profile: Any,
) -> None:
    facts = facts_file("arch-rtx4090")  # unsupported
    app = make_app(store=store, facts_file=str(facts), now=clock, demo_speed=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        assert "blocking problem" in str(app.screen.query_one("#verdict").render())
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "still prerequisites")
        await pilot.pause(0.2)
        assert screen_name(app) == "PrereqScreen"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "driver")
        await pilot.press("ctrl+q")
    noted = store.load("gpu-dev").went_on_anyway
    assert noted and all(n.startswith(clock()) for n in noted)
    assert any("Distribution" in n for n in noted)


async def test_docker_keeps_its_package_source_after_a_look_at_podman(
    demo_app: Any, walk_to_engine: Any
) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_engine(pilot)
        screen = app.screen
        screen.query_one("#docker").value = True
        screen.query_one("#docker-ce").value = True
        await pilot.pause()
        assert screen.current_profile().engine.source.value == "docker-ce"
        for engine in ("podman", "docker", "podman", "docker", "podman"):
            screen.query_one(f"#{engine}").value = True
            await pilot.pause()
            # the profile keeps Docker's source while Podman is picked (a later visit reads it)
            assert screen.current_profile().engine.source.value == "docker-ce", engine


async def test_the_comparison_shows_both_engines_side_by_side_at_80_columns(
    demo_app: Any, walk_to_engine: Any
) -> None:
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_engine(pilot)
        table = app.screen.query_one("#comparison")
        assert table.region.width <= 80
        lines = [
            "".join(seg.text for seg in strip)
            for strip in table.render_lines(table.region.reset_offset)
        ]
        header = next(line for line in lines if "Docker" in line)
        assert "Podman" in header  # one row holds both columns
        text = "\n".join(lines)
        assert "podman kube play" in text.replace("\n", " ") or "kube" in text
        assert "dockerd" in text


async def test_a_finished_stage_shows_finished_when_revisited_and_s_keeps_it_done(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    demo_app: Any,
    new_profile: Any,
    press_next: Any,
    apply_stage: Any,
) -> None:
    app, store, plans, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        for stage in ("DriverScreen", "ToolkitScreen"):
            await press_next(pilot, stage)
            assert await apply_stage(pilot) == "done", stage
        await press_next(pilot, "EngineScreen")
        assert store.load("gpu-dev").progress["toolkit"].state is StageState.DONE
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen_name(app) == "ToolkitScreen", "back to toolkit")
        await pilot.pause()
        satisfied = app.screen.query_one("#satisfied")
        text = str(satisfied.render())
        n = len(plans[1].steps)
        assert satisfied.display and f" UTC: {n} of {n} steps done." in text, text
        assert "steps done" in text, text
        await pilot.press("s")  # no "skip without running its plan?" question: it ran
        await wait_for(pilot, lambda: screen_name(app) == "EngineScreen", "engine again")
        await pilot.press("ctrl+q")
    progress = store.load("gpu-dev").progress["toolkit"]
    assert progress.state is StageState.DONE and "steps done" in progress.detail
    assert [p.stage for p in plans] == [Stage.DRIVER, Stage.TOOLKIT]  # nothing ran twice


async def test_going_on_without_a_gpu_plans_no_driver_and_says_why(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
    store: ProfileStore,
    no_gpu_facts_file: Path,
    new_profile: Any,
    press_next: Any,
) -> None:
    facts = no_gpu_facts_file
    app = make_app(store=store, facts_file=str(facts), now=clock, demo_speed=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        said = " ".join(str(n.message) for n in app._notifications)
        assert "No NVIDIA GPU was found on this host, so the container starts without" in said
        assert store.load("gpu-dev").run.gpus == "none"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "go on anyway?")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "driver")
        await pilot.pause()
        screen = app.screen
        assert screen.plan is not None and not screen.plan.steps
        said = str(screen.query_one("#satisfied").render())
        assert "No NVIDIA GPU was found" in said and "plans no driver" in said, said
        assert "Plan (" not in str(screen.query_one("#plan-summary").render())
        # no flavour advice for a GPU that is not there ("assumes a Turing or newer GPU")
        assert not screen.query_one("#flavour").display
        assert not screen.query_one("#advice").display
        # nothing to apply: on to the toolkit, no empty plan screen
        await press_next(pilot, "ToolkitScreen")
        await pilot.press("ctrl+q")
    assert store.load("gpu-dev").progress["driver"].state is StageState.SKIPPED


async def test_the_launch_form_takes_home_relative_mounts_and_docker_sizes(
    demo_app: Any, walk_to_launch: Any, launch_container: Any, press_next: Any
) -> None:
    """~/ws and 16gb, as `profiles set` and a profile file take them (one grammar per value)."""
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        home = app.ctx.facts.user.home
        assert home
        app.screen.query_one("#workspace Input").value = "~/ws"
        app.screen.query_one("#shm Input").value = "16gb"
        await pilot.pause()
        assert app.screen.invalid_reason() == ""
        app.screen.query_one("#datasets Input").value = "~bob/data"
        await pilot.pause()
        assert "'~' and '~/…' only" in app.screen.invalid_reason()
        app.screen.query_one("#datasets Input").value = ""
        await pilot.pause()
        await launch_container(pilot)
        await press_next(pilot, "SummaryScreen")
    run = store.load("gpu-dev").run
    assert run.shm_size == "16gb"
    assert run.mounts[0].source == f"{home}/ws" and run.mounts[0].target == "/workspace"


async def test_a_build_and_a_launch_are_recorded_the_moment_they_finish(
    demo_app: Any,
    walk_to_image: Any,
    build_image: Any,
    press_next: Any,
    launch_container: Any,
) -> None:
    """Through the operations layer, as `dlenv build` / `dlenv run` record them: quitting on the
    Build or Launch screen right after keeps the image and the launch in the profile."""
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_image(pilot)
        await build_image(pilot)
        built = store.load("gpu-dev").last_image  # still on the Build screen
        assert built is not None and built.tag and built.context_digest.startswith("sha256:")
        await press_next(pilot, "LaunchScreen")
        await launch_container(pilot)
        launch = store.load("gpu-dev").progress["launch"]
        assert launch.state is StageState.DONE and launch.detail.startswith("dlenv-")


async def test_a_launch_the_profile_cannot_record_is_said_on_the_launch_screen(
    demo_app: Any, walk_to_launch: Any, launch_container: Any
) -> None:
    """The container runs but the profile is gone meanwhile (another dlenv deleted it): the Launch
    screen says the launch was not recorded, as `dlenv run` does, instead of keeping quiet."""
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_launch(pilot)
        store.delete("gpu-dev")
        await launch_container(pilot)
        await pilot.pause()
        said = [str(n.message) for n in app._notifications]
    assert any("Could not record the launch in the profile" in m for m in said), said


async def test_the_wizards_build_runs_the_in_image_gpu_check_and_records_it(
    demo_app: Any, walk_to_image: Any, build_image: Any
) -> None:
    """As after `dlenv build`: the session's GPU-check seam runs on the new image and its result
    is recorded with the build (the Launch screen shows it from there)."""
    import dataclasses

    from dlenv_tui.model import GpuCheck

    check = GpuCheck(ok=True, checked_at="2026-12-02T00:00:00Z", torch="2.9.1", gpu="H200: ok")
    seen: list[Any] = []

    def gpu_check(engine: Any, profile: Any) -> GpuCheck:
        seen.append(profile.last_image.tag)
        return check

    app, store, _, _ = demo_app("rocky-ready")
    app.ctx.deps = dataclasses.replace(app.ctx.deps, gpu_check=gpu_check)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_image(pilot)
        await build_image(pilot)
        await pilot.pause(0.2)
        log = list(app.screen.query_one("#log").lines)
    built = store.load("gpu-dev").last_image
    assert built is not None and built.gpu_check == check and seen == [built.tag]
    assert any(line.startswith("In-image GPU check (2026-12-02) passed") for line in log), log[-5:]
