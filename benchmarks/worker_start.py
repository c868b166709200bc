"""Time from `dlenv apply` to the root worker's first step, against starting `dlenv --version`.

The worker now probes the host and plans the stage itself before it runs anything, so this is the
cost of the boundary: run as root on any host (the engine stage of a fresh profile; its first step
may fail on a host without nvidia-ctk, which does not matter here). Prints the median of N runs of
each and their ratio. Usage: sudo .venv/bin/python benchmarks/worker_start.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DLENV = [sys.executable, "-m", "dlenv_tui"]


def first_step(env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*DLENV, "apply", "bench", "--stage", "engine", "--yes", "--verbose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    took = float("nan")
    for line in proc.stdout:
        if line.startswith("[1/"):
            took = time.perf_counter() - start
            break
    proc.stdout.read()
    proc.wait()
    return took


def version(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([*DLENV, "--version"], capture_output=True, env=env, check=True)
    return time.perf_counter() - start


def main() -> int:
    if os.geteuid() != 0:
        print("run as root: the benchmark starts the real root worker", file=sys.stderr)
        return 2
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DLENV_CONFIG_DIR": str(Path(tmp) / "config"),
            "DLENV_STATE_DIR": str(Path(tmp) / "state"),
        }
        subprocess.run(
            [*DLENV, "profiles", "new", "bench"], env=env, check=True, capture_output=True
        )
        base = statistics.median(version(env) for _ in range(n))
        steps = [first_step(env) for _ in range(n)]
    median = statistics.median(steps)
    print(f"dlenv --version:                 {base * 1000:7.0f} ms (median of {n})")
    print(f"dlenv apply -> first step:       {median * 1000:7.0f} ms (median of {n})")
    print(f"ratio:                           {median / base:7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
