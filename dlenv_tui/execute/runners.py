"""Runners that carry out a Plan: for real (SubprocessRunner), on paper (DryRun) or simulated (Demo).

Every runner reports through the same Event stream and returns the same JobResult, so the UI, the
CLI and the root worker's journal treat them alike; the entry point picks one runner at start-up.
"""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import files, pkglock, pkgstate
from dlenv_tui.model import Event, EventKind, Plan, Step, StepKind, StepOutcome

EventSink = Callable[[Event], None]

#: How many output lines of a failed step a JobResult keeps.
LAST_LINES = 20
#: Checks are read-only probes; one that hangs is treated as "not done".
CHECK_TIMEOUT_S = 120.0
#: A line longer than this is cut (a progress bar without newlines must not eat memory).
MAX_LINE_BYTES = 64 * 1024
#: The environment every step starts from; LC_ALL=C so output and errors are parseable English.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LC_ALL": "C",
    "LANG": "C",
}


@dataclass(frozen=True)
class JobResult:
    """How a job ended, rebuilt the same way from live events or from a journal."""

    job: str
    """The job id (empty for runners that have no journal)."""
    ok: bool
    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    """Step id -> outcome, for the steps that got as far as an outcome."""
    failed_step: str = ""
    exit_code: int | None = None
    """The failed step's exit status (None: it did not exit on its own, or no step failed)."""
    last_lines: tuple[str, ...] = ()
    """The failed step's last output lines."""
    message: str = ""
    """One sentence when not ok (or when the plan stopped for a reboot)."""


class Runner(Protocol):
    """Runs a plan, reporting every event to ``on_event``; ``cancel`` stops it between steps."""

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult: ...


def new_job_id() -> str:
    """A sortable, unguessable job id: UTC time plus random hex."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(4)


class ResultBuilder:
    """Folds a stream of events into a JobResult (used live and when replaying a journal)."""

    def __init__(self, job: str = "") -> None:
        self.job = job
        self.outcomes: dict[str, StepOutcome] = {}
        self.lines: dict[str, collections.deque[str]] = {}
        self.finished: Event | None = None

    def add(self, event: Event) -> None:
        if event.kind is EventKind.JOB_STARTED and event.job:
            self.job = event.job
        elif event.kind is EventKind.OUTPUT and event.step:
            self.lines.setdefault(event.step, collections.deque(maxlen=LAST_LINES)).append(
                event.line
            )
        elif event.kind is EventKind.STEP_FINISHED and event.outcome is not None:
            self.outcomes[event.step] = event.outcome
        elif event.kind is EventKind.JOB_FINISHED:
            self.finished = event

    def result(self, default_message: str = "") -> JobResult:
        end = self.finished
        if end is None:
            return JobResult(
                job=self.job,
                ok=False,
                outcomes=dict(self.outcomes),
                message=default_message or "The job stopped without finishing.",
            )
        ok = end.outcome in (StepOutcome.OK, StepOutcome.REBOOT, StepOutcome.SKIPPED)
        return JobResult(
            job=self.job,
            ok=ok,
            outcomes=dict(self.outcomes),
            failed_step="" if ok else end.step,
            exit_code=None if ok else end.exit_code,
            last_lines=() if ok else tuple(self.lines.get(end.step, ())),
            message=end.message,
        )


class _Emitter:
    """Stamps events with the job, step numbering and time, and feeds the result builder."""

    def __init__(self, job: str, total: int, sink: EventSink) -> None:
        self.job = job
        self.total = total
        self.sink = sink
        self.builder = ResultBuilder(job)

    def __call__(
        self,
        kind: EventKind,
        step: str = "",
        index: int = 0,
        *,
        line: str = "",
        outcome: StepOutcome | None = None,
        exit_code: int | None = None,
        duration_s: float | None = None,
        message: str = "",
    ) -> None:
        event = Event(
            kind=kind,
            job=self.job,
            step=step,
            index=index,
            total=self.total,
            line=line,
            outcome=outcome,
            exit_code=exit_code,
            duration_s=duration_s,
            message=message,
            time=time.time(),
        )
        self.builder.add(event)
        self.sink(event)


def _step_env(step: Step) -> dict[str, str]:
    env = dict(BASE_ENV)
    env["HOME"] = os.environ.get("HOME", "/root")
    env.update(dict(step.env))
    env["LC_ALL"] = "C"
    return env


def _decode(raw: bytes) -> str:
    raw = raw.rstrip(b"\r")
    if b"\r" in raw:
        # Progress bars redraw with carriage returns; the last state is the one worth showing.
        raw = raw.rsplit(b"\r", 1)[-1]
    return raw.decode("utf-8", errors="replace")


@dataclass
class _Ran:
    exit_code: int | None
    reason: str = ""
    """Why it did not exit on its own: "timeout", "cancelled", "missing"."""


def run_streamed(
    argv: Sequence[str],
    env: dict[str, str],
    timeout: float,
    on_line: Callable[[str], None],
    cancel: threading.Event | None = None,
) -> _Ran:
    """Run ``argv`` (no shell) with stdout+stderr merged, calling ``on_line`` per output line."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        on_line(f"{argv[0]}: {exc.strerror or exc}")
        return _Ran(127, "missing")
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    reason = ""
    exited_at: float | None = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                reason = "timeout"
                break
            if cancel is not None and cancel.is_set():
                reason = "cancelled"
                break
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            # A daemon the step started may keep our pipe open; once the step itself has exited,
            # drain briefly and stop reading instead of waiting for the daemon.
            if exited_at is not None and now - exited_at > 0.5:
                break
            if not sel.select(min(0.2, deadline - now)):
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    on_line(_decode(raw))
            if len(buf) > MAX_LINE_BYTES:
                on_line(_decode(buf))
                buf = b""
        if buf:
            on_line(_decode(buf))
        if reason:
            _stop(proc)
            return _Ran(None, reason)
        try:
            code = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _stop(proc)
            return _Ran(None, "timeout")
        return _Ran(code)
    finally:
        sel.close()
        proc.stdout.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the step's process group, then SIGKILL what is left after a grace period."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def check_done(argv: Sequence[str], env: dict[str, str]) -> bool:
    """Whether a step's read-only check says it is already done.

    Exit status 0, and for a ``dpkg-query -W`` check every package it names "install ok
    installed": dpkg-query exits 0 for a half-configured or unpacked package too, which is not done.
    """
    if not run_check(argv, env):
        return False
    if os.path.basename(argv[0]) != "dpkg-query" or "-W" not in argv:
        return True
    packages = [a for a in argv[argv.index("-W") + 1 :] if not a.startswith("-")]
    states = pkgstate.dpkg_states(packages)
    return bool(states) and all(state == pkgstate.INSTALLED for state in states.values())


