"""Operations the wizard and the CLI share (no Textual): running a privileged stage with its
password retries, recording and reattaching; what a build records, what it changed in the package
lock and whether it is out of date; whether a profile's container is running before a launch.

`dlenv apply` and the wizard's apply screen both call ``apply_stage``; neither orchestrates a job
itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.engine import BuildProgress, RunInfo
    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.execute.runners import EventSink, JobResult, Runner
    from dlenv_tui.image import RenderedImage
    from dlenv_tui.model import BuiltImage, Event, GpuCheck, Plan, Profile
    from dlenv_tui.session import Engine, Store


def context_digest(rendered: RenderedImage) -> str:
    """sha256 over the Dockerfile and every build-context file, in name order."""
    h = hashlib.sha256()
    h.update(b"Dockerfile\0" + rendered.dockerfile.encode("utf-8") + b"\0")
    for name in sorted(rendered.files):
        h.update(name.encode("utf-8") + b"\0" + rendered.files[name] + b"\0")
    return "sha256:" + h.hexdigest()


def stamp_build(built: BuiltImage, rendered: RenderedImage) -> BuiltImage:
    """``built`` with the digest of what it was built from, so a later change is noticed."""
    return replace(built, context_digest=context_digest(rendered))


def build_is_stale(profile: Profile, rendered: RenderedImage) -> bool:
    """Whether ``profile``'s last build came from another Dockerfile or context than ``rendered``
    (False when there is no build, or it recorded no digest: then nothing is known)."""
    last = profile.last_image
    if last is None or not last.tag or not last.context_digest:
        return False
    return last.context_digest != context_digest(rendered)


# --------------------------------------------------------------------------------------------
# privileged stages: one way to run, retry, record and reattach, for `dlenv apply` and the wizard


class JobState(str, Enum):
    """Where a privileged job stands, as the CLI and the wizard both report it."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    NEEDS_REBOOT = "needs-reboot"


#: sudo -S tries per run of a stage (the password typed again after a rejection).
PASSWORD_TRIES = 3


@dataclass(frozen=True)
class StageRun:
    """A privileged stage's job, once it has ended."""

    state: JobState
    result: JobResult
    recorded: str = ""
    """What was written into the profile, one sentence ("" when there is no such profile)."""
    record_error: str = ""
    """Why the outcome could not be recorded (a conflict, a full disk); the outcome stands."""


def job_state(result: JobResult) -> JobState:
    """DONE, FAILED or NEEDS_REBOOT for an ended job."""
    from dlenv_tui.model import StepOutcome

    if any(o is StepOutcome.REBOOT for o in result.outcomes.values()):
        return JobState.NEEDS_REBOOT
    return JobState.DONE if result.ok else JobState.FAILED


def may_skip(plan: Plan, result: JobResult | None) -> bool:
    """Whether the step ``result`` failed on may be skipped: the planner marked it
    ``skippable`` (it only verifies); a failed install never may."""
    if result is None or result.ok or not result.failed_step:
        return False
    return any(s.skippable for s in plan.steps if s.id == result.failed_step)


def record(store: Store | None, name: str, plan: Plan, result: JobResult) -> str:
    """Write an ended job's outcome into profile ``name``; the sentence saying what was recorded
    ("" when there is no such profile, or no store)."""
    from dlenv_tui.profiles import record_outcome

    if store is None or plan.finding:
        return ""
    state = record_outcome(store, name, plan, result)
    if state is None:
        return ""
    return f"Recorded in profile {name}: {plan.stage.value} {state.value}."


def apply_stage(
    plan: Plan,
    make_runner: Callable[[str | None], Runner],
    on_event: EventSink,
    *,
    store: Store | None,
    profile: str,
    password: Callable[[int], str | None] = lambda _attempt: None,
    cancel: threading.Event | None = None,
    tries: int = PASSWORD_TRIES,
) -> StageRun:
    """Run ``plan`` through a runner from ``make_runner(password)`` and record it in ``profile``.

    The stage is marked RUNNING (with the job id) as soon as the job starts, and DONE, FAILED or
    NEEDS_REBOOT the moment it ends, so a client that quits or dies finds it where it stood.
    ``password(attempt)`` gives the sudo password for each try (attempt 0 first); after sudo
    rejects it the next attempt asks again; ``None`` gives up: ``WrongPassword`` is raised.
    Other runner errors (``DlenvError``: one sentence) go to the caller.
    """
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.execute.sudo import WrongPassword
    from dlenv_tui.model import StageState
    from dlenv_tui.profiles import mark_stage

    if plan.finding:
        store = None  # a doctor fix is no stage's progress; its job's journal records it
    started = False

    def sink(event: Event) -> None:
        nonlocal started
        if not started:
            started = True
            if store is not None and profile and store.exists(profile):
                detail = event.job or "started"
                # the job goes on even when this cannot be written; the outcome is recorded after
                with contextlib.suppress(DlenvError, OSError):
                    store.update(
                        profile, lambda p: mark_stage(p, plan.stage, StageState.RUNNING, detail)
                    )
        on_event(event)

    for attempt in range(max(1, tries)):
        pw = password(attempt)
        if attempt and pw is None:
            break
        try:
            result = make_runner(pw).run(plan, sink, cancel)
        except WrongPassword:
            continue
        try:
            return StageRun(job_state(result), result, record(store, profile, plan, result))
        except (DlenvError, OSError) as exc:
            return StageRun(job_state(result), result, record_error=str(exc))
    raise WrongPassword


@dataclass(frozen=True)
class Reattached:
    """A job an earlier client left running or finished unseen, followed to its end."""

    job: str
    was_running: bool
    plan: Plan | None
    run: StageRun


