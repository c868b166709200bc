"""A privileged step that fails: the apply screen names the step, its exit status and last lines,
and offers Retry / Abort (Skip only where safe); Retry runs the plan again, Abort records the
stage as failed in the profile."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.execute.runners import DemoRunner, ResultBuilder
from dlenv_tui.model import Event, EventKind, Plan, Stage, StageState, StepOutcome
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
def to_failure(wait_for: Callable[..., Any], screen_name: Callable[[Any], str]) -> Any:
    async def run(pilot: Any) -> None:
        """New profile; past the prerequisites; run the driver plan, which fails."""
        app = pilot.app
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "NameDialog", "the name dialog")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "PrereqScreen", "prerequisites")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "DriverScreen", "the driver stage")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: screen_name(app) == "ApplyScreen", "the plan")
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: app.screen.phase == "failed", "the failure")
        app.clear_notifications()
        await pilot.pause(0.2)

    return run


def failure_text(app: Any) -> str:
    return str(app.screen.query_one("#failure").render())


async def test_the_failure_names_the_step_and_retry_runs_the_plan_again(
    tmp_path: Path,
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
    tmp_path: Path,
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
