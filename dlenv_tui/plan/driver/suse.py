"""The openSUSE Leap / Tumbleweed / SLES driver plan: NVIDIA's GFX repository with SUSE-signed G07 (open) or G06 KMPs."""

from __future__ import annotations

from dlenv_tui.model import PkgFamily
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver.common import ENROL_WARNING, DriverContext

REPO_ALIAS = "nvidia"


def packages(ctx: DriverContext) -> tuple[str, ...]:
    if ctx.is_open and ctx.branch != "580":
        # prebuilt and signed by SUSE: loads under Secure Boot without enrolling anything
        return ("nvidia-open-driver-G07-signed-kmp-meta", "nvidia-compute-utils-G07")
    if ctx.is_open:
        return ("nvidia-open-driver-G06-signed-kmp-meta", "nvidia-compute-utils-G06")
    # G06 is the 580 series, the last generation of the proprietary modules. The meta package
    # keeps the KMP and the user-space packages at one version; the bare -kmp-default lets
    # zypper pick an older 550/570 KMP from the same repository (SUSE NVIDIA maintainer's
    # G07 post of 2026-02-22, "Known issues").
    return ("nvidia-driver-G06-kmp-meta", "nvidia-compute-utils-G06")


def plan(ctx: DriverContext) -> None:
    url = ctx.target.suse_gfx_repo
    ctx.reasons.append(f"The driver comes from NVIDIA's repository for SUSE ({url}).")
    ctx.steps.append(
        s.run(
            "driver.repo",
            "Add NVIDIA's driver repository",
            (p.ZYPPER, "--non-interactive", "addrepo", "--refresh", url, REPO_ALIAS),
            check=(p.TEST, "-f", f"/etc/zypp/repos.d/{REPO_ALIAS}.repo"),
        )
    )
    driver = packages(ctx)
    install_check = s.installed_check(PkgFamily.ZYPPER, driver)
    ctx.steps.append(
        s.refresh("driver.refresh", PkgFamily.ZYPPER, until=install_check, what="NVIDIA driver")
    )
    ctx.steps.append(
        s.install(
            "driver.install",
            f"Install the {ctx.flavour.value} NVIDIA driver",
            PkgFamily.ZYPPER,
            driver,
            note="Prebuilt kernel module packages (KMPs) for the distribution kernel.",
        )
    )
    if ctx.secure_boot:
        if "signed" in driver[0]:
            ctx.reasons.append(
                "Secure Boot is on: the G0x signed KMPs are signed by SUSE, so nothing has to be enrolled."
            )
        else:
            ctx.reasons.append(
                "Secure Boot is on: the proprietary KMP queues its signing certificate with mokutil "
                "during the install."
            )
            ctx.warnings.append(ENROL_WARNING)
