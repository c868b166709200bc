"""--demo and --dry-run with every subcommand: they work (and say "would") or are refused in one sentence."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dlenv_tui.cli import main
from dlenv_tui.model import Profile
from dlenv_tui.profiles import ProfileStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProfileStore:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "cfg"))
    store = ProfileStore()
    store.save(Profile(name="real"))
    return store


@pytest.mark.parametrize(
    "argv",
    [
        ["--demo", "profiles", "list"],
        ["--demo", "check"],
        ["--demo", "run", "real"],
        ["--demo", "build", "real"],
        ["--demo", "stop", "real"],
        ["--demo", "apply", "real"],
        ["--demo", "info", "real"],
        ["--demo", "data", "refresh"],
        ["--demo", "dockerfile", "real"],
        ["--demo", "doctor"],
        ["--demo=fresh-ubuntu", "plan", "real"],
        ["--dry-run", "profiles", "new", "x", "--facts", "{facts}"],
        ["--dry-run", "profiles", "rm", "real"],
    ],
)
def test_refused_in_one_sentence_and_nothing_touched(
    argv: list[str],
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    facts_file: Callable[[str], Path],
) -> None:
    facts = str(facts_file("ubuntu-24.04-rtx4090-fresh"))
    argv = [a.replace("{facts}", facts) for a in argv]
    before = sorted(p.name for p in store.directory.iterdir())
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and ("--demo" in err or "--dry-run" in err), err
    assert "no demo scenario" not in err
    assert sorted(p.name for p in store.directory.iterdir()) == before


@pytest.mark.parametrize(
    ("argv", "would"),
    [
        (["--dry-run", "run", "real"], "Would start dlenv-real"),
        (["--dry-run", "stop", "real"], "Would stop and remove dlenv-real"),
        (["--dry-run", "build", "real"], "Would build dlenv/real:latest"),
    ],
)
def test_dry_run_build_run_stop_say_would_and_change_nothing(
    argv: list[str], would: str, store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (store.directory / "real.toml").read_bytes()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(would), out
    assert "dry run" in out
    assert (store.directory / "real.toml").read_bytes() == before
    if argv[1] == "build":  # the Dockerfile's own steps, as the wizard's dry run lists them
        assert main(["dockerfile", "real"]) == 0
        first = next(
            line for line in capsys.readouterr().out.splitlines() if line.startswith("FROM ")
        )
        assert "  would run STEP 1/" in out and out.count(f": {first}\n") == 1


def test_dry_run_profiles_list_still_lists(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dry-run", "profiles", "list"]) == 0
    assert capsys.readouterr().out.startswith("real ")
