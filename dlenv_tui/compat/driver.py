"""The driver: kernel-module flavour and branch per GPU set, CUDA per driver, Fabric Manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dlenv_tui.compat._base import (
    KEPLER_BRANCH,
    KEPLER_MAX_CUDA,
    LEGACY_BRANCH,
    LEGACY_MAX_CUDA,
    Decision,
    Version,
    _fmt,
    _fmt_driver,
    _minor_compat,
    _toolkit_minimums,
    parse_driver_version,
)
from dlenv_tui.compat.gpus import _see, _Seen
from dlenv_tui.model import DriverFlavour, Gpu


@dataclass(frozen=True)
class DriverAdvice:
    """Which kernel-module flavour and branch the GPUs of a host need, and why."""

    flavour: DriverFlavour
    branch: str
    """``580`` when a Maxwell/Pascal/Volta GPU pins it (``470`` for Kepler), else empty."""
    open_required: bool
    """A Blackwell GPU or Grace Hopper superchip: the proprietary modules do not support it."""
    proprietary_required: bool
    """A GPU older than Turing: the open modules do not support it."""
    max_cuda: str
    """``12.9`` for the 580 branch; empty when the branch sets no limit."""
    reasons: tuple[str, ...]
    """Short sentences for the UI; never the same one twice."""
    conflict: bool = False
    """No single driver runs every GPU (e.g. Pascal + Blackwell); the reasons say which GPU loses."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reasons", tuple(dict.fromkeys(self.reasons)))


def _guess_reason(seen: _Seen) -> str:
    what = {
        "new": "Turing-or-newer range, so it is treated as open-capable",
        "blackwell+": (
            "Blackwell-or-newer range (it may be newer than dlenv's data), so it gets the open "
            "kernel modules, the only ones that drive Blackwell and later GPUs"
        ),
        "old": "Maxwell-to-Volta range, so it is treated as a GPU that needs the 580 branch",
        "ancient": "range of GPUs older than Maxwell, which no current driver supports",
    }[seen.guessed]
    return f"The {seen.label} is not in dlenv's GPU table; its device id is in the {what}."


