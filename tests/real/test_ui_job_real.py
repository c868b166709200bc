"""Reattaching the wizard to a real root-worker job: a job started through WorkerRunner (apt-get
install of the tiny `hello` package, held at dpkg's lock so it is still running) is offered on the
start screen, followed to its outcome, recorded in its profile and not offered again."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.app import make_app
from dlenv_tui.execute import WorkerRunner, find_unseen_job
from dlenv_tui.execute import journal as jr
from dlenv_tui.locations import asset
from dlenv_tui.model import Plan, Profile, Stage, StageState, Step
from dlenv_tui.profiles import ProfileStore

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: a real apt-get install through the root worker"
    ),
]

# Programs from the product's allowlist, used for what the plans use them for.
APT_GET = "/usr/bin/apt-get"
DPKG = "/usr/bin/dpkg"
DPKG_QUERY = "/usr/bin/dpkg-query"
DPKG_LOCK = "/var/lib/dpkg/lock-frontend"
APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)


def installed(pkg: str) -> bool:
    out = subprocess.run(
        [DPKG_QUERY, "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() == "install ok installed"


def purge() -> None:
    subprocess.run(
        [APT_GET, "purge", "-y", "-qq", "hello"],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        check=False,
    )
    assert not installed("hello")


@contextlib.contextmanager
def dpkg_lock_held() -> Iterator[None]:
    """Hold dpkg's frontend lock the way apt does, as another package manager would."""
    fd = os.open(DPKG_LOCK, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DLENV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    purge()
    yield tmp_path / "state" / "jobs"
    purge()


def hello_plan(profile: str) -> Plan:
    return Plan(
        stage=Stage.TOOLKIT,
        profile=profile,
        steps=(
            Step(
                id="install-hello",
                title="Install hello",
                argv=(APT_GET, "install", "-y", "--no-install-recommends", "hello"),
                check=(DPKG_QUERY, "-W", "hello"),
                env=APT_ENV,
            ),
            # A second package step (the worker allows only the argv shapes plans use).
            Step(
                id="verify-hello",
                title="Verify hello",
                argv=(APT_GET, "install", "-y", "--no-install-recommends", "hello"),
                env=APT_ENV,
            ),
        ),
    )


def log_text(app: Any) -> str:
    return "\n".join(str(line) for line in app.screen.query_one("#log").lines)


def test_running_job_is_offered_followed_recorded_and_then_seen(
    state: Path, wait_for: Callable[..., Any], screen_name: Callable[[Any], str]
) -> None:
    store = ProfileStore()  # $DLENV_CONFIG_DIR/profiles, as the real wizard uses
    store.save(Profile(name="lab"))
    plan = hello_plan("lab")
    lock = dpkg_lock_held()
    lock.__enter__()
    try:
        job = WorkerRunner(lock_timeout=60, saved_plan=True).start(plan)
        assert jr.lock_holder() == job

        async def run() -> None:
            app = make_app(facts_file=str(asset("demo", "ubuntu-4090.json")))
            assert app.ctx.mode.name == "real"
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(
                    pilot,
                    lambda: screen_name(app) == "StartScreen" and app.screen.job is not None,
                    "the job banner",
                )
                banner = str(app.screen.query_one("#job").render())
                assert job in banner and "running" in banner
                await pilot.press("j")
                await wait_for(pilot, lambda: screen_name(app) == "JobScreen", "the job screen")
                await wait_for(pilot, lambda: "waiting" in log_text(app), "the lock wait")
                lock.__exit__(None, None, None)  # the other package manager finishes
                await wait_for(
                    pilot,
                    lambda: "✓" in str(app.screen.query_one("#job-state").render()),
                    "the outcome",
                    timeout=120,
                )
                assert "Setting up hello" in log_text(app)
                await pilot.press("escape")
                await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")
                await pilot.pause(0.5)
                assert app.screen.job is None
                assert not app.screen.query_one("#job").display

        asyncio.run(run())
    finally:
        lock.__exit__(None, None, None)
    assert installed("hello")
    assert find_unseen_job() is None
    assert "seen" in jr.control_path(job).read_text().split()
    progress = store.load("lab").progress["toolkit"]
    assert progress.state is StageState.DONE


def test_failed_job_that_finished_unseen_shows_its_failure(
    state: Path, wait_for: Callable[..., Any], screen_name: Callable[[Any], str]
) -> None:
    store = ProfileStore()
    store.save(Profile(name="lab"))
    missing = "dlenv-no-such-package-" + secrets.token_hex(3)
    plan = Plan(
        stage=Stage.ENGINE,
        profile="lab",
        steps=(
            Step(
                id="install-missing",
                title=f"Install {missing}",
                argv=(APT_GET, "install", "-y", "--no-install-recommends", missing),
                check=(DPKG_QUERY, "-W", missing),
                env=APT_ENV,
            ),
        ),
    )
    job = WorkerRunner(saved_plan=True).start(plan)
    deadline = time.monotonic() + 120
    while jr.lock_holder() == job and time.monotonic() < deadline:
        time.sleep(0.1)
    assert jr.lock_holder() != job, "the job should have finished"

    async def run() -> None:
        app = make_app(facts_file=str(asset("demo", "ubuntu-4090.json")))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: getattr(app.screen, "job", None) is not None, "banner")
            assert "finished" in str(app.screen.query_one("#job").render())
            await pilot.press("j")
            await wait_for(pilot, lambda: screen_name(app) == "JobScreen", "the job screen")
            await wait_for(pilot, lambda: app.screen.result is not None, "the outcome")
            text = str(app.screen.query_one("#job-state").render())
            assert f"✗ Install {missing} failed (exit status 100)" in text
            assert "Recorded in profile lab: engine failed." in text
            assert "Unable to locate package" in log_text(app)
            await pilot.press("escape")
            await wait_for(pilot, lambda: screen_name(app) == "StartScreen", "start")

    asyncio.run(run())
    assert find_unseen_job() is None
    assert store.load("lab").progress["engine"].state is StageState.FAILED
