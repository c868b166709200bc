"""The Debian 12/13 driver plan: NVIDIA's CUDA repository, DKMS, DKMS key enrolment under Secure Boot."""

from __future__ import annotations

from dlenv_tui.plan.driver import nvidia_apt_repo
from dlenv_tui.plan.driver.common import DriverContext

#: DKMS 3 creates this key pair on its first signed build (mok_signing_key / mok_certificate).
DKMS_CERT = "/var/lib/dkms/mok.pub"


def plan(ctx: DriverContext) -> None:
    if ctx.secure_boot:
        ctx.reasons.append(
            "Secure Boot is on: DKMS signs the module with its own key, which must be enrolled."
        )
    nvidia_apt_repo.plan(ctx, dkms_cert=DKMS_CERT)
