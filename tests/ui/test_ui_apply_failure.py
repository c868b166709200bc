"""A privileged step that fails: the apply screen names the step, its exit status and last lines,
and offers Retry / Abort (Skip only where safe); Retry runs the plan again, Abort records the
stage as failed in the profile."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app
from dlenv_tui.execute.runners import DemoRunner, ResultBuilder
from dlenv_tui.model import Event, EventKind, Plan, Stage, StageState, Step, StepOutcome
from dlenv_tui.profiles import ProfileStore

APT_ERROR = (
    "Reading package lists...",
    "Building dependency tree...",
    "E: Unable to locate package nvidia-driver-580-open",
)


class FailOnceRunner:
    """Fails the first driver plan at its second step, the way apt-get does; then runs as the demo."""

    def __init__(self, failures: list[Plan]) -> None:
        self.failures = failures

    def run(
        self, plan: Plan, on_event: Callable[[Any], None], cancel: threading.Event | None = None
    ) -> Any:
        if plan.stage is not Stage.DRIVER or self.failures:
            return DemoRunner(speed=0).run(plan, on_event, cancel)
        self.failures.append(plan)
        builder = ResultBuilder("job-1")
        total = len(plan.steps)

        def emit(kind: EventKind, step: str = "", index: int = 0, **fields: Any) -> None:
            event = Event(kind=kind, job="job-1", step=step, index=index, total=total, **fields)
            builder.add(event)
            on_event(event)

        first, second = plan.steps[0], plan.steps[1]
        emit(EventKind.JOB_STARTED)
        emit(EventKind.STEP_STARTED, first.id, 1, message=first.title)
        emit(EventKind.STEP_FINISHED, first.id, 1, outcome=StepOutcome.OK, exit_code=0)
        emit(EventKind.STEP_STARTED, second.id, 2, message=second.title)
        for line in APT_ERROR:
            emit(EventKind.OUTPUT, second.id, 2, line=line)
        emit(EventKind.STEP_FINISHED, second.id, 2, outcome=StepOutcome.FAILED, exit_code=100)
        emit(
            EventKind.JOB_FINISHED,
            second.id,
            2,
            outcome=StepOutcome.FAILED,
            exit_code=100,
            message="apt-get exited with status 100",
        )
        return builder.result()


@pytest.fixture
def failing_app(demo_app: Callable[..., Any]) -> Callable[[], tuple[Any, ProfileStore, list[Plan]]]:
    """``failing_app()`` → ``(app, store, failures)``: the Ubuntu demo whose first driver plan
    fails; ``failures`` holds that plan once it ran."""

    def make() -> tuple[Any, ProfileStore, list[Plan]]:
        failures: list[Plan] = []
        app, store, _, _ = demo_app("ubuntu-4090", lambda _pw: FailOnceRunner(failures))
        return app, store, failures

    return make


@pytest.fixture
def to_failure(new_profile: Any, press_next: Any, apply_stage: Any) -> Any:
    async def run(pilot: Any) -> None:
        """New profile; past the prerequisites; run the driver plan, which fails."""
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen")
        assert await apply_stage(pilot) == "failed"
        pilot.app.clear_notifications()
        await pilot.pause(0.2)

    return run


def failure_text(app: Any) -> str:
    return str(app.screen.query_one("#failure").render())


async def test_the_failure_names_the_step_and_retry_runs_the_plan_again(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    failing_app: Any,
    to_failure: Any,
) -> None:
    app, store, failures = failing_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_failure(pilot)
        text = failure_text(app)
        step = failures[0].steps[1]
        assert f"✗ {step.title} failed (exit status 100): apt-get exited with status 100" in text
        assert "E: Unable to locate package nvidia-driver-580-open" in text
        assert "r retry · a abort" in text
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.phase == "done", "the retried plan")
        assert "Every step finished" in failure_text(app) or "Reboot needed" in failure_text(app)
        assert len(failures) == 1  # the second run was not the failing one
        await pilot.press("ctrl+n")  # the demo's simulated reboot, then on to the toolkit
        await wait_for(pilot, lambda: screen_name(app) == "ToolkitScreen", "the toolkit stage")
        assert store.load("gpu-dev").progress["driver"].state is StageState.DONE


async def test_abort_records_the_stage_as_failed_and_stays_on_it(
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    failing_app: Any,
    to_failure: Any,
) -> None:
    app, store, failures = failing_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await to_failure(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "the driver stage")
        progress = store.load("gpu-dev").progress["driver"]
        assert progress.state is StageState.FAILED
        assert failures[0].steps[1].id in progress.detail


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_of_a_failed_step(
    snap_compare: Any,
    tmp_path: Path,
    size: tuple[int, int],
    failing_app: Any,
    to_failure: Any,
) -> None:
    app, _store, _failures = failing_app()
    assert snap_compare(app, terminal_size=size, run_before=to_failure)


class FailAtRunner:
    """Fails the first plan that has step ``step_id``, at that step; then runs as the demo."""

    def __init__(self, step_id: str) -> None:
        self.step_id = step_id
        self.failed = False

    def run(
        self, plan: Plan, on_event: Callable[[Any], None], cancel: threading.Event | None = None
    ) -> Any:
        ids = [s.id for s in plan.steps]
        if self.failed or self.step_id not in ids:
            return DemoRunner(speed=0).run(plan, on_event, cancel)
        self.failed = True
        builder = ResultBuilder("job-2")
        i = ids.index(self.step_id) + 1

        def emit(kind: EventKind, **fields: Any) -> None:
            event = Event(
                kind=kind, job="job-2", step=self.step_id, index=i, total=len(ids), **fields
            )
            builder.add(event)
            on_event(event)

        emit(EventKind.STEP_STARTED, message=self.step_id)
        emit(EventKind.STEP_FINISHED, outcome=StepOutcome.FAILED, exit_code=1)
        emit(EventKind.JOB_FINISHED, outcome=StepOutcome.FAILED, exit_code=1, message="it failed")
        return builder.result()


async def _apply_screen(
    pilot: Any, plan: Plan, wait_for: Callable[..., Any], screen_name: Callable[[Any], str]
) -> Any:
    from dlenv_tui.model import Profile
    from dlenv_tui.screens.apply import ApplyScreen

    app = pilot.app
    await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
    app.push_screen(ApplyScreen(app.ctx, plan, Profile(name="p")))
    await wait_for(pilot, lambda: screen_name(app) == "ApplyScreen", "the plan")
    return app.screen


@pytest.mark.parametrize(
    ("skippable", "offered"),
    [(False, False), (True, True)],
    ids=["an-install-named-test-is-not-skippable", "a-planned-check-is-skippable"],
)
async def test_skip_is_offered_where_the_planner_says_the_step_may_be_skipped(
    tmp_path: Path,
    skippable: bool,
    offered: bool,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
) -> None:
    """The planner's ``Step.skippable`` decides, not words in the step id: an install whose id
    happens to say "test" must not be skippable (it was, by substring)."""
    step = Step("engine.install-test-tools", "Install the test tools", argv=("/bin/true",))
    step = dataclasses.replace(step, skippable=skippable)
    plan = Plan(stage=Stage.ENGINE, profile="p", steps=(step,))
    app = make_app(
        demo="ubuntu-4090",
        store=ProfileStore(tmp_path / "profiles"),
        runner_factory=lambda _pw: FailAtRunner(step.id),
        now=clock,
        demo_speed=0,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _apply_screen(pilot, plan, wait_for, screen_name)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.phase == "failed", "the failure")
        assert (screen.check_action("skip", ()) is True) is offered
        assert ("s skip this check" in failure_text(app)) is offered


class RejectingRunner:
    """sudo's answer to a wrong password: nothing starts."""

    def run(self, plan: Plan, on_event: Any, cancel: Any = None) -> Any:
        from dlenv_tui.execute import WrongPassword

        raise WrongPassword


