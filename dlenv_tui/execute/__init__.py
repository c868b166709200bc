"""The only code that changes the host: runners, the root worker, its journal and sudo handling."""

from __future__ import annotations

from dlenv_tui.execute.client import WorkerRunner
from dlenv_tui.execute.journal import JobBusy, JobInfo, find_unseen_job, follow_job
from dlenv_tui.execute.runners import (
    DemoRunner,
    DryRunRunner,
    EventSink,
    JobResult,
    Runner,
    SubprocessRunner,
)
from dlenv_tui.execute.sudo import PasswordNeeded, SudoError, sudo_mode
from dlenv_tui.execute.validate import PlanRejected, Policy, product_policy, validate_plan

__all__ = [
    "DemoRunner",
    "DryRunRunner",
    "EventSink",
    "JobBusy",
    "JobInfo",
    "JobResult",
    "PasswordNeeded",
    "PlanRejected",
    "Policy",
    "Runner",
    "SubprocessRunner",
    "SudoError",
    "WorkerRunner",
    "find_unseen_job",
    "follow_job",
    "product_policy",
    "sudo_mode",
    "validate_plan",
]
