"""The named volumes a relaunch keeps (home, SSH host keys) are ours only when our UID made them."""

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
