"""The choices the wizard offers, from the compatibility knowledge: the CUDA versions and Ubuntu
releases this host can run with a given image flavour, and one sentence when a choice has no image.

A policy over ``compat`` for the Driver and Image stages (no Textual).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dlenv_tui import compat as _compat
from dlenv_tui.model import ImageVariant

if TYPE_CHECKING:
    from dlenv_tui.model import Gpu, HostFacts, Profile


def usable_cuda(
    facts: HostFacts, profile: Profile | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CUDA versions (newest first) the GPUs and the driver after the driver stage can run, and why."""
    from dlenv_tui.model import Profile
    from dlenv_tui.plan.cuda import which_cuda_any_flavour

    d = which_cuda_any_flavour(facts, profile or Profile(name="draft"))
    return d.versions, unique(d.reasons)


def image_cuda_choices(
    facts: HostFacts, variant: ImageVariant, cudnn: bool, profile: Profile | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CUDA versions (newest first) the GPUs and the driver after the driver stage can run that
    have an nvidia/cuda image of this flavour for at least one Ubuntu release, and why; () when
    the flavour has none."""
    from dlenv_tui.model import Profile
    from dlenv_tui.plan.cuda import driver_after_plan, which_cuda

    draft = profile or Profile(name="draft")
    driver = driver_after_plan(facts, draft)
    plain = _compat.usable_cuda_versions(facts.gpus, driver)
    found: set[str] = set()
    for release in unique([r for v in plain.value for r in _compat.ubuntu_releases_for(v)]):
        d = _compat.usable_cuda_versions(
            facts.gpus, driver, variant=variant, cudnn=cudnn, ubuntu=release
        )
        found.update(d.value)
    versions = tuple(v for v in plain.value if v in found)
    reasons = unique(plain.reasons)
    # the same sentence the profile's own decision gives (kept driver, Ubuntu fallback)
    extra = [r for r in which_cuda(facts, draft, variant=variant, cudnn=cudnn).reasons]
    reasons = unique([*(r for r in extra if r not in reasons), *reasons])
    missing = [v for v in plain.value if v not in found]
    if versions and missing:
        words = flavour_words(variant, cudnn)
        if len(missing) > 3:
            left = f"{len(missing)} of these versions have no {words} image and are left out."
        elif len(missing) == 1:
            left = f"CUDA {missing[0]} has no {words} image, so it is left out."
        else:
            names = ", ".join(missing[:-1]) + " and " + missing[-1]
            left = f"CUDA {names} have no {words} image, so they are left out."
        reasons += (left,)
    return versions, reasons


def image_ubuntus(cuda: str, variant: ImageVariant, cudnn: bool) -> tuple[str, ...]:
    """Ubuntu releases (newest first) with an nvidia/cuda image of this CUDA and flavour."""

    return tuple(
        release
        for release in _compat.ubuntu_releases_for(cuda)
        if not image_error(cuda, variant, cudnn, release)
    )


def image_error(cuda: str, variant: ImageVariant, cudnn: bool, ubuntu: str) -> str:
    """ "" when nvidia/cuda has this image, else one sentence saying so and what to pick instead."""

    if variant is ImageVariant.BASE and cudnn:
        return "nvidia/cuda has no base image with cuDNN: choose runtime or devel, or untick cuDNN."
    try:
        _compat.image_tag(cuda, variant, cudnn, ubuntu)
    except _compat.CompatError:
        return (
            f"nvidia/cuda has no CUDA {cuda} {flavour_words(variant, cudnn)} image for Ubuntu "
            f"{ubuntu}: choose another CUDA version, flavour or Ubuntu release."
        )
    return ""


def no_image_error(variant: ImageVariant, cudnn: bool) -> str:
    """The sentence for a flavour that no CUDA version this host can run comes in."""
    if variant is ImageVariant.BASE and cudnn:
        return image_error("", variant, cudnn, "")
    untick = ", or untick cuDNN" if cudnn else ""
    return (
        f"No CUDA version this host can run has a {flavour_words(variant, cudnn)} image: "
        f"choose another flavour{untick}."
    )


def flavour_words(variant: ImageVariant, cudnn: bool) -> str:
    return f"cuDNN {variant.value}" if cudnn else variant.value


def unique(items: Sequence[str]) -> tuple[str, ...]:
    """``items`` without repeats (two identical GPUs give the same reason twice)."""
    return tuple(dict.fromkeys(items))


def driver_advice(gpus: Sequence[Gpu]) -> _compat.DriverAdvice:
    return _compat.driver_advice(gpus)
