"""Fixtures every layer shares: the committed fixture trees, recorded hosts, and async tests.

The layers: ``unit/`` (the headless core, fast), ``ui/`` (Pilot flows, snapshots, tmux) and
``real/`` (real engines, apt, root, the worker). Each layer's ``conftest.py`` holds its own
fixtures; no test module imports from another.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.model import HostFacts, from_data

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
SYSROOTS = FIXTURES / "sysroots"
"""Committed host trees for ``--sysroot`` (see ``fixtures/sysroots/README.md``)."""
FACTS = FIXTURES / "facts"
"""Recorded ``dlenv check --json`` outputs for ``--facts``."""

SYSROOT_NAMES = sorted(p.name for p in SYSROOTS.iterdir() if p.is_dir())
FACTS_NAMES = sorted(p.stem for p in FACTS.glob("*.json"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Arguments that run a test over every recorded host, known when tests are collected:
    ``sysroot_name`` (every committed tree) and ``recorded_host`` (every facts file, then every
    tree as ``tree:NAME``)."""
    if "sysroot_name" in metafunc.fixturenames:
        metafunc.parametrize("sysroot_name", SYSROOT_NAMES)
    if "recorded_host" in metafunc.fixturenames:
        metafunc.parametrize("recorded_host", FACTS_NAMES + [f"tree:{t}" for t in SYSROOT_NAMES])


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """``async def`` tests run on a fresh event loop (no async plugin: Pilot needs nothing more)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout: where ``scripts/``, ``assets/`` and ``pyproject.toml`` are."""
    return TESTS.parent


@pytest.fixture(scope="session")
def dlenv_argv() -> list[str]:
    """The CLI as a subprocess test starts it: this interpreter running the package."""
    return [sys.executable, "-m", "dlenv_tui"]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: sysroots, facts, knowledge responses, apt fixtures."""
    return FIXTURES


@pytest.fixture(scope="session")
def sysroot() -> Callable[[str], Path]:
    """``sysroot("ubuntu-24.04-rtx4090")`` → the path of that fixture host tree."""

    def find(name: str) -> Path:
        path = SYSROOTS / name
        assert path.is_dir(), f"no fixture sysroot {name!r} under {SYSROOTS}"
        return path

    return find


@pytest.fixture(scope="session")
def facts_file() -> Callable[[str], Path]:
    """``facts_file("arch-rtx4090")`` → the path of that recorded facts file."""

    def find(name: str) -> Path:
        path = FACTS / f"{name}.json"
        assert path.is_file(), f"no recorded facts {name!r} under {FACTS}"
        return path

    return find


@pytest.fixture(scope="session")
def fixture_facts(facts_file: Callable[[str], Path]) -> Callable[[str], HostFacts]:
    """``fixture_facts("debian-12-gtx1080")`` → the HostFacts of that recorded facts file."""

    def load(name: str) -> HostFacts:
        data: dict[str, Any] = json.loads(facts_file(name).read_text())
        return from_data(HostFacts, data["facts"])

    return load


@pytest.fixture(scope="session")
def probed(sysroot: Callable[[str], Path]) -> Callable[[str], HostFacts]:
    """``probed("rocky-9-t4")`` → probe_host over that tree, without NVML."""
    from dlenv_tui.probe import LocalHost, probe_host

    def probe(name: str) -> HostFacts:
        return probe_host(LocalHost(sysroot(name)), nvml=False)

    return probe


async def _wait_for(pilot: Any, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; on {type(pilot.app.screen).__name__}")


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``await wait_for(pilot, cond, "what")``: poll ``cond`` between pauses, fail naming ``what``
    and the screen on time-out (workers are waited for, never slept on)."""
    return _wait_for


@pytest.fixture(scope="session")
def screen_name() -> Callable[[Any], str]:
    """``screen_name(app)`` → the class name of the screen on top."""
    return lambda app: type(app.screen).__name__
