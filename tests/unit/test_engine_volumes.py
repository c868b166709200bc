"""The named volumes a relaunch keeps are ours only when our UID made them; `info` reads the
container's own ports."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from dlenv_tui.engine import EngineClient, EngineError
from dlenv_tui.model import EngineName
from dlenv_tui.names import OWNER_LABEL, PROFILE_LABEL


class _Volumes:
    def __init__(self, existing: dict[str, dict[str, str]]) -> None:
        self.existing = existing
        self.created: list[str] = []

    def get(self, name: str) -> Any:
        import docker.errors

        if name not in self.existing:
            raise docker.errors.NotFound(name)
        return SimpleNamespace(attrs={"Name": name, "Labels": self.existing[name]})

    def create(self, name: str, labels: dict[str, str]) -> None:
        self.created.append(name)
        self.existing[name] = labels

    def list(self, filters: dict[str, list[str]]) -> list[Any]:
        wanted = dict(f.split("=", 1) for f in filters["label"])
        return [
            SimpleNamespace(attrs={"Name": n, "Labels": labels, "CreatedAt": labels.get("at", "")})
            for n, labels in self.existing.items()
            if all(labels.get(k) == v for k, v in wanted.items())
        ]


def _client(volumes: _Volumes) -> EngineClient:
    client = EngineClient.__new__(EngineClient)
    client.engine = EngineName.DOCKER
    client.client = SimpleNamespace(volumes=volumes)  # type: ignore[assignment]
    return client


def test_another_users_volume_of_the_same_name_is_refused() -> None:
    volumes = _Volumes({"dlenv-work-home": {PROFILE_LABEL: "work", OWNER_LABEL: "4242"}})
    mine = {PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    with pytest.raises(EngineError, match="another user's"):
        _client(volumes)._ensure_volume("dlenv-work-home", mine)
    _client(volumes)._ensure_volume("dlenv-work-ssh", mine)
    _client(volumes)._ensure_volume("dlenv-work-ssh", mine)  # ours: kept, not made again
    assert volumes.created == ["dlenv-work-ssh"]


def _profile(container: str = "") -> Any:
    from dlenv_tui.model import Profile, RunOptions

    return Profile(name="work", run=RunOptions(name=container))


SSH_AND_HOME = {"DLENV_SSH": "1"}


def test_home_and_host_key_volumes_are_named_after_the_profile_not_the_container() -> None:
    from dlenv_tui.engine import volume_names

    expected = {"home": "dlenv-work-home", "ssh": "dlenv-work-ssh"}
    assert volume_names(_profile()) == volume_names(_profile("renamed")) == expected
    volumes = _Volumes({})
    mine = {PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    for container in ("", "renamed", "again"):  # a relaunch under a new container name
        got = _client(volumes)._volumes(_profile(container), SSH_AND_HOME, "/home/dev", mine)
        assert got == {"dlenv-work-ssh": "/etc/dlenv/ssh", "dlenv-work-home": "/home/dev"}
    assert sorted(volumes.created) == ["dlenv-work-home", "dlenv-work-ssh"]
    assert volumes.existing["dlenv-work-home"] == mine  # owner and profile labels kept


def test_volumes_an_earlier_dlenv_named_after_the_container_stay_in_use() -> None:
    """Before, the volumes were ``CONTAINER-home`` / ``-ssh``: this owner's for this profile stay
    in use (found by their labels, also after a rename), another owner's never."""
    mine = {PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    volumes = _Volumes(
        {
            "box-home": {**mine, "at": "2026-01-01"},
            "box-ssh": {**mine, "at": "2026-01-01"},
            "older-home": {**mine, "at": "2025-01-01"},
            "theirs-home": {PROFILE_LABEL: "work", OWNER_LABEL: "4242", "at": "2027-01-01"},
        }
    )
    for container in ("box", "renamed"):
        got = _client(volumes)._volumes(_profile(container), SSH_AND_HOME, "/home/dev", mine)
        assert got == {"box-ssh": "/etc/dlenv/ssh", "box-home": "/home/dev"}
    # today's container name first, whatever was made later
    got = _client(volumes)._volumes(_profile("older"), {}, "/home/dev", mine)
    assert got == {"older-home": "/home/dev"}
    assert volumes.created == []


def test_a_volume_of_the_profiles_name_made_for_another_profile_is_refused() -> None:
    """Profile a's container was once named ``dlenv-work``: its volumes are a's, not work's."""
    volumes = _Volumes({"dlenv-work-home": {PROFILE_LABEL: "a", OWNER_LABEL: "1000"}})
    mine = {PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    with pytest.raises(EngineError, match="dlenv profile 'a'"):
        _client(volumes)._volumes(_profile(), {}, "/home/dev", mine)


def test_info_shows_the_ports_the_container_publishes_not_todays_profile(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`dlenv info` after `profiles set run.ports=…` (not yet relaunched): the container's ports."""
    from dlenv_tui.model import PortMap, Profile, RunOptions

    attrs = {
        "Config": {"Env": ["JUPYTER_TOKEN=abc"], "Image": "dlenv/work:latest"},
        "HostConfig": {
            "PortBindings": {
                "8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8888"}],
                "22/tcp": [{"HostIp": "127.0.0.1", "HostPort": "2222"}],
            }
        },
    }
    container = SimpleNamespace(
        name="dlenv-work",
        id="c1",
        attrs=attrs,
        labels={PROFILE_LABEL: "work", OWNER_LABEL: "1000"},
    )

    class _Containers:
        def get(self, name: str) -> Any:
            return container

    class _Images:
        def get(self, ref: str) -> Any:
            return SimpleNamespace(labels={})

    client = EngineClient.__new__(EngineClient)
    client.engine = EngineName.DOCKER
    client.client = SimpleNamespace(containers=_Containers(), images=_Images())  # type: ignore[assignment]
    edited = Profile(name="work", run=RunOptions(ports=(PortMap(8888, 9999),)))
    monkeypatch.setenv("SUDO_UID", "1000")  # owner_id(): the container's owner label
    info = client.info(edited)
    assert info is not None
    assert set(info.ports) == {PortMap(8888, 8888), PortMap(22, 2222)}
    assert info.jupyter_url == "http://127.0.0.1:8888/lab?token=abc"


def test_home_and_host_key_volumes_follow_the_profile_not_the_container_name() -> None:
    """A container renamed in the launch stage keeps the profile's home and SSH host key; a volume
    an older dlenv named after a custom container name stays in use while it is the only one."""
    import dataclasses

    from dlenv_tui.model import Profile, RunOptions

    mine = {PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    env = {"DLENV_SSH": "1"}
    profile = Profile(name="work", run=RunOptions(name="box-a"))
    volumes = _Volumes({})
    got = _client(volumes)._volumes(profile, env, "/home/dev", mine)
    assert got == {"dlenv-work-ssh": "/etc/dlenv/ssh", "dlenv-work-home": "/home/dev"}
    renamed = dataclasses.replace(profile, run=RunOptions(name="box-b"))
    assert _client(volumes)._volumes(renamed, env, "/home/dev", mine) == got
    assert sorted(volumes.created) == ["dlenv-work-home", "dlenv-work-ssh"]

    older = _Volumes({"box-a-home": mine, "box-a-ssh": mine})
    assert _client(older)._volumes(profile, env, "/home/dev", mine) == {
        "box-a-ssh": "/etc/dlenv/ssh",
        "box-a-home": "/home/dev",
    }
    assert older.created == []


def test_every_command_a_message_names_carries_sudo_when_dlenv_ran_under_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`sudo dlenv run` on a running container: the commands it names need sudo as well."""
    from dlenv_tui.engine import connection_help
    from dlenv_tui.engine.types import RunInfo
    from dlenv_tui.model import Profile

    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setenv("SUDO_UID", "1000")
    container = SimpleNamespace(
        status="running", labels={PROFILE_LABEL: "work", OWNER_LABEL: "1000"}
    )
    client = EngineClient.__new__(EngineClient)
    client.engine = EngineName.PODMAN
    monkeypatch.setattr(client, "_container", lambda name: container)
    monkeypatch.setattr(client, "_check_ours", lambda *a: None)
    with pytest.raises(EngineError) as caught:
        client._remove_own("dlenv-work", Profile(name="work"), replace=False)
    text = str(caught.value)
    assert "`sudo dlenv info work`" in text and "`sudo dlenv run work --replace`" in text
    info = RunInfo(id="c", name="dlenv-work", image="i", engine=EngineName.PODMAN, user="1000:1000")
    lines = connection_help(Profile(name="work"), info)
    assert "Shell in the container: sudo podman exec -it dlenv-work bash" in lines
    assert "Stop it: sudo dlenv stop work" in lines
    monkeypatch.delenv("SUDO_USER")
    monkeypatch.delenv("SUDO_UID")
    with pytest.raises(EngineError) as caught:
        client._remove_own("dlenv-work", Profile(name="work"), replace=False)
    assert "`dlenv info work`" in str(caught.value) and "sudo" not in str(caught.value)


def test_a_start_failure_is_whole_not_cut_before_its_actionable_end() -> None:
    from dlenv_tui.engine.run import _run_failure

    message = (
        "OCI runtime create failed: runc create failed: unable to start container process: "
        'error during container init: error mounting "/home/me/data.csv" to rootfs at '
        '"/var/lib/docker/overlay2/0123456789abcdef0123456789abcdef/merged/datasets": '
        "mount /home/me/data.csv:/datasets (via /proc/self/fd/6), flags: 0x5000: not a "
        "directory: unknown: Are you trying to mount a directory onto a file (or vice-versa)? "
        "Check if the specified host path exists and is the expected type"
    )
    text = _run_failure(message, EngineName.DOCKER, "dlenv-work")
    assert text.endswith("Check if the specified host path exists and is the expected type.")
    assert "\n" not in text
