"""Job journals (one JSON-lines file per job), the one-job-per-host lock, and following a job.

Layout under ``locations.jobs_dir()``: ``host.lock`` (flock held by the running worker; holds its
job id), ``<job>.jsonl`` (every event), ``<job>.plan.json`` (the plan it runs) and
``<job>.control`` (owned by the invoking user: ``seen`` once a client showed the outcome,
``cancel`` to ask the worker to stop before its next step).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dlenv_tui import locations
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute.runners import EventSink, JobResult, ResultBuilder
from dlenv_tui.model import DataError, Event, EventKind, Plan, StepOutcome, from_data, to_data

LOCK_NAME = "host.lock"
#: How many recent jobs find_unseen_job looks at.
RECENT_JOBS = 20


class JobBusy(DlenvError):
    """Another job holds the host lock."""

    exit_code = 3


@dataclass(frozen=True)
class JobInfo:
    """A job a client can reattach to."""

    job: str
    journal: Path
    running: bool
    """The worker still holds the host lock for it."""
    plan: Plan | None = None
    """The plan it runs (None when its plan file cannot be read)."""

    @property
    def id(self) -> str:
        """The job id (the same as ``job``)."""
        return self.job


@dataclass(frozen=True)
class Owner:
    """Who the journal is for: the user who asked for the job (SUDO_UID/GID under sudo)."""

    uid: int
    gid: int

    @staticmethod
    def invoking() -> Owner:
        if os.geteuid() == 0 and os.environ.get("SUDO_UID", "").isdigit():
            return Owner(int(os.environ["SUDO_UID"]), int(os.environ.get("SUDO_GID", "0") or 0))
        return Owner(os.getuid(), os.getgid())


def journal_path(job: str, jobs: Path | None = None) -> Path:
    return (jobs or locations.jobs_dir()) / f"{job}.jsonl"


def plan_path(job: str, jobs: Path | None = None) -> Path:
    return (jobs or locations.jobs_dir()) / f"{job}.plan.json"


def control_path(job: str, jobs: Path | None = None) -> Path:
    return (jobs or locations.jobs_dir()) / f"{job}.control"


def ensure_jobs_dir(jobs: Path) -> None:
    """Create the jobs directory world-traversable: clients read their own journals in it."""
    jobs.mkdir(mode=0o755, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(jobs, 0o755)


class HostLock:
    """flock on ``host.lock``: one job per host. Inherited across fork by the detached worker."""

    def __init__(self, jobs: Path) -> None:
        self.path = jobs / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, job: str, wait: float = 2.0) -> None:
        """Take the lock for ``job``; JobBusy when another job keeps it for ``wait`` seconds.

        Clients probe the lock for an instant to see whether a job runs, so a short retry keeps a
        probe from being mistaken for a running job.
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.fchmod(fd, 0o644)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    other = os.pread(fd, 200, 0).decode(errors="replace").strip()
                    os.close(fd)
                    raise JobBusy(
                        f"Another dlenv job ({other or 'unknown'}) is running on this host; "
                        "wait for it to finish or follow it with `dlenv apply`."
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, job.encode() + b"\n", 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def lock_holder(jobs: Path | None = None) -> str:
    """The id of the job holding the host lock, or "" when no worker holds it."""
    path = (jobs or locations.jobs_dir()) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return os.pread(fd, 200, 0).decode(errors="replace").strip() or "?"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return ""
    finally:
        os.close(fd)


_EVENT_TYPES: dict[str, tuple[type, ...]] = {
    "job": (str,),
    "step": (str,),
    "index": (int,),
    "total": (int,),
    "line": (str,),
    "exit_code": (int,),
    "duration_s": (float, int),
    "message": (str,),
    "time": (float, int),
}


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()
#: Fields left at their default are not written: the reader fills them back in.
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Event)}


def encode_event(event: Event) -> bytes:
    """One journal line. Hand-rolled rather than ``to_data``: a step can print 100,000 lines."""
    data = {
        name: value
        for name, value in event.__dict__.items()
        if value is not None and value != _DEFAULTS[name]
    }
    data["kind"] = event.kind.value
    if event.outcome is not None:
        data["outcome"] = event.outcome.value
    return (_ENCODER.encode(data) + "\n").encode()


def decode_event(raw: bytes) -> Event:
    """The event on one journal line; DataError when it is not one (checked like ``from_data``)."""
    try:
        data = _DECODER.decode(raw.decode())
    except ValueError as exc:
        raise DataError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or "kind" not in data:
        raise DataError("not an event")
    try:
        kind = EventKind(data.pop("kind"))
        outcome = StepOutcome(data.pop("outcome")) if "outcome" in data else None
    except ValueError as exc:
        raise DataError(str(exc)) from None
    for name, value in data.items():
        types = _EVENT_TYPES.get(name)
        if types is None or type(value) not in types:
            raise DataError(f"Event.{name}: unexpected {value!r}")
    for name in ("time", "duration_s"):
        if type(data.get(name)) is int:
            data[name] = float(data[name])
    return Event(kind=kind, outcome=outcome, **data)