def run_check(argv: Sequence[str], env: dict[str, str]) -> bool:
    """Whether a step's read-only check says it is already done (exit status 0)."""
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd="/",
            timeout=CHECK_TIMEOUT_S,
            close_fds=True,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


class SubprocessRunner:
    """Runs each step for real in this process: the root worker's engine.

    A step whose check passes is skipped; the first failing step stops the plan. ``cancel`` stops
    the plan before the next step, and also interrupts the running step when ``interrupt`` is true
    (the worker leaves it false so an apt run is never cut off half-way).
    """

    def __init__(
        self,
        *,
        job: str = "",
        lock_timeout: float = 600.0,
        lock_poll: float = 1.0,
        interrupt: bool = True,
        fetch: files.Fetcher = files.https_fetch,
    ) -> None:
        self.job = job
        self.lock_timeout = lock_timeout
        self.lock_poll = lock_poll
        self.interrupt = interrupt
        self.fetch = fetch

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult:
        emit = _Emitter(self.job, len(plan.steps), on_event)
        emit(EventKind.JOB_STARTED, message=f"{plan.stage} plan with {len(plan.steps)} steps")
        for index, step in enumerate(plan.steps, start=1):
            if cancel is not None and cancel.is_set():
                emit(
                    EventKind.JOB_FINISHED,
                    step=step.id,
                    index=index,
                    outcome=StepOutcome.CANCELLED,
                    message=f"Cancelled before step {index} ({step.title}); nothing after it ran.",
                )
                return emit.builder.result()
            start = time.monotonic()
            emit(EventKind.STEP_STARTED, step.id, index, message=step.title)
            outcome, code, message = self._step(step, index, emit, cancel)
            emit(
                EventKind.STEP_FINISHED,
                step.id,
                index,
                outcome=outcome,
                exit_code=code,
                duration_s=round(time.monotonic() - start, 3),
                message=message,
            )
            if outcome is StepOutcome.REBOOT:
                emit(
                    EventKind.JOB_FINISHED,
                    step=step.id,
                    index=index,
                    outcome=StepOutcome.REBOOT,
                    message=f"Reboot the host, then run dlenv again to continue ({step.title}).",
                )
                return emit.builder.result()
            if outcome in (StepOutcome.FAILED, StepOutcome.CANCELLED):
                emit(
                    EventKind.JOB_FINISHED,
                    step=step.id,
                    index=index,
                    outcome=outcome,
                    exit_code=code,
                    message=message,
                )
                return emit.builder.result()
        emit(EventKind.JOB_FINISHED, outcome=StepOutcome.OK, message="All steps finished.")
        return emit.builder.result()

    def _step(
        self, step: Step, index: int, emit: _Emitter, cancel: threading.Event | None
    ) -> tuple[StepOutcome, int | None, str]:
        env = _step_env(step)
        if step.kind is StepKind.REBOOT:
            return StepOutcome.REBOOT, None, "The host must be rebooted before the plan goes on."
        fam = pkgstate.family(step.argv) if step.kind is StepKind.RUN else ""
        if fam:
            return self._package_step(step, index, emit, cancel, env, fam)
        if step.check and check_done(step.check, env):
            return StepOutcome.SKIPPED, None, "Already done (its check passed)."
        if step.kind is StepKind.WRITE_FILE:
            assert step.file is not None
            try:
                changed = files.write_file(step.file)
            except DlenvError as exc:
                return StepOutcome.FAILED, None, str(exc)
            if not changed:
                return StepOutcome.SKIPPED, None, f"{step.file.path} already has this content."
            emit(EventKind.OUTPUT, step.id, index, line=f"wrote {step.file.path}")
            return StepOutcome.OK, 0, ""
        if step.kind is StepKind.DOWNLOAD:
            assert step.download is not None
            try:
                changed = files.download(step.download, float(step.timeout_s), self.fetch)
            except DlenvError as exc:
                return StepOutcome.FAILED, None, str(exc)
            if not changed:
                return StepOutcome.SKIPPED, None, f"{step.download.dest} is already up to date."
            emit(EventKind.OUTPUT, step.id, index, line=f"downloaded {step.download.dest}")
            return StepOutcome.OK, 0, ""
        return self._run_argv(step, index, emit, cancel, env)

    def _package_step(
        self,
        step: Step,
        index: int,
        emit: _Emitter,
        cancel: threading.Event | None,
        env: dict[str, str],
        fam: str,
    ) -> tuple[StepOutcome, int | None, str]:
        """A package-manager step: lock, finish an interrupted install, check, run, verify.

        The check runs only once the package manager's lock is ours (apt: dpkg's frontend lock,
        held while the database is read and repaired), so a half-finished install of another
        process is never taken for done.
        """
        while True:
            held = self._wait_for_locks(step, index, emit, cancel)
            if held:
                return held
            with contextlib.ExitStack() as stack:
                if fam == "apt" and not stack.enter_context(pkgstate.apt_frontend_lock()):
                    continue  # someone took it between the wait and now: wait again
                repaired = self._repair(step, index, emit, fam)
                if repaired is not None:
                    return repaired
                if step.check and check_done(step.check, env):
                    return StepOutcome.SKIPPED, None, "Already done (its check passed)."
            break
        outcome, code, message = self._run_argv(step, index, emit, cancel, env, wait=False)
        if outcome is not StepOutcome.OK:
            return outcome, code, message
        wanted = pkgstate.installs(step.argv)
        left = pkgstate.not_installed(fam, wanted) if wanted else {}
        if left:
            pkg, state = next(iter(left.items()))
            return (
                StepOutcome.FAILED,
                code,
                f"{step.title} ended, but {pkg} is {state}, not installed; run dlenv again to "
                "finish it.",
            )
        return outcome, code, message

    def _repair(
        self, step: Step, index: int, emit: _Emitter, fam: str
    ) -> tuple[StepOutcome, int | None, str] | None:
        """Finish an interrupted install as a step of its own; a failed result stops the plan."""
        found = pkgstate.audit(fam)
        if not found:
            return None
        repair = pkgstate.REPAIRS[fam]
        rid = f"{step.id}.repair"
        emit(EventKind.STEP_STARTED, rid, index, message=repair.title)
        for line in found.splitlines()[:20]:
            emit(EventKind.OUTPUT, rid, index, line=line)
        start = time.monotonic()
        env = dict(BASE_ENV, DEBIAN_FRONTEND="noninteractive", DPKG_FRONTEND_LOCKED="1")
        ran = run_streamed(
            repair.repair,
            env,
            float(step.timeout_s),
            lambda line: emit(EventKind.OUTPUT, rid, index, line=line),
        )
        left = pkgstate.audit(fam)
        ok = ran.exit_code == 0 and not left
        message = (
            f"An interrupted install was found and finished ({shlex.join(repair.repair)})."
            if ok
            else f"An interrupted install could not be finished: {shlex.join(repair.repair)} "
            f"exited with status {ran.exit_code}; fix the package named above, then run dlenv again."
        )
        emit(
            EventKind.STEP_FINISHED,
            rid,
            index,
            outcome=StepOutcome.OK if ok else StepOutcome.FAILED,
            exit_code=ran.exit_code,
            duration_s=round(time.monotonic() - start, 3),
            message=message,
        )
        return None if ok else (StepOutcome.FAILED, ran.exit_code, message)

    def _wait_for_locks(
        self, step: Step, index: int, emit: _Emitter, cancel: threading.Event | None
    ) -> tuple[StepOutcome, int | None, str] | None:
        def on_wait(path: str) -> None:
            emit(
                EventKind.WAITING,
                step.id,
                index,
                message=(
                    f"Waiting for another package manager to finish ({path} is locked); "
                    f"giving up after {self.lock_timeout:.0f} s."
                ),
            )

        held = pkglock.wait_for_locks(
            step.argv,
            self.lock_timeout,
            on_wait,
            cancel if self.interrupt else None,
            self.lock_poll,
        )
        if not held:
            return None
        if cancel is not None and cancel.is_set() and self.interrupt:
            return StepOutcome.CANCELLED, None, "Cancelled while waiting for a lock."
        return (
            StepOutcome.FAILED,
            None,
            f"Another package manager held {held} for more than {self.lock_timeout:.0f} s; "
            "let it finish, then run dlenv again.",
        )

    def _run_argv(
        self,
        step: Step,
        index: int,
        emit: _Emitter,
        cancel: threading.Event | None,
        env: dict[str, str],
        wait: bool = True,
    ) -> tuple[StepOutcome, int | None, str]:
        if wait:
            held = self._wait_for_locks(step, index, emit, cancel)
            if held:
                return held

        def on_line(line: str) -> None:
            emit(EventKind.OUTPUT, step.id, index, line=line)

        ran = run_streamed(
            step.argv, env, float(step.timeout_s), on_line, cancel if self.interrupt else None
        )
        if ran.reason == "timeout":
            return StepOutcome.FAILED, None, f"{step.title} did not finish in {step.timeout_s} s."
        if ran.reason == "cancelled":
            return StepOutcome.CANCELLED, None, f"Cancelled during {step.title}."
        if ran.exit_code != 0:
            return (
                StepOutcome.FAILED,
                ran.exit_code,
                f"{step.title} failed: {os.path.basename(step.argv[0])} exited with status "
                f"{ran.exit_code}.",
            )
        return StepOutcome.OK, 0, ""


