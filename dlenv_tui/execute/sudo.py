"""Starting the root worker: directly as root, through `sudo -n`, or `sudo -S` with a password.

The password goes to sudo's stdin only when sudo prompts for it (its prompt is recognised on
stderr), never into argv, the environment, a log, the journal or a profile.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import IO, Literal

from dlenv_tui.errors import DlenvError
from dlenv_tui.execute.worker import PREFIX

SudoMode = Literal["root", "nopasswd", "password", "none"]
#: Recognisable on sudo's stderr; a second one means the password was wrong.
PROMPT = "[dlenv] sudo password: "
START_TIMEOUT_S = 90.0


class SudoError(DlenvError):
    """sudo could not start the worker; one sentence (``sudo rejected the password`` and so on)."""


class WrongPassword(SudoError):
    """sudo rejected the password it was given; the caller may ask for it again."""

    def __init__(self) -> None:
        super().__init__("sudo rejected the password")


class PasswordNeeded(SudoError):
    """sudo needs the user's password and none was given."""


def sudo_mode() -> SudoMode:
    """How the worker will be started on this host for this user."""
    if os.geteuid() == 0:
        return "root"
    if shutil.which("sudo") is None:
        return "none"
    try:
        proc = subprocess.run(
            ["sudo", "-n", "true"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=10,
            env={**os.environ, "LC_ALL": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return "password"
    return "nopasswd" if proc.returncode == 0 else "password"


def worker_command(python: str | None = None, lock_timeout: float | None = None) -> list[str]:
    """argv of the worker itself; ``-I`` so root's Python ignores the caller's cwd and env."""
    argv = [python or sys.executable, "-I", "-m", "dlenv_tui.worker"]
    if lock_timeout is not None:
        argv += ["--lock-timeout", f"{lock_timeout:g}"]
    return argv


def launch_argv(mode: SudoMode, command: Sequence[str]) -> list[str]:
    """What the client runs to start ``command`` as root in ``mode``.

    No ``--preserve-env``: under sudo the worker trusts nothing from the user's environment.
    """
    if mode == "root":
        return list(command)
    if mode == "nopasswd":
        return ["sudo", "-n", "--", *command]
    if mode == "password":
        return ["sudo", "-S", "-p", PROMPT, "--", *command]
    raise SudoError(
        "Privileged steps need root and sudo is not installed; run dlenv as root or install sudo."
    )


def start_worker(
    request_line: str | bytes,
    *,
    password: str | None = None,
    python: str | None = None,
    lock_timeout: float | None = None,
    mode: SudoMode | None = None,
    command: Sequence[str] | None = None,
) -> str:
    """Start the root worker on ``request_line`` (see ``execute.request``) and return its job id
    once it runs detached.

    Raises PasswordNeeded, WrongPassword, SudoError (no sudo, not allowed) or the
    worker's own one-sentence refusal (an invalid plan, another job running) as DlenvError.
    ``command`` replaces the worker's argv (tests start a worker with a test planner); it is
    this user's own choice of what to run, so it grants nothing sudo does not already allow.
    """
    mode = mode or sudo_mode()
    if mode == "password" and password is None:
        raise PasswordNeeded("sudo needs your password to start the dlenv worker.")
    if command:
        extra = ["--lock-timeout", f"{lock_timeout:g}"] if lock_timeout is not None else []
        argv = launch_argv(mode, [*command, *extra])
    else:
        argv = launch_argv(mode, worker_command(python, lock_timeout))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C"},
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise SudoError(f"Could not start the dlenv worker: {exc.strerror or exc}.") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    out = b""
    err = b""
    prompts = 0
    job = ""
    error = ""
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while sel.get_map() and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                chunk = os.read(key.fd, 4096)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                if key.data == "err":
                    err += chunk
                    seen = err.count(PROMPT.encode())
                    if seen > prompts:
                        prompts = seen
                        if prompts == 1 and password is not None:
                            proc.stdin.write(password.encode() + b"\n")
                            proc.stdin.flush()
                        else:
                            # A second prompt: the password was wrong. EOF makes sudo give up.
                            _close(proc.stdin)
                            raise WrongPassword
                    continue
                out += chunk
                while b"\n" in out:
                    raw, out = out.split(b"\n", 1)
                    line = raw.decode(errors="replace")
                    if not line.startswith(PREFIX + " "):
                        continue
                    word, _, rest = line[len(PREFIX) + 1 :].partition(" ")
                    if word == "READY":
                        raw = (
                            request_line
                            if isinstance(request_line, bytes)
                            else request_line.encode()
                        )
                        # A worker that refuses an oversized request stops reading: its
                        # one-sentence answer follows on stdout.
                        with contextlib.suppress(BrokenPipeError):
                            proc.stdin.write(raw + b"\n")
                        _close(proc.stdin)
                    elif word == "JOB":
                        job = rest.strip()
                    elif word == "ERROR":
                        error = rest.strip()
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        code = None
    finally:
        sel.close()
        _close(proc.stdin)
        if proc.poll() is None:
            # Still waiting: sudo may be stuck on a prompt we cannot answer.
            _close(proc.stdout)
            _close(proc.stderr)
    if job:
        return job
    if error:
        raise DlenvError(error, exit_code=code if code in (1, 2, 3) else 1)
    text = err.decode(errors="replace").replace(PROMPT, "")
    if "incorrect password" in text or "Sorry, try again" in text:
        raise WrongPassword
    detail = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
    if code is None:
        raise SudoError("The dlenv worker did not start within 90 s.")
    raise SudoError(
        f"Could not start the dlenv worker: {detail or f'exit status {code}'}"
        + ("" if detail.endswith(".") else ".")
    )


def _close(stream: IO[bytes]) -> None:
    with contextlib.suppress(OSError):
        stream.close()
