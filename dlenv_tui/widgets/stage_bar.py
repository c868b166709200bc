"""One line showing where the wizard is: Prereq › Driver › Toolkit › … with the current stage marked."""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Static

from dlenv_tui.stages import LABELS as STAGE_LABELS


class StageBar(Static):
    """The wizard's breadcrumb: ``done`` stages get a tick, ``skipped`` ones a dash (skipped
    because the host already had it, or by the user), so the two are never mistaken."""

    def __init__(
        self,
        current: str,
        done: frozenset[str] = frozenset(),
        profile: str = "",
        skipped: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(classes="stage-bar")
        self.current = current
        self.done = done
        self.skipped = skipped
        self.profile = profile

    def on_mount(self) -> None:
        # Every way into a later stage goes through the prerequisites (now or in an earlier run).
        done = self.done | {"prereq"} if self.current != "prereq" else self.done
        parts = []
        for key, label in STAGE_LABELS:
            if key == self.current:
                parts.append(f"[bold $accent]▸{label}[/]")
            elif key in self.skipped:
                parts.append(f"[$text-muted]–{label}[/]")
            elif key in done:
                parts.append(f"[$success]✓[/]{label}")
            else:
                parts.append(f"[$text-muted]{label}[/]")
        head = f"[bold]{escape(self.profile)}[/] " if self.profile else ""
        self.update(head + " ".join(parts))
