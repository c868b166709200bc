"""Atomic file writes shared by profiles (user files) and the root worker (system files)."""

from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` all or nothing: a temp file beside it, fsync, rename, fsync the dir.

    A crash or a full disk leaves either the old file or the new one, never half of either; the
    mode is set before any byte is written, so a secret is never briefly world-readable.
    """
    directory = os.path.dirname(os.fspath(path)) or "."
    name = os.path.basename(os.fspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".dlenv-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
