"""nvidia/cuda image tags: which exist, the newest patch of each minor, per Ubuntu release."""

from __future__ import annotations

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
from dlenv_tui.model import ImageVariant


@cache
def _images() -> dict[str, dict[Version, frozenset[str]]]:
    """Ubuntu release → CUDA x.y.z → flavours with a known nvidia/cuda tag."""
    return {
        ubuntu: {_version(v): frozenset(flavours) for v, flavours in versions.items()}
        for ubuntu, versions in _cuda_data()["images"].items()
    }


@cache
def image_cuda_versions() -> tuple[str, ...]:
    """Every CUDA ``X.Y`` with at least one known nvidia/cuda Ubuntu image, newest first."""
    found = {v[:2] for versions in _images().values() for v in versions}
    return tuple(_fmt(v) for v in sorted(found, reverse=True))


def _normalise_ubuntu(ubuntu: str) -> str:
    return ubuntu.strip().lower().removeprefix("ubuntu").strip()


def _flavour_names(variant: ImageVariant, cudnn: bool) -> tuple[str, ...]:
    if not cudnn:
        return (variant.value,)
    return tuple(f"{prefix}-{variant.value}" for prefix in ("cudnn", "cudnn9", "cudnn8"))


def _flavour_words(variant: ImageVariant, cudnn: bool) -> str:
    return f"cuDNN {variant.value}" if cudnn else variant.value


def _has_image(cuda: str, variant: ImageVariant, cudnn: bool | None, ubuntu: str) -> bool:
    try:
        image_tag(cuda, variant, bool(cudnn), ubuntu or "24.04")
    except CompatError:
        return False
    return True


def image_tag(cuda: str, variant: ImageVariant, cudnn: bool, ubuntu: str) -> Decision[str]:
    """The nvidia/cuda tag for this CUDA, flavour and Ubuntu release: the newest known patch release.

    ``cuda`` is ``X.Y`` (newest patch) or ``X.Y.Z`` (exactly that one). Raises CompatError when no
    such tag is known to exist.
    """
    want = parse_cuda_version(cuda)
    release = _normalise_ubuntu(ubuntu)
    images = _images()
    if release not in images:
        known = ", ".join(sorted(images, reverse=True))
        raise CompatError(f"nvidia/cuda has no Ubuntu {release or '?'} images (known: {known})")
    if variant is ImageVariant.BASE and cudnn:
        raise CompatError("nvidia/cuda has no cuDNN base images; choose runtime or devel")
    flavours = _flavour_names(variant, cudnn)
    candidates = sorted(
        (v for v in images[release] if v[: len(want)] == want),
        reverse=True,
    )
    words = _flavour_words(variant, cudnn)
    if len(want) == 2 and candidates:
        # NVIDIA supports only the latest point release of a minor and deletes superseded tags
        # (doc/support-policy.md), so an older patch is never chosen for an X.Y request
        candidates = candidates[:1]
    for v in candidates:
        flavour = next((f for f in flavours if f in images[release][v]), None)
        if flavour is None:
            continue
        tag = f"nvidia/cuda:{_fmt(v)}-{flavour}-ubuntu{release}"
        reasons = [
            f"{tag} is the newest CUDA {_fmt(want)} {words} image for Ubuntu {release} "
            f"(image tags as of {images_as_of()})."
        ]
        return Decision(tag, tuple(reasons))
    if not candidates:
        raise CompatError(f"nvidia/cuda has no CUDA {_fmt(want)} images for Ubuntu {release}")
    raise CompatError(
        f"nvidia/cuda has no CUDA {_fmt(candidates[0])} {words} image for Ubuntu {release}"
    )


def images_as_of() -> str:
    """The date of the tag list in use (shipped snapshot or a refresh)."""
    return str(_cuda_data().get("images_as_of", "2026-08-21"))


def ubuntu_releases_for(cuda: str) -> tuple[str, ...]:
    """Ubuntu releases with any nvidia/cuda image for this CUDA ``X.Y``, newest first; () if none."""
    try:
        want = parse_cuda_version(cuda)
    except CompatError:
        return ()
    return tuple(
        release
        for release, versions in sorted(
            _images().items(), key=lambda kv: _version(kv[0]), reverse=True
        )
        if any(v[: len(want)] == want for v in versions)
    )
