"""Profiles: round trips, file mode, atomic writes, broken files left alone, recommendations."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.errors import UsageError
from dlenv_tui.model import (
    EngineName,
    EngineSource,
    Mount,
    PortMap,
    Profile,
    RunOptions,
    Stage,
    StageState,
    Tool,
)
from dlenv_tui.profiles import (
    ProfileError,
    ProfileStore,
    mark_stage,
    recommended_profile,
    validate_name,
    validate_profile,
)
from dlenv_tui.validate import ValidationError


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProfileStore:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "cfg"))
    return ProfileStore()


def test_store_lives_under_dlenv_config_dir(store: ProfileStore, tmp_path: Path) -> None:
    assert store.directory == tmp_path / "cfg" / "profiles"
    assert not store.directory.exists()  # nothing is created until a save
    assert store.list() == []


def test_round_trip_keeps_everything_and_writes_0600(
    store: ProfileStore, fixture_facts: Any
) -> None:
    profile = recommended_profile("work", fixture_facts("ubuntu-24.04-rtx4090-fresh"))
    profile = replace(
        profile,
        run=RunOptions(
            mounts=(Mount("/data", "/data", read_only=True),), ports=(PortMap(8888, 8899),)
        ),
    )
    profile = mark_stage(
        profile, Stage.DRIVER, StageState.NEEDS_REBOOT, "reboot", ("driver.install",)
    )
    path = store.save(profile)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.splitlines()[1] == "schema = 1"
    loaded = store.load("work")
    assert loaded == replace(profile, updated_at=loaded.updated_at)
    assert loaded.host == profile.host
    assert loaded.progress["driver"].state is StageState.NEEDS_REBOOT
    assert [e.name for e in store.list()] == ["work"]
    assert store.exists("work")
    # no temp files left behind by the atomic write
    assert sorted(p.name for p in store.directory.iterdir()) == ["work.toml"]


def test_delete(store: ProfileStore) -> None:
    store.save(Profile(name="gone"))
    store.delete("gone")
    assert not store.exists("gone")
    with pytest.raises(ProfileError, match="No profile named 'gone'"):
        store.delete("gone")


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x" * 65, "a\nb"])
def test_names_are_validated(store: ProfileStore, bad: str) -> None:
    with pytest.raises(UsageError):
        validate_name(bad)
    with pytest.raises(UsageError):
        store.load(bad)


BROKEN = {
    "corrupt": ("name = 'x'\nschema = = 1\n", "is not valid TOML"),
    "newer": ("schema = 2\nname = 'x'\n", "written by a newer dlenv (schema 2"),
    "no-schema": ("name = 'x'\n", "no valid 'schema'"),
    "wrong-type": (
        "schema = 1\nname = 'x'\n[run]\nshm_size = 8\n",
        "does not fit the profile format",
    ),
    "not-utf8": (b"schema = 1\nname = '\xff'\n", "not UTF-8"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_files_give_one_sentence_and_are_never_overwritten(
    store: ProfileStore, kind: str
) -> None:
    content, words = BROKEN[kind]
    store.directory.mkdir(parents=True)
    path = store.directory / "x.toml"
    raw = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(raw)
    with pytest.raises(ProfileError, match=re.escape(words)) as exc:
        store.load("x")
    assert "\n" not in str(exc.value)
    with pytest.raises(ProfileError, match="Not overwriting it"):
        store.save(Profile(name="x"))
    assert path.read_bytes() == raw
    [entry] = store.list()
    assert entry.name == "x" and words.split("(")[0].strip() in entry.error


def test_a_directory_in_place_of_the_file_is_reported_and_kept(store: ProfileStore) -> None:
    (store.directory / "x.toml").mkdir(parents=True)
    with pytest.raises(ProfileError, match="is a directory"):
        store.load("x")
    with pytest.raises(ProfileError, match="Not overwriting"):
        store.save(Profile(name="x"))
    assert (store.directory / "x.toml").is_dir()


def _as_nobody(directory: Path) -> list[str]:
    """Load and save ``x`` in a forked child that dropped root, so mode 000 really blocks reads."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_fd)
            os.setgid(65534)
            os.setuid(65534)
            store = ProfileStore(directory)
            lines = []
            for action in (lambda: store.load("x"), lambda: store.save(Profile(name="x"))):
                try:
                    action()
                    lines.append("no error")
                except ProfileError as exc:
                    lines.append(str(exc))
            os.write(write_fd, "\n".join(lines).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as fh:
        out = fh.read()
    os.waitpid(pid, 0)
    return out.splitlines()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_unreadable_file_is_reported_and_kept() -> None:
    # pytest's tmp_path is private to root; nobody needs to reach this one
    top = Path(tempfile.mkdtemp(prefix="dlenv-unreadable-"))
    try:
        top.chmod(0o755)
        directory = top / "profiles"
        directory.mkdir(mode=0o777)
        directory.chmod(0o777)
        path = directory / "x.toml"
        path.write_text("schema = 1\nname = 'x'\n")
        path.chmod(0o000)
        if os.geteuid() == 0:
            # root reads mode-000 files regardless; test as an ordinary user instead
            load_msg, save_msg = _as_nobody(directory)
        else:
            store = ProfileStore(directory)
            with pytest.raises(ProfileError) as a:
                store.load("x")
            with pytest.raises(ProfileError) as b:
                store.save(Profile(name="x"))
            load_msg, save_msg = str(a.value), str(b.value)
        assert "permission denied" in load_msg
        assert "permission denied" in save_msg and "Not overwriting" in save_msg
        path.chmod(0o600)
        assert path.read_text() == "schema = 1\nname = 'x'\n"
    finally:
        shutil.rmtree(top)


def test_a_renamed_copy_takes_its_file_name(store: ProfileStore) -> None:
    path = store.save(Profile(name="a"))
    path.with_name("b.toml").write_bytes(path.read_bytes())
    assert store.load("b").name == "b"


def test_save_refuses_invalid_fields(store: ProfileStore) -> None:
    bad = Profile(name="x", run=RunOptions(mounts=(Mount("/data/../etc", "/data"),)))
    with pytest.raises(ValidationError, match=r"run\.mounts\[0\]\.source: .*'\.\.'"):
        store.save(bad)
    assert not store.exists("x")


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        (Profile(name="x", run=RunOptions(gpus="all;id")), "run.gpus"),
        (Profile(name="x", run=RunOptions(shm_size="8 g")), "run.shm_size"),
        (Profile(name="x", run=RunOptions(ports=(PortMap(22, 0),))), "run.ports[0].host"),
        (
            Profile(name="x", run=RunOptions(ports=(PortMap(1, 2), PortMap(3, 2)))),
            "published twice",
        ),
        (Profile(name="x", run=RunOptions(mounts=(Mount("/a", "/"),))), "run.mounts[0].target"),
    ],
)
def test_validate_profile_names_the_field(profile: Profile, words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        validate_profile(profile)
    assert words in str(exc.value)


def test_recommendations_follow_the_host(fixture_facts: Any) -> None:
    ubuntu = recommended_profile("a", fixture_facts("ubuntu-24.04-rtx4090-fresh"))
    assert ubuntu.driver.flavour is not None and ubuntu.driver.flavour.value == "open"
    assert (ubuntu.engine.engine, ubuntu.engine.source) == (
        EngineName.DOCKER,
        EngineSource.DOCKER_CE,
    )
    assert ubuntu.image.cuda == "13.3"
    assert ubuntu.host is not None

    pascal = recommended_profile("b", fixture_facts("debian-12-gtx1080"))
    assert pascal.driver.flavour is not None and pascal.driver.flavour.value == "proprietary"
    assert pascal.driver.branch == "580"
    assert pascal.image.cuda == "12.9"

    fedora = recommended_profile("c", fixture_facts("fedora-43-a100-secureboot"))
    assert fedora.engine.engine is EngineName.PODMAN

    no_systemd = recommended_profile("d", fixture_facts("ubuntu-24.04-no-systemd"))
    assert no_systemd.engine.engine is EngineName.PODMAN

    suse = recommended_profile(
        "e", fixture_facts("opensuse-leap-15.6-rtx4090"), engine=EngineName.DOCKER
    )
    assert suse.engine.source is EngineSource.DISTRO

    installed = fixture_facts("fedora-43-a100-secureboot")
    installed = replace(installed, docker=Tool(present=True, version="28.0"))
    assert recommended_profile("f", installed).engine.engine is EngineName.DOCKER

    assert (
        recommended_profile("g", fixture_facts("debian-12-gtx1080"), cuda="12.6").image.cuda
        == "12.6"
    )
    with pytest.raises(UsageError, match=r"CUDA 13\.0 cannot run"):
        recommended_profile("h", fixture_facts("debian-12-gtx1080"), cuda="13.0")


def test_mark_stage_stamps_progress() -> None:
    p = mark_stage(
        Profile(name="x"), Stage.TOOLKIT, StageState.DONE, done_steps=("toolkit.install",)
    )
    assert p.progress["toolkit"].state is StageState.DONE
    assert p.progress["toolkit"].updated_at.endswith("Z")
    assert p.progress["toolkit"].done_steps == ("toolkit.install",)


# ---------------------------------------------------------------- concurrency (issue 11)


def test_ten_parallel_creators_of_one_name_one_wins(
    tmp_path: Path, facts_file: Callable[[str], Path], dlenv_argv: list[str]
) -> None:
    """10 parallel `dlenv profiles new race`: exactly one "Created", the others one sentence."""
    import subprocess

    env = {**os.environ, "NO_COLOR": "1", "DLENV_CONFIG_DIR": str(tmp_path / "cfg")}
    argv = [
        *dlenv_argv,
        "profiles",
        "new",
        "race",
        "--facts",
        str(facts_file("ubuntu-24.04-rtx4090-fresh")),
    ]
    procs = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(10)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    created = [r for r in results if r[0] == 0]
    assert len(created) == 1, results
    assert created[0][1].startswith("Created profile race")
    for rc, out, err in results:
        if rc != 0:
            assert rc == 2 and out == ""
            assert err.count("\n") == 1 and "already exists" in err, err


def test_a_save_over_an_edit_made_meanwhile_is_refused(store: ProfileStore) -> None:
    from dlenv_tui.profiles import ProfileConflict

    store.save(Profile(name="p"))
    mine = store.load("p")
    other = ProfileStore(store.directory)  # another dlenv, or an editor
    other.save(replace(other.load("p"), engine=replace(mine.engine, engine=EngineName.PODMAN)))
    with pytest.raises(ProfileConflict, match="changed by another program"):
        store.save(mark_stage(mine, Stage.DRIVER, StageState.DONE))
    assert store.load("p").engine.engine is EngineName.PODMAN  # the edit survived


def test_update_keeps_an_edit_made_during_a_long_job(store: ProfileStore) -> None:
    """`dlenv build` / `run` record their result with update(): the edit made meanwhile stays."""
    store.save(Profile(name="p"))
    before_build = store.load("p")
    ProfileStore(store.directory).save(
        replace(before_build, engine=replace(before_build.engine, engine=EngineName.PODMAN))
    )
    store.update("p", lambda p: mark_stage(p, Stage.IMAGE, StageState.DONE, "built"))
    after = store.load("p")
    assert after.engine.engine is EngineName.PODMAN
    assert after.progress["image"].state is StageState.DONE


def test_a_deeply_nested_file_is_listed_with_its_error(store: ProfileStore) -> None:
    store.save(Profile(name="good"))
    (store.directory / "deep.toml").write_text("schema = 1\nx = " + "[" * 3000 + "]" * 3000 + "\n")
    entries = {e.name: e for e in store.list()}
    assert entries["good"].error == ""
    assert "nested too deeply" in entries["deep"].error
    with pytest.raises(ProfileError, match="nested too deeply"):
        store.load("deep")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, as `sudo dlenv` is")
def test_under_sudo_a_profile_in_the_users_own_folder_outside_home_stays_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`sudo -E dlenv …` with DLENV_CONFIG_DIR in a folder of the user's outside their home: the
    profile belongs to the user (0600), not root."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="dlenv-sudo-owner-"))
    try:
        mine = top / "mine"
        mine.mkdir()
        os.chown(mine, nobody.pw_uid, nobody.pw_gid)
        monkeypatch.setenv("SUDO_UID", str(nobody.pw_uid))
        monkeypatch.setenv("SUDO_GID", str(nobody.pw_gid))
        path = ProfileStore(mine / "cfg" / "profiles").save(Profile(name="x"))
        for made in (path, path.parent, mine / "cfg"):
            assert (made.stat().st_uid, made.stat().st_gid) == (nobody.pw_uid, nobody.pw_gid)
        assert path.stat().st_mode & 0o777 == 0o600
        # a folder of root's (not the user's) stays root's
        theirs = top / "roots"
        theirs.mkdir()
        other = ProfileStore(theirs).save(Profile(name="y"))
        assert other.stat().st_uid == 0
    finally:
        shutil.rmtree(top)
