"""WorkerRunner: the Runner the UI and `dlenv apply` use; it starts the root worker and follows it."""

from __future__ import annotations

import json
import threading

from dlenv_tui.execute.journal import follow_job
from dlenv_tui.execute.runners import EventSink, JobResult
from dlenv_tui.execute.sudo import start_worker
from dlenv_tui.model import Plan, to_data


class WorkerRunner:
    """Starts ``python -m dlenv_tui.worker`` as root (directly, `sudo -n` or `sudo -S`), then
    follows its journal; the job goes on if this process dies, and a later client reattaches.

    ``password`` is used only if sudo prompts for it. ``python`` is the interpreter the worker
    runs under (default: this one). ``lock_timeout`` bounds waiting for a package-manager lock.
    """

    def __init__(
        self,
        password: str | None = None,
        *,
        python: str | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self._password = password
        self.python = python
        self.lock_timeout = lock_timeout
        self.job = ""
        """The id of the job started by the last run (empty before)."""

    def start(self, plan: Plan) -> str:
        """Start the worker on ``plan``; return its job id (raises SudoError / DlenvError)."""
        self.job = start_worker(
            json.dumps(to_data(plan)),
            password=self._password,
            python=self.python,
            lock_timeout=self.lock_timeout,
        )
        return self.job

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult:
        job = self.start(plan)
        return follow_job(job, on_event, cancel)