class DryRunRunner:
    """Shows what each step would do and runs nothing (`--dry-run`).

    Its step_finished events carry no outcome, so its JobResult has no outcomes: nothing a dry run
    showed can be recorded as done.
    """

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult:
        emit = _Emitter("", len(plan.steps), on_event)
        emit(EventKind.JOB_STARTED, message="dry run: nothing will be changed")
        for index, step in enumerate(plan.steps, start=1):
            emit(EventKind.STEP_STARTED, step.id, index, message=step.title)
            for line in describe_step(step):
                emit(EventKind.OUTPUT, step.id, index, line=line)
            # No outcome: a step that was only shown must never be taken for done.
            emit(EventKind.STEP_FINISHED, step.id, index, message="not run (dry run)")
        emit(
            EventKind.JOB_FINISHED,
            outcome=StepOutcome.SKIPPED,
            message="Dry run: nothing was changed.",
        )
        return emit.builder.result()


def describe_step(step: Step) -> list[str]:
    """What a step would do, as the lines a dry run shows."""
    lines: list[str] = []
    if step.check:
        lines.append(f"check: {shlex.join(step.check)}")
    if step.kind is StepKind.RUN:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in step.env)
        lines.append(f"would run: {env + ' ' if env else ''}{shlex.join(step.argv)}")
    elif step.kind is StepKind.WRITE_FILE and step.file is not None:
        lines.append(f"would write {step.file.path} (mode {step.file.mode:04o})")
    elif step.kind is StepKind.DOWNLOAD and step.download is not None:
        lines.append(f"would download {step.download.url} to {step.download.dest}")
    elif step.kind is StepKind.REBOOT:
        lines.append("would ask you to reboot")
    return lines


