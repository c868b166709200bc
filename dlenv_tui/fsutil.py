"""Atomic file writes shared by profiles (user files) and the root worker (system files)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
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


def write_owned(path: str | os.PathLike[str], data: bytes, mode: int, uid: int, gid: int) -> None:
    """``write_atomic`` for root writing a file of another user's (`sudo dlenv …`): into a
    directory that user owns (opened without following a symlink, so it cannot be swapped
    for one), the file created exclusively, chowned to ``uid:gid`` before any byte is written."""
    directory = os.path.dirname(os.fspath(path)) or "."
    name = os.path.basename(os.fspath(path))
    try:
        dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise PermissionError(
            errno.EACCES,
            f"{directory} is a symlink or not a directory, so it does not belong to the user behind sudo",
        ) from None
    try:
        if os.fstat(dfd).st_uid != uid:
            raise PermissionError(13, f"{directory} does not belong to the user behind sudo")
        tmp = f".{name}.{os.urandom(6).hex()}.dlenv-tmp"
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            mode,
            dir_fd=dfd,
        )
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), mode)
                os.fchown(out.fileno(), uid, gid)
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise
        with contextlib.suppress(OSError):
            os.fsync(dfd)
    finally:
        os.close(dfd)


def make_dirs_owned(path: str | os.PathLike[str], mode: int, uid: int, gid: int) -> None:
    """``mkdir -p`` by root for another user: each missing directory is made inside one that
    user owns (no symlink followed at that step) and handed to ``uid:gid``; an existing
    directory is left as it is."""
    target = os.path.abspath(os.fspath(path))
    missing: list[str] = []
    existing = target
    while not os.path.isdir(existing):
        existing, tail = os.path.split(existing)
        missing.insert(0, tail)
        if not tail:
            break
    if not missing:
        return
    fd = os.open(existing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in missing:
            if os.fstat(fd).st_uid != uid:
                raise PermissionError(13, f"{existing} does not belong to the user behind sudo")
            made = True
            try:
                os.mkdir(part, mode, dir_fd=fd)
            except FileExistsError:
                made = False
            child = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
            os.close(fd)
            fd = child
            existing = os.path.join(existing, part)
            if made:
                os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


class ReadError(OSError):
    """A file dlenv will not read: not a regular file, too big, unreadable (``str()``: one sentence)."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence

    def __str__(self) -> str:
        return self.sentence


def read_bounded(path: str | os.PathLike[str], limit: int, what: str = "file") -> str:
    """The text of a regular file of at most ``limit`` bytes; ReadError with one sentence otherwise.

    Opened non-blocking, so a FIFO never hangs; a device (``/dev/zero``), a directory or a file
    over the limit is refused before anything is read into memory.
    """
    return read_bounded_bytes(path, limit, what).decode("utf-8", errors="replace")


def read_bounded_bytes(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ReadError(f"Cannot read the {what} {name}: {exc.strerror or exc}.") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ReadError(f"Cannot read the {what} {name}: Is a directory.")
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(f"The {what} {name} is not a regular file; give the path of a file.")
        if st.st_size > limit:
            raise ReadError(
                f"The {what} {name} is larger than {_size(limit)}; that is not a {what} dlenv wrote."
            )
        os.set_blocking(fd, True)
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
    except ReadError:
        raise
    except OSError as exc:
        raise ReadError(f"Cannot read the {what} {name}: {exc.strerror or exc}.") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ReadError(f"The {what} {name} is larger than {_size(limit)}.")
    return data


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 1024} KiB"


def refuse_symlink(path: str | os.PathLike[str], what: str = "output") -> None:
    """Raise ReadError (one sentence) when ``path`` or a directory above it is a symlink.

    Used before writing a user-named output (``-o FILE``, ``--output DIR``) so a planted link
    never redirects the write. The file itself may never be a symlink; a directory above it may
    be one only when root or this user made it (``/var/run`` -> ``/run``), never someone else's.
    """
    name = os.path.abspath(os.fspath(path))
    parts = [p for p in name.split("/")[1:] if p]
    current = "/"
    for i, part in enumerate(parts):
        current = os.path.join(current, part)
        try:
            st = os.lstat(current)
        except OSError:
            return
        last = i == len(parts) - 1
        if stat.S_ISLNK(st.st_mode) and (last or st.st_uid not in (0, os.geteuid())):
            raise ReadError(
                f"The {what} path {name} goes through the symlink {current}; "
                "dlenv does not write through symlinks: give the real path."
            )
