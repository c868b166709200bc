"""`sudo dlenv …` through real sudo by a real unprivileged user: the profile it writes is the user's.

The profile lands in the invoking user's profile directory (not /root's), belongs to the user
(uid, gid, 0600) with every directory dlenv made for it, and the image's SSH keys come from the
user's ~/.ssh, not /root's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.root]

USER = "dlenvprof"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDlenvProfSudoTestKeyOnlyForThisTest0000000 prof@test"
RUNUSER = shutil.which("runuser") or "/usr/sbin/runuser"
ROOT_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRootsKeyMustNotBeInTheImage00000000000000 root@x"


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, text=True)


@pytest.fixture
def sudo_user(tmp_path: Path) -> Iterator[tuple[int, int, Path]]:
    """A user with a home and a public key, allowed `sudo -n` of this venv's Python only."""
    if os.geteuid() != 0 or not shutil.which("sudo") or not shutil.which("useradd"):
        pytest.skip("needs root, sudo and useradd")
    with contextlib.suppress(subprocess.CalledProcessError):
        _run("userdel", "-rf", USER)
    _run("useradd", "--create-home", "--shell", "/bin/sh", USER)
    uid = int(subprocess.check_output(["id", "-u", USER], text=True))
    gid = int(subprocess.check_output(["id", "-g", USER], text=True))
    home = Path(f"/home/{USER}")
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "id_ed25519.pub").write_text(KEY + "\n")
    for p in (ssh, ssh / "id_ed25519.pub"):
        os.chown(p, uid, gid)
    sudoers = Path("/etc/sudoers.d/dlenv-prof-test")
    sudoers.write_text(f"{USER} ALL=(root) NOPASSWD: {sys.executable}\n")
    sudoers.chmod(0o440)
    _run("visudo", "-cf", str(sudoers))
    try:
        yield uid, gid, home
    finally:
        sudoers.unlink(missing_ok=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("userdel", "-rf", USER)


@pytest.fixture
def sudo_dlenv(dlenv_argv: list[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``sudo_dlenv(*args)``: `sudo dlenv ARGS` typed by the test user (runuser drops root
    first; sudo takes it back)."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [RUNUSER, "-u", USER, "--", "sudo", "-n", *dlenv_argv, *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            # the user's own shell: no dlenv variables from this test run
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )

    return run


def test_a_profile_written_under_sudo_belongs_to_the_invoking_user(
    sudo_user: tuple[int, int, Path], tmp_path: Path, sudo_dlenv: Any
) -> None:
    uid, gid, home = sudo_user
    root_profile = Path("/root/.config/dlenv/profiles/sudoprof.toml")
    root_profile.unlink(missing_ok=True)
    out = sudo_dlenv("profiles", "new", "sudoprof")
    assert out.returncode == 0, out.stderr
    path = home / ".config/dlenv/profiles/sudoprof.toml"
    assert path.is_file(), out.stdout + out.stderr
    assert not root_profile.exists()
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o600)
    # every directory dlenv made on the way is the user's too
    for d in (home / ".config", home / ".config/dlenv", home / ".config/dlenv/profiles"):
        assert (d.stat().st_uid, d.stat().st_gid) == (uid, gid), d
    # a second write under sudo (set) keeps the ownership; the user can read it without sudo
    out = sudo_dlenv("profiles", "set", "sudoprof", "ssh=true")
    assert out.returncode == 0, out.stderr
    st = path.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (uid, gid, 0o600)
    read = subprocess.run(
        [RUNUSER, "-u", USER, "--", "cat", str(path)], capture_output=True, text=True
    )
    assert read.returncode == 0 and "sudoprof" in read.stdout
    # the image's keys come from the user's ~/.ssh, not /root's
    root_ssh = Path("/root/.ssh")
    planted = not (root_ssh / "dlenv-test-root.pub").exists()
    root_ssh.mkdir(mode=0o700, exist_ok=True)
    (root_ssh / "dlenv-test-root.pub").write_text(ROOT_KEY + "\n")
    try:
        context = tmp_path / "ctx"
        out = sudo_dlenv("dockerfile", "sudoprof", "--output", str(context))
        assert out.returncode == 0, out.stderr
        keys = (context / "authorized_keys").read_text()
        assert KEY in keys and ROOT_KEY not in keys
        # the image's user is the invoking user, not root
        dockerfile = (context / "Dockerfile").read_text()
        assert f'io.dlenv.user="{uid}:{gid}"' in dockerfile
    finally:
        if planted:
            (root_ssh / "dlenv-test-root.pub").unlink(missing_ok=True)


def test_root_does_not_write_into_a_directory_the_user_swapped_for_a_symlink(
    sudo_user: tuple[int, int, Path], tmp_path: Path, sudo_dlenv: Any
) -> None:
    """The profiles directory pointing at a root-owned place is refused with one sentence."""
    uid, gid, home = sudo_user
    target = tmp_path / "root-owned"
    target.mkdir(mode=0o755)
    config = home / ".config" / "dlenv"
    config.mkdir(parents=True)
    for d in (home / ".config", config):
        os.chown(d, uid, gid)
    (config / "profiles").symlink_to(target)
    os.lchown(config / "profiles", uid, gid)
    out = sudo_dlenv("profiles", "new", "evil")
    assert out.returncode != 0
    assert list(target.iterdir()) == []
    assert "does not belong to the user behind sudo" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
