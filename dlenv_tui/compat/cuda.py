"""CUDA: which versions the GPUs and the driver can run, and which cuDNN the images carry."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from dlenv_tui.compat._base import (
    LEGACY_MAX_CUDA,
    TURING_CC,
    Decision,
    Version,
    _cuda_data,
    _fmt,
    _version,
    parse_cuda_version,
)
from dlenv_tui.compat.driver import driver_advice, max_cuda_for_driver
from dlenv_tui.compat.gpus import _see
from dlenv_tui.compat.images import (
    _flavour_words,
    _has_image,
    _normalise_ubuntu,
    image_cuda_versions,
    ubuntu_releases_for,
)
from dlenv_tui.model import Gpu, ImageVariant


@cache
def _cc_introduced() -> tuple[tuple[Version, Version, Version], ...]:
    """(CUDA X.Y, lowest CC, highest CC) per toolkit row, oldest first."""
    return tuple(
        (_version(cuda), _version(lo), _version(hi))
        for cuda, lo, hi, _added, _removed in _cuda_data()["arch_support"]
    )


def _cuda_range_for_cc(cc: Version) -> tuple[Version | None, Version | None]:
    """The oldest and newest CUDA X.Y that compile for this CC; (None, None) when none does.

    The arch table lists only the toolkits where something changed: a CC is supported from the row
    that adds it (or the first row, for CCs older than the table) until a row whose minimum is above it.
    """
    rows = _cc_introduced()
    first = next((cuda for cuda, lo, hi in rows if lo <= cc <= hi and _cc_added_by(cuda, cc)), None)
    if first is None:
        return None, None
    dropped = next((cuda for cuda, lo, _hi in rows if cuda > first and cc < lo), None)
    with_images = [_version(v) for v in image_cuda_versions()]
    last = max(v for v in with_images if dropped is None or v < dropped)
    return first, last


def _cc_added_by(cuda: Version, cc: Version) -> bool:
    """Whether a toolkit as new as ``cuda`` knows this CC (a CC exists only from the row adding it)."""
    for row_cuda, _lo, _hi, added, _removed in _cuda_data()["arch_support"]:
        if cc in {_version(a.rstrip("a")) for a in added}:
            return _version(row_cuda) <= cuda
    return True


def cuda_for_gpus(gpus: Sequence[Gpu]) -> Decision[tuple[str, str]]:
    """The (oldest, newest) CUDA ``X.Y`` every GPU can use; ``("", "")`` when no version fits them all."""
    versions = [_version(v) for v in image_cuda_versions()]
    lo, hi = min(versions), max(versions)
    reasons: list[str] = []
    if not gpus:
        return Decision(
            (_fmt(lo), _fmt(hi)),
            (f"No GPU to limit the choice: CUDA {_fmt(lo)} to {_fmt(hi)}.",),
        )
    seen = [_see(g) for g in gpus]
    # A GPU no current driver drives cannot limit the others; it counts only when it is all there is.
    counted = [s for s in seen if not s.ancient] or seen
    for s in seen:
        if s not in counted:
            reasons.append(f"{s.describe()}: no current driver supports it; it is left out.")
    for s in counted:
        if s.cc is not None:
            first, last = _cuda_range_for_cc(s.cc)
            if first is None or last is None:
                reasons.append(f"{s.describe()}: no CUDA release dlenv knows compiles for it.")
                return Decision(("", ""), tuple(reasons))
        elif s.arch == "Kepler" or s.guessed == "ancient":
            # compat.md §3a: Kepler (CC 3.5-3.7) ends with CUDA 11.8; our table starts at 11.0.
            first, last = lo, (11, 8)
        elif s.ancient:
            reasons.append(f"{s.describe()}: no CUDA release dlenv knows supports it.")
            return Decision(("", ""), tuple(reasons))
        elif s.guessed == "old":
            first, last = lo, _version(LEGACY_MAX_CUDA)
        elif s.guessed == "blackwell+":
            # Blackwell needs CUDA 12.8; a GPU newer than dlenv's data likely needs the newest
            # CUDA there is, so the newest release dlenv knows is the only one worth choosing
            reasons.append(
                f"The {s.label} is not in dlenv's GPU table (its id is in the Blackwell-or-newer "
                f"range): dlenv uses the newest CUDA it knows, {_fmt(hi)}; if this GPU is newer "
                "than Blackwell it may need a newer release (`dlenv data refresh`)."
            )
            lo = max(lo, hi)
            continue
        else:
            reasons.append(f"{s.describe()}; dlenv cannot tell which CUDA releases it supports.")
            continue
        reasons.append(f"{s.describe()}: CUDA {_fmt(first)} to {_fmt(last)}.")
        lo, hi = max(lo, first), min(hi, last)
    if lo > hi:
        reasons.append("No CUDA release supports all of these GPUs together.")
        return Decision(("", ""), tuple(reasons))
    # The range ends must be versions that have images.
    inside = [v for v in versions if lo <= v <= hi]
    if not inside:
        return Decision(("", ""), (*reasons, "No nvidia/cuda image exists in that range."))
    return Decision((_fmt(min(inside)), _fmt(max(inside))), tuple(reasons))


def usable_cuda_versions(
    gpus: Sequence[Gpu],
    driver_version: str = "",
    *,
    variant: ImageVariant | None = None,
    cudnn: bool | None = None,
    ubuntu: str = "",
) -> Decision[tuple[str, ...]]:
    """CUDA ``X.Y`` versions with nvidia/cuda images that the GPUs and the driver can run, newest first.

    ``driver_version`` empty means no driver yet: the branch the GPUs need sets the limit instead.
    ``variant`` / ``cudnn`` / ``ubuntu`` keep only versions that have that exact image, so the
    first entry is always one ``image_tag`` accepts for the same arguments.
    """
    span = cuda_for_gpus(gpus)
    reasons = list(span.reasons)
    lo, hi = span.value
    if not lo:
        return Decision((), tuple(reasons))
    top = _version(hi)
    if driver_version.strip():
        by_driver = max_cuda_for_driver(driver_version)
        reasons.extend(by_driver.reasons[:1])
        if not by_driver.value:
            return Decision((), tuple(by_driver.reasons))
        top = min(top, _version(by_driver.value))
    else:
        advice = driver_advice(gpus)
        if advice.max_cuda and _version(advice.max_cuda) < top:
            top = _version(advice.max_cuda)
            reasons.append(
                f"The {advice.branch} driver branch these GPUs need runs CUDA {advice.max_cuda} "
                "at most."
            )
    found = [
        v
        for v in image_cuda_versions()
        if _version(lo) <= _version(v) <= top
        and (variant is None or _has_image(v, variant, cudnn, ubuntu))
        and (
            ubuntu == ""
            or variant is not None
            or _normalise_ubuntu(ubuntu) in ubuntu_releases_for(v)
        )
    ]
    if variant is not None:
        reasons.append(
            f"Only versions with a {_flavour_words(variant, bool(cudnn))} image are listed."
        )
    if not found:
        reasons.append("No nvidia/cuda image fits these GPUs and this driver.")
    return Decision(tuple(found), tuple(reasons))


def cudnn_for(cuda: str, gpus: Sequence[Gpu]) -> Decision[str]:
    """The cuDNN major that nvidia/cuda images for this CUDA carry, if it supports every GPU; else ``""``."""
    xy = parse_cuda_version(cuda)[:2]
    if xy < (11, 0):
        return Decision("", (f"dlenv knows no cuDNN images for CUDA {_fmt(xy)}.",))
    # nvidia/cuda naming: cudnn8-* up to 12.2, cudnn9-* for 12.3, cudnn-* (cuDNN 9) from 12.4.
    major = "8" if xy <= (12, 2) else "9"
    reasons = [f"nvidia/cuda images for CUDA {_fmt(xy)} carry cuDNN {major}."]
    rows = [r for r in _cuda_data()["cudnn"] if _fmt(xy) in r[1]]
    if not rows:
        rows = [r for r in _cuda_data()["cudnn"] if any(_version(c)[0] == xy[0] for c in r[1])]
    supported = {_version(cc) for r in rows for cc in r[3]}
    for s in (_see(g) for g in gpus):
        if s.cc is None:
            continue
        # A cubin for X.y runs on X.z with z >= y, so a listed 5.0 covers 5.2 and 12.0 covers 12.1.
        if not any(cc[0] == s.cc[0] and cc[1] <= s.cc[1] for cc in supported):
            reasons.append(
                f"{s.describe()}: the cuDNN support matrix for CUDA {_fmt(xy)} omits it."
            )
            return Decision("", tuple(reasons))
        if s.cc < TURING_CC and major == "9":
            reasons.append(
                f"{s.describe()}: cuDNN 9.10 is the last release that supports it; do not "
                "upgrade cuDNN inside the image past 9.10."
            )
    return Decision(major, tuple(reasons))
