"""The line batcher hands lines over in batches, and never sits on a line when output goes quiet."""

from __future__ import annotations

import threading
import time

from dlenv_tui.widgets.log_pane import LineBatcher


def test_a_line_held_back_is_delivered_when_nothing_follows() -> None:
    got: list[list[str]] = []
    delivered = threading.Event()

    def deliver(batch: list[str]) -> None:
        got.append(batch)
        delivered.set()

    batcher = LineBatcher(deliver, interval=0.05)
    batcher.add("Reading package lists...")  # first line goes straight out
    delivered.wait(1)
    delivered.clear()
    batcher.add("Building wheel for torch (pyproject.toml) ...")  # within the interval: held
    assert delivered.wait(2), "the held line was never delivered"
    assert got == [["Reading package lists..."], ["Building wheel for torch (pyproject.toml) ..."]]


def test_a_fast_producer_gets_few_large_batches() -> None:
    got: list[list[str]] = []
    lock = threading.Lock()

    def deliver(batch: list[str]) -> None:
        with lock:
            got.append(batch)

    batcher = LineBatcher(deliver, interval=0.05)
    for i in range(20_000):
        batcher.add(f"line {i}")
    batcher.flush()
    time.sleep(0.1)  # let a stray timer fire; it must find nothing left
    with lock:
        lines = [line for batch in got for line in batch]
    assert lines[-1] == "line 19999"
    assert len(got) < 1000
