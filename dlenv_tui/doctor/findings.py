"""A doctor finding: what is wrong, the evidence read, why it happens and the fix as a plan."""

from __future__ import annotations

from dataclasses import dataclass

from dlenv_tui.doctor.evidence import Read
from dlenv_tui.model import Plan, Status


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem of a GPU container host."""

    id: str
    """Stable signature id, e.g. ``driver.version-mismatch``."""
    title: str
    """What is wrong, one sentence."""
    status: Status
    """``fail``: GPU containers do not work now; ``warn``: they will break or misbehave."""
    evidence: tuple[Read, ...]
    """What was read, where: the file or command and the lines that matter."""
    why: str
    """Why it happens, one or two sentences."""
    fix: Plan | None = None
    """The repair as a plan of steps (previewable, run through the root worker with --fix)."""
    manual: tuple[str, ...] = ()
    """What to do by hand where no plan can do it (log in again, edit the profile)."""
