"""The wizard offers `dlenv data refresh` when the data is older than 60 days and the network
answers: non-blocking (a notification), one keypress (Ctrl+R) to accept, dismissible, never in
--demo. The clock is injected; the network is the conftest's local server of recorded responses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app
from dlenv_tui.knowledge import offer
from dlenv_tui.locations import knowledge_file
from dlenv_tui.profiles import ProfileStore

LATE = "2027-03-01T09:00:00Z"  # 90 days after the shipped data (2026-12-01)
SOON = "2026-12-20T09:00:00Z"


pytestmark = pytest.mark.usefixtures("data_dir")


def _messages(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


def test_the_age_comes_from_the_injected_clock() -> None:
    assert offer.stale(LATE, "2026-12-01") == 90
    assert offer.stale(SOON, "2026-12-01") is None
    assert offer.stale("garbage", "2026-12-01") is None


@pytest.fixture
def env(server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}/hub")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    return server


@pytest.fixture
def _app(store: ProfileStore, sysroot: Callable[[str], Path]) -> Callable[..., Any]:
    """``_app(now, demo=None)``: the wizard on the Ubuntu RTX 4090 tree (or a demo) at ``now``."""

    def make(now: str, demo: str | None = None) -> Any:
        return make_app(
            demo=demo,
            sysroot=None if demo else str(sysroot("ubuntu-24.04-rtx4090")),
            store=store,
            now=lambda: now,
            demo_speed=0,
        )

    return make


async def test_stale_data_is_offered_and_ctrl_r_refreshes_it(
    env: str, tmp_path: Path, _app: Any, wait_for: Callable[..., Any]
) -> None:
    app = _app(LATE)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: any("90 days old" in m for m in _messages(app)), "the offer")
        assert not knowledge_file().exists()  # nothing happens without the keypress
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("refreshed" in m for m in _messages(app)), "the result")
    assert knowledge_file().exists()


async def test_fresh_data_is_not_offered(
    env: str, tmp_path: Path, _app: Any, wait_for: Callable[..., Any]
) -> None:
    app = _app(SOON)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))
        await pilot.press("ctrl+r")  # not offered: the key does nothing
        await pilot.pause(0.3)
    assert not knowledge_file().exists()


async def test_never_in_demo(
    env: str, tmp_path: Path, _app: Any, wait_for: Callable[..., Any]
) -> None:
    app = _app(LATE, demo="ubuntu-4090")
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))


async def test_offline_there_is_no_offer(
    tmp_path: Path, _app: Any, wait_for: Callable[..., Any]
) -> None:
    # the conftest points the tag service at a closed port
    app = _app(LATE)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))