def reattach(
    find_job: Callable[[], JobInfo | None],
    follow: Callable[[str, EventSink], JobResult],
    on_event: EventSink,
    store: Store | None,
) -> Reattached | None:
    """Follow the job ``find_job`` reports (None: there is none) and record its outcome in the
    profile its plan belongs to."""
    info = find_job()
    if info is None:
        return None
    result = follow(info.job, on_event)
    recorded = ""
    if info.plan is not None:
        recorded = record(store, info.plan.profile, info.plan, result)
    return Reattached(
        info.job, info.running, info.plan, StageRun(job_state(result), result, recorded)
    )


# --------------------------------------------------------------------------------------------
# the image and the container: one way to build, launch and stop, for the CLI and the wizard


@dataclass(frozen=True)
class LockReport:
    """What a build did to the profile's package lock, as `dlenv build` prints it and the Build
    screen shows it."""

    heading: str
    """One sentence: how many versions changed, or that none did, or that the lock is new."""
    changes: tuple[str, ...] = ()
    """``numpy 2.3.1 -> 2.3.4``, ``+ added 0.1``, ``- gone 1``, package by package."""


@dataclass(frozen=True)
class BuildRun:
    """A finished build as recorded."""

    built: BuiltImage
    """Stamped with the digest of what it was built from."""
    profile: Profile
    """The profile as recorded (re-read under its lock: an edit made during the build is kept)."""
    old_lock: tuple[str, ...]
    """The package lock before this build."""
    record_error: str = ""
    """Why the build could not be recorded (a conflict, a full disk); the image still exists."""

    def lock_report(self, *, upgrade: bool = False) -> LockReport | None:
        """What the build changed in the lock, version by version; None when it installed no
        Python packages. ``upgrade``: the build resolved afresh (`--upgrade`), so "the same
        versions" means nothing changed."""
        from dlenv_tui.engine.build import lock_changes

        new, old = self.built.lock, self.old_lock
        if not new:
            return None
        if not old:
            return LockReport(f"Locked {len(new)} package versions in profile {self.profile.name}.")
        changes = tuple(lock_changes(old, new))
        if changes:
            return LockReport(f"Package versions changed ({len(changes)}):", changes)
        if upgrade:
            return LockReport(
                f"Nothing changed: the upgrade resolved the same {len(new)} package versions "
                "as the lock."
            )
        return LockReport(f"Same {len(new)} package versions as the lock.")


def build_image(
    profile: Profile,
    engine: Engine,
    rendered: RenderedImage,
    on_progress: Callable[[BuildProgress], None],
    *,
    store: Store,
    now: Callable[[], str],
    check: Callable[[Profile], GpuCheck | None] | None = None,
    render: Callable[[Profile], RenderedImage] | None = None,
) -> BuildRun:
    """Build ``rendered`` with ``engine`` and record it in ``profile`` the moment it is built:
    the image, its package lock, the Dockerfile digest, and the Image stage done. ``check``, when
    given, runs the in-image GPU check on the new image. ``render`` renders a profile as the
    caller's staleness check does: the build is stamped with the digest of what the profile
    renders *with the lock this build recorded* (the rebuild that reproduces it), so a first
    build or an upgrade does not read as "the settings changed" the moment its lock is in.
    Without it the digest is ``rendered``'s. Engine errors (one sentence) go to the caller."""
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import Stage, StageState
    from dlenv_tui.profiles import mark_stage

    built = engine.build(profile, rendered, on_progress)
    if not built.built_at:
        built = replace(built, built_at=now())
    if check is not None:
        result = check(replace(profile, last_image=built))
        if result is not None:
            built = replace(built, gpu_check=result)
    stamped_from = rendered
    if render is not None:
        locked = replace(
            profile, image=replace(profile.image, lock=built.lock or profile.image.lock)
        )
        with contextlib.suppress(DlenvError, OSError):  # it rendered a moment ago: keep that one
            stamped_from = render(locked)
    built = stamp_build(built, stamped_from)

    def record(p: Profile) -> Profile:
        image = replace(p.image, lock=built.lock or p.image.lock)
        return mark_stage(
            replace(p, image=image, last_image=built), Stage.IMAGE, StageState.DONE, built.tag
        )

    old_lock = profile.image.lock
    try:
        recorded = store.update(profile.name, record)
    except (DlenvError, OSError) as exc:
        return BuildRun(built, record(profile), old_lock, str(exc))
    return BuildRun(built, recorded, old_lock)


@dataclass(frozen=True)
class Launched:
    """A started container as recorded."""

    info: RunInfo
    profile: Profile
    record_error: str = ""


def running(profile: Profile, engine: Engine) -> RunInfo | None:
    """``profile``'s container when it is running (name, image, since when, the Jupyter token:
    what its connection lines need), read back from the engine; None when it is not."""
    if engine.status(profile) != "running":
        return None
    return engine.info(profile)


def launch(profile: Profile, engine: Engine, *, store: Store, replace: bool = True) -> Launched:
    """Start ``profile``'s container (``replace``: in place of one of the same name) and record
    the Launch stage done with the container's name."""
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import Stage, StageState
    from dlenv_tui.profiles import mark_stage

    info = engine.run(profile, replace=replace)

    def record(p: Profile) -> Profile:
        return mark_stage(p, Stage.LAUNCH, StageState.DONE, info.name)

    try:
        return Launched(info, store.update(profile.name, record))
    except (DlenvError, OSError) as exc:
        return Launched(info, record(profile), str(exc))


def stop(profile: Profile, engine: Engine) -> bool:
    """Stop and remove ``profile``'s container; False when none was running."""
    return bool(engine.stop(profile))
