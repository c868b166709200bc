"""The only code that changes the host: runners, the root worker, its journal and sudo handling.

Names are imported on first use (PEP 562): the wizard's start screen only needs the journal to
look for an unseen job, not the worker client with its network and TLS imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from dlenv_tui.execute.sudo import PasswordNeeded, SudoError, WrongPassword, sudo_mode
    from dlenv_tui.execute.validate import PlanRejected, Policy, product_policy, validate_plan

_HOME = {
    "WorkerRunner": "client",
    "JobBusy": "journal",
    "JobInfo": "journal",
    "find_unseen_job": "journal",
    "follow_job": "journal",
    "DemoRunner": "runners",
    "DryRunRunner": "runners",
    "EventSink": "runners",
    "JobResult": "runners",
    "Runner": "runners",
    "SubprocessRunner": "runners",
    "PasswordNeeded": "sudo",
    "SudoError": "sudo",
    "sudo_mode": "sudo",
    "WrongPassword": "sudo",
    "PlanRejected": "validate",
    "Policy": "validate",
    "product_policy": "validate",
    "validate_plan": "validate",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'dlenv_tui.execute' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlenv_tui.execute.{module}"), name)
    globals()[name] = value
    return value


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
    "WrongPassword",
    "find_unseen_job",
    "follow_job",
    "product_policy",
    "sudo_mode",
    "validate_plan",
]