def driver_advice(gpus: Sequence[Gpu]) -> DriverAdvice:
    """The kernel-module flavour and branch for this set of GPUs (NVIDIA's rules, compat.md §4a)."""
    if not gpus:
        return DriverAdvice(
            flavour=DriverFlavour.OPEN,
            branch="",
            open_required=False,
            proprietary_required=False,
            max_cuda="",
            reasons=(
                "No NVIDIA GPU was found; dlenv assumes a Turing or newer GPU and recommends "
                "the open kernel modules.",
            ),
        )
    seen = [_see(g) for g in gpus]
    reasons: list[str] = []
    for s in seen:
        if s.guessed:
            reasons.append(_guess_reason(s))
        elif s.ancient:
            last = (
                f"the {KEPLER_BRANCH} branch was the last for Kepler and is end-of-life"
                if s.arch == "Kepler"
                else "its last driver branches are long end-of-life"
            )
            reasons.append(f"{s.describe()}: no current driver supports it; {last}.")
        elif s.old:
            reasons.append(
                f"{s.describe()}: it needs the proprietary driver, and the {LEGACY_BRANCH} branch "
                "is the last that supports it."
            )
        elif s.needs_open:
            reasons.append(
                f"{s.describe()}: it needs the open kernel modules; the proprietary ones do not "
                "support it."
            )
        elif s.cc is not None:
            reasons.append(
                f"{s.describe()}: the open kernel modules support it and are NVIDIA's "
                "recommended flavour since R560."
            )
        else:
            reasons.append(f"{s.describe()}; dlenv assumes it is Turing or newer.")

    ancient = [s for s in seen if s.ancient]
    usable = [s for s in seen if not s.ancient]
    if ancient and not usable:
        kepler = any(s.arch == "Kepler" or s.guessed == "ancient" for s in ancient)
        return DriverAdvice(
            flavour=DriverFlavour.PROPRIETARY,
            branch=KEPLER_BRANCH if kepler else "",
            open_required=False,
            proprietary_required=True,
            max_cuda=KEPLER_MAX_CUDA if kepler else "",
            reasons=(
                *reasons,
                f"At best the end-of-life {KEPLER_BRANCH} branch drives these GPUs, and it runs "
                f"CUDA {KEPLER_MAX_CUDA} at most. NVIDIA no longer updates it, so dlenv does not "
                "plan it (Ubuntu still publishes nvidia-driver-470; install it yourself if you must)."
                if kepler
                else "No driver dlenv can install drives these GPUs.",
            ),
        )
    # F10: the driver for the others runs them and simply ignores the older GPU, so this is no
    # conflict that stops the plan
    conflict = False
    if ancient:
        names = ", ".join(s.label for s in ancient)
        reasons.append(
            f"The {names} cannot run on the driver the other GPUs need; dlenv sets the driver up "
            "for the others and leaves it unused."
        )

    old = [s for s in usable if s.old]
    new_open = [s for s in usable if s.needs_open]
    if old and new_open:
        old_names = ", ".join(s.label for s in old)
        new_names = ", ".join(s.label for s in new_open)
        reasons.append(
            f"Conflict: no single driver supports both the {old_names} (proprietary modules only) "
            f"and the {new_names} (open modules only). dlenv keeps the proprietary "
            f"{LEGACY_BRANCH} branch, so the {new_names} will not work; remove the older GPU and "
            "choose the open flavour to use it."
        )
        return DriverAdvice(
            flavour=DriverFlavour.PROPRIETARY,
            branch=LEGACY_BRANCH,
            open_required=True,
            proprietary_required=True,
            max_cuda=LEGACY_MAX_CUDA,
            reasons=(*reasons, _legacy_cuda_reason()),
            conflict=True,
        )
    if old:
        if len(old) < len(usable):
            reasons.append(
                "This host mixes GPUs older than Turing with newer ones; NVIDIA advises staying "
                f"on the proprietary driver, and the {LEGACY_BRANCH} branch drives them all."
            )
        return DriverAdvice(
            flavour=DriverFlavour.PROPRIETARY,
            branch=LEGACY_BRANCH,
            open_required=False,
            proprietary_required=True,
            max_cuda=LEGACY_MAX_CUDA,
            reasons=(*reasons, _legacy_cuda_reason()),
            conflict=conflict,
        )
    reasons.append(
        "Open kernel modules: required for this host."
        if new_open
        else "Open kernel modules: recommended (the proprietary ones would also work)."
    )
    return DriverAdvice(
        flavour=DriverFlavour.OPEN,
        branch="",
        open_required=bool(new_open),
        proprietary_required=False,
        max_cuda="",
        reasons=tuple(reasons),
        conflict=conflict,
    )


def _legacy_cuda_reason() -> str:
    return (
        f"The {LEGACY_BRANCH} branch runs CUDA 13.0, but CUDA 13 dropped Maxwell, Pascal and "
        f"Volta, so containers for these GPUs stop at CUDA {LEGACY_MAX_CUDA}."
    )


def _driver_views(driver: Version) -> tuple[Version | None, Version | None]:
    """(newest CUDA X.Y the driver fully supports, newest CUDA X.Y it runs by minor-version compat)."""
    rows = _toolkit_minimums()
    full = None
    for xy, need, _ok in rows:
        if driver >= need:
            full = xy
    minor = None
    for xy, _need, _ok in rows:
        floor = _minor_compat().get(xy[0])
        if floor is not None and driver >= floor:
            minor = xy
    if full is not None and (minor is None or minor < full):
        minor = full
    return full, minor


