"""`KEY=VALUE` settings for a profile's run and image options, checked like the wizard checks them."""

from __future__ import annotations

import dataclasses
import enum
import re
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
    changes: dict[str, str] = {}
    given: set[str] = set()
    for setting in settings:
        key, sep, value = setting.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"{setting!r} is not KEY=VALUE (for example gpus=all).")
        section, name = _resolve(key)
        cls = RunOptions if section == "run" else ImageOptions
        converted = _convert(cls, name, value)
        if section == "run" and name == "secrets":
            _refuse_secret_values(converted)
        field = f"{section}.{name}"
        if field in given:
            if not isinstance(converted, tuple):
                raise UsageError(f"{field} is given twice; give each option once.")
            # a list option given again adds to what this command set (env=A=1 env=B=2)
            current = run if section == "run" else image
            converted = (*getattr(current, name), *converted)
        given.add(field)
        if section == "run":
            run = dataclasses.replace(run, **{name: converted})
            if name == "mounts":  # ~/ws is stored as the absolute path it means
                run = expand_mounts(dataclasses.replace(profile, run=run)).run
            shown = getattr(run, name)
        else:
            image = dataclasses.replace(image, **{name: converted})
            shown = getattr(image, name)
        changes[field] = f"{field} = {_show(shown)}"
    updated = dataclasses.replace(profile, run=run, image=image)
    for err in profile_errors(updated):
        if any(err.startswith(t) for t in given):
            raise UsageError(err)  # "run.gpus: GPU selection ...": the key as the user writes it
    return updated, list(changes.values())


def _refuse_secret_values(items: tuple[str, ...]) -> None:
    """``NAME=VAR`` names a host variable; a VAR that is not set here and is not written as
    variables are (upper case) is most likely the secret itself, which would be stored in the
    profile in the clear: refused, without echoing it."""
    import os
    import re

    for item in items:
        name, sep, var = item.partition("=")
        if (
            sep
            and not var.startswith("@")
            and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var)
            and var not in os.environ
            and var != var.upper()
        ):
            raise UsageError(
                f"secrets: the value given for {name} looks like the secret itself, which a "
                f"profile never stores; put it in a file and give {name}=@/path/to/file, or "
                f"export it and give {name}=HOST_VARIABLE."
            )


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
        return tuple(_port(p) for p in re.split(r"[\s,]+", value) if p)
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
    if name == "env":
        # values may hold commas and spaces: a new variable starts at a space before NAME=
        return tuple(v.strip() for v in re.split(r"\s+(?=[A-Za-z_][A-Za-z0-9_]*=)", value) if v)
    if name == "secrets":
        return tuple(v for v in value.split() if v)
    if name in ("python_packages", "extra_pip"):
        return _requirements(value)
    if tp == tuple[str, ...]:
        # separated by commas or, as the wizard's form takes them, by spaces
        return tuple(v for v in re.split(r"[\s,]+", value) if v)
    return value


def _requirements(value: str) -> tuple[str, ...]:
    """Requirements separated by spaces (as the Image form takes them) or commas, where a comma
    inside ``[extra,extra]`` or before another version clause (``numpy>=2,<3``) is part of one."""
    out: list[str] = []
    for word in value.split():
        depth, start = 0, 0
        for i, c in enumerate(word):
            if c == "[":
                depth += 1
            elif c == "]":
                depth = max(0, depth - 1)
            elif c == "," and depth == 0 and word[i + 1 : i + 2] not in ("<", ">", "=", "!", "~"):
                out.append(word[start:i])
                start = i + 1
        out.append(word[start:])
    return tuple(r for r in out if r)


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
    text = str(value)
    # a login in a mirror or index URL is not echoed into terminals and CI logs
    text = re.sub(r"^([a-z+]+://[^/@:]*):[^/@]*@", r"\1:***@", text)
    return text or '""'
