"""Small modal dialogs: yes/no confirmation, asking for a (validated) name, how the host changed,
and whether to replace a running container."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from dlenv_tui.widgets.field import Field


class ConfirmDialog(ModalScreen[bool]):
    """Ask a yes/no question; y / Enter = yes, n / Esc = no."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = "", yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.detail = detail
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title")
            if self.detail:
                yield Static(self.detail, classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="error")
                yield Button(f"{self.no} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class NameDialog(ModalScreen[str | None]):
    """Ask for a name, validated as typed; Enter accepts a valid name, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str, check: Callable[[str], str]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.value = value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Field("Name", self.value, self.check, id="name")
            yield Static("Enter to accept · Esc to cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        field = self.query_one("#name", Field)
        if field.valid:
            self.dismiss(field.value)
        else:
            self.notify(field.error, severity="error")

    def action_cancel(self) -> None:
        self.dismiss(None)


class DriftDialog(ModalScreen[bool]):
    """How the host changed since a profile's snapshot; Enter continues (and refreshes it), Esc goes back."""

    BINDINGS = [
        Binding("enter,c", "answer(True)", "Continue"),
        Binding("escape", "answer(False)", "Back to profiles"),
    ]

    def __init__(self, profile: str, changes: tuple[str, ...]) -> None:
        super().__init__(classes="dialog-screen")
        self.profile = profile
        self.changes = changes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog drift"):
            yield Label(f"This host changed since {self.profile} was saved", classes="dialog-title")
            with VerticalScroll(id="changes", classes="drift-changes"):
                yield Static("\n".join(f"• {escape(c)}" for c in self.changes))
            yield Static(
                "Plans are made for the host as it is now. Continue keeps this profile's "
                "choices and records the host's new state in it.",
                classes="dialog-detail",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Continue (Enter)", id="continue", variant="primary")
                yield Button("Back (Esc)", id="back")

    def on_mount(self) -> None:
        self.query_one("#continue", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "continue")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class ReplaceDialog(ModalScreen[bool]):
    """A launch found the profile's container running: r replaces it, Esc / k keeps it."""

    BINDINGS = [
        Binding("r", "answer(True)", "Replace it"),
        Binding("escape,k", "answer(False)", "Keep it"),
    ]

    def __init__(self, title: str, detail: str) -> None:
        """``title`` and ``detail`` are plain text (a container or image name is no markup)."""
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text), classes="dialog-title")
            yield Static(escape(self.detail), classes="dialog-detail")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Replace (r)", id="replace", variant="error")
                yield Button("Keep it (Esc)", id="keep")

    def on_mount(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "replace")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
