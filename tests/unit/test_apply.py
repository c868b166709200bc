"""`dlenv apply`: plan shown, confirmation, dry run, --plan files, progress lines; and every plan the
plan package makes for the fixture hosts passes the worker's validation."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.cli import main
from dlenv_tui.cli.apply import Printer
from dlenv_tui.execute import product_policy, validate_plan
from dlenv_tui.model import (
    Event,
    EventKind,
    Plan,
    Profile,
    Stage,
    StageState,
    Step,
    StepOutcome,
    to_data,
)
from dlenv_tui.plan import PlanError, plan_all
from dlenv_tui.probe import LocalHost, probe_host
from dlenv_tui.profiles import ProfileStore, recommended_profile


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLENV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def _save_profile(sysroot: Path, name: str = "p") -> Profile:
    facts = probe_host(LocalHost(sysroot), nvml=False)
    profile = recommended_profile(name, facts)
    ProfileStore().save(profile)
    return profile


def test_every_fixture_plan_passes_the_workers_validation(probed: Any, sysroot_name: str) -> None:
    facts = probed(sysroot_name)
    profile = recommended_profile("p", facts)
    try:
        plans = plan_all(facts, profile)
    except PlanError as exc:  # an unsupported distro: nothing for the worker to check
        assert "unsupported" in str(exc)
        return
    for plan in plans:
        validate_plan(plan, product_policy())


def test_dry_run_shows_the_plan_and_changes_nothing(
    dirs: Path,
    capsys: pytest.CaptureFixture[str],
    sysroot: Callable[[str], Path],
) -> None:
    root = sysroot("debian-12-nogpu")
    before = _save_profile(root)
    code = main(["apply", "p", "--stage", "toolkit", "--dry-run", "--sysroot", str(root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "== toolkit:" in out
    assert "would run: " in out
    assert "Dry run: nothing was changed." in out
    assert "[1/" in out and ": not run (dry run)" in out
    assert not (dirs / "state").exists()  # no worker, no journal
    assert ProfileStore().load("p").progress == before.progress


def test_top_level_dry_run_flag_works_for_apply(
    dirs: Path,
    capsys: pytest.CaptureFixture[str],
    sysroot: Callable[[str], Path],
) -> None:
    root = sysroot("debian-12-nogpu")
    _save_profile(root)
    assert main(["--dry-run", "apply", "p", "--sysroot", str(root)]) == 0
    out = capsys.readouterr().out
    for stage in ("toolkit", "engine"):
        assert f"-- {stage} (dry run)" in out
    # a host without a GPU gets no driver plan (issue 11), only the reason
    assert "== driver: No NVIDIA GPU was found" in out and "-- driver" not in out
    assert not (dirs / "state").exists()


def test_without_yes_and_without_a_terminal_nothing_runs(
    dirs: Path, sysroot: Callable[[str], Path], dlenv_argv: list[str]
) -> None:
    root = sysroot("debian-12-nogpu")
    _save_profile(root)
    done = subprocess.run(
        [
            *dlenv_argv,
            "apply",
            "p",
            "--stage=toolkit",
            f"--sysroot={root}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("add --yes to apply without a terminal to confirm in.")
    assert "== toolkit:" in done.stdout  # shown before asking
    assert not (dirs / "state").exists()


def test_plan_file_for_another_profile_is_refused(
    dirs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ProfileStore().save(Profile(name="p"))
    plan_file = dirs / "plan.json"
    plan_file.write_text(json.dumps(to_data(Plan(stage=Stage.TOOLKIT, profile="other"))))
    assert main(["apply", "p", "--plan", str(plan_file), "--yes"]) == 2
    assert "made for profile 'other'" in capsys.readouterr().err


def test_bad_plan_file_is_one_sentence(dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ProfileStore().save(Profile(name="p"))
    plan_file = dirs / "plan.json"
    plan_file.write_text('{"stage": "toolkit", "steps": [{"id": "x", "title": "x", "kind": "sh"}]}')
    assert main(["apply", "p", "--plan", str(plan_file), "--yes", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dlenv: The plan file") and err.count("\n") == 1


def test_missing_profile_is_one_sentence(dirs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apply", "nope", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "No profile named 'nope'" in err and err.count("\n") == 1


def test_satisfied_stage_is_recorded_as_done(
    dirs: Path, sysroot: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = sysroot("rocky-9-t4")
    _save_profile(root)
    assert main(["apply", "p", "--stage", "driver", "--sysroot", str(root), "--yes"]) == 0
    assert "already satisfied" in capsys.readouterr().out
    assert ProfileStore().load("p").progress["driver"].state is StageState.DONE


def test_printer_lines() -> None:
    out = io.StringIO()
    printer = Printer(out)
    step = Step(id="a", title="Install the toolkit")
    printer(Event(kind=EventKind.STEP_STARTED, step=step.id, index=2, total=5, message=step.title))
    printer(Event(kind=EventKind.OUTPUT, step="a", line="noise"))
    printer(
        Event(
            kind=EventKind.WAITING,
            step="a",
            index=2,
            total=5,
            message="Waiting for another package manager",
        )
    )
    printer(
        Event(
            kind=EventKind.STEP_FINISHED,
            step="a",
            index=2,
            total=5,
            outcome=StepOutcome.FAILED,
            duration_s=1.25,
        )
    )
    assert out.getvalue().splitlines() == [
        "[2/5] waiting: Waiting for another package manager",
        "[2/5] Install the toolkit: failed (1.2 s)",
    ]
