"""Shared test helpers: where the fixture trees live."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SYSROOTS = FIXTURES / "sysroots"
"""Committed host trees for ``--sysroot`` (see ``fixtures/sysroots/README.md``)."""


@pytest.fixture(autouse=True)
def _no_registry_at_test_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-build checks (knowledge.verify) and the refresh ask a closed local port unless a
    test serves one: no network at test time, and the checks read as skipped."""
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", "http://127.0.0.1:9/whl")
    # the wizard's refresh offer probes the tag service the same way: a closed port, offline
    for var in ("DLENV_REFRESH_HUB_URL", "DLENV_REFRESH_TORCH_URL", "DLENV_REFRESH_REPOS_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/")


@pytest.fixture
def sysroot() -> Callable[[str], Path]:
    """``sysroot("ubuntu-24.04-rtx4090")`` → the path of that fixture host tree."""

    def find(name: str) -> Path:
        path = SYSROOTS / name
        assert path.is_dir(), f"no fixture sysroot {name!r} under {SYSROOTS}"
        return path

    return find
