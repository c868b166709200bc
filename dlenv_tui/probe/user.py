"""Who runs dlenv: ``id``, /etc/group membership, home directory, root or passwordless sudo."""

from __future__ import annotations

import re

from dlenv_tui.model import UserInfo
from dlenv_tui.probe.host import Host

_ID_FIELD = re.compile(r"(\d+)(?:\(([^)]*)\))?")


def parse_id(text: str) -> tuple[int, str, int, tuple[str, ...]] | None:
    """``id`` output → (uid, user name, gid, group names); None when it is not id's format.

    ``uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo),998(docker)``
    """
    fields: dict[str, str] = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep:
            fields[key] = value
    uid_m = _ID_FIELD.fullmatch(fields.get("uid", ""))
    gid_m = _ID_FIELD.fullmatch(fields.get("gid", ""))
    if not uid_m or not gid_m:
        return None
    groups = []
    for item in fields.get("groups", "").split(","):
        m = _ID_FIELD.fullmatch(item)
        if m:
            groups.append(m.group(2) or m.group(1))
    return int(uid_m.group(1)), uid_m.group(2) or "", int(gid_m.group(1)), tuple(groups)


def parse_group_members(text: str, user: str, gid: int) -> tuple[str, ...]:
    """/etc/group → the groups ``user`` belongs to (as a listed member, or as primary group ``gid``).

    ``docker:x:998:alice,bob``
    """
    groups = []
    for line in text.splitlines():
        parts = line.strip().split(":")
        if len(parts) < 4 or not parts[0] or parts[0].startswith("#"):
            continue
        members = [m.strip() for m in parts[3].split(",") if m.strip()]
        primary = parts[2].isdigit() and int(parts[2]) == gid
        if (user and user in members) or primary:
            groups.append(parts[0])
    return tuple(groups)


def parse_passwd_home(text: str, user: str) -> str:
    """/etc/passwd → the home directory of ``user`` ("" when not listed).

    ``alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash``
    """
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 7 and parts[0] == user:
            return parts[5]
    return ""


def read_user(host: Host) -> UserInfo:
    result = host.run(["id"])
    parsed = parse_id(result.stdout) if result is not None and result.ok else None
    if parsed is None:
        return UserInfo()
    uid, name, gid, session_groups = parsed
    # /etc/group is what the user will have after logging in again; `id` is this session.
    # The union is what they may use once re-logged in, which is what the docker-group check asks.
    configured = parse_group_members(host.read_text("/etc/group") or "", name, gid)
    groups = tuple(dict.fromkeys((*session_groups, *configured)))
    home = parse_passwd_home(host.read_text("/etc/passwd") or "", name)
    is_root = uid == 0
    sudo_path = host.which("sudo")
    sudo_present = sudo_path is not None
    sudo_nopasswd: bool | None = None
    if sudo_path is not None and not is_root:
        sudo = host.run([sudo_path, "-n", "true"], timeout=5.0)
        sudo_nopasswd = sudo is not None and sudo.ok
    return UserInfo(
        name=name,
        uid=uid,
        gid=gid,
        groups=groups,
        is_root=is_root,
        sudo_nopasswd=sudo_nopasswd,
        sudo_present=sudo_present,
        home=home,
    )
