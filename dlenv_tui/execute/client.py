"""WorkerRunner: the Runner the UI and `dlenv apply` use; it starts the root worker and follows it."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from dlenv_tui.execute.journal import follow_job
from dlenv_tui.execute.request import encode_request, encode_saved_plan
from dlenv_tui.execute.runners import EventSink, JobResult
from dlenv_tui.execute.sudo import start_worker
from dlenv_tui.model import Plan


class WorkerRunner:
    """Starts ``python -m dlenv_tui.worker`` as root (directly, `sudo -n` or `sudo -S`), then
    follows its journal; the job goes on if this process dies, and a later client reattaches.

    ``password`` is used only if sudo prompts for it. ``python`` is the interpreter the worker
    runs under (default: this one). ``lock_timeout`` bounds waiting for a package-manager lock.

    What goes to the worker is a request (the plan's stage, the profile choices it was planned
    from, its digest), not the plan: the worker plans again and runs only the plan shown. With
    ``saved_plan`` the whole plan goes instead, which a worker accepts only as root without sudo.
    """

    def __init__(
        self,
        password: str | None = None,
        *,
        python: str | None = None,
        lock_timeout: float | None = None,
        saved_plan: bool = False,
        command: Sequence[str] | None = None,
    ) -> None:
        self._password = password
        self.saved_plan = saved_plan
        self.command = command
        self.python = python
        self.lock_timeout = lock_timeout
        self.job = ""
        """The id of the job started by the last run (empty before)."""

    def start(self, plan: Plan) -> str:
        """Start the worker on ``plan``; return its job id (raises SudoError / DlenvError)."""
        line = encode_saved_plan(plan) if self.saved_plan else encode_request(plan)
        self.job = start_worker(
            line,
            password=self._password,
            python=self.python,
            lock_timeout=self.lock_timeout,
            command=self.command,
        )
        return self.job

    def run(
        self, plan: Plan, on_event: EventSink, cancel: threading.Event | None = None
    ) -> JobResult:
        job = self.start(plan)
        return follow_job(job, on_event, cancel)
