"""NVIDIA's CUDA repositories: which exist per distribution and architecture, with which driver
branches and CUDA toolkits, read from the repositories' own directory listings.

NVIDIA lays them out as ``https://developer.download.nvidia.com/compute/cuda/repos/<repo>/<arch>/``
(``repo`` = ``ubuntu2404``, ``debian13``, ``rhel9``, ``sles15`` ...; ``arch`` = ``x86_64`` or
``sbsa`` for Arm servers), each a plain listing of the ``.deb`` / ``.rpm`` files. The driver
branches come from the driver package names (``cuda-drivers-580_580.95.05-1_amd64.deb``,
``nvidia-driver-pinning-590_…``, ``cuda-drivers-595.58.03-1.x86_64.rpm``), the toolkits from
``cuda-toolkit-13-2_13.2.1-1_amd64.deb`` / ``cuda-toolkit-13-2-13.2.1-1.x86_64.rpm``.

The forward-compatibility packages tie each CUDA minor to a driver: ``cuda-compat-13-4`` carries
the user-space driver of the branch that CUDA release came with, versioned by that driver
(``cuda-compat-13-3_610.43.02-1ubuntu1_amd64.deb``, ``cuda-compat-13-4-615.71.09-1.el9.x86_64.rpm``).
NVIDIA later republishes it with newer drivers of the same branch, so the *lowest* version listed
is the driver the minor's first release shipped with: the minimum that release notes' Table 3
gives. That is how dlenv learns the driver a CUDA minor newer than its snapshot needs.

A repository that answers 404 is recorded as missing (that is the knowledge); a listing that
answers but names no driver or toolkit package is refused as malformed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

REPOS_URL = "https://developer.download.nvidia.com/compute/cuda/repos/"
ARCHES = ("x86_64", "sbsa")

_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
# cuda-drivers-580_580.95.05-1_amd64.deb, nvidia-open_590.48.01-1_amd64.deb,
# cuda-drivers-595.58.03-1.x86_64.rpm, nvidia-driver-pinning-580_580.95.05-1_all.deb
_DRIVER = re.compile(
    r"^(?:cuda-drivers|nvidia-open|nvidia-driver-pinning|nvidia-driver)(?:-(\d{3}))?[_-](\d{3})\.\d+"
)
# cuda-toolkit-13-2_13.2.1-1_amd64.deb, cuda-toolkit-13-2-13.2.1-1.x86_64.rpm
_TOOLKIT = re.compile(r"^cuda-toolkit-\d+-\d+[_-](\d+\.\d+\.\d+)-")
# cuda-compat-13-3_610.43.02-1ubuntu1_amd64.deb, cuda-compat-13-4-615.71.09-1.el8.x86_64.rpm
_COMPAT = re.compile(r"^cuda-compat-(\d+)-(\d+)[_-](\d{3}\.\d+(?:\.\d+)?)-")


class ListingError(ValueError):
    """A listing that answered but is not what NVIDIA's repositories send."""


@dataclass(frozen=True)
class RepoInfo:
    """One repository directory (``debian13/sbsa``)."""

    exists: bool
    branches: tuple[str, ...] = ()
    """Driver branches with packages there, oldest first; empty = not known."""
    toolkits: tuple[str, ...] = ()
    """CUDA toolkit versions (x.y.z) with packages there, oldest first."""
    compat: tuple[tuple[str, str], ...] = ()
    """(CUDA x.y, the lowest cuda-compat driver version there), oldest CUDA first."""
    source: str = ""


def _names(body: bytes) -> list[str]:
    text = body.decode("utf-8", "replace")
    return [h.rsplit("/", 1)[-1] for h in _HREF.findall(text)]


def parse_listing(body: bytes, url: str) -> dict[str, Any]:
    """A ``<repo>/<arch>/`` listing → ``{"branches": [...], "toolkits": [...], "compat": {...}}``
    (``compat``: CUDA x.y → the lowest cuda-compat driver version listed for it)."""
    branches: set[int] = set()
    toolkits: set[tuple[int, ...]] = set()
    compat: dict[tuple[int, int], tuple[int, ...]] = {}
    for name in _names(body):
        c = _COMPAT.match(name)
        if c:
            xy, drv = (int(c[1]), int(c[2])), tuple(int(p) for p in c[3].split("."))
            compat[xy] = min(compat.get(xy, drv), drv)
            continue
        m = _DRIVER.match(name)
        if m:
            branches.add(int(m.group(2)))
        t = _TOOLKIT.match(name)
        if t:
            toolkits.add(tuple(int(p) for p in t.group(1).split(".")))
    if not branches and not toolkits:
        raise ListingError(f"the listing at {url} names no driver or CUDA toolkit package")
    out: dict[str, Any] = {
        "branches": [str(b) for b in sorted(branches)],
        "toolkits": [".".join(map(str, v)) for v in sorted(toolkits)],
    }
    if compat:
        out["compat"] = {f"{x}.{y}": _driver_text(drv) for (x, y), drv in sorted(compat.items())}
    return out


def _driver_text(v: tuple[int, ...]) -> str:
    return ".".join([str(v[0]), *(f"{p:02d}" for p in v[1:])])


