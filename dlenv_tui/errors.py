"""The one error type the CLI and the UI show as a single sentence (no traceback unless --debug)."""

from __future__ import annotations


class DlenvError(Exception):
    """Something the user can act on: the message says what is wrong and what to do."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(DlenvError):
    """Bad flags, names or input files: exit status 2."""

    exit_code = 2
