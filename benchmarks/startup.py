"""Start-up times: `dlenv check --json` against a minimal Textual app that starts and exits.

Run: ``.venv/bin/python benchmarks/startup.py [--runs N]``. Every measurement is a fresh process of
this same interpreter, timed from spawn to exit; runs are interleaved (A B A B …) after one warm-up
each so disk caches and CPU drift hit all measurements alike, and medians are reported. Targets:
`dlenv check --json` takes at most half the Textual app's time (issue 2); the wizard's first screen
painted and taking keys takes at most 1.25× a minimal Textual app's first screen (issue 6). Exit
status 1 when a target is missed.

To add a measurement, append a ``Measurement`` to ``MEASUREMENTS`` and, if it has a target, a
``Target`` to ``TARGETS``. ``tty=True`` runs it on a pseudo terminal
(80×24), as a user would see it; a Textual app there uses its real Linux driver.
"""

from __future__ import annotations

import argparse
import atexit
import compileall
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fcntl import ioctl
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Where main() saves three profiles for the "3 profiles" measurement (a fresh temporary directory).
PROFILES_DIR = Path(tempfile.mkdtemp(prefix="dlenv-startup-"))
atexit.register(shutil.rmtree, PROFILES_DIR, ignore_errors=True)

MINIMAL_TEXTUAL_APP = """
from textual.app import App


class Minimal(App[None]):
    def on_mount(self) -> None:
        self.exit()


Minimal().run()
"""


# Added by the wizard (issue 6): `dlenv` with no arguments, through the same entry point as the
# installed script (dlenv_tui.cli.main: argument parsing included), from spawn until its start screen
# has been painted complete and is taking keys, then the app's normal exit. "Complete" waits for a
# frame after the one in which the footer drew its keys (``Footer.items``: what it last rendered);
# the pty output must show them too. The probe and the job lookup start in thread workers after
# that first paint; os._exit, as soon as the app's normal exit is done (the terminal restored),
# skips waiting for them (the user would already be using the screen) and skips interpreter
# teardown, which is no part of "time to the first screen" — so the baseline below ends the same
# way. It has to run inside ``App.run_async``: after it, ``asyncio.run`` waits for the thread
# workers (``shutdown_default_executor``), which put the whole probe into the time.
EXIT_AFTER_APP = """
import os
from textual.app import App

_run_async = App.run_async


async def run_async(self, *args, **kwargs):
    await _run_async(self, *args, **kwargs)
    os._exit(0)


App.run_async = run_async
"""

WIZARD_FIRST_SCREEN = (
    EXIT_AFTER_APP
    + """
from dlenv_tui.screens.start import StartScreen
from dlenv_tui.widgets.footer import Footer

_mount = StartScreen.on_mount


def on_mount(self):
    _mount(self)
    footer = self.query_one(Footer)
    refreshes = 0

    def exit_when_complete():
        nonlocal refreshes
        refreshes += 1
        if footer.items or refreshes > 100:
            self.call_after_refresh(self.app.exit)
        else:
            self.call_after_refresh(exit_when_complete)

    self.call_after_refresh(exit_when_complete)


StartScreen.on_mount = on_mount
from dlenv_tui.cli import main

main([])
"""
)

# The wizard's baseline: a minimal Textual app measured exactly like the wizard: its (empty) first
# screen painted, the app's normal exit, then os._exit. Ending the wizard with os._exit but the
# baseline with a full interpreter teardown (about 50 ms here) would flatter the wizard.
MINIMAL_TEXTUAL_FIRST_SCREEN = (
    EXIT_AFTER_APP
    + """

class Minimal(App[None]):
    def on_mount(self) -> None:
        self.call_after_refresh(self.exit)


Minimal().run()
"""
)


