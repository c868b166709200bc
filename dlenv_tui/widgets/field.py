"""A labelled input validated as typed, with the reason shown under it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static


class Field(Vertical):
    """Label, Input and a one-line message; ``check(value)`` returns "" when the value is fine."""

    DEFAULT_CSS = """
    Field { height: auto; margin: 0 0 0 0; }
    Field > Label { color: $text-muted; padding: 0 1; }
    Field > Input { width: 1fr; margin: 0 1; }
    Field > .field-error { color: $error; padding: 0 1; height: auto; display: none; }
    Field.-invalid > .field-error { display: block; }
    Field.-invalid > Input { background: $error-muted; }
    """

    @dataclass
    class Changed(Message):
        field: Field
        value: str
        error: str

    def __init__(
        self,
        label: str,
        value: str,
        check: Callable[[str], str],
        *,
        id: str | None = None,
        placeholder: str = "",
        password: bool = False,
    ) -> None:
        super().__init__(id=id)
        self.label = label
        self.initial = value
        self.check = check
        self.placeholder = placeholder
        self.password = password
        self.error = check(value)

    def compose(self) -> ComposeResult:
        yield Label(self.label)
        yield Input(
            self.initial, placeholder=self.placeholder, password=self.password, compact=True
        )
        yield Static(self.error, classes="field-error")

    def on_mount(self) -> None:
        self.set_class(bool(self.error), "-invalid")

    @property
    def value(self) -> str:
        return self.query_one(Input).value

    @property
    def valid(self) -> bool:
        return not self.error

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.error = self.check(event.value)
        self.query_one(".field-error", Static).update(self.error)
        self.set_class(bool(self.error), "-invalid")
        self.post_message(self.Changed(self, event.value, self.error))
