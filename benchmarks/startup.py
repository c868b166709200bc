"""Start-up times: `dlenv check --json` against a minimal Textual app that starts and exits.

Run: ``.venv/bin/python benchmarks/startup.py [--runs N]``. Every measurement is a fresh process of
this same interpreter, timed from spawn to exit; runs are interleaved (A B A B …) after one warm-up
each so disk caches and CPU drift hit all measurements alike, and medians are reported. The target
(ISSUE 2): `dlenv check --json` takes at most half the Textual app's time. Exit status 1 when a
target is missed.

To add a measurement (e.g. the wizard's first paint), append a ``Measurement`` to ``MEASUREMENTS``
and, if it has a target, a ``Target`` to ``TARGETS``. ``tty=True`` runs it on a pseudo terminal
(80×24), as a user would see it; a Textual app there uses its real Linux driver.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fcntl import ioctl
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

MINIMAL_TEXTUAL_APP = """
from textual.app import App


class Minimal(App[None]):
    def on_mount(self) -> None:
        self.exit()


Minimal().run()
"""


# Added by the wizard (issue 6): the real wizard (no demo) from spawn until its start screen has been
# painted once and is taking keys, then a normal exit. The probe runs in a thread worker after that
# first paint; os._exit skips waiting for it, since the user would already be using the screen.
WIZARD_FIRST_SCREEN = """
import os
from dlenv_tui.app import make_app
from dlenv_tui.screens.start import StartScreen

_mount = StartScreen.on_mount


def on_mount(self):
    _mount(self)
    self.call_after_refresh(self.app.exit)


StartScreen.on_mount = on_mount
make_app().run()
os._exit(0)
"""


@dataclass(frozen=True)
class Measurement:
    name: str
    argv: tuple[str, ...]
    tty: bool = False
    """Run on a pseudo terminal instead of pipes."""
    ok_codes: tuple[int, ...] = (0,)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Target:
    name: str
    baseline: str
    max_ratio: float


MEASUREMENTS = [
    # Exit status 1 is "a check failed" (this box may have no GPU), still a complete run.
    Measurement(
        "dlenv check --json",
        (sys.executable, "-m", "dlenv_tui", "check", "--json"),
        ok_codes=(0, 1),
    ),
    Measurement("minimal Textual app (pty)", (sys.executable, "-c", MINIMAL_TEXTUAL_APP), tty=True),
    # issue 6: the wizard's first interactive screen, with an empty profile directory
    Measurement(
        "wizard first screen (pty)",
        (sys.executable, "-c", WIZARD_FIRST_SCREEN),
        tty=True,
        env={"DLENV_CONFIG_DIR": "/nonexistent/dlenv-benchmark"},
    ),
]

TARGETS = [
    Target("dlenv check --json", "minimal Textual app (pty)", 0.5),
    Target("wizard first screen (pty)", "minimal Textual app (pty)", 1.25),  # issue 6
]


def run_once(m: Measurement) -> float:
    env = {**os.environ, "TERM": os.environ.get("TERM", "xterm-256color"), **m.env}
    start = time.perf_counter()
    if m.tty:
        code = _run_on_pty(m.argv, env)
    else:
        code = subprocess.run(
            m.argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        ).returncode
    elapsed = time.perf_counter() - start
    if code not in m.ok_codes:
        raise SystemExit(f"{m.name}: exit status {code}, expected {m.ok_codes}")
    return elapsed


def _run_on_pty(argv: Sequence[str], env: dict[str, str]) -> int:
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    try:
        # Drain the terminal output; a full pty buffer would stall the app and skew the time.
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:  # EIO: every slave end closed, the process is gone
                    break
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=60)
    finally:
        os.close(master)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="timed runs per measurement (default 7)"
    )
    args = parser.parse_args(argv)

    times: dict[str, list[float]] = {m.name: [] for m in MEASUREMENTS}
    for m in MEASUREMENTS:
        run_once(m)  # warm-up: page cache, .pyc files
    for _ in range(args.runs):
        for m in MEASUREMENTS:
            times[m.name].append(run_once(m))

    medians = {name: statistics.median(values) for name, values in times.items()}
    width = max(len(n) for n in medians)
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, medians (min–max):")
    for name, values in times.items():
        print(
            f"  {name.ljust(width)}  {medians[name] * 1000:7.1f} ms  ({min(values) * 1000:.0f}–{max(values) * 1000:.0f})"
        )
    missed = 0
    for t in TARGETS:
        ratio = medians[t.name] / medians[t.baseline]
        verdict = "ok" if ratio <= t.max_ratio else "MISSED"
        missed += verdict != "ok"
        print(f"  {t.name} / {t.baseline} = {ratio:.2f} (target ≤ {t.max_ratio}) {verdict}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
