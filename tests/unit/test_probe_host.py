"""The Host seam: LocalHost on this machine and over a sysroot with fixture command answers."""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlenv_tui.probe.host import CommandResult, LocalHost, ping_unix_socket


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/hostname").write_text("box\n")
    (tmp_path / "usr/src/headers").mkdir(parents=True)
    (tmp_path / "lib/modules/6.1").mkdir(parents=True)
    # An absolute link means the sysroot's /usr/src/headers, not this machine's.
    os.symlink("/usr/src/headers", tmp_path / "lib/modules/6.1/build")
    (tmp_path / "usr/sbin").mkdir(parents=True)
    (tmp_path / "usr/sbin/mokutil").write_text("")
    cmds = tmp_path / ".commands"
    cmds.mkdir()
    (cmds / "mokutil_--sb-state.out").write_text("SecureBoot enabled\n")
    (cmds / "sudo_-n_true.rc").write_text("1\n")
    (cmds / "sudo_-n_true.err").write_text("sudo: a password is required\n")
    return tmp_path


def test_sysroot_reads_files_below_root(tree: Path) -> None:
    host = LocalHost(tree)
    assert host.read_text("/etc/hostname") == "box\n"
    assert host.read_text("/etc/missing") is None
    assert host.list_dir("/etc") == ["hostname"]
    assert host.list_dir("/nope") is None
    assert host.exists("/lib/modules/6.1/build")
    assert not host.exists("/lib/modules/6.2/build")


def test_sysroot_never_runs_programs_and_answers_from_fixtures(tree: Path) -> None:
    host = LocalHost(tree)
    assert host.run(["mokutil", "--sb-state"]) == CommandResult(
        ("mokutil", "--sb-state"), 0, "SecureBoot enabled\n", ""
    )
    sudo = host.run(["sudo", "-n", "true"])
    assert sudo is not None and sudo.returncode == 1 and not sudo.ok
    assert "password is required" in sudo.output
    # `true` exists on this machine, but a sysroot without an answer for it has no such program.
    assert host.run(["true"]) is None


def test_sysroot_which_uses_bin_dirs_then_fixtures(tree: Path) -> None:
    host = LocalHost(tree)
    assert host.which("mokutil") == "/usr/sbin/mokutil"
    assert host.which("sudo") == "/usr/bin/sudo"  # known only from .commands/
    assert host.which("sh") is None  # on this machine, not in the sysroot
    assert host.which("../etc/hostname") is None


def test_sysroot_disk_usage_from_dot_disk_or_the_real_directory(tree: Path) -> None:
    host = LocalHost(tree)
    real = host.disk_usage("/var/lib/docker")  # nearest existing parent: the tree itself
    assert real is not None and real.total_bytes > 0
    (tree / ".disk").write_text("100 200\n")
    usage = host.disk_usage("/var/lib/docker")
    assert usage is not None and (usage.free_bytes, usage.total_bytes) == (100, 200)


def test_sysroot_cannot_tell_whether_a_socket_answers(tree: Path) -> None:
    assert LocalHost(tree).http_ping("/var/run/docker.sock") is None


def test_real_run_uses_c_locale_and_no_shell() -> None:
    host = LocalHost()
    result = host.run([sys.executable, "-c", "import os; print(os.environ['LC_ALL'])"])
    assert result is not None and result.ok and result.stdout.strip() == "C"
    # An argv element with shell syntax is one literal argument, never interpreted.
    echo = host.run([sys.executable, "-c", "import sys; print(sys.argv[1])", "$(id); echo x"])
    assert echo is not None and echo.stdout.strip() == "$(id); echo x"


def test_real_run_missing_program_and_timeout() -> None:
    host = LocalHost()
    assert host.run(["dlenv-no-such-program-xyz"]) is None
    slow = host.run([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.3)
    assert slow is not None and slow.timed_out and slow.returncode == 124 and not slow.ok


def test_real_which_and_files() -> None:
    host = LocalHost()
    assert host.which("sh") is not None
    assert host.read_text("/proc/self/status") is not None


@pytest.fixture
def api_socket(tmp_path: Path) -> Iterator[str]:
    """A UNIX socket that answers like Docker's /_ping."""
    path = str(tmp_path / "api.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path
    server.close()
    thread.join(timeout=2)


def test_ping_answers_on_a_live_socket(api_socket: str) -> None:
    assert LocalHost().http_ping(api_socket) is True


def test_ping_false_when_nothing_listens(tmp_path: Path) -> None:
    assert ping_unix_socket(str(tmp_path / "absent.sock")) is False
    dead = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(dead))
    s.close()  # the file stays, nobody listens: connection refused
    assert ping_unix_socket(str(dead)) is False