def parse_root(body: bytes, url: str) -> set[str]:
    """The ``repos/`` listing → the repository directories it names (``ubuntu2404`` ...)."""
    dirs = {
        n.rstrip("/")
        for n in (
            h.rstrip("/").rsplit("/", 1)[-1] for h in _HREF.findall(body.decode("utf-8", "replace"))
        )
        if re.fullmatch(r"[a-z]+\d{1,4}", n)
    }
    if len(dirs) < 3:
        raise ListingError(f"the repository list at {url} names fewer than three repositories")
    return dirs


def fetch_repos(
    get: Callable[[str], bytes | None], repos: Iterable[str], base: str = REPOS_URL
) -> dict[str, dict[str, Any]]:
    """``{"debian13/sbsa": {"exists": False}, "ubuntu2404/x86_64": {"exists": True, ...}}``.

    ``get`` returns the body, or None for a 404; anything else it raises.
    """
    base = base if base.endswith("/") else base + "/"
    root = get(base)
    if root is None:
        raise ListingError(f"{base} answered 404")
    present = parse_root(root, base)
    out: dict[str, dict[str, Any]] = {}
    for repo in sorted(set(repos)):
        for arch in ARCHES:
            key = f"{repo}/{arch}"
            if repo not in present:
                out[key] = {"exists": False}
                continue
            url = f"{base}{repo}/{arch}/"
            body = get(url)
            if body is None:
                out[key] = {"exists": False}
                continue
            out[key] = {"exists": True, **parse_listing(body, url)}
    return out


def supported_repos() -> tuple[str, ...]:
    """The repository directories of the releases dlenv plans for (from distros.json)."""
    from dlenv_tui.compat import _base

    data: dict[str, Any] = _base._load("distros.json")
    names: set[str] = set()
    for distro in data["distros"].values():
        family = distro.get("family", "")
        for release in distro.get("releases", {}):
            major = release.split(".")[0]
            if family == "ubuntu":
                names.add("ubuntu" + release.replace(".", ""))
            elif family in ("debian", "rhel", "fedora") and major.isdigit():
                names.add(f"{family}{major}")
            elif family == "suse" and major.isdigit():
                names.add(f"sles{max(int(major), 15)}")
    return tuple(sorted(names))


# ---- the data decisions use: shipped snapshot + refreshed overlay --------------------------------


@cache
def _table() -> tuple[dict[str, Any], str]:
    """(repo/arch → info, as-of date): the shipped snapshot with the refreshed file over it."""
    import json

    from dlenv_tui.compat import _base
    from dlenv_tui.locations import repos_file

    shipped: dict[str, Any] = _base._load("nvidia_repos.json")
    table = dict(shipped["repos"])
    as_of = str(shipped["as_of"])
    try:
        stored = json.loads(repos_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if (
        isinstance(stored, dict)
        and stored.get("schema") == 1
        and isinstance(stored.get("repos"), dict)
        and isinstance(stored.get("as_of"), str)
    ):
        table.update({k: v for k, v in stored["repos"].items() if isinstance(v, dict)})
        as_of = stored["as_of"]
    return table, as_of


def reload() -> None:
    _table.cache_clear()


def repo_info(repo: str, arch: str) -> RepoInfo | None:
    """What dlenv knows of NVIDIA's ``repo/arch`` directory; None when it knows nothing."""
    table, as_of = _table()
    row = table.get(f"{repo}/{arch}")
    if not isinstance(row, dict):
        return None
    return RepoInfo(
        exists=bool(row.get("exists")),
        branches=tuple(str(b) for b in row.get("branches", ())),
        toolkits=tuple(str(t) for t in row.get("toolkits", ())),
        compat=tuple(
            (str(k), str(v)) for k, v in (row.get("compat") or {}).items() if isinstance(v, str)
        ),
        source=str(row.get("source") or f"NVIDIA's repository listing as of {as_of}"),
    )


def toolkit_drivers() -> tuple[tuple[str, str, str], ...]:
    """Table-3 rows read from NVIDIA's repositories: (CUDA x.y.z, driver, where from), one per
    CUDA minor with a cuda-compat package, its lowest driver over every repository; the toolkit
    version is that minor's oldest listed release (x.y.0 when none is listed)."""
    table, as_of = _table()
    best: dict[tuple[int, int], tuple[tuple[int, ...], str, str]] = {}
    for key, row in table.items():
        if not isinstance(row, dict) or not isinstance(row.get("compat"), dict):
            continue
        toolkits = [str(t) for t in row.get("toolkits", ())]
        for minor, driver in row["compat"].items():
            try:
                xy = tuple(int(p) for p in str(minor).split("."))
                drv = tuple(int(p) for p in str(driver).split("."))
            except ValueError:
                continue
            if len(xy) != 2 or not 2 <= len(drv) <= 3:
                continue
            first = next((t for t in toolkits if t.startswith(f"{minor}.")), f"{minor}.0")
            if (xy[0], xy[1]) not in best or drv < best[(xy[0], xy[1])][0]:
                best[(xy[0], xy[1])] = (drv, first, key)
    return tuple(
        (
            first,
            _driver_text(drv),
            f"NVIDIA's repository {key} (cuda-compat-{x}-{y} {_driver_text(drv)}, as of {as_of})",
        )
        for (x, y), (drv, first, key) in sorted(best.items())
    )
