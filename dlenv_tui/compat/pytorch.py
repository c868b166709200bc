"""PyTorch: the wheel index for an image's CUDA and the host's GPUs."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from dlenv_tui.compat._base import (
    CompatError,
    Decision,
    Version,
    _cuda_data,
    _fmt,
    _version,
    parse_cuda_version,
)
from dlenv_tui.compat.cuda import cuda_for_gpus
from dlenv_tui.compat.gpus import _see
from dlenv_tui.model import Gpu

PYTORCH_INDEX_BASE = "https://download.pytorch.org/whl/"


@cache
def _torch_indexes() -> dict[Version, str]:
    """CUDA X.Y of each PyTorch wheel index → the newest torch release that has wheels there."""
    torch = _cuda_data()["pytorch"]
    newest: dict[Version, Version] = {}
    for release, tags in torch["releases"]:
        for tag in tags:
            _note(newest, tag, _version(release))
    for release, tags in torch["observed"].items():
        for tag in tags:
            _note(newest, tag, _version(release)[:2])
    return {cu: _fmt(t) for cu, t in sorted(newest.items())}


def _note(newest: dict[Version, Version], tag: str, release: Version) -> None:
    digits = tag.removeprefix("cu")
    cu = (int(digits[:-1]), int(digits[-1]))
    if release > newest.get(cu, (0,)):
        newest[cu] = release


def pytorch_index(cuda: str, gpus: Sequence[Gpu] = ()) -> Decision[str]:
    """The PyTorch wheel index for an image's CUDA version.

    The wheels bundle their own CUDA runtime, so any index of the image's CUDA major runs on the
    image's driver by minor-version compatibility (CUDA compatibility guide, Table 1: 12.x needs
    ≥ 525.60.13, 11.x ≥ 450.80.02). dlenv starts from the nearest index not newer than the image
    and moves to a newer one of the same major when that one has a newer torch release (a 12.4
    image gets cu126 and torch 2.14, not cu124 and 2.6). An index never crosses the major: a
    CUDA 11.0-11.2 image gets an 11.x index, not cu102, whose wheels have no sm_80/sm_86 kernels.

    With ``gpus``: a GPU older than Turing keeps the choice at cu126, and every index must be at
    least the oldest CUDA that knows all the GPUs (Blackwell: cu128).
    """
    xy = parse_cuda_version(cuda)[:2]
    indexes = _torch_indexes()
    reasons: list[str] = []
    seen = [_see(g) for g in gpus]
    old = [s for s in seen if s.old]
    floor: Version = (0,)
    if gpus:
        lo = cuda_for_gpus(gpus).value[0]
        floor = _version(lo) if lo else (0,)
    same_major = [
        cu for cu in indexes if cu[0] == xy[0] and cu >= floor and not (old and cu > (12, 6))
    ]
    if not same_major or xy < (11, 0):
        raise CompatError(f"PyTorch publishes no wheels for CUDA {_fmt(xy)} that fit these GPUs")
    below = [cu for cu in same_major if cu <= xy]
    start = max(below) if below else min(same_major)
    # the newest torch wins; among equals the index nearest the image's CUDA, older first
    cu = max(same_major, key=lambda c: (_version(indexes[c]), c <= xy, -abs(c[1] - xy[1])))
    if old and xy > (12, 6):
        reasons.append(
            f"{old[0].describe()}: dlenv stays on cu126, the index whose wheels carry Maxwell, "
            "Pascal and Volta kernels in every release (from PyTorch 2.11 on the others leave "
            "them out; cu128/cu129 kept Volta only for 2.8-2.10)."
        )
    if floor > (0,) and any(cu < floor for cu in indexes if cu[0] == xy[0]):
        reasons.append(f"These GPUs need wheels built for CUDA {_fmt(floor)} or newer.")
    tag = f"cu{cu[0]}{cu[1]}"
    start_tag = f"cu{start[0]}{start[1]}"
    if cu == xy:
        reasons.insert(0, f"PyTorch publishes {tag} wheels for CUDA {_fmt(xy)}.")
    elif cu == start and below:
        if not (old and xy > (12, 6)):
            reasons.append(f"{tag} is the newest PyTorch index not newer than CUDA {_fmt(xy)}.")
    elif cu == start:
        reasons.append(
            f"{tag} is the oldest PyTorch index for CUDA {xy[0]}.x; it runs on this image's driver "
            "by minor-version compatibility."
        )
    else:
        why = (
            f" Its wheels bundle their CUDA runtime, which runs on this image's driver by CUDA "
            f"{xy[0]}.x minor-version compatibility."
            if cu > xy
            else ""
        )
        reasons.append(
            f"{tag} has a newer torch ({indexes[cu]}) than {start_tag} ({indexes[start]}).{why}"
        )
    reasons.append(
        f"PyTorch {indexes[cu]} is the newest release dlenv's data lists with {tag} wheels."
    )
    return Decision(PYTORCH_INDEX_BASE + tag, tuple(reasons))
