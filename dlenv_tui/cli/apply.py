"""`dlenv apply PROFILE`: show a stage's plan, confirm it, run it as root and record progress."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from dlenv_tui.errors import UsageError
from dlenv_tui.model import (
    DataError,
    Event,
    EventKind,
    Plan,
    Profile,
    Stage,
    StageState,
    StepKind,
    from_data,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.execute.runners import JobResult
    from dlenv_tui.operations import StageRun
    from dlenv_tui.session import Seams, Store

#: Stages that have a privileged plan.
PLAN_STAGES = (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE)


def register(sub: Any) -> None:
    from dlenv_tui.cli import add_common

    p = sub.add_parser(
        "apply",
        help="run a profile's privileged plan (driver, toolkit, engine) as root",
        description=(
            "Show the plan for PROFILE (one stage or all of them), ask to confirm, run it through "
            "the root worker and record progress in the profile. A job left running or unseen by "
            "an earlier `dlenv` is followed and reported first."
        ),
    )
    p.add_argument("profile", metavar="PROFILE")
    p.add_argument("--stage", choices=[s.value for s in PLAN_STAGES], help="only this stage")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    # SUPPRESS: `dlenv --dry-run apply P` and `dlenv apply P --dry-run` mean the same.
    p.add_argument(
        "--dry-run",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show what would run; change nothing",
    )
    p.add_argument(
        "--plan",
        metavar="FILE",
        help=(
            "run this saved plan (the JSON `dlenv plan --format json` prints) instead of planning "
            "anew; only for root without sudo: through sudo the worker plans each stage itself"
        ),
    )
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the sudo password from the first line of standard input",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="print every output line")
    add_common(p)
    p.set_defaults(func=run)


class Printer:
    """Prints progress lines (step i/n, title, ok / skipped / failed) from worker events."""

    def __init__(self, out: TextIO, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose
        self.titles: dict[str, str] = {}

    def __call__(self, event: Event) -> None:
        if event.kind is EventKind.STEP_STARTED:
            self.titles[event.step] = event.message
            if self.verbose:
                self._print(f"[{event.index}/{event.total}] {event.message} ...")
        elif event.kind is EventKind.OUTPUT and self.verbose:
            self._print(f"    {event.line}")
        elif event.kind is EventKind.WAITING:
            self._print(f"[{event.index}/{event.total}] waiting: {event.message}")
        elif event.kind is EventKind.STEP_FINISHED:
            title = self.titles.get(event.step, event.step)
            outcome = event.outcome.value if event.outcome else event.message
            took = f" ({event.duration_s:.1f} s)" if event.duration_s else ""
            self._print(f"[{event.index}/{event.total}] {title}: {outcome}{took}")
        elif event.kind is EventKind.ERROR:
            self._print(f"error: {event.message}")

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def show_plan(plan: Plan, out: TextIO) -> None:
    """The plan as the user confirms it: reasons, warnings, every step with what it runs."""
    from dlenv_tui.execute.runners import describe_step

    print(f"== {plan.stage.value}: {len(plan.steps)} steps", file=out)
    for reason in plan.reasons:
        print(f"   {reason}", file=out)
    for warning in plan.warnings:
        print(f"   WARNING: {warning}", file=out)
    for i, step in enumerate(plan.steps, start=1):
        root = "" if step.needs_root else " (no root needed)"
        print(f"  {i}. {step.title}{root}", file=out)
        if step.note:
            print(f"     {step.note}", file=out)
        for line in describe_step(step):
            print(f"     {line}", file=out)
        if step.kind is StepKind.WRITE_FILE and step.file is not None:
            for text in step.file.content.splitlines():
                print(f"     | {text}", file=out)


#: A saved plan is a few tens of KiB.
MAX_PLAN_FILE_BYTES = 1 << 20


def saved_plan_allowed() -> bool:
    """A saved plan runs only for a user who is root by themselves (not through sudo)."""
    import os

    from dlenv_tui.locations import under_sudo

    return os.geteuid() == 0 and not under_sudo()


def _load_plan_file(path: str) -> Plan:
    from dlenv_tui.fsutil import ReadError, read_bounded

    try:
        data = json.loads(read_bounded(path, MAX_PLAN_FILE_BYTES, "plan file"))
    except ReadError as exc:
        raise UsageError(str(exc)) from None
    except (ValueError, RecursionError):
        raise UsageError(f"The plan file {path} is not JSON.") from None
    try:
        return from_data(Plan, data)
    except DataError as exc:
        raise UsageError(f"The plan file {path} is not a plan: {exc}.") from None


def build_plans(args: argparse.Namespace, profile: Profile) -> list[Plan]:
    """The plans to run: from --plan, or planned for this host's (or --facts') facts."""
    if args.plan:
        if not getattr(args, "dry_run", False) and not saved_plan_allowed():
            raise UsageError(
                "--plan runs a saved plan as root, which only root itself may do (not through "
                "sudo): run `dlenv apply PROFILE` and the worker plans the stage itself."
            )
        plan = _load_plan_file(args.plan)
        if plan.profile and plan.profile != profile.name:
            raise UsageError(
                f"The plan file was made for profile {plan.profile!r}, not {profile.name!r}."
            )
        return [plan]
    from dlenv_tui import plan as planning
    from dlenv_tui.cli.plan import host_facts

    facts = host_facts(args, profile)
    if args.stage:
        return [planning.plan_stage(facts, profile, Stage(args.stage))]
    return list(planning.plan_all(facts, profile))


def _confirm(count: int, out: TextIO) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("Nothing was run: add --yes to apply without a terminal to confirm in.")
    print(file=out)
    answer = input(f"Run these {count} steps as root? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _report_failure(result: JobResult, out: TextIO) -> None:
    print(f"failed: {result.message}", file=out)
    if result.exit_code is not None:
        print(f"exit status {result.exit_code}; last lines:", file=out)
    elif result.last_lines:
        print("last lines:", file=out)
    for line in result.last_lines:
        print(f"    {line}", file=out)


def reattach(out: TextIO, verbose: bool, seams: Seams, store: Store) -> bool:
    """Follow and report a running or unseen job first; False when it failed."""
    from dlenv_tui import operations

    def found() -> JobInfo | None:
        info = seams.find_job()
        if info is not None:
            state = "is running" if info.running else "finished while no dlenv was watching"
            print(f"A dlenv job ({info.job}) {state}; following it.", file=out, flush=True)
        return info

    follow = seams.follow_job
    if follow is None:
        return True
    seen = operations.reattach(found, follow, Printer(out, verbose), store)
    if seen is None:
        return True
    if seen.run.recorded:
        print(seen.run.recorded, file=out)
    if seen.run.result.ok:
        print(f"Job {seen.job}: {seen.run.result.message}", file=out)
    else:
        _report_failure(seen.run.result, out)
    print(file=out)
    return seen.run.result.ok


def _password(args: argparse.Namespace, retry: bool, needed: Callable[[], bool]) -> str | None:
    if not needed():
        return None
    if getattr(args, "password_stdin", False):
        if retry:
            return None
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise UsageError(
            "sudo needs your password: run dlenv in a terminal, or pass --password-stdin."
        )
    return getpass.getpass(f"[dlenv] sudo password for {getpass.getuser()}: ")


def _run_plan(
    args: argparse.Namespace,
    plan: Plan,
    out: TextIO,
    seams: Seams,
    store: Store | None,
    profile: str,
) -> StageRun:
    """Run one stage through the operations layer with the session's runner: typed passwords are
    asked again after sudo rejects one (not with --password-stdin: a script's wrong password
    stays wrong)."""
    from dlenv_tui import operations

    def password(attempt: int) -> str | None:
        if attempt:
            if getattr(args, "password_stdin", False):
                return None
            print("sudo rejected the password; try again.", file=out)
        return _password(args, bool(attempt), seams.password_needed)

    printer = Printer(out, args.verbose)
    announced: set[str] = set()

    def on_event(event: Event) -> None:
        if seams.mode.changes_host and event.job and event.job not in announced:
            announced.add(event.job)
            print(f"Job {event.job} started; it goes on if this terminal closes.", file=out)
        printer(event)

    return operations.apply_stage(
        plan, seams.make_runner, on_event, store=store, profile=profile, password=password
    )


def cli_session(args: argparse.Namespace) -> tuple[Seams, Store]:
    """The seams and the profile store for this command's mode (a dry run's store is a
    throw-away copy), from the same composition root as the wizard's."""
    from dlenv_tui import session

    mode = session.DRY_RUN if getattr(args, "dry_run", False) else session.REAL
    return session.seams_for(mode, saved_plan=bool(args.plan)), session.store_for(mode)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from dlenv_tui.cli import check_host_source
    from dlenv_tui.profiles import mark_stage

    out = out or sys.stdout
    seams, store = cli_session(args)
    mode = seams.mode
    # bad input is reported before anything else happens
    store.load(args.profile)
    check_host_source(args.sysroot, args.facts)
    # A job left from an earlier client is reported first (none in a dry run: the session's
    # find_job); this run then resumes after it.
    reattach(out, args.verbose, seams, store)
    profile = store.load(args.profile)
    plans = build_plans(args, profile)
    todo: list[Plan] = []
    for plan in plans:
        if not plan.satisfied and not plan.steps:
            # nothing could be planned (a driver on a host without a GPU): say why, record nothing
            print(
                f"== {plan.stage.value}: {plan.reasons[0] if plan.reasons else 'nothing to do.'}",
                file=out,
            )
            continue
        if plan.satisfied or not plan.steps:
            print(f"== {plan.stage.value}: already satisfied on this host.", file=out)
            profile = mark_stage(profile, plan.stage, StageState.DONE, "already satisfied")
            store.save(profile)  # a dry run's store is a throw-away copy
            continue
        show_plan(plan, out)
        todo.append(plan)
    if not todo:
        print("Nothing to do.", file=out)
        return 0
    steps = sum(len(p.steps) for p in todo)
    if not args.yes and mode.changes_host and not _confirm(steps, out):
        print("Nothing was run.", file=out)
        return 1
    if mode.changes_host and (args.sysroot or args.facts):
        raise UsageError(
            "--sysroot and --facts plan for another host, and the root worker plans for this "
            "one: nothing was run; drop them, or add --dry-run to see that host's plan."
        )
    from dlenv_tui.operations import JobState

    for plan in todo:
        print(file=out)
        what = plan.stage.value
        print(mode.say(f"-- {what}", f"-- {what} (dry run)"), file=out, flush=True)
        ran = _run_plan(args, plan, out, seams, store, profile.name)
        recorded = mode.say(ran.recorded, "")  # a dry run records in its throw-away copy
        if recorded:
            print(recorded, file=out)
        if ran.record_error:
            print(f"Could not record the outcome in the profile: {ran.record_error}", file=out)
        if ran.state is JobState.FAILED:
            _report_failure(ran.result, out)
            return 1
        if ran.state is JobState.NEEDS_REBOOT:
            print(ran.result.message, file=out)
            return 0
        from dlenv_tui.plan.driver.guardian import relaunch_note

        if note := relaunch_note(plan, ran.result.outcomes):
            print(note, file=out)
    print(mode.say("All steps finished.", "Dry run: nothing was changed."), file=out)
    return 0
