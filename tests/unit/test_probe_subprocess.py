"""The wizard's probe runs in a child process (`python -m dlenv_tui.probe`): the same facts as an
in-process probe, one sentence for every way the child can fail, and no child left behind."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from dlenv_tui.errors import DlenvError
from dlenv_tui.probe import LocalHost, child, probe_host
from dlenv_tui.probe.child import kill_probes, probe_in_subprocess


@pytest.mark.parametrize("name", ["fedora-42-a100", "ubuntu-22.04-mixed", "debian-12-nogpu"])
def test_the_child_reports_the_same_facts_as_probing_here(
    name: str, sysroot: Callable[[str], Path]
) -> None:
    root = sysroot(name)
    child = probe_in_subprocess(str(root))
    here = probe_host(LocalHost(root))
    assert dataclasses.replace(child, probed_at="") == dataclasses.replace(here, probed_at="")
    assert child.gpus == here.gpus and child.distro == here.distro  # not just empty


def test_the_module_refuses_unknown_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dlenv_tui.probe", "--bogus"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "usage: python -m dlenv_tui.probe [--sysroot DIR]" in done.stderr


def fake_python(tmp_path: Path, body: str) -> str:
    """An executable standing in for the interpreter the wizard starts the probe with."""
    script = tmp_path / "python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_a_failing_probe_is_one_sentence_with_its_last_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        'echo "Traceback (most recent call last):" >&2; echo "OSError: /proc is gone" >&2; exit 1'
    )
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, body))
    with pytest.raises(DlenvError, match=r"^the probe failed: OSError: /proc is gone$"):
        probe_in_subprocess(None)


def test_an_answer_that_is_not_facts_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, "echo '{\"arch\": 5}'"))
    with pytest.raises(DlenvError, match="answered something that is not host facts"):
        probe_in_subprocess(None)
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, "echo not json"))
    with pytest.raises(DlenvError, match="answered something that is not host facts"):
        probe_in_subprocess(None)


def test_a_hung_probe_is_killed_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, "exec sleep 60"))
    start = time.monotonic()
    with pytest.raises(DlenvError, match=r"did not answer within 1 s"):
        probe_in_subprocess(None, timeout=1)
    assert time.monotonic() - start < 10
    assert not child._PROBES


def test_quitting_kills_a_probe_still_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", fake_python(tmp_path, "exec sleep 60"))
    errors: list[str] = []

    def probe() -> None:
        try:
            probe_in_subprocess(None)
        except DlenvError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=probe)
    thread.start()
    for _ in range(100):
        if child._PROBES:
            break
        time.sleep(0.05)
    (proc,) = child._PROBES
    kill_probes()
    thread.join(10)
    assert not thread.is_alive()
    assert proc.returncode == -9
    assert errors and errors[0].startswith("the probe failed")
