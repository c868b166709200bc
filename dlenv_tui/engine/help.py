"""How to reach a running container: the Jupyter URL with its token, ssh, exec, VS Code."""

from __future__ import annotations

import getpass
import os
import re
import socket

from dlenv_tui.engine.types import RunInfo
from dlenv_tui.model import Profile

_JUPYTER_URL = re.compile(
    # with JUPYTER_TOKEN set, Jupyter masks it in the log as "token=..."
    r"(https?://[\w.-]+:\d+/(?:lab|tree)?\?token=(\w+|\.\.\.))"
)


def jupyter_url_from_logs(text: str) -> str:
    urls = [m.group(1) for m in _JUPYTER_URL.finditer(text)]
    # prefer the 127.0.0.1 line Jupyter prints; the container-id host is unreachable from outside
    return next((u for u in urls if "127.0.0.1" in u), urls[0] if urls else "")


def sudo_prefix() -> str:
    """``"sudo "`` when dlenv runs under sudo: the engine needed root, so do the commands
    (``podman exec``, ``dlenv stop``…) that dlenv tells the user to type next; else ``""``."""
    return "sudo " if os.environ.get("SUDO_USER") else ""


def connection_help(profile: Profile, info: RunInfo, *, ssh_key: bool = True) -> list[str]:
    """How to reach the container: Jupyter URL, SSH through a tunnel, a shell, VS Code.

    ``ssh_key`` False: the image has no public key (``image_notes.ssh_has_no_key``), so the
    ``ssh`` line says that instead of a command that cannot log in."""
    lines: list[str] = []
    host = socket.gethostname()
    me = os.environ.get("SUDO_USER") or getpass.getuser()
    ports = {p.container: p for p in info.ports}
    forwards = " ".join(
        f"-L {p.host}:127.0.0.1:{p.host}"
        for p in info.ports
        if p.host_ip in ("127.0.0.1", "localhost")
    )
    if info.jupyter_url:
        lines.append(f"JupyterLab: {info.jupyter_url}")
    if forwards:
        lines.append(f"From your own machine, tunnel the ports first: ssh {forwards} {me}@{host}")
    if 22 in ports and not ssh_key:
        from dlenv_tui.image_notes import ssh_line_without_key

        lines.append(ssh_line_without_key(profile.name))
    elif 22 in ports:
        user = "root" if info.user.startswith("0:") else info.user_name or _image_user_name(profile)
        lines.append(f"SSH into the container: ssh -p {ports[22].host} {user}@127.0.0.1")
    sudo = sudo_prefix()
    lines.append(f"Shell in the container: {sudo}{info.engine.value} exec -it {info.name} bash")
    lines.append(
        f"VS Code: Dev Containers: Attach to Running Container… and pick {info.name}"
        + (" (or Remote-SSH through the tunnel above)." if 22 in ports and ssh_key else ".")
    )
    lines.append(f"Show this again: {sudo}dlenv info {profile.name}")
    lines.append(f"Stop it: {sudo}dlenv stop {profile.name}")
    return lines


def _image_user_name(profile: Profile) -> str:
    from dlenv_tui.image import host_user

    return host_user(profile.host).name if profile.image.create_user else "root"
