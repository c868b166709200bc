"""Lines per second from a step's output through worker -> journal -> client, against a bare pipe.

Run: ``.venv/bin/python benchmarks/stream.py [--lines N]``. No root needed.

The step is ``seq 1 N``. ``seq`` is not a program plans run, so it is not in the worker's allowlist
and this benchmark does not go through validation or sudo: a producer process runs the worker's own
job code (``prepare_job`` + ``run_job``: SubprocessRunner, the journal writer, the host lock) in a
scratch jobs directory, and this process follows the journal with ``follow_job`` exactly as
`dlenv apply` and the wizard do. The baseline reads the same N lines straight from a pipe.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEQ = "/usr/bin/seq"


def baseline(lines: int) -> float:
    """Seconds to read ``lines`` lines of ``seq`` from a pipe, line by line."""
    start = time.perf_counter()
    with subprocess.Popen([SEQ, "1", str(lines)], stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        count = sum(1 for _ in proc.stdout)
    elapsed = time.perf_counter() - start
    assert count == lines, count
    return elapsed


def produce(jobs: Path, lines: int) -> None:
    """The worker side (benchmark-only: no allowlist check): run the seq step into a journal."""
    from dlenv_tui.execute import journal as jr
    from dlenv_tui.execute.worker import prepare_job, run_job
    from dlenv_tui.model import Plan, Stage, Step

    plan = Plan(
        stage=Stage.TOOLKIT, steps=(Step(id="seq", title="seq", argv=(SEQ, "1", str(lines))),)
    )
    job, lock, journal = prepare_job(plan, jobs, jr.Owner(os.getuid(), os.getgid()))
    print(job, flush=True)
    run_job(plan, job, journal, jobs)
    journal.close()
    lock.release()


def through_journal(lines: int) -> tuple[float, float]:
    """(seconds until the client saw the job finish, seconds the producer took)."""
    from dlenv_tui.execute import follow_job
    from dlenv_tui.model import Event, EventKind

    with tempfile.TemporaryDirectory(prefix="dlenv-bench-") as tmp:
        jobs = Path(tmp) / "jobs"
        start = time.perf_counter()
        producer = subprocess.Popen(
            [sys.executable, __file__, "--produce", str(jobs), "--lines", str(lines)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert producer.stdout is not None
        job = producer.stdout.readline().strip()
        seen = 0

        def on_event(event: Event) -> None:
            nonlocal seen
            if event.kind is EventKind.OUTPUT:
                seen += 1

        result = follow_job(job, on_event, jobs=jobs, poll=0.01)
        client = time.perf_counter() - start
        producer.wait()
        produced = time.perf_counter() - start
        assert result.ok, result
        assert seen == lines, seen
        return client, produced


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--produce", metavar="JOBS_DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        produce(Path(args.produce), args.lines)
        return 0
    n = args.lines
    base = min(baseline(n) for _ in range(args.repeat))
    runs = [through_journal(n) for _ in range(args.repeat)]
    client = min(r[0] for r in runs)
    print(f"lines per step:                 {n:,}")
    print(f"baseline (pipe, line by line):  {n / base:12,.0f} lines/s  ({base:.3f} s)")
    print(f"worker -> journal -> client:    {n / client:12,.0f} lines/s  ({client:.3f} s)")
    print(f"ratio (baseline / through):     {client / base:12.1f}x slower")
    return 0


if __name__ == "__main__":
    sys.exit(main())
