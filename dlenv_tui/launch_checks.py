"""What stops a container from starting as asked, checked before it starts: the profile validator's
run rules (a host port published twice) and the host itself (GPUs that are not there, mount
sources that do not exist). Pure over the profile and the facts, apart from looking at paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from dlenv_tui.model import HostFacts, Profile


@dataclass(frozen=True)
class LaunchProblems:
    """The problems of a launch form, worst first."""

    errors: tuple[str, ...] = ()
    """Sentences that block the start."""
    missing_dirs: tuple[str, ...] = ()
    """Mount sources that do not exist (Docker would create them owned by root; Podman refuses);
    the user may have dlenv create them, owned by the user."""


def launch_problems(
    profile: Profile, facts: HostFacts | None, exists: Callable[[str], bool] = os.path.exists
) -> LaunchProblems:
    """``exists``: the seam for the host's paths (the demo's simulated host has every path)."""
    from dlenv_tui import validate
    from dlenv_tui.profiles import expand_mounts, profile_errors

    profile = expand_mounts(profile)
    errors = [
        _plain(e) for e in profile_errors(profile) if e.startswith("run.") or e.startswith("run ")
    ]
    if facts is not None and facts.gpus:
        count = len(facts.gpus)
        spec = profile.run.gpus
        devices = validate.gpu_devices(spec)
        if devices is not None:
            for d in devices:
                if d.isdigit() and int(d) >= count:
                    errors.append(
                        f"GPU {d} does not exist: this host has {count} GPU"
                        f"{'s' if count != 1 else ''} (0–{count - 1})."
                    )
                    break
        elif spec.isdigit() and int(spec) > count:
            errors.append(f"{spec} GPUs asked for, but this host has {count}.")
    elif facts is not None and profile.run.gpus != "none":
        # the probe found none: the engine would refuse with "could not select device driver"
        errors.append(
            f"This host has no NVIDIA GPU, but GPUs is {profile.run.gpus!r}: set it to 'none' "
            "to start the container without GPUs."
        )
    missing = tuple(m.source for m in profile.run.mounts if m.source and not exists(m.source))
    return LaunchProblems(tuple(errors), missing)


NO_GPU_NOTE = "No NVIDIA GPU was found on this host, so the container starts without GPUs."


def gpu_note(profile: Profile, facts: HostFacts | None) -> str:
    """What the Launch screen says when the host has no GPU and the profile asks for none
    (a new profile's default there); "" otherwise."""
    if facts is not None and not facts.gpus and profile.run.gpus == "none":
        return NO_GPU_NOTE
    return ""


def create_dirs(paths: tuple[str, ...]) -> str:
    """Create ``paths`` (mode 0755) owned by the user: under `sudo dlenv` the user who ran sudo,
    not root, so the container's user (the host UID) can write to them; "" or one sentence on
    failure."""
    from pathlib import Path

    uid = int(os.environ.get("SUDO_UID", os.getuid()))
    gid = int(os.environ.get("SUDO_GID", os.getgid()))
    for path in paths:
        made = [p for p in (Path(path), *Path(path).parents) if not p.exists()]
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
            if os.geteuid() == 0:
                for p in made:
                    os.chown(p, uid, gid)
        except OSError as exc:
            return f"Could not create {path}: {exc.strerror or exc}."
    return ""


def _plain(error: str) -> str:
    """ "run.ports[1]: host port 2222 on 127.0.0.1 is published twice." → without the field path."""
    _field, sep, rest = error.partition(": ")
    text = rest if sep else error
    return text[:1].upper() + text[1:]
