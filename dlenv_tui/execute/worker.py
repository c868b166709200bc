"""The root worker: reads a Plan on stdin, validates it, then runs it detached, into a journal.

Protocol on stdout, one line each: ``DLENV-WORKER READY`` (send the plan as one JSON line now),
then ``DLENV-WORKER JOB <id>`` (it runs; follow the journal) or ``DLENV-WORKER ERROR <sentence>``
(nothing ran). After JOB the worker has left the client's session: stdin/stdout/stderr point at
/dev/null, so a closed terminal or a killed client does not stop it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from dlenv_tui import locations
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import journal as jr
from dlenv_tui.execute.runners import JobResult, SubprocessRunner, new_job_id
from dlenv_tui.execute.validate import Policy, product_policy, validate_plan
from dlenv_tui.model import DataError, Event, EventKind, Plan, StepOutcome, from_data

PREFIX = "DLENV-WORKER"
#: Default wait for a package manager's lock before a step gives up.
LOCK_TIMEOUT_S = 600.0


def _say(text: str) -> None:
    sys.stdout.write(f"{PREFIX} {text}\n")
    sys.stdout.flush()


def parse_plan(text: str) -> Plan:
    """The plan from its JSON line; DlenvError with one sentence when it is not a plan."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DlenvError(f"The plan is not valid JSON ({exc.msg}).", exit_code=2) from None
    try:
        return from_data(Plan, data)
    except DataError as exc:
        raise DlenvError(f"The plan is not valid: {exc}.", exit_code=2) from None


def prepare_job(plan: Plan, jobs: Path, owner: jr.Owner) -> tuple[str, jr.HostLock, jr.Journal]:
    """Take the host lock and create the job's files; JobBusy when another job runs."""
    jr.ensure_jobs_dir(jobs)
    job = new_job_id()
    lock = jr.HostLock(jobs)
    lock.acquire(job)
    try:
        jr.write_job_files(job, plan, jobs, owner)
        journal = jr.Journal(job, jobs, owner)
    except BaseException:
        lock.release()
        raise
    return job, lock, journal


def run_job(
    plan: Plan,
    job: str,
    journal: jr.Journal,
    jobs: Path,
    lock_timeout: float = LOCK_TIMEOUT_S,
    lock_poll: float = 1.0,
) -> JobResult:
    """Run ``plan`` into ``journal``; a cancel in the control file stops it before the next step."""
    cancel = threading.Event()
    done = threading.Event()

    def watch_control() -> None:
        while not done.wait(0.5):
            if jr.cancel_requested(job, jobs):
                cancel.set()
                return

    watcher = threading.Thread(target=watch_control, daemon=True)
    watcher.start()
    runner = SubprocessRunner(
        job=job, lock_timeout=lock_timeout, lock_poll=lock_poll, interrupt=False
    )
    try:
        return runner.run(plan, journal.write, cancel)
    except Exception as exc:  # the journal must always end, or clients wait for nothing
        message = f"The worker failed: {exc.__class__.__name__}: {exc}."
        journal.write(Event(kind=EventKind.ERROR, job=job, message=message))
        journal.write(
            Event(kind=EventKind.JOB_FINISHED, job=job, outcome=StepOutcome.FAILED, message=message)
        )
        return JobResult(job=job, ok=False, message=message)
    finally:
        done.set()


def _detach() -> None:
    """Leave the client's session and terminal; output goes only to the journal from now on."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    if null > 2:
        os.close(null)
    os.chdir("/")
    os.umask(0o022)


def main(argv: Sequence[str] | None = None, policy: Policy | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlenv_tui.worker")
    parser.add_argument("--lock-timeout", type=float, default=LOCK_TIMEOUT_S)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        _say("ERROR The dlenv worker must run as root.")
        return 2
    _say("READY")
    line = sys.stdin.readline()
    try:
        plan = parse_plan(line)
        validate_plan(plan, policy or product_policy())
        jobs = locations.jobs_dir()
        job, lock, journal = prepare_job(plan, jobs, jr.Owner.invoking())
    except DlenvError as exc:
        _say(f"ERROR {exc}")
        return exc.exit_code
    except OSError as exc:
        _say(f"ERROR The worker could not create its job files: {exc.strerror or exc}.")
        return 1
    sys.stdout.flush()
    pid = os.fork()
    if pid:
        # The parent only reports; the child owns the lock and journal from here on.
        os.close(journal.fd)
        _say(f"JOB {job}")
        return 0
    code = 0
    try:
        _detach()
        result = run_job(plan, job, journal, jobs, args.lock_timeout)
        code = 0 if result.ok else 1
        journal.close()
        lock.release()
    finally:
        os._exit(code)
