"""Job journals (one JSON-lines file per job), the one-job-per-host lock, and following a job.

Layout under ``locations.jobs_dir()`` (root-owned 0755, never a symlink): ``host.lock`` (root
0600, flock held by the running worker; holds its job id: no other user can open it, so none can
hold it), ``<job>.jsonl`` (every event; flock held by the worker while the job runs, which is how
clients tell a running job), ``<job>.plan.json`` (the plan it runs) and ``<job>.control`` (``seen``
once a client showed the outcome, ``cancel`` to ask the worker to stop before its next step). The
job's three files belong to the invoking user, mode 0600: nobody else reads them. The worker
creates every file relative to the directory it opened, with ``O_NOFOLLOW | O_EXCL``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import stat
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
#: The jobs directory every worker under sudo uses (see ``locations.jobs_dir``).
SYSTEM_JOBS = locations.SYSTEM_JOBS_DIR
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


#: A control file holds a few words; anything longer is not ours.
MAX_CONTROL_BYTES = 4096
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class JobsDirError(DlenvError):
    """The jobs directory is not safe to use (a symlink, not root's, writable by others)."""


def open_jobs_dir(jobs: Path) -> int:
    """Open (creating what is missing) ``jobs`` without following a symlink anywhere on its path.

    Returns a directory fd the worker creates every job file relative to. As root the directory
    must end up root-owned 0755: a directory another user owns or can write to is refused.
    """
    if not jobs.is_absolute():
        raise JobsDirError(f"The jobs directory {jobs} is not an absolute path.")
    fd = os.open("/", _DIR_FLAGS)
    try:
        for part in jobs.parts[1:]:
            try:
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
                try:
                    nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    raise _unsafe(jobs, exc) from None
            except OSError as exc:
                raise _unsafe(jobs, exc) from None
            os.close(fd)
            fd = nxt
        if os.geteuid() == 0:
            st = os.fstat(fd)
            if st.st_uid != 0:
                raise JobsDirError(
                    f"The jobs directory {jobs} belongs to uid {st.st_uid}, not root; "
                    "remove it and run dlenv again."
                )
            os.fchmod(fd, 0o755)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _unsafe(jobs: Path, exc: OSError) -> JobsDirError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return JobsDirError(
            f"{jobs} or a directory above it is a symlink or not a directory; "
            "dlenv will not follow it: remove it and run dlenv again."
        )
    return JobsDirError(f"Cannot open the jobs directory {jobs}: {exc.strerror or exc}.")


def ensure_jobs_dir(jobs: Path) -> None:
    """Create the jobs directory (root-owned 0755 as root), refusing symlinks on its path."""
    os.close(open_jobs_dir(jobs))


class HostLock:
    """flock on ``host.lock`` (root 0600): one job per host. Inherited across fork by the worker.

    ``dir_fd`` is the jobs directory the worker opened; the lock file is opened relative to it
    and never through a symlink.
    """

    def __init__(self, jobs: Path, dir_fd: int | None = None) -> None:
        self.path = jobs / LOCK_NAME
        self.dir_fd = dir_fd
        self.fd: int | None = None

    def acquire(self, job: str, wait: float = 2.0) -> None:
        """Take the lock for ``job``; JobBusy when another job keeps it for ``wait`` seconds.

        Clients probe the lock for an instant to see whether a job runs, so a short retry keeps a
        probe from being mistaken for a running job.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            if self.dir_fd is None:
                fd = os.open(self.path, flags, 0o600)
            else:
                fd = os.open(LOCK_NAME, flags, 0o600, dir_fd=self.dir_fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise JobsDirError(
                    f"{self.path} is a symlink; dlenv will not follow it: remove it and run again."
                ) from None
            raise
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (os.geteuid() == 0 and st.st_uid != 0):
            os.close(fd)
            raise JobsDirError(
                f"{self.path} is not a root-owned regular file; remove it and run dlenv again."
            )
        os.fchmod(fd, 0o600)
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
    """The id of the running job on this host, or "" when none runs.

    Root asks the host lock (root 0600); other users cannot open it, so they look for a journal
    its worker still holds a lock on.
    """
    directory = jobs or locations.jobs_dir()
    path = directory / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except PermissionError:
        return _running_journal(directory)
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


def job_running(job: str, jobs: Path | None = None) -> bool:
    """Whether ``job``'s worker still runs: it holds an exclusive flock on the journal until the end."""
    try:
        fd = os.open(journal_path(job, jobs), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing drops a shared lock we may have taken
    return False


def _running_journal(directory: Path) -> str:
    for name in _recent_journals(directory):
        job = name[: -len(".jsonl")]
        if job_running(job, directory):
            return job
    return ""


def _recent_journals(directory: Path) -> list[str]:
    try:
        names = sorted(
            (e.name for e in os.scandir(directory) if e.name.endswith(".jsonl")), reverse=True
        )
    except OSError:
        return []
    return names[:RECENT_JOBS]


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
    """Appends events to ``<job>.jsonl``, one JSON object per line, readable by its owner only.

    The worker holds an exclusive flock on it for as long as the job runs (inherited across fork),
    so clients can tell a running job from a finished or abandoned one.
    """

    def __init__(self, job: str, jobs: Path, owner: Owner, dir_fd: int | None = None) -> None:
        self.path = journal_path(job, jobs)
        self.fd = _create(self.path, dir_fd, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _give(self.fd, owner)
        except BaseException:
            os.close(self.fd)
            raise
        self._lock = threading.Lock()

    def write(self, event: Event) -> None:
        data = encode_event(event)
        with self._lock:
            os.write(self.fd, data)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fsync(self.fd)
        os.close(self.fd)


def _create(path: Path, dir_fd: int | None, flags: int) -> int:
    """A new file (never an existing one, never through a symlink), 0600 until it is given away."""
    flags |= os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    if dir_fd is None:
        return os.open(path, flags, 0o600)
    return os.open(path.name, flags, 0o600, dir_fd=dir_fd)


def _give(fd: int, owner: Owner) -> None:
    """The file belongs to the invoking user, mode 0600: they read it, nobody else does."""
    if os.geteuid() == 0:
        os.fchown(fd, owner.uid, owner.gid)
    os.fchmod(fd, 0o600)


def write_job_files(
    job: str, plan: Plan, jobs: Path, owner: Owner, dir_fd: int | None = None
) -> None:
    """The plan copy (for reattaching clients) and the owner's control file."""
    data = json.dumps(to_data(plan)).encode()
    fd = _create(plan_path(job, jobs), dir_fd, os.O_WRONLY)
    try:
        _give(fd, owner)
        os.write(fd, data)
    finally:
        os.close(fd)
    fd = _create(control_path(job, jobs), dir_fd, os.O_WRONLY)
    try:
        _give(fd, owner)
    finally:
        os.close(fd)


def _control(job: str, jobs: Path | None) -> set[str]:
    """The words in the control file (its owner writes it: read it as untrusted, bounded)."""
    try:
        fd = os.open(
            control_path(job, jobs), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        )
    except OSError:
        return set()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return set()
        return set(os.read(fd, MAX_CONTROL_BYTES).decode(errors="replace").split())
    except OSError:
        return set()
    finally:
        os.close(fd)


def _add_control(job: str, word: str, jobs: Path | None) -> bool:
    try:
        fd = os.open(
            control_path(job, jobs),
            os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
        )
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.write(fd, (word + "\n").encode())
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def mark_seen(job: str, jobs: Path | None = None) -> None:
    """Record that a client showed this job's outcome, so it is not offered again."""
    _add_control(job, "seen", jobs)


def request_cancel(job: str, jobs: Path | None = None) -> bool:
    """Ask the worker to stop before its next step; False when this user may not ask."""
    return _add_control(job, "cancel", jobs)


def cancel_requested(job: str, jobs: Path | None = None) -> bool:
    return "cancel" in _control(job, jobs)


#: A saved plan copy is a few tens of KiB.
MAX_PLAN_BYTES = 1 << 20


def load_plan(job: str, jobs: Path | None = None) -> Plan | None:
    from dlenv_tui.fsutil import read_bounded

    try:
        text = read_bounded(plan_path(job, jobs), MAX_PLAN_BYTES, "plan copy")
        return from_data(Plan, json.loads(text))
    except (DlenvError, OSError, ValueError, RecursionError, DataError):
        return None


def find_unseen_job(jobs: Path | None = None) -> JobInfo | None:
    """This user's running job, or their newest finished job whose outcome nobody showed yet.

    Jobs belong to the user who asked for them (``Owner.invoking()``: under sudo, the user behind
    it): root's own dlenv never follows, reports or marks seen another user's job.
    """
    directory = jobs or locations.jobs_dir()
    me = Owner.invoking().uid
    for name in _recent_journals(directory):
        job = name[: -len(".jsonl")]
        path = directory / name
        try:
            owner = os.stat(path, follow_symlinks=False).st_uid
        except OSError:
            continue
        if owner != me or not os.access(path, os.R_OK):
            continue
        if job_running(job, directory):
            return JobInfo(job, path, running=True, plan=load_plan(job, directory))
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
            if not job_running(job, directory):
                # The worker let go of the journal: whatever it wrote is there now.
                consume(f.read())
                break
            time.sleep(poll)
    result = builder.result(
        "The job stopped without finishing (its worker was killed or the host rebooted); "
        "run dlenv again to resume."
    )
    mark_seen(job, directory)
    return result
