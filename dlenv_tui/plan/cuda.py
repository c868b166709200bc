"""Which CUDA the image uses: one decision for the profile, the Dockerfile, the smoke test and the screens.

The image has to run on the driver that will be loaded *after* the driver stage (audit F4): the
loaded one when the plan keeps it, otherwise the branch the plan installs. When that driver is too
old for any image of the chosen Ubuntu release (a kept R535/R550 driver, audit F3), the newest
Ubuntu release that has a fitting image is used instead and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from dlenv_tui import compat
from dlenv_tui.model import HostFacts, ImageVariant, Profile
from dlenv_tui.plan.steps import PlanError


@dataclass(frozen=True)
class CudaChoice:
    """CUDA versions an image may use on this host, newest first, and the Ubuntu release they are for."""

    versions: tuple[str, ...]
    """CUDA ``X.Y`` with an image of the asked flavour for ``ubuntu``; () when none fits."""
    ubuntu: str
    """The Ubuntu release of the image: the profile's, or the one the fallback chose."""
    driver: str
    """The driver version the image will meet ("" = the branch the driver stage installs)."""
    reasons: tuple[str, ...]


def driver_after_plan(facts: HostFacts, profile: Profile) -> str:
    """The driver version the image will meet: the loaded one, or "" when the plan replaces it."""
    from dlenv_tui.plan.driver.common import decide, satisfied_reason

    if not facts.driver.loaded:
        return ""
    if profile.driver.skip or not facts.driver.version:
        return facts.driver.version
    try:
        flavour, branch, _ = decide(facts, profile)
    except PlanError:
        return facts.driver.version
    return facts.driver.version if satisfied_reason(facts, profile, flavour, branch) else ""


def which_cuda(
    facts: HostFacts | None,
    profile: Profile,
    *,
    variant: ImageVariant | None = None,
    cudnn: bool | None = None,
    ubuntu: str = "",
) -> CudaChoice:
    """The CUDA versions (and Ubuntu release) an image for ``profile`` may use on ``facts``.

    ``variant`` / ``cudnn`` / ``ubuntu`` default to the profile's image options; the first
    version always has an nvidia/cuda image of that flavour for the returned Ubuntu release.
    """
    opts = profile.image
    variant = variant or opts.variant
    cudnn = opts.cudnn if cudnn is None else cudnn
    ubuntu = ubuntu or opts.ubuntu
    gpus = tuple(facts.gpus) if facts else ()
    driver = driver_after_plan(facts, profile) if facts else ""
    reasons: list[str] = []
    if facts and facts.driver.loaded and facts.driver.version and not driver:
        reasons.append(
            f"The driver stage replaces the loaded {facts.driver.version} driver, so the image "
            "is chosen for the driver it installs."
        )
    first = compat.usable_cuda_versions(gpus, driver, variant=variant, cudnn=cudnn, ubuntu=ubuntu)
    if first.value or opts.base_override:
        return CudaChoice(first.value, ubuntu, driver, (*reasons, *first.reasons))
    # F3: no image of this flavour for this Ubuntu release runs on the driver; an older release
    # often has one (Ubuntu 22.04 has 12.2 and 12.4 images for R535 / R550 drivers)
    releases = sorted(
        {r for v in compat.image_cuda_versions() for r in compat.ubuntu_releases_for(v)},
        key=lambda r: tuple(int(x) for x in r.split(".")),
        reverse=True,
    )
    for release in releases:
        if release == ubuntu.strip().lower().removeprefix("ubuntu").strip():
            continue
        other = compat.usable_cuda_versions(
            gpus, driver, variant=variant, cudnn=cudnn, ubuntu=release
        )
        if other.value:
            runs = compat.max_cuda_for_driver(driver).value if driver else ""
            limit = f"runs CUDA {runs} at most" if runs else "limits the CUDA version"
            who = f"The {driver} driver" if driver else "The driver these GPUs need"
            reasons.append(
                f"{who} {limit}, and nvidia/cuda has no such image for Ubuntu "
                f"{ubuntu}; the image uses Ubuntu {release}, which has CUDA {other.value[0]}."
            )
            return CudaChoice(other.value, release, driver, (*reasons, *other.reasons))
    return CudaChoice((), ubuntu, driver, (*reasons, *first.reasons))


def which_cuda_any_flavour(facts: HostFacts | None, profile: Profile) -> CudaChoice:
    """CUDA versions the GPUs and the driver after the driver stage can run, in any image flavour."""
    gpus = tuple(facts.gpus) if facts else ()
    driver = driver_after_plan(facts, profile) if facts else ""
    d = compat.usable_cuda_versions(gpus, driver)
    return CudaChoice(d.value, profile.image.ubuntu, driver, d.reasons)
