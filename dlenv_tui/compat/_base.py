"""Shared pieces of the knowledge: types, constants, the data loader and version parsers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from dlenv_tui.locations import asset

T = TypeVar("T")


Version = tuple[int, ...]


TURING_CC: Version = (7, 5)
"""The open kernel modules need GSP, which arrived with Turing; CUDA 13 also drops everything older."""


BLACKWELL_CC: Version = (10, 0)
"""Blackwell and newer: open kernel modules only."""


LEGACY_BRANCH = "580"
"""The last driver branch for Maxwell, Pascal and Volta (R580, LTS to 2028)."""


LEGACY_MAX_CUDA = "12.9"
"""CUDA 13.0 removed Maxwell, Pascal and Volta, so they stop at 12.9."""


KEPLER_BRANCH = "470"


KEPLER_MAX_CUDA = "11.4"
"""R470 (the last Kepler branch) runs at most CUDA 11.4."""


ANCIENT_ARCHS = frozenset({"Kepler", "Fermi", "Tesla"})


class CompatError(ValueError):
    """An input compat cannot answer for: an unparseable version, or a combination that does not exist."""


@dataclass(frozen=True)
class Decision(Generic[T]):
    """A value and why it was chosen."""

    value: T
    reasons: tuple[str, ...] = ()
    """Short sentences for the UI, most important first; never the same one twice."""

    def __post_init__(self) -> None:
        # Two identical GPUs would otherwise say the same thing twice.
        object.__setattr__(self, "reasons", tuple(dict.fromkeys(self.reasons)))


@cache
def _load(name: str) -> Any:
    with asset("data", name).open(encoding="utf-8") as f:
        return json.load(f)


def _pci_data() -> dict[str, Any]:
    data: dict[str, Any] = _load("pci_devices.json")
    return data


@cache
def _cuda_data() -> dict[str, Any]:
    """The shipped cuda.json with a `dlenv data refresh` result laid over it, when there is one."""
    data: dict[str, Any] = _with_repo_rows(_load("cuda.json"))
    overlay = _overlay()
    if overlay is None:
        return data
    newest = max(_version(row[0])[:2] for row in data["toolkit_driver"])
    # CUDA minors newer than the driver table cannot be matched to a driver yet: left out
    images = {
        ubuntu: {v: list(f) for v, f in versions.items() if _version(v)[:2] <= newest}
        for ubuntu, versions in overlay["images"].items()
        if isinstance(versions, dict)
    }
    observed = dict(data["pytorch"]["observed"])
    for release, tags in (overlay.get("pytorch_observed") or {}).items():
        observed[release] = sorted(set(observed.get(release, ())) | set(tags))
    return {
        **data,
        "images": {u: v for u, v in images.items() if v},
        "images_as_of": overlay["images_as_of"],
        "pytorch": {**data["pytorch"], "observed": observed},
    }


def _with_repo_rows(data: dict[str, Any]) -> dict[str, Any]:
    """The driver table with rows read from NVIDIA's repositories (their cuda-compat packages,
    see knowledge.repos): for a CUDA minor newer than the snapshot's, or one it has only from
    secondary sources, the repository's row is used; a row's third field then names the
    repository. Verified rows, and minors older than the snapshot's newest, stay as shipped."""
    from dlenv_tui.knowledge.repos import toolkit_drivers

    minors = {_version(row[0])[:2]: row[2] is True for row in data["toolkit_driver"]}
    newest = max(minors)
    # only where the snapshot is unsure (a secondary row) or ends: an old minor's republished
    # compat package (cuda-compat-10-2 …) is no reason to add a row the snapshot leaves out
    extra = {
        xy: [cuda, driver, source]
        for cuda, driver, source in toolkit_drivers()
        if (xy := _version(cuda)[:2]) > newest or minors.get(xy) is False
    }
    if not extra:
        return data
    kept = [row for row in data["toolkit_driver"] if _version(row[0])[:2] not in extra]
    rows = sorted([*extra.values(), *kept], key=lambda row: _version(row[0]), reverse=True)
    return {**data, "toolkit_driver": rows}


