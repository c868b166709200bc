"""Repository reachability on the Prerequisites screen: a placeholder row, then one row per origin
from a thread worker; simulated in demo mode, real (against a closed local port) otherwise."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app
from dlenv_tui.locations import asset
from dlenv_tui.model import Check, Status
from dlenv_tui.profiles import ProfileStore
from dlenv_tui.screens import services


def rows(app: Any) -> list[tuple[str, str]]:
    """(status, found) of every row of the check table, as plain text."""
    table = app.screen.query_one("#checks DataTable")
    return [
        (str(table.get_row_at(i)[0]), str(table.get_row_at(i)[2])) for i in range(table.row_count)
    ]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound for a moment, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_never_touches_the_network(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait_for: Callable[..., Any],
    demo_app: Any,
    new_profile: Any,
) -> None:
    def no_network(*args: object, **kwargs: object) -> tuple[Check, ...]:
        raise AssertionError("the demo tried to reach the network")

    monkeypatch.setattr("dlenv_tui.probe.reach.check_reachable", no_network)

    async def run() -> None:
        app, _, _, _ = demo_app("ubuntu-4090")
        async with app.run_test(size=(80, 24)) as pilot:
            await new_profile(pilot)
            await wait_for(pilot, lambda: app.screen.reach is not None, "the repository rows")
            reach = app.screen.reach
            shown = rows(app)
        hosts = [c.title for c in reach]
        assert hosts == ["developer.download.nvidia.com", "nvidia.github.io", "download.docker.com"]
        assert all(c.status is Status.OK and "(simulated)" in c.detail for c in reach)
        # appended after the probe's rows, the placeholder gone
        assert [found for _, found in shown[-3:]] == [c.detail for c in reach]
        assert not any("checking package repositories" in found for _, found in shown)

    asyncio.run(run())


def test_placeholder_shows_while_the_worker_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait_for: Callable[..., Any],
    demo_app: Any,
    new_profile: Any,
) -> None:
    release = threading.Event()
    real = services.repository_checks

    def slow(*args: Any, **kwargs: Any) -> tuple[Check, ...]:
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "repository_checks", slow)

    async def run() -> None:
        app, _, _, _ = demo_app("debian-1080")
        async with app.run_test(size=(80, 24)) as pilot:
            await new_profile(pilot)
            await pilot.pause(0.1)
            status, found = rows(app)[-1]
            assert (status, found) == ("…", "checking package repositories…")
            assert app.screen.reach is None
            await pilot.press("down", "down")  # the user reads the table meanwhile
            release.set()
            await wait_for(pilot, lambda: app.screen.reach is not None, "the repository rows")
            table = app.screen.query_one("#checks DataTable")
            assert table.cursor_row == 2  # rows arriving do not move the cursor
            assert "checking" not in rows(app)[-1][1]

    try:
        asyncio.run(run())
    finally:
        release.set()


def test_real_check_reports_an_unreachable_repository(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wait_for: Callable[..., Any],
    new_profile: Any,
    store: ProfileStore,
) -> None:
    """Not demo: the real check_reachable runs, aimed (through the services seam) at a closed port."""
    monkeypatch.setenv("DLENV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    port = closed_port()
    asked: list[str] = []

    def endpoints(facts: Any, profile: Any) -> tuple[str, ...]:
        asked.append(profile.name)
        return (f"https://127.0.0.1:{port}",)

    monkeypatch.setattr(services, "repository_endpoints", endpoints)

    async def run() -> None:
        app = make_app(
            facts_file=str(asset("demo", "ubuntu-4090.json")),
            store=store,
        )
        assert app.ctx.mode.name == "real"
        async with app.run_test(size=(80, 24)) as pilot:
            await new_profile(pilot)
            await wait_for(pilot, lambda: app.screen.reach is not None, "the repository rows")
            (row,) = app.screen.reach
            assert row.id == f"reach.127.0.0.1:{port}"
            assert row.status is Status.WARN
            assert row.detail == "could not connect: the connection was refused"
            assert row.fix
            assert rows(app)[-1] == ("! warn", f"{row.detail} →")
            verdict = str(app.screen.query_one("#verdict").render())
            assert "1 package repository did not answer" in verdict

    asyncio.run(run())
    assert asked == ["gpu-dev"]
