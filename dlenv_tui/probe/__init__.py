"""Reads the host (never changes it): the Host seam, `probe_host` and `load_facts`."""

from __future__ import annotations

from dlenv_tui.probe.facts import load_facts, probe_host
from dlenv_tui.probe.host import CommandResult, DiskUsage, Host, LocalHost

__all__ = ["CommandResult", "DiskUsage", "Host", "LocalHost", "load_facts", "probe_host"]
