"""The Ubuntu 22.04/24.04 driver plan: Canonical-signed prebuilt modules under Secure Boot, else NVIDIA's repository."""

from __future__ import annotations

from dlenv_tui import compat
from dlenv_tui.model import DriverFlavour, PkgFamily
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver import nvidia_apt_repo
from dlenv_tui.plan.driver.common import DriverContext

#: Ubuntu's DKMS signs with shim-signed's MOK (update-secureboot-policy --new-key creates it).
MOK_CERT = "/var/lib/shim-signed/mok/MOK.der"


def plan(ctx: DriverContext) -> None:
    source = ctx.profile.driver.source
    if source == "distro" or (source == "auto" and ctx.secure_boot):
        _ubuntu_drivers(ctx)
        return
    if ctx.secure_boot:
        ctx.reasons.append(
            "Secure Boot is on and the profile asks for NVIDIA's repository: DKMS signs the module "
            "with Ubuntu's MOK, which must be enrolled."
        )
        key_step = s.run(
            "driver.mok-key",
            "Create the machine owner key DKMS signs with",
            (p.UPDATE_SECUREBOOT_POLICY, "--new-key"),
            check=(p.TEST, "-f", MOK_CERT),
        )
        nvidia_apt_repo.plan(ctx, dkms_cert=MOK_CERT, dkms_key_step=key_step)
        return
    nvidia_apt_repo.plan(ctx, dkms_cert=MOK_CERT)


def _kernel_flavour(kernel: str) -> str:
    """``6.8.0-45-generic`` -> ``generic``: the suffix of Ubuntu's prebuilt module packages."""
    tail = kernel.rsplit("-", 1)[-1] if "-" in kernel else ""
    return tail if tail.isalpha() else "generic"


def _ubuntu_drivers(ctx: DriverContext) -> None:
    """ubuntu-drivers --gpgpu installs Canonical-signed linux-modules-nvidia-*: no key to enrol."""
    if ctx.secure_boot:
        ctx.reasons.append(
            "Secure Boot is on: Ubuntu's prebuilt linux-modules-nvidia packages are signed by "
            "Canonical, so no key has to be enrolled."
        )
    else:
        ctx.reasons.append("The profile asks for Ubuntu's own driver packages (ubuntu-drivers).")
    ctx.steps.append(
        s.install(
            "driver.ubuntu-drivers-common",
            "Install ubuntu-drivers",
            PkgFamily.APT,
            ("ubuntu-drivers-common",),
        )
    )
    argv: tuple[str, ...] = (p.UBUNTU_DRIVERS, "install", "--gpgpu")
    if ctx.branch:
        suffix = "-open" if ctx.flavour is DriverFlavour.OPEN else ""
        argv = (*argv, f"nvidia:{ctx.branch}-server{suffix}")
        modules = (
            f"linux-modules-nvidia-{ctx.branch}-server{suffix}-{_kernel_flavour(ctx.facts.kernel)}"
        )
        check = s.installed_check(PkgFamily.APT, (modules,))
    else:
        ctx.reasons.append(
            "ubuntu-drivers picks the server branch and flavour Canonical has signed modules for."
        )
        check = (p.TEST, "-x", p.NVIDIA_SMI)
        if compat.driver_advice(tuple(ctx.facts.gpus)).open_required:
            # audit F9: a proprietary module left on a Blackwell / Grace Hopper host must not pass
            ctx.reasons.append(
                "This host's GPUs run only on the open kernel modules, so after the reboot dlenv "
                "checks that the open module is loaded; if ubuntu-drivers chose the proprietary "
                "one, pin a driver branch in the profile and dlenv installs "
                "nvidia:<branch>-server-open."
            )
        else:
            ctx.any_flavour = True
    ctx.steps.append(
        s.run(
            "driver.install",
            "Install the NVIDIA driver with ubuntu-drivers",
            argv,
            check=check,
            env=s.APT_ENV,
            note="Installs the prebuilt, signed kernel modules and nvidia-utils (nvidia-smi).",
        )
    )
