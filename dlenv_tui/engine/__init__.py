"""Docker and Podman through the docker SDK: connect, build with streamed progress, run with GPUs,
stop, and how to connect — one module per subject, re-exported here."""

from __future__ import annotations

from dlenv_tui.engine.build import FAILURE_LINES, _build_failure, _count_steps, lock_changes
from dlenv_tui.engine.client import EngineClient
from dlenv_tui.engine.connection import (
    DOCKER_SOCKET,
    PODMAN_ROOT_SOCKET,
    connect,
    socket_candidates,
)
from dlenv_tui.engine.help import connection_help, jupyter_url_from_logs
from dlenv_tui.engine.run import (
    CDI_KIND,
    cdi_devices,
    container_name,
    owner_id,
    parse_gpus,
    parse_size,
    podman_init,
    port_bindings,
    selinux_enforcing,
    volume_names,
)
from dlenv_tui.engine.types import BuildProgress, EngineError, RunInfo
from dlenv_tui.names import OWNER_LABEL, PROFILE_LABEL, USER_LABEL, USER_NAME_LABEL

__all__ = [
    "CDI_KIND",
    "DOCKER_SOCKET",
    "FAILURE_LINES",
    "OWNER_LABEL",
    "PODMAN_ROOT_SOCKET",
    "PROFILE_LABEL",
    "USER_LABEL",
    "USER_NAME_LABEL",
    "BuildProgress",
    "EngineClient",
    "EngineError",
    "RunInfo",
    "_build_failure",
    "_count_steps",
    "cdi_devices",
    "connect",
    "connection_help",
    "container_name",
    "jupyter_url_from_logs",
    "lock_changes",
    "owner_id",
    "parse_gpus",
    "parse_size",
    "podman_init",
    "port_bindings",
    "selinux_enforcing",
    "socket_candidates",
    "volume_names",
]
