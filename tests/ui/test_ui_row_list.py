"""RowList, the start screen's profile list: cursor keys, Enter and clicks, a window that follows
the cursor when rows outnumber lines, and columns that fit the width."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from dlenv_tui.widgets.row_list import RowList

ROWS = [(f"p{i}", (f"profile-{i}", "docker", "Image", "2025-06-01 09:00")) for i in range(12)]


class ListApp(App[None]):
    def __init__(self, rows: list[tuple[str, tuple[str, ...]]], height: int = 20) -> None:
        super().__init__()
        self.rows = rows
        self.list_height = height
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield RowList(("Profile", "Engine", "Next stage", "Updated"))

    def on_mount(self) -> None:
        row_list = self.query_one(RowList)
        row_list.styles.height = self.list_height
        row_list.set_rows(self.rows)
        row_list.focus()

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        self.selected.append(event.key)


def lines(app: Any) -> list[str]:
    row_list = app.query_one(RowList)
    return [line.rstrip() for line in row_list.render().plain.split("\n")]


async def test_keys_move_the_cursor_and_enter_selects() -> None:
    app = ListApp(ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        row_list = app.query_one(RowList)
        assert row_list.cursor_key == "p0"
        await pilot.press("down", "down", "down")
        assert row_list.cursor_key == "p3"
        await pilot.press("up", "up")
        assert row_list.cursor_key == "p1"
        await pilot.press("end")
        assert row_list.cursor_key == "p11"
        await pilot.press("down")  # stays on the last row
        assert row_list.cursor_key == "p11"
        await pilot.press("home", "enter")
        await pilot.pause()
        assert app.selected == ["p0"]


async def test_a_click_moves_the_cursor_and_a_second_click_selects() -> None:
    app = ListApp(ROWS[:3])
    async with app.run_test(size=(80, 24)) as pilot:
        row_list = app.query_one(RowList)
        await pilot.click(RowList, offset=(2, 3))  # line 0 is the header: line 3 is row 2
        assert row_list.cursor_key == "p2"
        assert app.selected == []
        await pilot.click(RowList, offset=(2, 3))
        await pilot.pause()
        assert app.selected == ["p2"]
        await pilot.click(RowList, offset=(2, 0))  # the header selects nothing
        await pilot.pause()
        assert app.selected == ["p2"]


async def test_more_rows_than_lines_show_a_window_around_the_cursor() -> None:
    app = ListApp(ROWS, height=5)  # the header and four rows
    async with app.run_test(size=(80, 24)) as pilot:
        shown = lines(app)
        assert len(shown) == 5
        assert shown[0].endswith("↓ 8 more") and "↑" not in shown[0]
        assert shown[1].startswith(" profile-0 ")
        await pilot.press("end")
        shown = lines(app)
        assert shown[0].endswith("↑ 8 more")
        assert shown[-1].startswith(" profile-11 ")
        await pilot.press("pageup")
        assert app.query_one(RowList).cursor_key == "p8"
        assert lines(app)[0].endswith("↑ 6 more · ↓ 2 more")


async def test_columns_fit_the_width_and_long_cells_end_in_an_ellipsis() -> None:
    long = "unreadable: the file is not valid TOML and this sentence goes on and on"
    app = ListApp([("a", ("a", "docker", long, "2025-06-01 09:00"))])
    async with app.run_test(size=(60, 24)):
        header, row = lines(app)[:2]
        assert len(header) <= 60 and len(row) <= 60
        assert "Updated" in header  # the last column is still there
        assert row.endswith("2025-06-01 09:00")
        assert "…" in row


async def test_set_rows_keeps_the_cursor_in_range_and_selects_by_key() -> None:
    app = ListApp(ROWS)
    async with app.run_test(size=(80, 24)) as pilot:
        row_list = app.query_one(RowList)
        await pilot.press("end")
        row_list.set_rows(ROWS[:2])
        assert row_list.cursor_key == "p1"
        row_list.set_rows(ROWS, select="p7")
        assert row_list.cursor_key == "p7"
        row_list.set_rows([])
        assert row_list.cursor_key is None and row_list.row_count == 0
        await pilot.press("enter", "down")  # nothing to select or move to
        await pilot.pause()
        assert app.selected == []