def _demo_lines(step: Step) -> Iterator[str]:
    """Plausible package-manager output for a step, for the demo host."""
    argv = list(step.argv)
    name = os.path.basename(argv[0]) if argv else ""
    pkgs = [a for a in argv[1:] if not a.startswith("-") and a not in ("install", "update")]
    if name in ("apt-get", "apt") and "update" in argv:
        yield "Hit:1 http://archive.ubuntu.com/ubuntu noble InRelease"
        yield "Get:2 http://archive.ubuntu.com/ubuntu noble-updates InRelease [126 kB]"
        yield "Get:3 http://security.ubuntu.com/ubuntu noble-security InRelease [126 kB]"
        yield "Fetched 252 kB in 1s (301 kB/s)"
        yield "Reading package lists..."
    elif name in ("apt-get", "apt"):
        yield "Reading package lists..."
        yield "Building dependency tree..."
        yield "Reading state information..."
        yield "The following NEW packages will be installed:"
        yield "  " + " ".join(pkgs)
        yield f"0 upgraded, {len(pkgs)} newly installed, 0 to remove and 0 not upgraded."
        for i, pkg in enumerate(pkgs, start=1):
            yield f"Get:{i} http://archive.ubuntu.com/ubuntu noble/main amd64 {pkg} [1024 kB]"
        for pkg in pkgs:
            yield f"Selecting previously unselected package {pkg}."
            yield f"Unpacking {pkg} ..."
        for pkg in pkgs:
            yield f"Setting up {pkg} ..."
    elif name in ("dnf", "dnf5", "yum", "zypper"):
        yield "Last metadata expiration check: 0:12:41 ago."
        yield "Dependencies resolved."
        for pkg in pkgs:
            yield f"  Installing       : {pkg}"
        yield "Complete!"
    elif step.kind is StepKind.WRITE_FILE and step.file is not None:
        yield f"wrote {step.file.path}"
    elif step.kind is StepKind.DOWNLOAD and step.download is not None:
        yield f"downloaded {step.download.dest}"
    elif argv:
        yield f"$ {shlex.join(argv)}"