class Journal:
    """Appends events to ``<job>.jsonl``, one JSON object per line, readable by the owner."""

    def __init__(self, job: str, jobs: Path, owner: Owner) -> None:
        self.path = journal_path(job, jobs)
        self.fd = os.open(
            self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o640
        )
        # root:<user's group> 0640 — the invoking user reads it, other users do not.
        if os.geteuid() == 0:
            os.fchown(self.fd, 0, owner.gid)
        os.fchmod(self.fd, 0o640)
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        data = encode_event(event)
        with self._lock:
            os.write(self.fd, data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self.fd)
        os.close(self.fd)


def write_job_files(job: str, plan: Plan, jobs: Path, owner: Owner) -> None:
    """The plan copy (for reattaching clients) and the owner's control file."""
    data = json.dumps(to_data(plan)).encode()
    fd = os.open(plan_path(job, jobs), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
    try:
        if os.geteuid() == 0:
            os.fchown(fd, 0, owner.gid)
        os.fchmod(fd, 0o640)
        os.write(fd, data)
    finally:
        os.close(fd)
    fd = os.open(
        control_path(job, jobs), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
    )
    try:
        if os.geteuid() == 0:
            os.fchown(fd, owner.uid, owner.gid)
    finally:
        os.close(fd)


def _control(job: str, jobs: Path | None) -> set[str]:
    try:
        return set(control_path(job, jobs).read_text(errors="replace").split())
    except OSError:
        return set()


def _add_control(job: str, word: str, jobs: Path | None) -> bool:
    try:
        with open(control_path(job, jobs), "a", encoding="ascii") as f:
            f.write(word + "\n")
        return True
    except OSError:
        return False


def mark_seen(job: str, jobs: Path | None = None) -> None:
    """Record that a client showed this job's outcome, so it is not offered again."""
    _add_control(job, "seen", jobs)


def request_cancel(job: str, jobs: Path | None = None) -> bool:
    """Ask the worker to stop before its next step; False when this user may not ask."""
    return _add_control(job, "cancel", jobs)


def cancel_requested(job: str, jobs: Path | None = None) -> bool:
    return "cancel" in _control(job, jobs)


def load_plan(job: str, jobs: Path | None = None) -> Plan | None:
    try:
        return from_data(Plan, json.loads(plan_path(job, jobs).read_text()))
    except (OSError, ValueError, DataError):
        return None


def find_unseen_job(jobs: Path | None = None) -> JobInfo | None:
    """A running job, or the newest finished job of this user whose outcome nobody showed yet."""
    directory = jobs or locations.jobs_dir()
    try:
        names = sorted(
            (p.name for p in directory.iterdir() if p.name.endswith(".jsonl")), reverse=True
        )
    except OSError:
        return None
    holder = lock_holder(directory)
    for name in names[:RECENT_JOBS]:
        job = name[: -len(".jsonl")]
        path = directory / name
        if not os.access(path, os.R_OK):
            continue
        if holder == job:
            return JobInfo(job, path, running=True, plan=load_plan(job, directory))
        control = control_path(job, directory)
        try:
            owner = control.stat().st_uid
        except OSError:
            continue
        if owner != os.getuid() and os.getuid() != 0:
            continue
        if "seen" not in _control(job, directory):
            return JobInfo(job, path, running=False, plan=load_plan(job, directory))
    return None


def follow_job(
    job: str,
    on_event: EventSink,
    cancel: threading.Event | None = None,
    *,
    jobs: Path | None = None,
    poll: float = 0.05,
    on_cancel: Callable[[], None] | None = None,
) -> JobResult:
    """Replay ``job``'s journal from the start and follow it until the job ends.

    Returns the outcome rebuilt from the journal; a worker that died without finishing (killed,
    host rebooted) gives a failed result saying so. ``cancel`` asks the worker to stop before its
    next step (the running step is never cut off); following goes on until it has stopped.
    """
    directory = jobs or locations.jobs_dir()
    path = journal_path(job, directory)
    builder = ResultBuilder(job)
    cancelled = False
    try:
        f = open(path, "rb")  # noqa: SIM115 - held for the whole follow
    except OSError as exc:
        raise DlenvError(f"Cannot read the journal of job {job}: {exc.strerror or exc}.") from exc
    buf = b""

    def consume(chunk: bytes) -> None:
        nonlocal buf
        buf += chunk
        if b"\n" not in buf:
            return
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            if not raw.strip():
                continue
            try:
                event = decode_event(raw)
            except DataError:
                continue  # a torn or foreign line must not stop the client
            builder.add(event)
            on_event(event)

    with f:
        while builder.finished is None:
            chunk = f.read(1 << 20)
            if chunk:
                consume(chunk)
                continue
            if cancel is not None and cancel.is_set() and not cancelled:
                cancelled = True
                if on_cancel is not None:
                    on_cancel()
                else:
                    request_cancel(job, directory)
            if lock_holder(directory) != job:
                # The worker let go of the lock: whatever it wrote is there now.
                consume(f.read())
                break
            time.sleep(poll)
    result = builder.result(
        "The job stopped without finishing (its worker was killed or the host rebooted); "
        "run dlenv again to resume."
    )
    mark_seen(job, directory)
    return result
