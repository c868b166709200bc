"""Connecting to Docker or Podman: which sockets to try, and a Podman service started on demand."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dlenv_tui.engine.client import EngineClient
from dlenv_tui.engine.types import EngineError
from dlenv_tui.model import EngineName

if TYPE_CHECKING:  # the SDK is imported only when an engine is actually used
    import docker

DOCKER_SOCKET = "/var/run/docker.sock"


PODMAN_ROOT_SOCKET = "/run/podman/podman.sock"


def socket_candidates(engine: EngineName) -> list[str]:
    """API sockets to try, most specific first (unix paths without the scheme)."""
    if engine == EngineName.DOCKER:
        host = os.environ.get("DOCKER_HOST", "")
        if host.startswith("unix://"):
            return [host.removeprefix("unix://")]
        return [DOCKER_SOCKET]
    out: list[str] = []
    host = os.environ.get("CONTAINER_HOST", "")
    if host.startswith("unix://"):
        out.append(host.removeprefix("unix://"))
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.geteuid() == 0:
        out.append(PODMAN_ROOT_SOCKET)
    elif runtime:
        out.append(f"{runtime}/podman/podman.sock")
    return out


def connect(
    engine: EngineName,
    *,
    start_service: bool = True,
    timeout: int = 120,
    sockets: Sequence[str] | None = None,
) -> EngineClient:
    """Connect to the engine's API; for Podman, start `podman system service` when no socket answers.

    ``sockets`` replaces the usual candidates (see ``socket_candidates``); a service started here
    listens on the last one and stops with ``EngineClient.close()``.
    """

    if engine == EngineName.DOCKER and os.environ.get("DOCKER_HOST", "").startswith(
        ("tcp://", "ssh://")
    ):
        url = os.environ["DOCKER_HOST"]
        return EngineClient(engine, _open(engine, url, url, timeout))
    candidates = list(sockets) if sockets is not None else socket_candidates(engine)
    first_error: EngineError | None = None
    for path in candidates:
        try:
            client = _open(engine, f"unix://{path}", path, timeout)
        except EngineError as exc:
            first_error = first_error or exc
            if exc.args and "Permission denied" in str(exc):
                raise
            continue
        return EngineClient(engine, client)
    if engine == EngineName.PODMAN and start_service and candidates:
        path = candidates[-1]
        service = _start_podman_service(path)
        try:
            client = _open(engine, f"unix://{path}", path, timeout)
        except EngineError:
            _stop_service(service)
            raise
        return EngineClient(engine, client, service=service)
    if first_error is None:  # no socket to try: rootless Podman without XDG_RUNTIME_DIR
        raise EngineError(
            f"dlenv found no {engine.value.capitalize()} socket to try: set CONTAINER_HOST to "
            "unix:///path/to/podman.sock, or log in through a session that sets XDG_RUNTIME_DIR."
        )
    raise first_error


def _open(engine: EngineName, url: str, where: str, timeout: int) -> docker.DockerClient:
    """A client that answered a ping (the SDK already asks the server's version while constructing)."""
    import docker
    import requests.exceptions

    client = None
    try:
        client = docker.DockerClient(base_url=url, timeout=timeout)
        client.ping()
        return client
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        if client is not None:
            client.close()
        if "Permission denied" in str(exc) or isinstance(exc, PermissionError):
            group = (
                "add yourself to the docker group (then log in again)"
                if engine == EngineName.DOCKER
                else "use your own rootless Podman socket"
            )
            raise EngineError(
                f"Permission denied on {where}: {group}, or run dlenv with sudo."
            ) from None
        hint = (
            "start it (`sudo systemctl start docker`, or `dockerd` without systemd)"
            if engine == EngineName.DOCKER
            else "start it with `podman system service`"
        )
        raise EngineError(
            f"{engine.value.capitalize()} is not answering on {where}: {hint}."
        ) from None


def _start_podman_service(path: str) -> subprocess.Popen[bytes]:
    podman = shutil.which("podman")
    if podman is None:
        raise EngineError("Podman is not installed: install it in the engine stage.")
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if Path(path).is_socket():
                Path(path).unlink()  # a stale socket from a service that died
        proc = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{path}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # our Ctrl-C must not kill it half-way through a build
            env={**os.environ, "LC_ALL": "C"},
        )
    except OSError as exc:
        raise EngineError(
            f"Cannot start `podman system service` on {path}: {exc.strerror or exc}; start it "
            "by hand, or set CONTAINER_HOST to a Podman socket that answers."
        ) from None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if Path(path).is_socket():
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    _stop_service(proc)
    raise EngineError(f"`podman system service` did not open {path}; run it by hand to see why.")


def _stop_service(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
