"""Reads are bounded and writes never go through a planted symlink (run as a user runs the CLI).

A FIFO in place of a profile, ``--facts /dev/zero``, a 2 MiB ``--plan`` file, a CA certificate
that is a device: each is one ``dlenv:`` sentence within seconds, nothing read into memory, and
``-o`` / ``--output`` pointed through a symlink leaves the link's target untouched.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.model import Profile
from dlenv_tui.profiles import ProfileStore


@pytest.fixture
def dlenv(tmp_path: Path, dlenv_argv: list[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``dlenv(*args)``: the CLI in a subprocess, its config under ``tmp_path``."""
    env = {**os.environ, "DLENV_CONFIG_DIR": str(tmp_path / "config")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*dlenv_argv, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    return run


def _one_sentence(done: subprocess.CompletedProcess[str], code: int, piece: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dlenv: "), done.stderr
    assert piece in lines[0], lines[0]
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    s = ProfileStore(tmp_path / "config" / "profiles")
    s.save(Profile(name="good"))
    return s


def test_a_fifo_profile_does_not_hang_the_list_or_show(
    tmp_path: Path, store: ProfileStore, dlenv: Any
) -> None:
    os.mkfifo(store.directory / "fifo.toml")
    listed = dlenv("profiles", "list")
    assert listed.returncode in (0, 1), listed.stderr
    assert "good" in listed.stdout
    assert "Traceback" not in listed.stdout + listed.stderr
    _one_sentence(dlenv("profiles", "show", "fifo"), 2, "not a regular file")


def test_an_oversized_profile_is_refused_without_reading_it(
    tmp_path: Path,
    store: ProfileStore,
    dlenv: Any,
) -> None:
    with open(store.directory / "big.toml", "wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB that cost no disk
    _one_sentence(dlenv("profiles", "show", "big"), 2, "larger than 1 MiB")


def test_facts_from_a_device_or_fifo_is_one_sentence(
    tmp_path: Path, store: ProfileStore, dlenv: Any
) -> None:
    _one_sentence(dlenv("check", "--facts", "/dev/zero"), 2, "not a regular file")
    fifo = tmp_path / "facts.fifo"
    os.mkfifo(fifo)
    _one_sentence(dlenv("check", "--facts", str(fifo)), 2, "not a regular file")


def test_a_plan_file_that_is_a_device_or_too_big(
    tmp_path: Path, store: ProfileStore, dlenv: Any
) -> None:
    _one_sentence(
        dlenv("apply", "good", "--plan", "/dev/zero", "--dry-run"), 2, "not a regular file"
    )
    big = tmp_path / "plan.json"
    big.write_bytes(b" " * (2 << 20))
    _one_sentence(dlenv("apply", "good", "--plan", str(big), "--dry-run"), 2, "larger than")


def test_plan_output_through_a_symlink_is_refused(
    tmp_path: Path, store: ProfileStore, dlenv: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "out.sh"
    link.symlink_to(victim)
    done = dlenv("plan", "good", "--stage", "toolkit", "-o", str(link))
    _one_sentence(done, 2, "symlink")
    assert victim.read_text() == "precious\n"


def test_dockerfile_output_dir_through_a_symlink_is_refused(
    tmp_path: Path,
    store: ProfileStore,
    dlenv: Any,
) -> None:
    victim = tmp_path / "victim-dir"
    victim.mkdir()
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "Dockerfile").symlink_to(victim / "Dockerfile")
    done = dlenv("dockerfile", "good", "--output", str(out))
    _one_sentence(done, 2, "symlink")
    assert list(victim.iterdir()) == []
