"""``Footer``: the current screen's keys in one line, drawn by one widget."""

from __future__ import annotations

from typing import NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


class FooterItem(NamedTuple):
    """One key shown in the footer."""

    key: str
    """The key pressed when the item is clicked."""
    display: str
    """How the key is shown, e.g. ``^p``."""
    description: str
    enabled: bool
    start: int
    """First cell of the item, counted from the footer's left edge."""
    end: int


class Footer(Widget, can_focus=False):
    """The active bindings of the screen, key then description, with the command palette's key at
    the right; looks like Textual's ``Footer``. Textual's builds a widget per key and rebuilds them
    all on every binding refresh (a screen push, each focus move), which is most of the cost of a
    screen's first paint; this one renders a single line and repaints only when the keys change.
    Clicking a key presses it."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"footer--key", "footer--description", "footer--separator"}
    DEFAULT_CSS = """
    Footer {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        text-wrap: nowrap;
        .footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .footer--separator {
            color: $foreground 20%;
        }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        show_command_palette: bool = True,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.show_command_palette = show_command_palette
        """Show the command palette's key at the right."""
        self.items: tuple[FooterItem, ...] = ()
        """The keys as last rendered (empty until the first render)."""
        self._shown: object = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        # Like Textual's footer, keep the keys while the terminal has lost focus.
        if screen.app.app_focus and self._keys() != self._shown:
            self.refresh()

    def _keys(self) -> tuple[list[tuple[Binding, bool]], tuple[Binding, bool] | None]:
        """The bindings to show (one per action, in order) and the command palette's, if shown."""
        active = self.screen.active_bindings
        shown: dict[str, tuple[Binding, bool]] = {}
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled)
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            entry = active.get(self.app.COMMAND_PALETTE_BINDING)
            if entry is not None:
                palette = (entry[1], entry[2])
        return list(shown.values()), palette

    def render(self) -> Text:
        keys, palette = self._shown = self._keys()
        key_style = self.get_component_rich_style("footer--key")
        description_style = self.get_component_rich_style("footer--description")
        items: list[FooterItem] = []
        line = Text(no_wrap=True, end="")

        def add(binding: Binding, enabled: bool, compact: bool = False, tail: str = "") -> None:
            # Padded as Textual's FooterKey pads them: the key a cell each side, the description a
            # cell after; compact, a cell between them (and ``tail`` after).
            display = self.app.get_key_display(binding)
            start = line.cell_len
            dim = Style(dim=not enabled)
            line.append(display if compact else f" {display} ", key_style + dim)
            description = binding.description
            line.append(
                f" {description}{tail}" if compact else f"{description} ",
                description_style + dim,
            )
            item = FooterItem(
                binding.key, display, binding.description, enabled, start, line.cell_len
            )
            items.append(item)

        # When the keys do not all fit padded, they are drawn compact (a cell less each) before
        # any is left out: at 80 columns that keeps Help and Quit on the start screen.
        room = self.size.width
        if palette is not None:
            room -= len(f"▏{self.app.get_key_display(palette[0])} {palette[0].description} ")
        padded = sum(
            len(self.app.get_key_display(b)) + len(b.description) + 3 for b, _enabled in keys
        )
        compact = padded > room
        for binding, enabled in keys:
            add(binding, enabled, compact=compact, tail=" " if compact else "")
        if palette is not None:
            # At the right edge behind a thin rule, compact, one cell from the edge, as Textual's
            # footer shows it; keys that do not fit whole before it are left out.
            binding, enabled = palette
            width = len(f"▏{self.app.get_key_display(binding)} {binding.description} ")
            items = [item for item in items if item.end <= self.size.width - width]
            line.truncate(items[-1].end if items else 0)
            line.pad_right(max(self.size.width - width - line.cell_len, 0))
            line.append("▏", self.get_component_rich_style("footer--separator"))
            add(binding, enabled, compact=True)
            line.append(" ")
        self.items = tuple(items)
        return line

    def on_click(self, event: events.Click) -> None:
        for item in self.items:
            if item.start <= event.x < item.end:
                if item.enabled:
                    self.app.simulate_key(item.key)
                else:
                    self.app.bell()
                event.stop()
                return
