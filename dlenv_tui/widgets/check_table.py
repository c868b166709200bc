"""The prerequisite table: one row per Check, and what to do about the highlighted row under it."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.markup import escape
from textual.widgets import DataTable, Static

from dlenv_tui.model import Check, Status

STATUS_MARK = {
    Status.OK: ("✓ ok", "$text-success"),
    Status.WARN: ("! warn", "$text-warning"),
    Status.FAIL: ("✗ fail", "bold $text-error"),
    Status.SKIPPED: ("- skip", "$foreground-muted"),
}
#: Longer titles (repository host names) are shortened so "Found" keeps its room at 80 columns;
#: the line above the table shows the whole title of the highlighted row.
TITLE_MAX = 20


def fit_title(check: Check, width: int = TITLE_MAX) -> str:
    """``check.title`` in ``width`` characters: a host name keeps its end (``…download.nvidia.com``),
    anything else its start."""
    title = check.title
    if len(title) <= width:
        return title
    if check.id.startswith("reach."):
        return "…" + title[-(width - 1) :]
    return title[: width - 1] + "…"


class CheckTable(Vertical):
    """Status / check / found rows; the row under the cursor shows its fix below the table."""

    DEFAULT_CSS = """
    CheckTable { height: auto; }
    CheckTable > DataTable { height: auto; }
    CheckTable > .check-fix { height: auto; min-height: 2; padding: 0 1; background: $boost; margin-bottom: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.checks: tuple[Check, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("", classes="check-fix")
        yield DataTable(cursor_type="row", zebra_stripes=True)

    def focus(self, scroll_visible: bool = True) -> CheckTable:
        self.query_one(DataTable).focus(scroll_visible)
        return self

    def show(
        self, checks: Sequence[Check], *, pending: str = "", keep_cursor: bool = False
    ) -> None:
        """Show ``checks``; ``pending`` adds a last row saying what is still being checked;
        ``keep_cursor`` leaves the cursor on the row it was on (rows arriving later)."""
        self.checks = tuple(checks)
        table = self.query_one(DataTable)
        row = table.cursor_row if keep_cursor else 0
        table.clear(columns=True)
        # Content cells are not measured by DataTable, so the widths are set from the text here
        title_w = min(max((len(c.title) for c in self.checks), default=5), TITLE_MAX)
        found_w = max((len(c.detail) + 2 for c in self.checks), default=5)
        found_w = max(found_w, len(pending))
        table.add_column("Status", width=6)
        table.add_column("Check", width=max(5, title_w))
        table.add_column("Found", width=max(5, found_w))
        for c in self.checks:
            label, style = STATUS_MARK[c.status]
            found = escape(c.detail) + (" [$foreground-muted]→[/]" if c.fix else "")
            table.add_row(
                Content.from_markup(f"[{style}]{label}[/]"),
                Content(fit_title(c)),
                Content.from_markup(found),
                key=c.id,
            )
        if pending:
            table.add_row(
                Content.from_markup("[$foreground-muted]…[/]"),
                Content(""),
                Content.from_markup(f"[$foreground-muted]{escape(pending)}[/]"),
                key="-pending",
            )
        row = min(max(row, 0), max(len(self.checks) - 1, 0))
        if row:
            table.move_cursor(row=row, animate=False, scroll=False)
        self._show_fix(row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_fix(event.cursor_row)

    def _show_fix(self, row: int) -> None:
        fix = self.query_one(".check-fix", Static)
        if not 0 <= row < len(self.checks):
            fix.update("")
            return
        c = self.checks[row]
        text = f"[b]{escape(c.title)}[/b]: {escape(c.detail)}"
        if c.fix:
            text += f"\n[b]What to do:[/b] {escape(c.fix)}"
        fix.update(text)
