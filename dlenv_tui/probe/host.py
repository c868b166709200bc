"""The one seam through which the probe reads a host: files, directories, programs and their output.

``LocalHost(Path("/"))`` reads this machine. ``LocalHost(DIR)`` reads the tree under ``DIR`` as if it
were ``/`` (tests, a mounted image) and never starts a program; instead its answers come from fixture
files, so a sysroot is a complete, deterministic host:

``DIR/.commands/<key>.out``
    stdout of the command whose argv gives ``<key>`` (see ``command_key``: ``lspci -nn`` →
    ``lspci_-nn``, ``mokutil --sb-state`` → ``mokutil_--sb-state``); ``<key>.err`` is its stderr and
    ``<key>.rc`` its exit status (default 0). A command with neither ``.out`` nor ``.rc`` is missing.
``DIR/.disk``
    ``FREE TOTAL`` in bytes: what ``disk_usage`` answers for every path. Without it a sysroot's
    disk usage is that of the real directory under ``DIR`` (right for a mounted image).

A program counts as installed under a sysroot when ``DIR/usr/bin/<name>`` (or another usual bin
directory) exists or when ``.commands/`` has an answer for it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: Where `which` looks under a sysroot; on the real host the process's PATH plus the sbin dirs.
BIN_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

_KEY_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.,=+@:")


@dataclass(frozen=True)
class CommandResult:
    """What a finished (or timed-out) read-only command printed."""

    argv: tuple[str, ...]
    returncode: int
    """Exit status; 124 when it timed out (as coreutils' timeout(1) reports it)."""
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """stdout and stderr together: several tools (mokutil) print their answer on stderr."""
        return self.stdout + self.stderr


@dataclass(frozen=True)
class DiskUsage:
    free_bytes: int
    """Bytes an unprivileged user may still write (``f_bavail``)."""
    total_bytes: int


class Host(Protocol):
    """Read-only access to a host. Paths are absolute paths *on that host*."""

    root: Path
    """``/`` or the ``--sysroot`` directory."""

    def read_text(self, path: str) -> str | None:
        """The file's text (undecodable bytes kept as surrogate escapes); None if missing/unreadable."""

    def list_dir(self, path: str) -> list[str] | None:
        """Sorted entry names; None if the directory is missing or unreadable."""

    def exists(self, path: str) -> bool: ...

    def which(self, program: str) -> str | None:
        """The program's path on the host, or None when it is not installed."""

    def run(self, argv: Sequence[str], timeout: float = 5.0) -> CommandResult | None:
        """Run a read-only command (no shell, ``LC_ALL=C``); None when the program is missing."""

    def disk_usage(self, path: str) -> DiskUsage | None:
        """Free and total bytes of the filesystem holding ``path`` (or its nearest existing parent)."""

    def http_ping(self, socket_path: str, timeout: float = 1.0) -> bool | None:
        """Whether an HTTP API on that UNIX socket answers ``GET /_ping``; None when it cannot tell."""


def command_key(argv: Sequence[str]) -> str:
    """The fixture file stem for ``argv``: program base name and arguments joined by ``_``.

    Characters that do not belong in a file name are written as ``%XX`` so different argv never
    share a key.
    """
    parts = [os.path.basename(argv[0]), *argv[1:]] if argv else []
    return "_".join(
        "".join(c if c in _KEY_SAFE else f"%{ord(c):02X}" for c in part) for part in parts
    )


def _command_env() -> dict[str, str]:
    env = dict(os.environ)
    # Parsers match English text; LANGUAGE would still translate GNU gettext messages.
    env.update(LC_ALL="C", LANG="C")
    env.pop("LANGUAGE", None)
    return env


class LocalHost:
    """This machine (``root`` = ``/``) or a directory tree standing in for one."""

    def __init__(self, root: Path | str = Path("/")) -> None:
        self.root = Path(root)
        self.is_sysroot = self.root.resolve() != Path("/")

    def path(self, path: str) -> Path:
        """Where the host path ``path`` lies on this machine."""
        if not self.is_sysroot:
            return Path(path)
        return self._inside(path)

    def _inside(self, path: str) -> Path:
        # Resolve a final symlink inside the sysroot: an absolute link target (common in /lib/modules
        # and /etc of a mounted image) means the sysroot's path, not this machine's.
        p = self.root / path.lstrip("/")
        for _ in range(8):
            if not p.is_symlink():
                break
            target = os.readlink(p)
            p = (self.root / target.lstrip("/")) if target.startswith("/") else p.parent / target
        return p

    def read_text(self, path: str) -> str | None:
        try:
            return self.path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except (OSError, ValueError):
            return None

    def list_dir(self, path: str) -> list[str] | None:
        try:
            return sorted(os.listdir(self.path(path)))
        except (OSError, ValueError):
            return None

    def exists(self, path: str) -> bool:
        try:
            return self.path(path).exists()
        except (OSError, ValueError):
            return False

    def which(self, program: str) -> str | None:
        if "/" in program:
            return None
        if not self.is_sysroot:
            import shutil

            search = os.pathsep.join([os.environ.get("PATH", os.defpath), *BIN_DIRS])
            return shutil.which(program, path=search)
        for directory in BIN_DIRS:
            candidate = f"{directory}/{program}"
            if self.exists(candidate):
                return candidate
        commands = self.root / ".commands"
        try:
            names = os.listdir(commands)
        except OSError:
            return None
        key = command_key([program])
        if any(n.rsplit(".", 1)[0] == key or n.startswith(key + "_") for n in names):
            return f"/usr/bin/{program}"
        return None

    def run(self, argv: Sequence[str], timeout: float = 5.0) -> CommandResult | None:
        if not argv:
            return None
        if self.is_sysroot:
            return self._fixture_command(argv)
        try:
            proc = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env=_command_env(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return CommandResult(
                tuple(argv), 124, _decode(exc.stdout), _decode(exc.stderr), timed_out=True
            )
        except OSError:  # not installed, not executable, not a binary we can start
            return None
        return CommandResult(
            tuple(argv), proc.returncode, _decode(proc.stdout), _decode(proc.stderr)
        )

    def _fixture_command(self, argv: Sequence[str]) -> CommandResult | None:
        base = self.root / ".commands" / command_key(argv)
        out = _read(base.with_name(base.name + ".out"))
        rc_text = _read(base.with_name(base.name + ".rc"))
        if out is None and rc_text is None:
            return None
        try:
            rc = int((rc_text or "0").strip())
        except ValueError:
            rc = 0
        err = _read(base.with_name(base.name + ".err")) or ""
        return CommandResult(tuple(argv), rc, out or "", err)

    def disk_usage(self, path: str) -> DiskUsage | None:
        if self.is_sysroot:
            fixed = _read(self.root / ".disk")
            if fixed is not None:
                try:
                    free, total = (int(v) for v in fixed.split()[:2])
                except ValueError:
                    return None
                return DiskUsage(free, total)
        p = self.path(path)
        for candidate in (p, *p.parents):
            try:
                st = os.statvfs(candidate)
            except OSError:
                continue
            return DiskUsage(st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)
        return None

    def http_ping(self, socket_path: str, timeout: float = 1.0) -> bool | None:
        if self.is_sysroot:
            return None
        return ping_unix_socket(socket_path, timeout)


def ping_unix_socket(path: str, timeout: float = 1.0) -> bool:
    """``GET /_ping`` over a UNIX socket (Docker's and Podman's API both answer it).

    Permission denied counts as answering: the daemon is there, this user just may not talk to it
    (the docker-group check says so separately).
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            reply = sock.recv(64)
    except PermissionError:
        return True
    except OSError:
        return False
    return reply.startswith(b"HTTP/")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None


def _decode(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")
