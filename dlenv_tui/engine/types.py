"""The engine layer's error and the plain data it hands the UI: build progress, what `run` started."""

from __future__ import annotations

from dataclasses import dataclass

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import EngineName, PortMap


class EngineError(DlenvError):
    """The engine refused or failed; the message is one sentence saying what to do."""


class _LibpodError(Exception):
    """An error answer from Podman's libpod endpoint (the SDK's APIError covers only its own calls)."""


@dataclass(frozen=True)
class BuildProgress:
    """One build event; plain data so a thread worker can post it to the UI as-is."""

    step: int
    """1-based current step (0 before the first)."""
    total: int
    line: str
    """One log line (no trailing newline)."""
    cached: bool = False
    """The line says the current step came from the build cache."""


@dataclass(frozen=True)
class RunInfo:
    """What `run` started and how to reach it."""

    engine: EngineName
    name: str
    id: str
    image: str
    user: str
    """``uid:gid`` the container runs as."""
    ports: tuple[PortMap, ...] = ()
    gpus: str = "none"
    user_name: str = ""
    """The image's account (for `ssh user@…`); empty when the image does not say."""
    jupyter_token: str = ""
    """The token dlenv generated and passed as ``JUPYTER_TOKEN``; empty without JupyterLab."""
    started_at: str = ""
    """When the container started (ISO-8601, as the engine reports it); empty when unknown."""

    @property
    def jupyter_url(self) -> str:
        if not self.jupyter_token:
            return ""
        port = next((p.host for p in self.ports if p.container == 8888), 0)
        return f"http://127.0.0.1:{port}/lab?token={self.jupyter_token}" if port else ""
