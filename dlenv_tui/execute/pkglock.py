"""Waiting for another package manager (apt, dpkg, dnf, rpm, zypper) to let go of its lock."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Sequence

#: Locks apt and dpkg take with fcntl(F_SETLK); a free lock can be taken and dropped at once.
APT_FCNTL_LOCKS = (
    "/var/lib/dpkg/lock-frontend",
    "/var/lib/dpkg/lock",
    "/var/lib/apt/lists/lock",
    "/var/cache/apt/archives/lock",
)
#: rpm's database lock (used by rpm, dnf, yum and zypper underneath).
RPM_FCNTL_LOCKS = ("/var/lib/rpm/.rpm.lock",)
#: dnf and zypper announce themselves with pid files instead.
DNF_PID_LOCKS = (
    "/var/run/dnf.pid",
    "/var/lib/dnf/rpmdb_lock.pid",
    "/var/cache/dnf/metadata_lock.pid",
)
ZYPPER_PID_LOCKS = ("/run/zypp.pid",)

_APT_PROGRAMS = frozenset({"apt-get", "apt", "aptitude", "dpkg", "ubuntu-drivers", "apt-key"})
_RPM_PROGRAMS = frozenset({"dnf", "dnf5", "yum", "rpm"})
_ZYPPER_PROGRAMS = frozenset({"zypper"})


def locks_for(argv: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (fcntl lock files, pid lock files) a step running ``argv`` will need; empty if none."""
    if not argv:
        return (), ()
    name = os.path.basename(argv[0])
    if name in _APT_PROGRAMS:
        return APT_FCNTL_LOCKS, ()
    if name in _RPM_PROGRAMS:
        return RPM_FCNTL_LOCKS, DNF_PID_LOCKS
    if name in _ZYPPER_PROGRAMS:
        return RPM_FCNTL_LOCKS, ZYPPER_PID_LOCKS
    return (), ()


def fcntl_lock_held(path: str) -> bool:
    """Whether another process holds the fcntl lock on ``path`` (a missing file is free)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        # Dropped at once: we only look, so a package manager starting now is not disturbed.
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def pid_lock_held(path: str) -> bool:
    """Whether ``path`` names a live process other than this one."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            text = f.read(64).strip()
    except OSError:
        return False
    if not text.isdigit():
        return False
    pid = int(text)
    if pid in (0, os.getpid()):
        return False
    return os.path.exists(f"/proc/{pid}")


def held_lock(argv: Sequence[str]) -> str:
    """The first lock ``argv`` needs that someone else holds, or "" when all are free."""
    fcntl_paths, pid_paths = locks_for(argv)
    for path in fcntl_paths:
        if fcntl_lock_held(path):
            return path
    for path in pid_paths:
        if pid_lock_held(path):
            return path
    return ""


def wait_for_locks(
    argv: Sequence[str],
    timeout: float,
    on_wait: Callable[[str], None],
    cancel: threading.Event | None = None,
    poll: float = 1.0,
) -> str:
    """Wait until the locks ``argv`` needs are free; return "" then, or the lock still held.

    ``on_wait(path)`` is called once when waiting starts and again whenever the held lock changes,
    so the user sees why nothing is happening.
    """
    deadline = time.monotonic() + timeout
    reported = ""
    while True:
        path = held_lock(argv)
        if not path:
            return ""
        if path != reported:
            on_wait(path)
            reported = path
        if time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
            return path
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())) or 0.01)
