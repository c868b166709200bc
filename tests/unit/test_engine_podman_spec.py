"""What the libpod create spec asks for, from what the Podman service says of itself."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest

from dlenv_tui.engine import EngineClient
from dlenv_tui.engine.run import _Create
from dlenv_tui.model import EngineName, Profile


class _Response:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status_code = body, status

    def json(self) -> Any:
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


class _Api:
    base_url = "http+docker://localhost"
    api_version = "1.41"

    def __init__(self, info: Any) -> None:
        self.info = info
        self.posted: list[dict[str, Any]] = []

    def get(self, url: str) -> _Response:
        assert url.endswith("/libpod/info")
        return _Response(self.info)

    def post(self, url: str, json: dict[str, Any]) -> _Response:
        self.posted.append(json)
        return _Response({"Id": "c0ffee"}, 201)


def _spec(info: Any) -> dict[str, Any]:
    client = EngineClient.__new__(EngineClient)
    client.engine = EngineName.PODMAN
    api = _Api(info)
    client.client = SimpleNamespace(api=api)  # type: ignore[assignment]
    c = _Create(
        profile=Profile(name="work"),
        name="dlenv-work",
        image="localhost/dlenv/work:latest",
        user="1000:1000",
        command=None,
        environment={},
        labels={},
        volumes={},
    )
    assert client._podman_create(c) == "c0ffee"
    return api.posted[0]


def _rootless(flag: bool) -> dict[str, Any]:
    return {"host": {"security": {"rootless": flag}}}


@pytest.mark.parametrize("euid", [0, 1000])
def test_keep_id_follows_the_service_not_dlenvs_uid(
    monkeypatch: pytest.MonkeyPatch, euid: int
) -> None:
    """A user pointed at root's socket (CONTAINER_HOST) gets no keep-id, which rootful Podman
    refuses; root talking to a user's rootless service gets it."""
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    assert "userns" not in _spec(_rootless(False))
    assert _spec(_rootless(True))["userns"] == {"nsmode": "keep-id"}


@pytest.mark.parametrize(("euid", "keep_id"), [(0, False), (1000, True)], ids=["root", "user"])
def test_a_service_that_cannot_say_falls_back_to_dlenvs_uid(
    monkeypatch: pytest.MonkeyPatch, euid: int, keep_id: bool
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    for info in ({"host": {}}, ValueError("not JSON")):
        assert ("userns" in _spec(info)) is keep_id
