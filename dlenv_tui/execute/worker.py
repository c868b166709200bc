"""The root worker: reads a typed request on stdin, plans it itself, then runs it detached.

Protocol on stdout, one line each: ``DLENV-WORKER READY`` (send the request as one JSON line now,
see ``execute.request``), then ``DLENV-WORKER JOB <id>`` (it runs; follow the journal) or
``DLENV-WORKER ERROR <sentence>`` (nothing ran). After JOB the worker has left the client's
session: stdin/stdout/stderr point at /dev/null, so a closed terminal or a killed client does
not stop it.

Nothing executable crosses the boundary: the request names a stage (or a doctor finding) and
carries the profile's choices as data. The worker probes this host itself, plans with the same
pure planner the client showed (for a doctor request: diagnoses the host with the same
signatures and takes that finding's fix), and runs the plan only when its digest is the one the
user saw; each step is
checked against the policy once more before it runs. Under sudo nothing in the environment is
trusted: the jobs directory is fixed and every variable the user could set is dropped.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlenv_tui import locations
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import journal as jr
from dlenv_tui.execute.request import (
    MAX_REQUEST_BYTES,
    BadRequest,
    DoctorRequest,
    StageRequest,
    parse_request,
    plan_digest,
)
from dlenv_tui.execute.runners import JobResult, SubprocessRunner, new_job_id
from dlenv_tui.execute.validate import Policy, product_policy, validate_plan
from dlenv_tui.model import Event, EventKind, HostFacts, Plan, Profile, Stage, StepOutcome

if TYPE_CHECKING:
    from dlenv_tui.doctor import Finding

PREFIX = "DLENV-WORKER"
#: Default wait for a package manager's lock before a step gives up.
LOCK_TIMEOUT_S = 600.0
#: A client that says READY-then-nothing must not keep a root process waiting.
REQUEST_TIMEOUT_S = 60
#: The environment the worker keeps under sudo: sudo's own record of who asked, nothing else.
SUDO_NAMES = ("SUDO_UID", "SUDO_GID", "SUDO_USER")
HOST_CHANGED = "The host changed since the plan was shown: review it again."

#: (facts, profile, stage) -> Plan: the product's planner; tests run the worker with another.
Planner = Callable[[HostFacts, Profile, Stage], Plan]
#: () -> HostFacts as root, with the invoking user's identity.
Prober = Callable[[], HostFacts]
#: (facts, profile or None) -> the findings: the product's doctor reads this host; tests diagnose
#: recorded evidence (a host without a GPU has none of the driver's breakages to repair).
Doctor = Callable[[HostFacts, "Profile | None"], Sequence["Finding"]]


def _say(text: str) -> None:
    sys.stdout.write(f"{PREFIX} {text}\n")
    sys.stdout.flush()


def scrub_environment() -> None:
    """Under sudo: keep only sudo's SUDO_* record and a fixed PATH/HOME/locale (nothing the user set)."""
    keep = {name: os.environ[name] for name in SUDO_NAMES if name in os.environ}
    os.environ.clear()
    os.environ.update(keep)
    os.environ.update(
        {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/root",
            "LC_ALL": "C",
            "LANG": "C",
        }
    )


def read_request_line(stream: object = None) -> bytes:
    """One line from stdin, at most MAX_REQUEST_BYTES (+1 to tell it was longer)."""
    buffer = getattr(stream or sys.stdin, "buffer", stream or sys.stdin)
    line: bytes = buffer.readline(MAX_REQUEST_BYTES + 1)  # type: ignore[attr-defined]
    return line


def invoking_user_facts(facts: HostFacts, owner: jr.Owner) -> HostFacts:
    """``facts`` probed as root, with the user who asked for the job in place of root.

    The planner reads the user (the docker group step names them), so the worker must plan for
    the same user the client planned for. The identity comes from sudo's SUDO_UID (or the real
    uid), never from anything the user could set.
    """
    import grp
    import pwd

    from dlenv_tui.model import UserInfo

    if owner.uid == os.geteuid():
        return facts
    try:
        entry = pwd.getpwuid(owner.uid)
    except KeyError:
        return dataclasses.replace(facts, user=UserInfo(uid=owner.uid, gid=owner.gid))
    groups = []
    for gid in os.getgrouplist(entry.pw_name, entry.pw_gid):
        try:
            groups.append(grp.getgrgid(gid).gr_name)
        except KeyError:
            groups.append(str(gid))
    user = dataclasses.replace(
        facts.user,
        name=entry.pw_name,
        uid=owner.uid,
        gid=entry.pw_gid,
        groups=tuple(dict.fromkeys(groups)),
        is_root=owner.uid == 0,
        home=entry.pw_dir,
        sudo_nopasswd=None,
    )
    return dataclasses.replace(facts, user=user)


def _probe(owner: jr.Owner) -> HostFacts:
    from dlenv_tui.probe import probe_host

    return invoking_user_facts(probe_host(), owner)


