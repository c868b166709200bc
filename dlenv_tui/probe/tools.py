"""Docker, Podman and the NVIDIA Container Toolkit: installed, which version, engine API answering."""

from __future__ import annotations

import os
import re

from dlenv_tui.model import Tool
from dlenv_tui.probe.host import CommandResult, Host

# docker --version      Docker version 27.3.1, build ce12230
#                       Docker version 20.10.24+dfsg1, build 297e128   (Debian's docker.io)
# podman --version      podman version 5.2.2
# nvidia-ctk --version  NVIDIA Container Toolkit CLI version 1.17.0
#                       commit: 5bc031544833253e3ab6a36daec376cd0db8e0a8
# nv-fabricmanager --version   Fabric Manager version is : 550.163.01
_VERSION = re.compile(r"\bversion(?:\s+is\s*:)?\s+v?(\d+(?:\.\d+)+[0-9A-Za-z.+~-]*)", re.IGNORECASE)

DOCKER_SOCKET = "/var/run/docker.sock"
PODMAN_ROOTFUL_SOCKET = "/run/podman/podman.sock"


def parse_version(text: str) -> str:
    """The version a ``--version`` line reports (``27.3.1``, ``1.17.0``); "" when none."""
    m = _VERSION.search(text)
    return m.group(1).rstrip(".-") if m else ""


def is_podman_emulation(text: str) -> bool:
    """`docker --version` answered by podman-docker's wrapper (``podman version 5.2.2``)."""
    return text.lstrip().lower().startswith("podman")


def read_tool(host: Host, program: str) -> tuple[Tool, CommandResult | None]:
    """``program --version``: present, version, path; also the raw result for callers that need it."""
    path = host.which(program)
    if path is None:
        return Tool(present=False), None
    result = host.run([path, "--version"], timeout=5.0)
    version = parse_version(result.output) if result is not None else ""
    return Tool(present=True, version=version, path=path), result


def docker_socket() -> str:
    """The socket the Docker CLI would use: ``$DOCKER_HOST`` when it is a unix:// URL."""
    override = os.environ.get("DOCKER_HOST", "")
    if override.startswith("unix://"):
        return override.removeprefix("unix://")
    return DOCKER_SOCKET


def podman_sockets(uid: int) -> list[str]:
    """The rootless socket for ``uid`` (when not root), then the rootful one."""
    sockets = []
    if uid > 0:
        runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{uid}"
        sockets.append(f"{runtime}/podman/podman.sock")
    sockets.append(PODMAN_ROOTFUL_SOCKET)
    return sockets


def answers(host: Host, sockets: list[str]) -> bool | None:
    """Whether any of ``sockets`` answers; None when the host cannot tell (a sysroot)."""
    for path in sockets:
        ok = host.http_ping(path)
        if ok is None:
            return None
        if ok:
            return True
    return False
