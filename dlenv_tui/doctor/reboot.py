"""A pending reboot that concerns the driver: /run/reboot-required(.pkgs) or `needs-restarting -r`."""

from __future__ import annotations

import re

from dlenv_tui.doctor.evidence import (
    REBOOT_REQUIRED_PKGS,
    _needs_restarting,
    read_reboot_required,
)
from dlenv_tui.model import Check, Status
from dlenv_tui.probe.host import Host

_DRIVER_OR_KERNEL = re.compile(
    r"nvidia|^\s*(?:\*\s*)?(?:linux-(?:image|modules|base)|kernel)", re.I | re.M
)


def pending_reboot_check(host: Host) -> Check | None:
    """A `dlenv check` row when a reboot is pending for the driver or the kernel; None otherwise."""
    title = "Pending reboot"
    pkgs = read_reboot_required(host)
    if pkgs is not None:
        names = [n.strip() for n in pkgs.splitlines() if n.strip() and "***" not in n]
        concerned = [n for n in names if _DRIVER_OR_KERNEL.search(n)]
        if concerned or not names:
            which = ", ".join(dict.fromkeys(concerned)) or "packages it does not name"
            return Check(
                "reboot",
                title,
                Status.WARN,
                f"/run/reboot-required: a reboot is pending for {which}",
                "Reboot before using the GPU: until then the loaded NVIDIA module may not match "
                f"the installed driver ({REBOOT_REQUIRED_PKGS}).",
            )
        return None
    out = _needs_restarting(host)
    if out is not None and _DRIVER_OR_KERNEL.search(out):
        items = [ln.strip(" *") for ln in out.splitlines() if ln.strip().startswith("*")]
        return Check(
            "reboot",
            title,
            Status.WARN,
            "needs-restarting -r: a reboot is pending for " + (", ".join(items) or "the kernel"),
            "Reboot before using the GPU: the NVIDIA module is built for the new kernel.",
        )
    return None