def max_cuda_for_driver(driver_version: str) -> Decision[str]:
    """The newest CUDA ``X.Y`` this driver fully supports (CUDA release notes, Table 3).

    The reasons also give the minor-version-compatibility view: containers built for any X.y of a
    major run once the driver passes that major's floor, though nvidia/cuda images check the full
    version when they start. Raises CompatError for a string that is not a driver version; a driver
    older than CUDA 11 gives an empty value.
    """
    driver = parse_driver_version(driver_version)
    shown = driver_version.strip()
    rows = _toolkit_minimums()
    full, minor = _driver_views(driver)
    if full is None:
        oldest, need, _ok = rows[0]
        return Decision(
            "",
            (
                f"Driver {shown} is older than CUDA {_fmt(oldest)} needs ({_fmt_driver(need)}); dlenv "
                "knows no CUDA release it runs.",
            ),
        )
    need = next(n for xy, n, _ok in rows if xy == full)
    verified = next(ok for xy, _n, ok in rows if xy == full)
    reasons = [
        f"Driver {shown} fully supports CUDA {_fmt(full)} (which needs {_fmt_driver(need)})."
    ]
    if isinstance(verified, str):
        reasons.append(f"The driver minimum for CUDA {_fmt(full)} is read from {verified}.")
    elif not verified:
        reasons.append(
            f"The driver minimum for CUDA {_fmt(full)} comes from secondary sources, not NVIDIA's "
            "release notes."
        )
    newer = [(xy, n) for xy, n, _ok in rows if xy > full]
    if newer:
        xy, n = newer[0]
        reasons.append(f"CUDA {_fmt(xy)} needs driver {_fmt_driver(n)} or newer.")
    else:
        reasons.append(
            f"CUDA {_fmt(full)} is the newest release dlenv knows; newer ones may run too."
        )
    if minor is not None and minor > full:
        floor = _minor_compat()[minor[0]]
        reasons.append(
            f"By minor-version compatibility, software built for CUDA {minor[0]}.x up to "
            f"{_fmt(minor)} also runs on it (needs {_fmt_driver(floor)}), except features and PTX that "
            "need a newer driver; nvidia/cuda images check the full version, so dlenv offers "
            f"images up to CUDA {_fmt(full)}."
        )
    elif (floor_of_major := _minor_compat().get(full[0])) is not None and driver < floor_of_major:
        reasons.append(
            f"It is below the CUDA {full[0]}.x minor-version-compatibility floor "
            f"({_fmt_driver(floor_of_major)}), so nothing newer than CUDA {_fmt(full)} runs on it."
        )
    else:
        reasons.append("Minor-version compatibility adds no newer CUDA release dlenv knows.")
    return Decision(_fmt(full), tuple(reasons))


def max_cuda_minor_compat(driver_version: str) -> str:
    """The newest CUDA ``X.Y`` whose applications run on this driver by minor-version compatibility."""
    _full, minor = _driver_views(parse_driver_version(driver_version))
    return _fmt(minor) if minor else ""


_FOURTH_GEN_NVSWITCH_GPUS = frozenset({"2901", "3182"})


@dataclass(frozen=True)
class FabricAdvice:
    """Whether the host needs NVIDIA Fabric Manager (and NVLSM), and why."""

    needed: bool
    nvlsm: bool = False
    reason: str = ""


def fabric_manager_advice(gpus: Sequence[Gpu], nvswitches: Sequence[str]) -> FabricAdvice:
    """Fabric Manager is required on every NVSwitch board (HGX/DGX A100, H100, H200, B200, B300).

    An NVSwitch function on the PCI bus decides it; an 8-GPU HGX B200/B300 board counts too, since
    its switches sit behind the NVLink management interface rather than on the host's bus.
    """
    fourth = sum(1 for g in gpus if g.device_id.lower() in _FOURTH_GEN_NVSWITCH_GPUS)
    if not nvswitches and fourth < 8:
        return FabricAdvice(needed=False)
    where = (
        f"{len(nvswitches)} NVSwitch function{'s' if len(nvswitches) != 1 else ''} on the PCI bus"
        if nvswitches
        else f"an HGX board with {fourth} B200/B300 GPUs"
    )
    reason = (
        f"This host has {where}: CUDA does not initialise on NVSwitch systems until NVIDIA Fabric "
        "Manager, at exactly the driver's version, has set up the NVLink fabric."
    )
    nvlsm = fourth > 0
    if nvlsm:
        reason += (
            " Fourth-generation NVSwitch (HGX B200/B300) also needs NVLink Subnet Manager (nvlsm)."
        )
    return FabricAdvice(needed=True, nvlsm=nvlsm, reason=reason)
