"""Shared test helpers: where the fixture trees live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SYSROOTS = FIXTURES / "sysroots"
"""Committed host trees for ``--sysroot`` (see ``fixtures/sysroots/README.md``)."""


@pytest.fixture
def sysroot() -> Callable[[str], Path]:
    """``sysroot("ubuntu-24.04-rtx4090")`` → the path of that fixture host tree."""

    def find(name: str) -> Path:
        path = SYSROOTS / name
        assert path.is_dir(), f"no fixture sysroot {name!r} under {SYSROOTS}"
        return path

    return find
