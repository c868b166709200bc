"""The driver from NVIDIA's CUDA apt repository (Debian, and Ubuntu without Secure Boot): nvidia-open / cuda-drivers."""

from __future__ import annotations

from dataclasses import replace

from dlenv_tui.model import DriverFlavour, PkgFamily, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver.common import (
    DriverContext,
    check_nvidia_repo,
    dkms_module_step,
    enrol_key,
    headers_step,
)

KEYRING_DEB = "cuda-keyring_1.1-1_all.deb"
CACHE_DIR = "/var/cache/dlenv"


def packages(ctx: DriverContext) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(packages to install first, driver packages) for the flavour and branch.

    A branch is held by NVIDIA's pinning package and the driver names stay unversioned, for 580
    as well as the branches after it: ``cuda-drivers-580`` has no upper bound on its
    dependencies (``nvidia-driver (>= 580.65.06)``), so on Debian it pulls in 590 components,
    which no longer drive Maxwell, Pascal or Volta (NVIDIA Driver Installation Guide, "Version
    locking packages for Ubuntu / Debian"; NVIDIA forum thread 353805).
    """
    name = "nvidia-open" if ctx.flavour is DriverFlavour.OPEN else "cuda-drivers"
    if not ctx.branch:
        return (), (name,)
    ctx.reasons.append(
        f"Branch {ctx.branch} is held with nvidia-driver-pinning-{ctx.branch} (NVIDIA's "
        f"version-locking package), so a later apt upgrade cannot move the driver past {ctx.branch}."
    )
    return (f"nvidia-driver-pinning-{ctx.branch}",), (name,)


def plan(ctx: DriverContext, *, dkms_cert: str, dkms_key_step: Step | None = None) -> None:
    """Add the repository, headers, Secure Boot key handling and the driver install to ``ctx``."""
    t = ctx.target
    check_nvidia_repo(ctx)
    url = (
        f"https://developer.download.nvidia.com/compute/cuda/repos/{t.cuda_repo}/"
        f"{t.cuda_arch}/{KEYRING_DEB}"
    )
    dest = f"{CACHE_DIR}/{KEYRING_DEB}"
    keyring_installed = s.installed_check(PkgFamily.APT, ("cuda-keyring",))
    ctx.reasons.append(
        f"The driver comes from NVIDIA's CUDA repository for {t.cuda_repo} ({ctx.flavour.value} "
        "kernel modules, built by DKMS)."
    )
    download = s.download(
        "driver.cuda-keyring-download",
        "Download NVIDIA's CUDA repository keyring package",
        url,
        dest,
        note="cuda-keyring installs NVIDIA's repository signing key and the apt source.",
    )
    # once the keyring package is installed the downloaded file is no longer needed
    ctx.steps.append(replace(download, check=keyring_installed))
    ctx.steps.append(
        s.run(
            "driver.cuda-keyring",
            "Install NVIDIA's CUDA repository keyring",
            (p.DPKG, "-i", dest),
            check=keyring_installed,
            env=s.APT_ENV,
        )
    )
    headers_step(ctx, (f"linux-headers-{ctx.facts.kernel}",))
    if dkms_key_step is not None:
        ctx.steps.append(dkms_key_step)
    first, driver = packages(ctx)
    install_check = s.installed_check(PkgFamily.APT, driver)
    ctx.steps.append(
        s.refresh("driver.apt-update", PkgFamily.APT, until=install_check, what="CUDA")
    )
    if first:
        ctx.steps.append(
            s.install("driver.pin-branch", f"Pin driver branch {ctx.branch}", PkgFamily.APT, first)
        )
    other = ctx.facts.driver.flavour
    switching = ctx.facts.driver.loaded and other is not None and other is not ctx.flavour
    if switching and not ctx.branch:
        # NVIDIA's documented switch: the new flavour's packages replace and purge the old ones
        extra: tuple[str, ...] = ("nvidia-driver-open",) if ctx.is_open else ("nvidia-driver",)
        if t.family == "debian":
            extra = ()
        ctx.reasons.append(
            f"The {other.value if other else ''} driver is loaded; the install switches flavour."
        )
        ctx.steps.append(
            s.run(
                "driver.install",
                f"Switch to the {ctx.flavour.value} NVIDIA driver",
                (p.APT_GET, "install", "-y", "--autoremove", "--purge", *driver, *extra),
                check=install_check,
                env=s.APT_ENV,
            )
        )
    else:
        ctx.steps.append(
            s.install(
                "driver.install",
                f"Install the {ctx.flavour.value} NVIDIA driver",
                PkgFamily.APT,
                driver,
                note="DKMS builds the kernel module for the running kernel.",
            )
        )
    dkms_module_step(ctx)
    if ctx.secure_boot:
        enrol_key(ctx, dkms_cert)