async def test_a_rejected_password_is_asked_for_again_and_the_next_one_runs(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
) -> None:
    """Retry with the password sudo just rejected cannot work: the form asks for it again."""
    passwords: list[str | None] = []

    def runner(pw: str | None) -> Any:
        passwords.append(pw)
        return DemoRunner(speed=0) if pw == "right" else RejectingRunner()

    app = make_app(
        demo="ubuntu-4090",
        store=ProfileStore(tmp_path / "profiles"),
        runner_factory=runner,
        now=clock,
        demo_speed=0,
    )
    step = Step("engine.hello", "Say hello", argv=("/bin/true",))
    plan = Plan(stage=Stage.ENGINE, profile="p", steps=(step,))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _apply_screen(pilot, plan, wait_for, screen_name)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.phase == "confirm" and passwords, "the rejection")
        assert screen.query_one("#password-box").display
        error = str(screen.query_one("#password-error").render())
        assert error == "sudo rejected the password: type it again."
        await pilot.press(*"right", "enter")
        await wait_for(pilot, lambda: screen.phase == "done", "the plan run")
        assert passwords == [None, "right"]


class HeldRunner:
    """The demo runner, held after its first event until the test lets it go."""

    def __init__(self) -> None:
        self.holding = threading.Event()
        self.go = threading.Event()

    def run(self, plan: Plan, on_event: Any, cancel: Any = None) -> Any:
        def sink(event: Event) -> None:
            on_event(dataclasses.replace(event, job="job-held"))
            if not self.holding.is_set():
                self.holding.set()
                self.go.wait(10)

        return DemoRunner(speed=0).run(plan, sink, cancel)


async def test_the_wizard_marks_the_stage_running_while_its_job_runs(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    clock: Callable[[], str],
    new_profile: Any,
    press_next: Any,
) -> None:
    """As `dlenv apply` does: a wizard that dies mid-job leaves the profile saying which job runs."""
    store = ProfileStore(tmp_path / "profiles")
    held = HeldRunner()
    app = make_app(
        demo="ubuntu-4090",
        store=store,
        runner_factory=lambda _pw: held,
        now=clock,
        demo_speed=0,
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await new_profile(pilot)
        await press_next(pilot, "DriverScreen", "ApplyScreen")
        await pilot.press("ctrl+n")
        await wait_for(pilot, held.holding.is_set, "the job's start")
        progress = store.load("gpu-dev").progress["driver"]
        held.go.set()
        assert (progress.state, progress.detail) == (StageState.RUNNING, "job-held")
        await wait_for(pilot, lambda: app.screen.phase == "done", "the job's end")
        assert store.load("gpu-dev").progress["driver"].state is StageState.NEEDS_REBOOT


async def test_a_dry_runs_steps_end_shown_not_running(
    tmp_path: Path,
    wait_for: Callable[..., Any],
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
) -> None:
    """The dry run's runner gives no outcome (nothing ran): its steps must not stay "▶ running"."""
    from dlenv_tui.locations import asset

    app = make_app(
        dry_run=True,
        facts_file=str(asset("demo", "ubuntu-4090.json")),
        store=ProfileStore(tmp_path / "profiles"),
        now=clock,
    )
    steps = tuple(Step(f"engine.s{i}", f"Step {i}", argv=("/bin/true",)) for i in range(3))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _apply_screen(
            pilot, Plan(stage=Stage.ENGINE, profile="p", steps=steps), wait_for, screen_name
        )
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen.phase == "done", "the dry run")
        await pilot.pause(0.2)
        shown = str(screen.query_one("#steps").render())
        assert "▶" not in shown and shown.count("–") == 3, shown
