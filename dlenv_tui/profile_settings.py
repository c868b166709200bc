"""`KEY=VALUE` settings for a profile's run and image options, checked like the wizard checks them."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, get_type_hints

from dlenv_tui.errors import UsageError
from dlenv_tui.model import ImageOptions, Mount, PortMap, Profile, RunOptions

#: Keys the CLI may set, per section; the rest of the profile is the wizard's to change.
RUN_KEYS = (
    "gpus",
    "shm_size",
    "name",
    "restart",
    "as_root",
    "proxy",
    "keep_home",
    "ports",
    "mounts",
    "env",
    "secrets",
)
IMAGE_KEYS = (
    "apt_mirror",
    "pip_index",
    "torch_index",
    "ca_certs",
    "build_proxy",
    "cuda",
    "variant",
    "cudnn",
    "ubuntu",
    "base_override",
    "tag",
    "python_packages",
    "extra_apt",
    "extra_pip",
    "jupyter",
    "ssh",
    "tmux",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def apply_settings(profile: Profile, settings: Sequence[str]) -> tuple[Profile, list[str]]:
    """The profile with every ``KEY=VALUE`` applied, and one line per change; UsageError (one
    sentence) for an unknown key, a value of the wrong kind or a value the wizard would refuse."""
    from dlenv_tui.profiles import expand_mounts, profile_errors

    run, image = profile.run, profile.image
    changes: list[str] = []
    touched: list[str] = []
    for setting in settings:
        key, sep, value = setting.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{setting!r} is not KEY=VALUE (for example gpus=all).")
        section, name = _resolve(key)
        if section == "run":
            run = dataclasses.replace(run, **{name: _convert(RunOptions, name, value)})
            if name == "mounts":  # ~/ws is stored as the absolute path it means
                run = expand_mounts(dataclasses.replace(profile, run=run)).run
            shown = getattr(run, name)
        else:
            image = dataclasses.replace(image, **{name: _convert(ImageOptions, name, value)})
            shown = getattr(image, name)
        touched.append(f"{section}.{name}")
        changes.append(f"{section}.{name} = {_show(shown)}")
    updated = dataclasses.replace(profile, run=run, image=image)
    for err in profile_errors(updated):
        if any(err.startswith(t) for t in touched):
            raise UsageError(err[0].upper() + err[1:] if err else err)
    return updated, changes


def _resolve(key: str) -> tuple[str, str]:
    section, _, name = key.rpartition(".")
    if section and section not in ("run", "image"):
        raise UsageError(f"{key!r}: the section is run. or image., not {section}.")
    in_run, in_image = name in RUN_KEYS, name in IMAGE_KEYS
    if (section == "run" and in_run) or (not section and in_run and not in_image):
        return "run", name
    if (section == "image" and in_image) or (not section and in_image and not in_run):
        return "image", name
    if not section and in_run and in_image:
        raise UsageError(f"{key!r} is a run and an image option: write run.{name} or image.{name}.")
    keys = ", ".join((*RUN_KEYS, *IMAGE_KEYS))
    raise UsageError(f"{key!r} is not an option `profiles set` changes; it knows: {keys}.")


def _convert(cls: type, name: str, value: str) -> Any:
    value = value.strip()
    if name == "ports":
        return tuple(_port(p) for p in value.split(",") if p.strip())
    if name == "mounts":
        return tuple(_mount(m) for m in value.split(",") if m.strip())
    tp = get_type_hints(cls)[name]
    if tp is bool:
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise UsageError(f"{name}={value!r}: give yes or no.")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in tp)
            raise UsageError(f"{name}={value!r}: choose one of {choices}.") from None
    if name in ("env", "secrets"):
        # values may hold commas: these two are separated by spaces (quote the whole setting)
        return tuple(v for v in value.split() if v)
    if tp == tuple[str, ...]:
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _port(text: str) -> PortMap:
    parts = text.strip().rsplit(":", 2)
    try:
        if len(parts) == 3:
            return PortMap(container=int(parts[2]), host=int(parts[1]), host_ip=parts[0])
        if len(parts) == 2:
            return PortMap(container=int(parts[1]), host=int(parts[0]))
        return PortMap(container=int(parts[0]), host=int(parts[0]))
    except ValueError:
        raise UsageError(
            f"ports: {text.strip()!r} is not HOST:CONTAINER or IP:HOST:CONTAINER (e.g. 2222:22)."
        ) from None


def _mount(text: str) -> Mount:
    parts = text.strip().split(":")
    if len(parts) == 3 and parts[2] in ("ro", "rw"):
        return Mount(parts[0], parts[1], read_only=parts[2] == "ro")
    if len(parts) == 2:
        return Mount(parts[0], parts[1])
    raise UsageError(f"mounts: {text.strip()!r} is not SOURCE:TARGET or SOURCE:TARGET:ro.")


def _show(value: object) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return ", ".join(_show(v) for v in value) or "(none)"
    if isinstance(value, PortMap):
        return f"{value.host_ip}:{value.host}->{value.container}"
    if isinstance(value, Mount):
        return f"{value.source}:{value.target}{':ro' if value.read_only else ''}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value) or '""'
