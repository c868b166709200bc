"""A log pane that keeps only the last N lines, and a batcher that lets thread workers feed it cheaply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from textual.widgets import Log

#: Lines a log pane keeps; older ones are dropped so memory stays bounded on a 100,000-line build.
MAX_LINES = 2000


class LogPane(Log):
    """A read-only, auto-scrolling log that never holds more than ``max_lines`` lines."""

    DEFAULT_CSS = """
    LogPane {
        height: 1fr;
        min-height: 4;
        border: round $panel-lighten-2;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    LogPane:focus { border: round $accent; }
    """

    def __init__(self, max_lines: int = MAX_LINES, *, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, id=id, highlight=False)

    def add_lines(self, lines: Iterable[str]) -> None:
        self.write_lines([line.rstrip("\n").replace("\t", "    ") for line in lines])


class LineBatcher:
    """Collects lines on a worker thread and hands them over in batches, at most every ``interval``.

    One message per line would flood the event loop on a chatty build (apt, pip); a batch every
    50 ms keeps the UI responsive whatever the output rate. ``deliver`` is called on the worker
    thread and should post a message (never touch a widget).
    """

    def __init__(
        self, deliver: Callable[[list[str]], None], interval: float = 0.05, limit: int = MAX_LINES
    ) -> None:
        self._deliver = deliver
        self._interval = interval
        self._limit = limit
        self._lines: list[str] = []
        self._last = 0.0
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if len(self._lines) > self._limit:
                # a batch larger than the pane holds would be trimmed anyway
                del self._lines[: len(self._lines) - self._limit]
            now = time.monotonic()
            wait = self._interval - (now - self._last)
            if wait > 0:
                # Held back: make sure it still shows if nothing follows (a step that prints
                # "Building wheel…" and then goes quiet for a minute).
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
                return
            self._last = now
            batch, self._lines = self._lines, []
        self._deliver(batch)

    def flush(self) -> None:
        with self._lock:
            batch, self._lines = self._lines, []
            self._last = time.monotonic()
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        if batch:
            self._deliver(batch)