def _overlay() -> dict[str, Any] | None:
    """The stored refresh (locations.knowledge_file), or None: absent, unreadable or not ours."""
    from dlenv_tui.locations import knowledge_file

    try:
        data = json.loads(knowledge_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != 1:
        return None
    if not isinstance(data.get("images"), dict) or not isinstance(data.get("images_as_of"), str):
        return None
    return data


@cache
def _open_ids() -> frozenset[str]:
    return frozenset(_pci_data()["open_kernel_gpus"])


@cache
def _grace_ids() -> frozenset[str]:
    return frozenset(_pci_data()["grace_superchips"])


@cache
def _arch_for_cc() -> dict[Version, str]:
    return {_version(cc): arch for arch, cc, _chips in _cuda_data()["architectures"]}


@cache
def _toolkit_minimums() -> tuple[tuple[Version, Version, bool | str], ...]:
    """(CUDA X.Y, the driver its first release needs, verified), oldest first; ``verified`` is
    True (NVIDIA's release notes), False (secondary sources) or the NVIDIA repository it was read
    from (a minor newer than the snapshot, see knowledge.repos.toolkit_drivers)."""
    best: dict[Version, tuple[Version, bool | str]] = {}
    for cuda, driver, verified in _cuda_data()["toolkit_driver"]:
        xy = _version(cuda)[:2]
        drv = _version(driver)
        if xy not in best or drv < best[xy][0]:
            best[xy] = (drv, verified if isinstance(verified, str) else bool(verified))
    return tuple((xy, drv, ok) for xy, (drv, ok) in sorted(best.items()))


def _fmt_driver(v: Version) -> str:
    """``(580, 65, 6)`` → ``580.65.06``: NVIDIA writes the build numbers with two digits."""
    return ".".join([str(v[0]), *(f"{p:02d}" for p in v[1:])])


@cache
def _minor_compat() -> dict[int, Version]:
    """CUDA major → the driver from which every X.y container runs under minor-version compatibility."""
    return {int(major): _version(floor) for major, floor, _upper in _cuda_data()["minor_compat"]}


_DRIVER_RE = re.compile(r"\s*(\d{2,4})\.(\d{1,3})(?:\.(\d{1,3}))?\s*", re.ASCII)


_CUDA_RE = re.compile(
    r"\s*(?:cuda\s*)?(\d{1,2})\.(\d{1,2})(?:\.(\d{1,3}))?\s*", re.IGNORECASE | re.ASCII
)


def _version(text: str) -> Version:
    """``"12.8.1"`` → ``(12, 8, 1)``; only for strings from our own tables."""
    return tuple(int(p) for p in text.split("."))


def _fmt(v: Version) -> str:
    return ".".join(str(p) for p in v)


def _cc(text: str) -> Version | None:
    text = text.strip()
    if not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}", text):
        return None
    return _version(text)


def parse_driver_version(text: str) -> Version:
    """``"580.95.05"`` → ``(580, 95, 5)``; raises CompatError for anything that is not a driver version."""
    m = _DRIVER_RE.fullmatch(text)
    if not m:
        raise CompatError(f"{text.strip()[:40]!r} is not an NVIDIA driver version (like 580.95.05)")
    return tuple(int(p) for p in m.groups() if p is not None)


def parse_cuda_version(text: str) -> Version:
    """``"12.8"`` / ``"12.8.1"`` → ``(12, 8)`` / ``(12, 8, 1)``; raises CompatError otherwise."""
    m = _CUDA_RE.fullmatch(text)
    if not m:
        raise CompatError(f"{text.strip()[:40]!r} is not a CUDA version (like 12.8)")
    return tuple(int(p) for p in m.groups() if p is not None)
