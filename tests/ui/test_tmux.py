"""The installed `dlenv --demo` in a real terminal (tmux, 80×24), walked to the end with send-keys."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

DLENV = Path(sys.executable).parent / "dlenv"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(not DLENV.exists(), reason="dlenv is not installed in this environment"),
]


class Tmux:
    def __init__(self, tmp: Path) -> None:
        self.socket = str(tmp / "tmux.sock")
        self.session = "dlenv-test"

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", self.socket, *args], check=True, capture_output=True, text=True
        ).stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", self.session, "-x", "80", "-y", "24", command)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.session, *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True)


def test_demo_walks_to_the_end_in_tmux(tmp_path: Path) -> None:
    t = Tmux(tmp_path)
    env = (
        f"DLENV_CACHE_DIR={tmp_path / 'cache'} DLENV_CONFIG_DIR={tmp_path / 'real-config'} "
        "TERM=xterm-256color"
    )
    t.start(f"env {env} {DLENV} --demo; echo EXITED-$?; sleep 30")
    try:
        t.wait_for("Fresh Ubuntu 24.04 + RTX 4090")
        t.keys("Enter")  # the first scenario
        t.wait_for("No profiles yet")
        t.keys("n")
        t.wait_for("New profile")
        t.keys("Enter")
        t.wait_for("Prerequisites")
        t.keys("C-n")
        screen = t.wait_for("Recommended: open kernel modules")
        assert "NVIDIA driver" in screen
        for stage in ("Plan", "Container Toolkit", "Docker or Podman"):
            # stage screen -> its plan -> run it -> done -> next stage
            t.keys("C-n")
            t.wait_for("the plan")
            t.keys("C-n")
            t.wait_for("done", timeout=60)
            t.keys("C-n")
            if stage == "Plan":
                t.wait_for("NVIDIA Container Toolkit")
            elif stage == "Container Toolkit":
                t.wait_for("Docker or Podman")
            else:
                t.wait_for("what goes into the container")
        t.keys("C-n")
        t.wait_for("Built dlenv/gpu-dev:latest", timeout=60)
        t.keys("C-n")
        t.wait_for("Launch the container")
        t.keys("C-r")
        screen = t.wait_for("is running")
        assert "How to connect" in screen
        t.keys("C-n")
        screen = t.wait_for("Summary")
        assert "gpu-dev" in screen
        t.keys("q")
        t.wait_for("EXITED-0")
    finally:
        t.kill()
    # demo profiles never land in the real config directory
    assert not (tmp_path / "real-config").exists()
    # they live in this user's private cache directory (0700), not under a guessable /tmp name
    demo = tmp_path / "cache" / "demo" / "ubuntu-4090" / "profiles"
    assert (demo / "gpu-dev.toml").is_file()
    assert demo.stat().st_mode & 0o777 == 0o700
