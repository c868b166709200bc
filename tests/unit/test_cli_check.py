"""`dlenv check` as a user runs it: a subprocess, fixture hosts, JSON round trip, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.checks import run_checks
from dlenv_tui.cli import main
from dlenv_tui.cli.check import render_table, use_colour
from dlenv_tui.model import HostFacts, from_data
from dlenv_tui.probe import LocalHost, probe_host


@pytest.fixture
def dlenv(
    repo_root: Path, dlenv_argv: list[str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``dlenv(*args)``: the CLI in a subprocess from the checkout, with ``NO_COLOR`` empty."""
    env = {**os.environ, "NO_COLOR": ""}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*dlenv_argv, *args],
            capture_output=True,
            text=True,
            cwd=repo_root,
            env=env,
            timeout=60,
            check=False,
        )

    return run


@pytest.mark.parametrize(
    ("tree", "code", "failed"),
    [
        ("ubuntu-24.04-rtx4090", 0, []),
        ("ubuntu-22.04-mixed", 0, []),
        ("rocky-9-t4", 0, []),
        ("fedora-42-a100", 0, []),
        ("debian-12-nogpu", 1, ["NVIDIA GPUs"]),
        ("opensuse-leap-15.6-rtx3090", 1, ["Disk space"]),
        ("arch-rtx4090", 1, ["Distribution", "Package manager"]),
    ],
)
def test_table_and_exit_status(
    tree: str, code: int, failed: list[str], dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    result = dlenv("check", "--sysroot", str(sysroot(tree)))
    assert result.returncode == code, result.stderr
    assert result.stderr == ""
    assert "\x1b[" not in result.stdout  # not a terminal: no colour
    fail_rows = [
        line.split(None, 1)[1] for line in result.stdout.splitlines() if line.startswith("  FAIL")
    ]
    assert [r.split("  ")[0].strip() for r in fail_rows] == failed
    assert f"{len(failed)} failed" in result.stdout


def test_json_round_trips_through_facts(
    tmp_path: Path, dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    first = dlenv(
        "--sysroot", str(sysroot("ubuntu-22.04-mixed")), "check", "--json"
    )  # global flag position
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert set(data) == {"facts", "checks"}
    facts = from_data(HostFacts, data["facts"])
    assert [g.name for g in facts.gpus] == ["GeForce GTX 1080", "GeForce RTX 3090"]
    saved = tmp_path / "host.json"
    saved.write_text(first.stdout)
    again = dlenv("check", "--json", "--facts", str(saved))
    assert again.returncode == 0
    assert json.loads(again.stdout) == data


def test_failing_facts_keep_exit_status_1(
    tmp_path: Path, dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    out = dlenv("check", "--json", "--sysroot", str(sysroot("arch-rtx4090")))
    assert out.returncode == 1
    checks = {c["id"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["distro"]["status"] == "fail" and "Ubuntu 22.04/24.04" in checks["distro"]["fix"]
    saved = tmp_path / "arch.json"
    saved.write_text(out.stdout)
    assert dlenv("check", "--facts", str(saved)).returncode == 1


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (["check", "--facts", "{missing}"], None, "does not exist"),
        (["check", "--facts", "{file}"], "{broken", "is not valid JSON"),
        (["check", "--facts", "{file}"], '{"facts": {"distro": {}}}', "missing field"),
        (["--facts", "{file}", "check"], '{"facts": []}', "does not hold host facts"),
        (["check", "--sysroot", "{missing}"], None, "is not a directory"),
        (["check", "--sysroot", "/", "--facts", "{file}"], "{}", "either --sysroot or --facts"),
        (["check", "--bogus"], None, "unrecognized arguments"),
    ],
)
def test_bad_usage_is_one_sentence_and_exit_2(
    tmp_path: Path,
    args: list[str],
    content: str | None,
    message: str,
    dlenv: Any,
) -> None:
    file = tmp_path / "facts.json"
    if content is not None:
        file.write_text(content)
    argv = [a.format(missing=tmp_path / "nope", file=file) for a in args]
    result = dlenv(*argv)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "--json"])
    data = json.loads(capsys.readouterr().out)
    failed = any(c["status"] == "fail" for c in data["checks"])
    assert code == (1 if failed else 0)
    assert data["facts"]["kernel"]


def test_colour_only_when_asked(sysroot: Callable[[str], Path]) -> None:
    facts = probe_host(LocalHost(sysroot("arch-rtx4090")))
    checks = run_checks(facts)
    plain = render_table(facts, checks)
    coloured = render_table(facts, checks, colour=True)
    assert "\x1b[" not in plain
    assert "\x1b[1;31mFAIL\x1b[0m" in coloured
    assert plain.splitlines()[0].startswith("dlenv check · Arch Linux · x86_64 · archbox")


class _Tty:
    def isatty(self) -> bool:
        return True


def test_use_colour_on_a_terminal_unless_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Tty())  # type: ignore[arg-type]
    assert not use_colour(_NotTty())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(_Tty())  # type: ignore[arg-type]


class _NotTty:
    def isatty(self) -> bool:
        return False