@dataclass(frozen=True)
class Measurement:
    name: str
    argv: tuple[str, ...]
    tty: bool = False
    """Run on a pseudo terminal instead of pipes."""
    ok_codes: tuple[int, ...] = (0,)
    env: dict[str, str] = field(default_factory=dict)
    expect: tuple[bytes, ...] = ()
    """Texts the terminal output must contain (proof that the screen was painted); pty only."""


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
        "minimal Textual first screen (pty)",
        (sys.executable, "-c", MINIMAL_TEXTUAL_FIRST_SCREEN),
        tty=True,
    ),
    Measurement(
        "wizard first screen (pty)",
        (sys.executable, "-c", WIZARD_FIRST_SCREEN),
        tty=True,
        env={"DLENV_CONFIG_DIR": "/nonexistent/dlenv-benchmark"},
        expect=(b"No profiles yet", b"Quit"),  # the profile list and the footer to its end
    ),
    # For information (no target): the same with three saved profiles to list (see main()).
    Measurement(
        "wizard first screen, 3 profiles (pty)",
        (sys.executable, "-c", WIZARD_FIRST_SCREEN),
        tty=True,
        env={"DLENV_CONFIG_DIR": str(PROFILES_DIR)},
        expect=(b"gpu-dev-3", b"Quit"),
    ),
]

TARGETS = [
    Target("dlenv check --json", "minimal Textual app (pty)", 0.5),
    Target("wizard first screen (pty)", "minimal Textual first screen (pty)", 1.25),  # issue 6
]


def run_once(m: Measurement) -> float:
    env = {**os.environ, "TERM": os.environ.get("TERM", "xterm-256color"), **m.env}
    start = time.perf_counter()
    if m.tty:
        code, output, elapsed = _run_on_pty(m.argv, env, start)
        for text in m.expect:
            if text not in output:
                raise SystemExit(f"{m.name}: {text!r} never reached the terminal")
    else:
        code = subprocess.run(
            m.argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        ).returncode
        elapsed = time.perf_counter() - start
    if code not in m.ok_codes:
        raise SystemExit(f"{m.name}: exit status {code}, expected {m.ok_codes}")
    return elapsed


def _run_on_pty(argv: Sequence[str], env: dict[str, str], start: float) -> tuple[int, bytes, float]:
    """Run ``argv`` on an 80×24 pseudo terminal; its exit status, everything it wrote and the
    seconds from ``start`` to its exit.

    Then, untimed, wait until every process it left in its session is gone: the wizard's probe
    (a child process started after the first paint) outlives the ``os._exit`` and would otherwise
    run on into the next measurement.
    """
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    output = bytearray()
    try:
        # Drain the terminal output; a full pty buffer would stall the app and skew the time.
        while True:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every slave end closed, the process is gone
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=60)
        elapsed = time.perf_counter() - start
        _wait_for_session(proc.pid)
        return code, bytes(output), elapsed
    finally:
        os.close(master)


def _wait_for_session(sid: int, limit: float = 30.0) -> None:
    """Until no process is left in process group ``sid`` (the session leader's), or ``limit`` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            os.killpg(sid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def _save_profiles(config_dir: Path) -> None:
    """Three profiles as a user would have them: recommended for a fixture host, host facts kept."""
    sys.path.insert(0, str(REPO))
    from dlenv_tui.probe import load_facts
    from dlenv_tui.profiles import ProfileStore, recommended_profile

    facts = load_facts(REPO / "tests" / "fixtures" / "facts" / "ubuntu-24.04-rtx4090-fresh.json")
    store = ProfileStore(config_dir / "profiles")
    for n in (1, 2, 3):
        store.save(recommended_profile(f"gpu-dev-{n}", facts))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=11, help="timed runs per measurement (default 11)"
    )
    args = parser.parse_args(argv)
    # As pip leaves an installed package: byte-compiled. With PYTHONDONTWRITEBYTECODE set (as on
    # our CI image) an edited checkout would otherwise compile dlenv's changed modules from source
    # in every run, while Textual's come from its installed .pyc files.
    compileall.compile_dir(REPO / "dlenv_tui", quiet=1)
    _save_profiles(PROFILES_DIR)

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
