"""`dlenv plan` and `dlenv profiles` end to end, on recorded facts and a temporary config directory."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.cli import main
from dlenv_tui.plan import plan_from_json


@pytest.fixture(autouse=True)
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def facts(facts_file: Callable[[str], Path]) -> Callable[[str], str]:
    """``facts(name)`` → the recorded facts file's path, as ``--facts`` takes it."""
    return lambda name: str(facts_file(name))


def test_profiles_new_list_show_rm(
    capsys: pytest.CaptureFixture[str], config: Path, facts: Any
) -> None:
    assert main(["profiles", "list"]) == 0
    assert "No profiles" in capsys.readouterr().out
    assert main(["profiles", "new", "gpu1", "--facts", facts("fedora-43-a100-secureboot")]) == 0
    out = capsys.readouterr().out
    assert "Created profile gpu1" in out and "podman (distro)" in out
    assert main(["profiles", "new", "gpu1", "--facts", facts("fedora-43-a100-secureboot")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["profiles", "list"]) == 0
    assert capsys.readouterr().out.startswith("gpu1  ")
    assert main(["profiles", "show", "gpu1"]) == 0
    shown = capsys.readouterr().out
    assert "schema = 1" in shown and 'engine = "podman"' in shown
    assert main(["profiles", "rm", "gpu1"]) == 0
    assert main(["profiles", "show", "gpu1"]) == 2
    assert "No profile named 'gpu1'" in capsys.readouterr().err


def test_profiles_new_with_overrides_and_bad_input(
    capsys: pytest.CaptureFixture[str], facts: Any
) -> None:
    assert (
        main(
            [
                "profiles",
                "new",
                "p",
                "--facts",
                facts("debian-12-gtx1080"),
                "--engine",
                "podman",
                "--cuda",
                "12.6",
            ]
        )
        == 0
    )
    assert "CUDA 12.6" in capsys.readouterr().out
    assert main(["profiles", "new", "../evil", "--facts", facts("debian-12-gtx1080")]) == 2
    assert "path separator" in capsys.readouterr().err
    assert (
        main(["profiles", "new", "q", "--facts", facts("debian-12-gtx1080"), "--cuda", "13.0"]) == 2
    )
    assert "cannot run" in capsys.readouterr().err


def test_list_shows_broken_files_with_their_error(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    (config / "profiles").mkdir()
    (config / "profiles" / "bad.toml").write_text("schema = 9\n")
    assert main(["profiles", "list"]) == 1
    assert "newer dlenv" in capsys.readouterr().out


def test_plan_script_and_json(capsys: pytest.CaptureFixture[str], facts: Any) -> None:
    f = facts("ubuntu-24.04-rtx4090-fresh")
    assert main(["profiles", "new", "u", "--facts", f]) == 0
    capsys.readouterr()
    assert main(["plan", "u", "--facts", f]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/usr/bin/env bash\n") and "# ===== Stage: engine =====" in script
    assert main(["plan", "u", "--facts", f, "--stage", "toolkit", "--format", "json"]) == 0
    plan = plan_from_json(capsys.readouterr().out)
    assert plan.stage.value == "toolkit" and plan.steps
    assert main(["plan", "u", "--facts", f, "--format", "json"]) == 0
    assert [p["stage"] for p in json.loads(capsys.readouterr().out)] == [
        "driver",
        "toolkit",
        "engine",
    ]


def test_plan_for_an_unsupported_host_is_one_sentence(
    capsys: pytest.CaptureFixture[str], facts: Any
) -> None:
    f = facts("arch-rtx4090")
    assert main(["profiles", "new", "a", "--facts", f]) == 0
    capsys.readouterr()
    assert main(["plan", "a", "--facts", f]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dlenv: unsupported: Arch Linux; supported: ") and err.count("\n") == 1
