"""The Fedora driver plan: RPM Fusion akmod-nvidia(-open) with xorg-x11-drv-nvidia-cuda, akmods key under Secure Boot."""

from __future__ import annotations

from dlenv_tui import compat
from dlenv_tui.model import PkgFamily
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver.common import DriverContext, enrol_key
from dlenv_tui.plan.steps import PlanError

AKMODS_CERT = "/etc/pki/akmods/certs/public_key.der"
RPMFUSION = "https://mirrors.rpmfusion.org"
KMOD_MACROS = "/etc/rpm/macros.nvidia-kmod"


def packages(ctx: DriverContext) -> tuple[str, ...]:
    if ctx.branch == "580":
        # RPM Fusion's legacy branch for Maxwell, Pascal and Volta; mainline akmod-nvidia is 590+
        return ("akmod-nvidia-580xx", "xorg-x11-drv-nvidia-580xx", "xorg-x11-drv-nvidia-580xx-cuda")
    if ctx.branch:
        raise PlanError(
            f"RPM Fusion packages the current driver and the 580 legacy branch only, not {ctx.branch}; "
            "clear the profile's driver branch."
        )
    # RPM Fusion's akmod-nvidia builds the open modules itself unless a pre-Turing GPU is present
    # (its nvidia-kmod-noopen-checks); akmod-nvidia-open is only for downstream module changes
    return ("akmod-nvidia", "xorg-x11-drv-nvidia-cuda")


def _closed_forced(ctx: DriverContext) -> bool:
    """The profile wants proprietary modules on a host where akmod-nvidia would pick open ones."""
    if ctx.is_open or ctx.branch:
        return False
    return not compat.driver_advice(tuple(ctx.facts.gpus)).proprietary_required


def plan(ctx: DriverContext) -> None:
    n = ctx.target.major
    ctx.reasons.append(
        "The driver comes from RPM Fusion as an akmod: the module is built for each new kernel."
    )
    ctx.reasons.append(
        "xorg-x11-drv-nvidia-cuda provides nvidia-smi and the CUDA driver libraries."
    )
    ctx.steps.append(
        s.run(
            "driver.rpmfusion",
            "Enable the RPM Fusion free and nonfree repositories",
            (
                p.DNF,
                "install",
                "-y",
                f"{RPMFUSION}/free/fedora/rpmfusion-free-release-{n}.noarch.rpm",
                f"{RPMFUSION}/nonfree/fedora/rpmfusion-nonfree-release-{n}.noarch.rpm",
            ),
            check=s.installed_check(
                PkgFamily.DNF, ("rpmfusion-free-release", "rpmfusion-nonfree-release")
            ),
        )
    )
    driver = packages(ctx)
    if ctx.is_open and not ctx.branch:
        ctx.reasons.append(
            "RPM Fusion's akmod-nvidia builds the open kernel modules by itself on Turing and "
            "newer GPUs; akmod-nvidia-open is meant only for changing the module's source."
        )
    if _closed_forced(ctx):
        ctx.reasons.append(
            "The profile asks for the proprietary modules on GPUs where akmod-nvidia would build "
            "the open ones, so its detection is switched off (RPM Fusion's "
            "%_without_kmod_nvidia_detect)."
        )
        ctx.steps.append(
            s.write(
                "driver.akmod-closed",
                "Tell akmod-nvidia to build the proprietary modules",
                KMOD_MACROS,
                "# Written by dlenv: build the proprietary NVIDIA module (profile choice).\n"
                "%_without_kmod_nvidia_detect 1\n",
            )
        )
    if ctx.secure_boot:
        ctx.reasons.append(
            "Secure Boot is on: akmods signs the module with a local key (kmodgenca) that must be "
            "enrolled with mokutil before the module loads."
        )
        ctx.steps.append(
            s.install(
                "driver.akmods-tools",
                "Install the module signing tools",
                PkgFamily.DNF,
                ("kmodtool", "akmods", "mokutil", "openssl"),
            )
        )
        ctx.steps.append(
            s.run(
                "driver.akmods-key",
                "Create the akmods signing key",
                (p.KMODGENCA, "-a"),
                check=(p.TEST, "-f", AKMODS_CERT),
                note="Created before the install so the first akmods build is signed.",
            )
        )
    ctx.steps.append(
        s.install(
            "driver.install",
            f"Install the {ctx.flavour.value} NVIDIA driver (akmod)",
            PkgFamily.DNF,
            driver,
            note="akmods builds the module in the background; the first boot may take a few minutes.",
        )
    )
    if ctx.secure_boot:
        enrol_key(ctx, AKMODS_CERT)
