"""The wizard's probe: `python -m dlenv_tui.probe` in a child process, with a timeout.

Another process, not a thread: the probe's imports and NVML then never hold the UI's GIL, and a
driver call that hangs is given up on (the child is killed). No Textual here.
"""

from __future__ import annotations

import contextlib
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.model import HostFacts

#: How long the wizard waits for `python -m dlenv_tui.probe` before it says the probe hung.
PROBE_TIMEOUT_S = 120.0

#: Probe processes still running; the wizard kills them when it quits (a hung one would linger).
_PROBES: set[subprocess.Popen[str]] = set()


def kill_probes() -> None:
    for proc in list(_PROBES):
        with contextlib.suppress(OSError):
            proc.kill()


def probe_in_subprocess(sysroot: str | None, timeout: float = PROBE_TIMEOUT_S) -> HostFacts:
    """This host's facts from `python -m dlenv_tui.probe`, run by this interpreter.

    Another process, not a thread: the probe's imports and NVML then never hold the UI's GIL, and a
    driver call that hangs is given up on after ``timeout`` seconds (the child is killed).
    Raises ``DlenvError`` with one sentence when the probe fails, hangs or answers nonsense.
    """
    import json
    import sys

    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import DataError, HostFacts, from_data

    argv = [sys.executable, "-m", "dlenv_tui.probe"]
    if sysroot:
        argv += ["--sysroot", sysroot]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _PROBES.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise DlenvError(
            f"the probe did not answer within {timeout:.0f} s (a hung driver call?); "
            "run `dlenv check` in another terminal to see where it stops"
        ) from None
    finally:
        _PROBES.discard(proc)
    if proc.returncode != 0:
        reason = (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise DlenvError(f"the probe failed: {reason}")
    try:
        return from_data(HostFacts, json.loads(stdout))
    except (ValueError, DataError) as exc:
        raise DlenvError(f"the probe answered something that is not host facts: {exc}") from None
