"""``RowList``: a short table with a row cursor, drawn by one widget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget


class RowList(Widget, can_focus=True):
    """A header line and rows of cells in aligned columns, one row under a cursor.

    The start screen's profile list: a handful of rows. Textual's ``DataTable`` does the same with
    a scrollable grid, its own caches and timers; it was about 60 ms of the wizard's first screen
    (import, mount, three renders, unmount) on our 2-core CI box. This renders the visible lines
    only: when there are more rows than lines, it shows the window that holds the cursor, with
    ``↑ n more`` / ``↓ n more`` in the header's place. ``Enter`` (or a click on the row under the
    cursor) posts ``RowList.Selected``.
    """

    ALLOW_SELECT = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Last", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-list--header",
        "row-list--cursor",
        "row-list--even",
        "row-list--more",
    }
    DEFAULT_CSS = """
    RowList {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .row-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .row-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .row-list--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .row-list--even {
            background: $surface-lighten-1 50%;
        }
        &:dark > .row-list--even {
            background: $surface-darken-1 40%;
        }
        & > .row-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .row-list--more {
            color: $text-muted;
        }
    }
    """

    class Selected(Message):
        """Enter was pressed (or the cursor row clicked) on the row with ``key``."""

        def __init__(self, row_list: RowList, key: str) -> None:
            super().__init__()
            self.row_list = row_list
            self.key = key

        @property
        def control(self) -> RowList:
            return self.row_list

    def __init__(
        self,
        columns: Sequence[str],
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self._rows: list[tuple[str, tuple[str, ...]]] = []
        self.cursor = 0
        """Index of the row under the cursor (0 when there are no rows)."""

    # ---------------------------------------------------------------- data

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_key(self) -> str | None:
        """The key of the row under the cursor; None when there are no rows."""
        return self._rows[self.cursor][0] if self._rows else None

    def set_rows(self, rows: Sequence[tuple[str, Sequence[str]]], select: str = "") -> None:
        """Replace every row: ``(key, cells)`` pairs. The cursor goes to ``select`` if given and
        present, else stays on the same index (clamped)."""
        self._rows = [(key, tuple(cells)) for key, cells in rows]
        keys = [key for key, _ in self._rows]
        if select in keys:
            self.cursor = keys.index(select)
        self.cursor = max(0, min(self.cursor, len(self._rows) - 1))
        self.refresh(layout=True)

    # ---------------------------------------------------------------- keys and mouse

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(self.size.height - 2, 1))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._rows) - 1)

    def _move(self, index: int) -> None:
        index = max(0, min(index, len(self._rows) - 1))
        if index != self.cursor:
            self.cursor = index
            self.refresh()

    def key_enter(self, event: events.Key) -> None:
        if self._rows:
            event.stop()
            self.post_message(self.Selected(self, self._rows[self.cursor][0]))

    def on_click(self, event: events.Click) -> None:
        index = self._row_at(event.y)
        if index is None:
            return
        event.stop()
        if index == self.cursor:
            self.post_message(self.Selected(self, self._rows[index][0]))
        else:
            self._move(index)

    # ---------------------------------------------------------------- drawing

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return 1 + max(len(self._rows), 0)

    def _window(self) -> tuple[int, int]:
        """First and one-past-last row shown, so that the cursor row is visible."""
        lines = max(self.size.height - 1, 1)  # the header takes one line
        if len(self._rows) <= lines:
            return 0, len(self._rows)
        first = min(max(self.cursor - lines // 2, 0), len(self._rows) - lines)
        return first, first + lines

    def _row_at(self, y: int) -> int | None:
        first, last = self._window()
        index = first + y - 1
        return index if y >= 1 and first <= index < last else None

    def _widths(self) -> list[int]:
        """Each column as wide as its widest cell; when that is wider than the widget, the widest
        column gives up cells first (its cells end in …), so every column stays on screen."""
        widths = [cell_len(c) for c in self.columns]
        for _key, cells in self._rows:
            for i, cell in enumerate(cells[: len(widths)]):
                widths[i] = max(widths[i], cell_len(cell))
        return self._fit(widths, self.size.width)

    @staticmethod
    def _fit(widths: list[int], room: int) -> list[int]:
        widths = list(widths)
        excess = sum(widths) + 2 * len(widths) - room
        while excess > 0 and max(widths) > 4:
            widths[widths.index(max(widths))] -= 1
            excess -= 1
        return widths

    def _line(
        self, cells: Sequence[str], widths: Sequence[int], style: Style, tail: Text | None = None
    ) -> Text:
        line = Text(no_wrap=True, end="", style=style)
        for i, width in enumerate(widths):
            cell = Text(cells[i] if i < len(cells) else "", no_wrap=True, end="")
            cell.truncate(width, overflow="ellipsis", pad=True)
            line.append(" ")
            line.append_text(cell)
            line.append(" ")
        if tail is not None:
            line.append_text(tail)
        line.pad_right(max(self.size.width - line.cell_len, 0))
        line.truncate(self.size.width, overflow="ellipsis")
        return line

    def render(self) -> Text:
        widths = self._widths()
        first, last = self._window()
        header = self.get_component_rich_style("row-list--header")
        tail = None
        if first > 0 or last < len(self._rows):
            above, below = first, len(self._rows) - last
            more = [f"↑ {above} more"] * bool(above) + [f"↓ {below} more"] * bool(below)
            tail = Text(" · ".join(more), style=self.get_component_rich_style("row-list--more"))
            # the columns give way to the count, which says that the list goes on
            widths = self._fit(widths, self.size.width - tail.cell_len)
        lines = [self._line(self.columns, widths, header, tail)]
        cursor = self.get_component_rich_style("row-list--cursor")
        even = self.get_component_rich_style("row-list--even")
        for index in range(first, last):
            _key, cells = self._rows[index]
            style = cursor if index == self.cursor else (even if index % 2 else Style())
            lines.append(self._line(cells, widths, style))
        return Text("\n", end="").join(lines)
