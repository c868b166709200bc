"""The data everything else passes around: host facts, checks, plans, profiles and worker events.

Frozen dataclasses and string enums only; no I/O. ``to_data`` / ``from_data`` turn any of them into
plain JSON/TOML-ready dicts and back, so `dlenv check --json` output, plan JSON for the root worker
and profile files all share one serialisation.

Convention (from subiquity): ``None`` means "not probed / unknown", an empty tuple means
"probed and none found".

The dataclasses live in three submodules loaded on first use (``facts``: what the probe reads;
``plans``: checks, plans and worker events; ``profile``: a saved setup), so that a program which
needs only some of them does not pay for building the rest: Python 3.11 compiles five or six
methods for every frozen dataclass, about 1.5 ms each class, and the wizard's first screen needs
none of the plan classes. Import them from here as before: ``from dlenv_tui.model import Plan``.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import types
import typing
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Union

if TYPE_CHECKING:
    from dlenv_tui.model.facts import CdiSpec as CdiSpec
    from dlenv_tui.model.facts import DiskInfo as DiskInfo
    from dlenv_tui.model.facts import Distro as Distro
    from dlenv_tui.model.facts import DriverInfo as DriverInfo
    from dlenv_tui.model.facts import Gpu as Gpu
    from dlenv_tui.model.facts import HostFacts as HostFacts
    from dlenv_tui.model.facts import SecureBoot as SecureBoot
    from dlenv_tui.model.facts import Tool as Tool
    from dlenv_tui.model.facts import UserInfo as UserInfo
    from dlenv_tui.model.plans import Check as Check
    from dlenv_tui.model.plans import DownloadSpec as DownloadSpec
    from dlenv_tui.model.plans import Event as Event
    from dlenv_tui.model.plans import FileSpec as FileSpec
    from dlenv_tui.model.plans import Plan as Plan
    from dlenv_tui.model.plans import PlanInputs as PlanInputs
    from dlenv_tui.model.plans import Step as Step
    from dlenv_tui.model.profile import BuiltImage as BuiltImage
    from dlenv_tui.model.profile import DriverChoice as DriverChoice
    from dlenv_tui.model.profile import EngineChoice as EngineChoice
    from dlenv_tui.model.profile import GpuCheck as GpuCheck
    from dlenv_tui.model.profile import ImageOptions as ImageOptions
    from dlenv_tui.model.profile import Mount as Mount
    from dlenv_tui.model.profile import PortMap as PortMap
    from dlenv_tui.model.profile import Profile as Profile
    from dlenv_tui.model.profile import RunOptions as RunOptions
    from dlenv_tui.model.profile import StageProgress as StageProgress

T = TypeVar("T")

#: Where each dataclass lives: its submodule under ``dlenv_tui.model``.
_LAZY: dict[str, str] = {
    "Distro": "facts",
    "Gpu": "facts",
    "DriverInfo": "facts",
    "SecureBoot": "facts",
    "Tool": "facts",
    "UserInfo": "facts",
    "DiskInfo": "facts",
    "CdiSpec": "facts",
    "HostFacts": "facts",
    "Check": "plans",
    "FileSpec": "plans",
    "DownloadSpec": "plans",
    "Step": "plans",
    "Plan": "plans",
    "PlanInputs": "plans",
    "Event": "plans",
    "DriverChoice": "profile",
    "EngineChoice": "profile",
    "ImageOptions": "profile",
    "Mount": "profile",
    "PortMap": "profile",
    "RunOptions": "profile",
    "StageProgress": "profile",
    "BuiltImage": "profile",
    "GpuCheck": "profile",
    "Profile": "profile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next lookup is a plain one
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class StrEnum(str, enum.Enum):
    """A str-valued enum that prints as its value (``enum.StrEnum`` is 3.11+)."""

    def __str__(self) -> str:
        return str(self.value)


# --------------------------------------------------------------------------------------------
# Host facts


class PkgFamily(StrEnum):
    APT = "apt"
    DNF = "dnf"
    ZYPPER = "zypper"
    OTHER = "other"


class DriverFlavour(StrEnum):
    OPEN = "open"
    PROPRIETARY = "proprietary"


# --------------------------------------------------------------------------------------------
# Checks


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


# --------------------------------------------------------------------------------------------
# Plans


class Stage(StrEnum):
    DRIVER = "driver"
    TOOLKIT = "toolkit"
    ENGINE = "engine"
    IMAGE = "image"
    LAUNCH = "launch"


class StepKind(StrEnum):
    RUN = "run"
    """Run ``argv`` (no shell)."""
    WRITE_FILE = "write_file"
    """Write ``file`` atomically with its mode (the worker does this itself)."""
    DOWNLOAD = "download"
    """Fetch ``download.url`` over https to ``download.dest``, verifying the fingerprint/sha256."""
    REBOOT = "reboot"
    """The user must reboot; never run automatically."""


# --------------------------------------------------------------------------------------------
# Profiles


class EngineName(StrEnum):
    DOCKER = "docker"
    PODMAN = "podman"


class EngineSource(StrEnum):
    DOCKER_CE = "docker-ce"
    """Docker's own repository."""
    DISTRO = "distro"
    """The distribution's package (docker.io, moby-engine, podman)."""


