"""Distributions: supported releases, end-of-life dates, releases newer than the data."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from typing import Any

from dlenv_tui.compat._base import _load
from dlenv_tui.model import Distro


@dataclass(frozen=True)
class DistroSupport:
    """Whether dlenv supports a distribution release, and under which key plans find it."""

    key: str
    """``ubuntu-24.04``, ``debian-12``, ``fedora-43``, ``rhel-9``, ``rocky-9``, ``almalinux-9``,
    ``centos-stream-9``, ``opensuse-leap-15``, ``opensuse-tumbleweed``, ``sles-15``; for an
    unsupported one ``<id>-<version>``."""
    family: str
    """``ubuntu``, ``debian``, ``fedora``, ``rhel`` or ``suse``; empty when not one of them."""
    supported: bool
    reason: str
    """One sentence; for an unsupported release it names the supported ones."""
    eol: str = ""
    """End-of-life date (ISO) of the release in dlenv's data; "" for rolling or unknown releases."""
    eol_passed: bool = False
    """The release reached end of life; plans still work, the user is told to upgrade."""
    newer_than_data: bool = False
    """A release newer than any dlenv's data knows: planned as ``plan_version``."""
    plan_version: str = ""
    """The known release whose repositories the plan uses ("" = the host's own version)."""
    warning: str = ""
    """One sentence for `dlenv check` (end of life passed, or newer than the data); "" otherwise."""
    newest: str = ""
    """The newest release of this distribution in the data, e.g. ``Fedora 44``."""
    eol_approximate: bool = False
    """The end-of-life date is an estimate (not yet announced by the distribution)."""


def _distro_data() -> dict[str, Any]:
    data: dict[str, Any] = _load("distros.json")
    return data


def _rel_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in version.split("."))
    except ValueError:
        return ()


@cache
def _supported_text() -> str:
    parts = []
    for entry in _distro_data()["distros"].values():
        releases = sorted(entry["releases"], key=_rel_key)
        parts.append(f"{entry['name']} {'/'.join(releases)}" if releases else entry["name"])
    return ", ".join(parts)


def __getattr__(name: str) -> Any:
    # SUPPORTED_DISTROS_TEXT comes from the data file, read on first use rather than on import
    if name == "SUPPORTED_DISTROS_TEXT":
        return _supported_text()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_FAMILY_OF_LIKE = {
    "ubuntu": "ubuntu",
    "debian": "debian",
    "fedora": "fedora",
    "rhel": "rhel",
    "centos": "rhel",
    "suse": "suse",
    "opensuse": "suse",
}


def distro_support(distro: Distro, today: datetime.date | None = None) -> DistroSupport:
    """Whether dlenv supports this distribution release; the key plans are looked up by.

    Every known release carries its end-of-life date (``assets/data/distros.json``); a release past
    it is still planned, with a warning. A release newer than the data (Ubuntu 26.10, Fedora 45)
    is planned as the newest known one, with a warning, rather than refused.
    """
    today = today or datetime.date.today()
    ident = distro.id.strip().lower()
    version = distro.version_id.strip()
    shown = distro.name or " ".join(p for p in (distro.id, version) if p) or "an unknown system"
    table = _distro_data()["distros"]
    if ident not in table and (ident == "opensuse" or ident.startswith("opensuse-tumbleweed")):
        ident = "opensuse-tumbleweed"
    entry = table.get(ident)
    if entry is None:
        family = next((_FAMILY_OF_LIKE[x] for x in distro.like if x in _FAMILY_OF_LIKE), "")
        key = f"{ident}-{version}" if version else ident or "unknown"
        return DistroSupport(key, family, False, _unsupported(shown))
    prefix, family, releases = entry["prefix"], entry["family"], entry["releases"]
    if not releases:
        return DistroSupport(prefix, family, True, f"{shown} is supported.")
    # Ubuntu is keyed by its YY.MM release; the others by their major version.
    release = version if ident == "ubuntu" else version.split(".")[0]
    if release in releases:
        info = releases[release]
        eol = str(info.get("eol", ""))
        passed = bool(eol) and datetime.date.fromisoformat(eol) <= today
        warning = ""
        if passed:
            lts = info.get("lts_until")
            extra = f" (LTS security updates until {lts})" if lts else ""
            warning = (
                f"{shown} reached end of life on {eol}{extra}: plans still work, upgrade soon."
            )
        newest = max(releases, key=_rel_key)
        return DistroSupport(
            f"{prefix}-{release}",
            family,
            True,
            f"{shown} is supported.",
            eol=eol,
            eol_passed=passed,
            warning=warning,
            newest=f"{entry['name']} {newest}",
            eol_approximate=bool(info.get("approximate")),
        )
    newest = max(releases, key=_rel_key)
    if release and _rel_key(release) and _rel_key(release) > _rel_key(newest):
        name = f"{entry['name']} {newest}"
        return DistroSupport(
            f"{prefix}-{newest}",
            family,
            True,
            f"{shown} is newer than dlenv's data; it is planned as {name}.",
            newer_than_data=True,
            plan_version=newest,
            newest=name,
            warning=(
                f"{shown} is newer than dlenv's data (as of {_distro_data()['as_of']}): plans use "
                f"{name}'s repositories, which may not have packages for it yet; "
                "`dlenv data refresh` or a newer dlenv knows more."
            ),
        )
    key = f"{prefix}-{release}" if release else prefix
    if ident == "centos":
        key = f"centos-{release}" if release else "centos"  # CentOS Linux, not Stream
    return DistroSupport(key, family, False, _unsupported(shown))


def distro_codename(ident: str, version: str) -> str:
    """The release codename dlenv's data records (Docker's apt repository needs it); "" if none."""
    entry = _distro_data()["distros"].get(ident.strip().lower(), {})
    release = version if ident == "ubuntu" else version.split(".")[0]
    return str(entry.get("releases", {}).get(release, {}).get("codename", ""))


def _unsupported(shown: str) -> str:
    return f"unsupported: {shown}; supported: {_supported_text()}"
