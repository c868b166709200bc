"""A durable dev box on real Docker and Podman (issue 13): relaunch keeps the SSH host key and the
home, an init reaps ssh logins, a running container is replaced only when asked, every port
binding is published, and a same-named container of another owner is never ours."""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.engine import OWNER_LABEL, PROFILE_LABEL, EngineClient, EngineError, volume_names
from dlenv_tui.model import Mount, PortMap

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]

ZOMBIES = (
    "for f in /proc/[0-9]*/stat; do cut -d' ' -f3 \"$f\"; done 2>/dev/null | grep -c Z || true"
)


def _fingerprint(port: int) -> str:
    deadline = time.monotonic() + 20
    while True:  # sshd needs a moment after a (re)launch
        scan = subprocess.run(
            ["ssh-keyscan", "-t", "ed25519", "-p", str(port), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        lines = [li for li in scan.stdout.splitlines() if "ssh-ed25519" in li]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert lines, scan.stderr
    return lines[0].split()[-1]


def _remove_volumes(client: EngineClient, names: dict[str, str]) -> None:
    import docker.errors

    for name in names.values():
        with contextlib.suppress(docker.errors.NotFound):
            client.client.volumes.get(name).remove(force=True)


# what must survive a relaunch in the home: a file, ~/.cache, and what `pip install` installed
KEPT = (
    "cat ~/kept.txt ~/.cache/dlenv-kept && python -c 'import dlenvkept; print(dlenvkept.__file__)'"
)


def test_relaunch_keeps_host_key_and_home_and_init_reaps_logins(
    client: EngineClient,
    debian: str,
    small_profile: Any,
    free_port: Any,
    build: Any,
    ssh: Any,
    ssh_key: Path,
    tmp_path: Path,
    handmade_wheel: Any,
) -> None:
    key = ssh_key
    port = free_port()
    wheels = tmp_path / "wheels"
    wheels.mkdir(mode=0o755)
    tmp_path.chmod(0o755)  # the container's user (UID 1234) reads the wheel through the mount
    whl = handmade_wheel.write_wheel(wheels, "dlenvkept", "1.0", {"dlenvkept/__init__.py": ""})
    (wheels / whl).chmod(0o644)
    profile = small_profile(
        f"box-{client.engine.value}",
        client.engine,
        debian,
        ports=(PortMap(22, port),),
        mounts=(Mount(str(wheels), "/wheels", read_only=True),),
    )
    profile = dataclasses.replace(
        profile,
        # a Python package makes the venv (six: small, pinned)
        image=dataclasses.replace(profile.image, ssh=True, extra_pip=("six==1.16.0",)),
        run=dataclasses.replace(profile.run, shm_size="64m"),
    )
    _remove_volumes(client, volume_names(profile))
    profile, _ = build(client, profile, ssh_keys=key.with_suffix(".pub").read_text())
    assert profile.last_image is not None
    # the lock is the venv's packages, not the user site's
    assert {li.split("==")[0] for li in profile.last_image.lock} <= {
        "pip",
        "setuptools",
        "six",
        "uv",
    }
    client.run(profile)
    try:
        out = ssh(
            key,
            port,
            "dev",
            "echo kept > ~/kept.txt; mkdir -p ~/.cache && echo cache > ~/.cache/dlenv-kept;"
            # a Python started before the first install (a kernel) has the user site already
            " python -c 'import site, sys; assert site.getusersitepackages() in sys.path' &&"
            f" pip install -q --no-index /wheels/{whl} >/dev/null && cat /proc/1/comm",
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() in ("tini", "docker-init", "podman-init", "catatonit"), out.stdout
        # a venv of the user's own is not told --user by the image's pip.conf
        own = ssh(
            key,
            port,
            "dev",
            f"python -m venv /tmp/own && /tmp/own/bin/pip install -q --no-index /wheels/{whl}"
            " && ls /tmp/own/lib/python3*/site-packages/dlenvkept/__init__.py",
        )
        assert own.returncode == 0, own.stdout + own.stderr
        first = _fingerprint(port)
        for _ in range(10):
            assert ssh(key, port, "dev", "true").returncode == 0
        zombies = ssh(key, port, "dev", ZOMBIES)
        assert zombies.stdout.strip() == "0", zombies.stdout + zombies.stderr

        # a running container is replaced only when asked
        with pytest.raises(EngineError, match=r"already running.*--replace"):
            client.run(profile, replace=False)

        # an edit of the run options, then the relaunch
        profile = dataclasses.replace(profile, run=dataclasses.replace(profile.run, shm_size="96m"))
        client.run(profile, replace=True)
        assert _fingerprint(port) == first
        out = ssh(
            key,
            port,
            "dev",
            f"{KEPT}; stat -c %a /etc/dlenv/ssh/ssh_host_ed25519_key; df -k /dev/shm | tail -1",
        )
        assert out.returncode == 0, out.stderr
        kept, cache, where, mode, shm = out.stdout.strip().splitlines()
        assert (kept, cache) == ("kept", "cache")
        assert where.startswith("/home/dev/.local/lib/python3"), where
        assert mode == "600"
        assert shm.split()[1] == str(96 * 1024)
        info = client.info(profile)
        assert info is not None and info.user == "1234:1234" and info.user_name == "dev"

        # renamed in the launch stage: the volumes are the profile's, not the container's
        client.stop(profile)
        profile = dataclasses.replace(
            profile,
            run=dataclasses.replace(profile.run, name=f"dlenv-renamed-{client.engine.value}"),
        )
        client.run(profile)
        assert _fingerprint(port) == first
        out = ssh(key, port, "dev", KEPT)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[:2] == ["kept", "cache"]
    finally:
        client.stop(profile)
        _remove_volumes(client, volume_names(profile))


def test_a_home_volume_an_earlier_dlenv_named_after_the_container_stays_in_use(
    client: EngineClient, small_profile: Any, busybox: str
) -> None:
    """The engine's own label filter finds it (this owner's, this profile's), also after the
    container was renamed; another owner's of the same profile is never taken."""
    import docker.errors

    from dlenv_tui.engine import owner_id

    engine = client.engine.value
    profile = small_profile(f"legacy-{engine}", client.engine, busybox)
    profile = dataclasses.replace(
        profile, run=dataclasses.replace(profile.run, name=f"old-{engine}")
    )
    ours = {PROFILE_LABEL: profile.name, OWNER_LABEL: owner_id()}
    made = {
        f"old-{engine}-home": ours,
        f"theirs-{engine}-home": {PROFILE_LABEL: profile.name, OWNER_LABEL: "4242"},
    }
    _remove_volumes(client, {**volume_names(profile), **{n: n for n in made}})
    for name, labels in made.items():
        client.client.volumes.create(name, labels=labels)
    try:
        renamed = dataclasses.replace(
            profile, run=dataclasses.replace(profile.run, name=f"new-{engine}")
        )
        for p in (profile, renamed):
            assert client._volumes(p, {}, "/home/dev", ours) == {f"old-{engine}-home": "/home/dev"}
        with pytest.raises(docker.errors.NotFound):
            client.client.volumes.get(volume_names(profile)["home"])
    finally:
        _remove_volumes(client, {**volume_names(profile), **{n: n for n in made}})


def test_every_port_binding_is_published_and_missing_mounts_are_made(
    client: EngineClient,
    busybox: str,
    tmp_path: Path,
    small_profile: Any,
    free_port: Any,
    build: Any,
    get: Any,
) -> None:
    a, b = free_port(), free_port()
    made = tmp_path / "not" / "yet"
    profile = small_profile(
        f"ports-{client.engine.value}",
        client.engine,
        busybox,
        ports=(PortMap(8080, a), PortMap(8080, b)),
        mounts=(Mount(str(made), "/made"),),
        keep_home=False,
    )
    profile, _ = build(client, profile)
    script = "trap 'exit 0' TERM; mkdir -p /tmp/w && echo up > /tmp/w/index.html && exec httpd -f -p 8080 -h /tmp/w"
    client.run(profile, command=["sh", "-c", script])
    try:
        assert get(f"http://127.0.0.1:{a}/").strip() == "up"
        assert get(f"http://127.0.0.1:{b}/").strip() == "up"
        assert made.is_dir()
    finally:
        client.stop(profile)


def test_same_name_and_profile_but_another_owner_is_not_ours(
    client: EngineClient,
    busybox: str,
    small_profile: Any,
    build: Any,
    get: Any,
) -> None:
    profile = small_profile(f"owner-{client.engine.value}", client.engine, busybox, ports=())
    profile, _ = build(client, profile)
    name = f"dlenv-{profile.name}"
    client.client.containers.create(
        busybox, ["true"], name=name, labels={PROFILE_LABEL: profile.name, OWNER_LABEL: "4242"}
    )
    try:
        with pytest.raises(EngineError, match="another user's"):
            client.run(profile)
        with pytest.raises(EngineError, match="another user's"):
            client.stop(profile)
    finally:
        client.client.containers.get(name).remove(force=True)


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_cli_build_failure_shows_command_status_and_last_lines_under_quiet(
    engine: str,
    engines_up: None,
    busybox: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    small_profile: Any,
) -> None:
    from dlenv_tui.cli import main
    from dlenv_tui.model import EngineName
    from dlenv_tui.profiles import ProfileStore

    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    p = small_profile(f"fail-{engine}", EngineName(engine), busybox)
    # busybox has no apt: the system-package step fails
    ProfileStore().save(
        dataclasses.replace(p, image=dataclasses.replace(p.image, extra_apt=("git",)))
    )
    assert main(["build", p.name, "-q", "--engine", engine]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    at = next(i for i, line in enumerate(lines) if "The image build failed at step" in line)
    assert "with exit status" in lines[at], err
    step, last, *output = lines[at + 1 :]
    assert step.startswith("Step ") and "apt-get update" in step and "apt-get install" in step, err
    assert last.startswith("Last ") and output and all(o.startswith("  ") for o in output), err
