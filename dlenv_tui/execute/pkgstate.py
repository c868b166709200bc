"""Is a package really installed? Interrupted installs found and finished before anything is "done".

dpkg keeps a package that was cut off mid-install (power loss, OOM, a killed postinst) as
``half-installed``, ``unpacked``, ``half-configured``, ``triggers-awaited`` or ``triggers-pending``;
``dpkg-query -W`` still exits 0 for it, so an exit status is not enough: only ``install ok
installed`` is done. Before a package step runs (with the package manager's lock taken), the
worker asks the package database for such leftovers and finishes them as a step of its own
(``dpkg --configure -a``; on rpm hosts ``dnf remove --duplicates`` / ``zypper verify``), then
verifies after the step that every package it installs is fully installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dlenv_tui.execute import pkglock

DPKG = "/usr/bin/dpkg"
DPKG_QUERY = "/usr/bin/dpkg-query"
DNF = "/usr/bin/dnf"
ZYPPER = "/usr/bin/zypper"
RPM = "/usr/bin/rpm"
INSTALLED = "install ok installed"
#: dpkg states that mean "cut off half-way" (dpkg-query(1), ``${Status}``'s third word).
BROKEN_STATES = frozenset(
    {"half-installed", "unpacked", "half-configured", "triggers-awaited", "triggers-pending"}
)
QUERY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Repair:
    """How one package family finds and finishes an interrupted install."""

    family: str
    audit: tuple[str, ...]
    """Prints what is broken (empty output: nothing is)."""
    repair: tuple[str, ...]
    title: str


REPAIRS = {
    "apt": Repair(
        "apt",
        (DPKG, "--audit"),
        (DPKG, "--configure", "-a"),
        "Finish an interrupted package install (dpkg --configure -a)",
    ),
    "rpm": Repair(
        "rpm",
        (DNF, "-q", "check", "--duplicates"),
        (DNF, "-y", "remove", "--duplicates"),
        "Clean up an interrupted package transaction (dnf remove --duplicates)",
    ),
    "zypper": Repair(
        "zypper",
        (ZYPPER, "--non-interactive", "verify", "--dry-run"),
        (ZYPPER, "--non-interactive", "verify"),
        "Repair broken package dependencies (zypper verify)",
    ),
}


def family(argv: Sequence[str]) -> str:
    """ "apt", "rpm", "zypper" for a package-manager step, else ""."""
    if not argv:
        return ""
    name = os.path.basename(argv[0])
    if name in ("apt-get", "apt", "dpkg", "ubuntu-drivers"):
        return "apt"
    if name in ("dnf", "dnf5", "yum", "rpm"):
        return "rpm"
    if name == "zypper":
        return "zypper"
    return ""


def installs(argv: Sequence[str]) -> tuple[str, ...]:
    """The package names an install step asks for (apt-get/dnf/zypper install …); URLs left out."""
    words = [a for a in argv[1:] if not a.startswith("-")]
    for i, word in enumerate(words):
        if word in ("install", "in"):
            names = [w.split("=", 1)[0] for w in words[i + 1 :] if "/" not in w]
            return tuple(names)
    return ()


def _env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C"}


def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[int | None, str]:
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=env or _env(),
            timeout=QUERY_TIMEOUT_S,
            cwd="/",
            close_fds=True,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    return proc.returncode, proc.stdout + proc.stderr


def dpkg_states(packages: Sequence[str]) -> dict[str, str]:
    """Package -> dpkg's ``${Status}`` ("" when dpkg does not know it)."""
    if not packages:
        return {}
    _code, out = _run((DPKG_QUERY, "-W", "-f=${Package}\t${Status}\n", *packages))
    states = dict.fromkeys(packages, "")
    for line in out.splitlines():
        name, sep, status = line.partition("\t")
        if sep and name in states:
            states[name] = status.strip()
    return states


def not_installed(fam: str, packages: Sequence[str]) -> dict[str, str]:
    """The packages of ``packages`` that are not fully installed, with their state."""
    if fam == "apt":
        return {p: s or "not installed" for p, s in dpkg_states(packages).items() if s != INSTALLED}
    missing = {}
    for pkg in packages:
        code, _ = _run((RPM, "-q", pkg))
        if code != 0:
            missing[pkg] = "not installed"
    return missing


def audit(fam: str) -> str:
    """What the package database says is left half-done ("" when nothing is, or cannot tell)."""
    repair = REPAIRS.get(fam)
    if repair is None or not os.path.exists(repair.audit[0]):
        return ""
    code, out = _run(repair.audit)
    if fam == "apt":
        return out.strip()
    if fam == "zypper":
        return "" if code == 0 and "satisfied" in out else out.strip()
    return out.strip() if code not in (0, None) or out.strip() else ""


@contextlib.contextmanager
def apt_frontend_lock() -> Iterator[bool]:
    """Hold dpkg's frontend lock (as apt does) while the database is read and repaired.

    Yields False when another process holds it. dpkg run with ``DPKG_FRONTEND_LOCKED=1`` works
    under it; apt-get does not honour that variable, so the lock is let go just before apt runs.
    """
    path = pkglock.APT_FCNTL_LOCKS[0]
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o640)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