def _product_planner(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    from dlenv_tui.plan import plan_stage

    return plan_stage(facts, profile, stage)


def derive_plan(request: StageRequest, probe: Prober, planner: Planner | None = None) -> Plan:
    """The plan the worker runs for ``request``: planned here, refused unless it is what was shown."""
    from dlenv_tui.plan.stages import profile_from_inputs

    facts = probe()
    try:
        plan = (planner or _product_planner)(
            facts, profile_from_inputs(request.inputs), request.stage
        )
    except DlenvError as exc:
        raise DlenvError(
            f"The worker could not plan the {request.stage.value} stage: {exc}"
        ) from None
    if plan_digest(plan) != request.digest:
        raise DlenvError(HOST_CHANGED, exit_code=1)
    return plan


def _product_doctor(facts: HostFacts, profile: Profile | None) -> Sequence[Finding]:
    from dlenv_tui.doctor import examine
    from dlenv_tui.probe import LocalHost

    return examine(LocalHost("/"), facts, profile)[1]


def derive_doctor_plan(request: DoctorRequest, probe: Prober, doctor: Doctor | None = None) -> Plan:
    """The doctor fix the worker runs for ``request``: the worker diagnoses this host itself and
    takes the fix of the finding named; refused unless that finding is here and its fix is what
    was shown."""
    from dlenv_tui.plan.stages import profile_from_inputs

    facts = probe()
    profile = None if request.inputs is None else profile_from_inputs(request.inputs)
    findings = (doctor or _product_doctor)(facts, profile)
    found = next((f for f in findings if f.id == request.finding), None)
    if found is None or found.fix is None or not found.fix.steps:
        raise DlenvError(
            f"The worker does not find {request.finding} on this host now: "
            "run `dlenv doctor` again.",
            exit_code=1,
        )
    if plan_digest(found.fix) != request.digest:
        raise DlenvError(HOST_CHANGED, exit_code=1)
    return found.fix


def prepare_job(plan: Plan, jobs: Path, owner: jr.Owner) -> tuple[str, jr.HostLock, jr.Journal]:
    """Take the host lock and create the job's files; JobBusy when another job runs."""
    dir_fd = jr.open_jobs_dir(jobs)
    try:
        job = new_job_id()
        lock = jr.HostLock(jobs, dir_fd)
        lock.acquire(job)
        try:
            jr.write_job_files(job, plan, jobs, owner, dir_fd)
            journal = jr.Journal(job, jobs, owner, dir_fd)
        except BaseException:
            lock.release()
            raise
    finally:
        os.close(dir_fd)
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


def main(
    argv: Sequence[str] | None = None,
    policy: Policy | None = None,
    *,
    planner: Planner | None = None,
    probe: Prober | None = None,
    doctor: Doctor | None = None,
) -> int:
    """The worker's entry point. ``planner``/``probe``/``doctor``/``policy`` are for tests that
    start the worker with test seams; ``python -m dlenv_tui.worker`` (what sudo runs) always uses
    the product's."""
    parser = argparse.ArgumentParser(prog="python -m dlenv_tui.worker")
    parser.add_argument("--lock-timeout", type=float, default=LOCK_TIMEOUT_S)
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        _say("ERROR The worker was started with arguments it does not know.")
        return 2
    if os.geteuid() != 0:
        _say("ERROR The dlenv worker must run as root.")
        return 2
    sudo = locations.under_sudo()
    if sudo:
        scrub_environment()
    owner = jr.Owner.invoking()
    # The probe does not depend on the request: it runs while the client sends it.
    early = _EarlyProbe(probe or (lambda: _probe(owner)))
    _say("READY")
    signal.alarm(REQUEST_TIMEOUT_S)
    try:
        raw = read_request_line()
    finally:
        signal.alarm(0)
    try:
        request = parse_request(raw)
        if isinstance(request, Plan):
            if sudo:
                raise BadRequest(
                    "A saved plan runs only for root without sudo; through sudo, dlenv plans "
                    "each stage itself: run `dlenv apply PROFILE`."
                )
            plan = request
        elif isinstance(request, DoctorRequest):
            plan = derive_doctor_plan(request, early.result, doctor)
        else:
            plan = derive_plan(request, early.result, planner)
        validate_plan(plan, policy or product_policy())
        jobs = locations.jobs_dir()
        job, lock, journal = prepare_job(plan, jobs, owner)
    except DlenvError as exc:
        _say(f"ERROR {_sentence(str(exc))}")
        return exc.exit_code
    except OSError as exc:
        _say(f"ERROR The worker could not create its job files: {exc.strerror or exc}.")
        return 1
    early.wait()  # no thread may be running at fork
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


class _EarlyProbe:
    """The host probe in a thread, started before the request is read."""

    def __init__(self, probe: Prober) -> None:
        self._probe = probe
        self._facts: HostFacts | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._facts = self._probe()
        except BaseException as exc:  # re-raised in the main thread by result()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> HostFacts:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._facts is not None
        return self._facts


def _sentence(text: str) -> str:
    """One line, ending with a full stop (the protocol is line-based)."""
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."
