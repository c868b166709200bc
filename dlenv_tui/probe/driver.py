"""The loaded NVIDIA kernel driver: version and open vs proprietary, nouveau, /proc/modules."""

from __future__ import annotations

import re

from dlenv_tui.model import DriverFlavour

PROC_VERSION = "/proc/driver/nvidia/version"
#: Where the toolkit writes the NVIDIA CDI spec: by hand (nvidia-ctk cdi generate) and by its
#: nvidia-cdi-refresh units (toolkit 1.18+).
CDI_SPECS = ("/etc/cdi/nvidia.yaml", "/var/run/cdi/nvidia.yaml")


def cdi_driver_versions(spec: str) -> frozenset[str]:
    """Driver versions a CDI spec was generated for: the ``.so.<version>`` of its library mounts."""
    return frozenset(re.findall(r"\.so\.(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)\b", spec))


_VERSION = re.compile(r"(?<![\w.])(\d{2,4}\.\d{1,3}(?:\.\d{1,3})?)(?![\w.])")


def parse_nvidia_version(text: str) -> tuple[str, DriverFlavour | None]:
    """/proc/driver/nvidia/version → (driver version, flavour); ("", None) when it says neither.

    The first line names the module flavour. Open kernel modules::

        NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Tue Sep 23 09:50:23 UTC 2025

    proprietary ones::

        NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024

    (the second line, ``GCC version: …``, carries a compiler version that must not be mistaken).
    """
    for line in text.splitlines():
        if not line.startswith("NVRM version:"):
            continue
        body = line.partition(":")[2]
        flavour: DriverFlavour | None = None
        if "Open Kernel Module" in body:
            flavour = DriverFlavour.OPEN
        elif "Kernel Module" in body:
            flavour = DriverFlavour.PROPRIETARY
        after = body.split("Kernel Module", 1)[-1]
        m = _VERSION.search(after)
        return (m.group(1) if m else "", flavour)
    return ("", None)


def parse_proc_modules(text: str) -> frozenset[str]:
    """Module names from /proc/modules::

    nvidia_uvm 1974272 0 - Live 0x0000000000000000 (PO)
    nvidia 60305408 3 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 (PO)
    """
    return frozenset(line.split(None, 1)[0] for line in text.splitlines() if line.strip())


def parse_module_version(text: str) -> str:
    """/sys/module/nvidia/version: ``580.95.05`` and a newline; "" when it is not a version."""
    m = _VERSION.fullmatch(text.strip())
    return m.group(1) if m else ""
