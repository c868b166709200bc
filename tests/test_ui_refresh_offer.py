"""The wizard offers `dlenv data refresh` when the data is older than 60 days and the network
answers: non-blocking (a notification), one keypress (Ctrl+R) to accept, dismissible, never in
--demo. The clock is injected; the network is the local server of test_knowledge_refresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_knowledge_refresh import server  # noqa: F401  (the local HTTP server fixture)
from test_ui_wizard import run_async, wait_for

from dlenv_tui import compat
from dlenv_tui.app import make_app
from dlenv_tui.knowledge import offer
from dlenv_tui.locations import knowledge_file
from dlenv_tui.profiles import ProfileStore

SYSROOT = str(Path(__file__).parent / "fixtures" / "sysroots" / "ubuntu-24.04-rtx4090")
LATE = "2027-03-01T09:00:00Z"  # 90 days after the shipped data (2026-12-01)
SOON = "2026-12-20T09:00:00Z"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    compat.reload_data()
    yield tmp_path / "data"
    compat.reload_data()


def _messages(app: object) -> list[str]:
    return [n.message for n in app._notifications]  # type: ignore[attr-defined]


def test_the_age_comes_from_the_injected_clock() -> None:
    assert offer.stale(LATE, "2026-12-01") == 90
    assert offer.stale(SOON, "2026-12-01") is None
    assert offer.stale("garbage", "2026-12-01") is None


@pytest.fixture
def env(server: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}/hub")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    return server


def _app(tmp_path: Path, now: str, demo: str | None = None) -> object:
    return make_app(
        demo=demo,
        sysroot=None if demo else SYSROOT,
        store=ProfileStore(tmp_path / "profiles"),
        now=lambda: now,
        demo_speed=0,
        cursor_blink=False,
    )


@run_async
async def test_stale_data_is_offered_and_ctrl_r_refreshes_it(env: str, tmp_path: Path) -> None:
    app = _app(tmp_path, LATE)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: any("90 days old" in m for m in _messages(app)), "the offer")
        assert not knowledge_file().exists()  # nothing happens without the keypress
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: any("refreshed" in m for m in _messages(app)), "the result")
    assert knowledge_file().exists()


@run_async
async def test_fresh_data_is_not_offered(env: str, tmp_path: Path) -> None:
    app = _app(tmp_path, SOON)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))
        await pilot.press("ctrl+r")  # not offered: the key does nothing
        await pilot.pause(0.3)
    assert not knowledge_file().exists()


@run_async
async def test_never_in_demo(env: str, tmp_path: Path) -> None:
    app = _app(tmp_path, LATE, demo="ubuntu-4090")
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))


@run_async
async def test_offline_there_is_no_offer(tmp_path: Path) -> None:
    # the conftest points the tag service at a closed port
    app = _app(tmp_path, LATE)
    async with app.run_test(size=(100, 30)) as pilot:  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: app.ctx.facts is not None, "facts")  # type: ignore[attr-defined]
        await pilot.pause(0.5)
        assert not any("days old" in m for m in _messages(app))
