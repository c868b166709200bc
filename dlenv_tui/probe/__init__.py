"""Reads the host (never changes it): the Host seam, `probe_host` and `load_facts`; `child` runs
the probe in another process for the wizard.

Names are imported on first use (PEP 562): the wizard only needs ``child`` to start the probe
program, not the probe itself with NVML and a dozen parsers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dlenv_tui.probe.facts import load_facts, probe_host
    from dlenv_tui.probe.host import CommandResult, DiskUsage, Host, LocalHost

_HOME = {
    "load_facts": "facts",
    "probe_host": "facts",
    "CommandResult": "host",
    "DiskUsage": "host",
    "Host": "host",
    "LocalHost": "host",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'dlenv_tui.probe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlenv_tui.probe.{module}"), name)
    globals()[name] = value
    return value


__all__ = ["CommandResult", "DiskUsage", "Host", "LocalHost", "load_facts", "probe_host"]
