"""One engine connection: build (engine.build) and run (engine.run) on the Docker SDK's client."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from dlenv_tui.engine.build import BuildMixin
from dlenv_tui.engine.run import RunMixin
from dlenv_tui.model import EngineName

if TYPE_CHECKING:
    import docker


class EngineClient(BuildMixin, RunMixin):
    """One engine connection; close() also stops a Podman service that connect() started."""

    def __init__(
        self,
        engine: EngineName,
        client: docker.DockerClient,
        service: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.service = service
        """The `podman system service` this client started, stopped by close()."""

    def __enter__(self) -> EngineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()
        from dlenv_tui.engine.connection import _stop_service

        _stop_service(self.service)
        self.service = None

    @property
    def command(self) -> str:
        """The CLI a user types for this engine (`docker` / `podman`)."""
        return self.engine.value
