"""The prerequisite table: one row per Check with its status, what was found and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import DataTable

from dlenv_tui.model import Check, Status

STATUS_MARK = {
    Status.OK: ("✓ ok", "$success"),
    Status.WARN: ("! warn", "$warning"),
    Status.FAIL: ("✗ fail", "bold $error"),
    Status.SKIPPED: ("- skip", "$text-muted"),
}


class CheckTable(DataTable[Content]):
    """Read-only table of checks; the cursor moves by row so the fix of each row can be read."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.add_columns("Status", "Check", "Found", "What to do")

    def show(self, checks: Sequence[Check]) -> None:
        self.clear()
        for c in checks:
            label, style = STATUS_MARK[c.status]
            self.add_row(
                Content.styled(label, style),
                Content(c.title),
                Content(c.detail),
                Content.styled(c.fix, "italic"),
                key=c.id,
            )