class ImageVariant(StrEnum):
    BASE = "base"
    RUNTIME = "runtime"
    DEVEL = "devel"


class StageState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    NEEDS_REBOOT = "needs-reboot"


# --------------------------------------------------------------------------------------------
# Root-worker events (JSON lines)


class EventKind(StrEnum):
    JOB_STARTED = "job_started"
    STEP_STARTED = "step_started"
    OUTPUT = "output"
    STEP_FINISHED = "step_finished"
    WAITING = "waiting"
    """Waiting for something outside our control (a package-manager lock)."""
    JOB_FINISHED = "job_finished"
    ERROR = "error"


class StepOutcome(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    """Its check said it was already done."""
    FAILED = "failed"
    CANCELLED = "cancelled"
    REBOOT = "reboot"
    """A reboot step: the user must reboot before the plan goes on."""


# --------------------------------------------------------------------------------------------
# Serialisation


class DataError(ValueError):
    """Data that does not fit the model; the message says which field and why."""


def to_data(obj: Any) -> Any:
    """Turn a model object into JSON/TOML-ready builtins; ``None`` fields are dropped (TOML has no null)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            out[f.name] = to_data(value)
        return out
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, tuple | list):
        return [to_data(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    return obj


def from_data(cls: type[T], data: Any, where: str = "") -> T:
    """Build ``cls`` from builtins, checking types; raises DataError naming the bad field."""
    return typing.cast(T, _convert(cls, data, where or getattr(cls, "__name__", "value")))


_HINTS: dict[type, dict[str, Any]] = {}


class _ModelNames(Mapping[str, Any]):
    """Every model name, loaded on first use: what a submodule's string annotations may name
    (``Profile.host`` is a ``HostFacts``, which ``profile`` imports only for type checking)."""

    def __getitem__(self, name: str) -> Any:
        if name in _LAZY:
            return __getattr__(name)
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter(_LAZY)

    def __len__(self) -> int:
        return len(_LAZY)


_MODEL_NAMES = _ModelNames()


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, localns=_MODEL_NAMES)
    return _HINTS[cls]


def _convert(tp: Any, data: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, data, where)
            except DataError as exc:
                errors.append(str(exc))
        raise DataError(errors[0] if errors else f"{where}: unexpected value {data!r}")
    if origin is tuple:
        if not isinstance(data, list | tuple):
            raise DataError(f"{where}: expected a list, got {type(data).__name__}")
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise DataError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(
            _convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True))
        )
    if origin is dict:
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a table, got {type(data).__name__}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(vt, v, f"{where}.{k}") for k, v in data.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected a table, got {type(data).__name__}")
        hints = _hints(tp)
        kwargs: dict[str, Any] = {}
        names = {f.name for f in dataclasses.fields(tp)}
        for key in data:
            if key not in names:
                raise DataError(f"{where}: unknown field {key!r}")
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise DataError(f"{where}: missing field {f.name!r}")
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in tp)
            raise DataError(f"{where}: {data!r} is not one of {allowed}") from None
    if tp is float:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return float(data)
        raise DataError(f"{where}: expected a number, got {data!r}")
    if tp is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        raise DataError(f"{where}: expected a whole number, got {data!r}")
    if tp is bool:
        if isinstance(data, bool):
            return data
        raise DataError(f"{where}: expected true or false, got {data!r}")
    if tp is str:
        if isinstance(data, str):
            return data
        raise DataError(f"{where}: expected text, got {data!r}")
    if tp is Any:
        return data
    raise DataError(f"{where}: cannot read a value of type {tp!r}")
