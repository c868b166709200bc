"""Demo mode's first screen: pick a simulated host."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from dlenv_tui.demo import Scenario


class ScenarioScreen(Screen[Scenario | None]):
    """Lists the scenarios under assets/demo/; Enter picks one."""

    BINDINGS = [
        Binding("enter", "pick", "Walk this host", priority=True),
        Binding("q,escape", "quit_demo", "Quit", show=False),
    ]

    def __init__(self, scenarios: list[Scenario]) -> None:
        super().__init__()
        self.scenarios = scenarios

    def compose(self) -> ComposeResult:
        with Vertical(classes="start"):
            yield Static(
                "[b]dlenv demo[/b] — a simulated host; nothing on this machine changes.",
                classes="stage-title",
            )
            options: list[Option | None] = []
            for s in self.scenarios:
                if options:
                    options.append(None)
                options.append(
                    Option(f"[b]{s.title}[/b]\n[$text-muted]{s.description}[/]", id=s.key)
                )
            yield OptionList(*options, id="scenarios")
        yield Footer()

    def _by_key(self, key: str | None) -> Scenario:
        return next(s for s in self.scenarios if s.key == key)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._by_key(event.option.id))

    def action_pick(self) -> None:
        ol = self.query_one(OptionList)
        if ol.highlighted is not None:
            self.dismiss(self._by_key(ol.get_option_at_index(ol.highlighted).id))

    def action_quit_demo(self) -> None:
        self.dismiss(None)