class DemoRunner:
    """Simulated output and timing for `--demo`; changes nothing on this machine.

    ``speed`` scales the pace: 2.0 runs twice as fast; 0 (or less) runs without any pauses (tests).
    ``done`` names steps the simulated host already has, reported as skipped.
    """

    def __init__(self, speed: float = 1.0, done: Sequence[str] = (), line_delay: float = 0.08):
        self.speed = speed
        self.done = frozenset(done)
        self.line_delay = line_delay

    def _pause(self, seconds: float, cancel: threading.Event | None) -> None:
        if self.speed <= 0:
            return
        if cancel is not None:
            cancel.wait(seconds / self.speed)
        else:
            time.sleep(seconds / self.speed)

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult:
        emit = _Emitter("demo", len(plan.steps), on_event)
        emit(EventKind.JOB_STARTED, message="demo: simulated, nothing changes")
        for index, step in enumerate(plan.steps, start=1):
            if cancel is not None and cancel.is_set():
                emit(
                    EventKind.JOB_FINISHED,
                    step=step.id,
                    index=index,
                    outcome=StepOutcome.CANCELLED,
                    message=f"Cancelled before step {index} ({step.title}).",
                )
                return emit.builder.result()
            emit(EventKind.STEP_STARTED, step.id, index, message=step.title)
            self._pause(0.3, cancel)
            if step.kind is StepKind.REBOOT:
                emit(EventKind.STEP_FINISHED, step.id, index, outcome=StepOutcome.REBOOT)
                emit(
                    EventKind.JOB_FINISHED,
                    step=step.id,
                    index=index,
                    outcome=StepOutcome.REBOOT,
                    message=f"Reboot the host, then run dlenv again to continue ({step.title}).",
                )
                return emit.builder.result()
            if step.id in self.done:
                emit(
                    EventKind.STEP_FINISHED,
                    step.id,
                    index,
                    outcome=StepOutcome.SKIPPED,
                    duration_s=0.0,
                    message="Already done (its check passed).",
                )
                continue
            started = time.monotonic()
            for line in _demo_lines(step):
                emit(EventKind.OUTPUT, step.id, index, line=line)
                self._pause(self.line_delay, cancel)
            emit(
                EventKind.STEP_FINISHED,
                step.id,
                index,
                outcome=StepOutcome.OK,
                exit_code=0,
                duration_s=round(time.monotonic() - started, 3),
            )
        emit(EventKind.JOB_FINISHED, outcome=StepOutcome.OK, message="All steps finished.")
        return emit.builder.result()
