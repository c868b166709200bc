"""NVIDIA GPUs on the PCI bus: sysfs (/sys/bus/pci/devices) first, ``lspci -nn`` for names."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dlenv_tui.model import Gpu
from dlenv_tui.probe.host import Host

NVIDIA_VENDOR = "10de"
SYSFS_PCI = "/sys/bus/pci/devices"
SYSFS_FILES = ("vendor", "device", "class", "subsystem_vendor", "subsystem_device", "uevent")

# lspci -nn, one function per line (the domain appears only with -D or on multi-domain hosts):
#   01:00.0 VGA compatible controller [0300]: NVIDIA Corporation AD102 [GeForce RTX 4090] [10de:2684] (rev a1)
#   01:00.1 Audio device [0403]: NVIDIA Corporation AD102 High Definition Audio Controller [10de:22ba] (rev a1)
_LSPCI = re.compile(
    r"^(?P<addr>(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\s+"
    r".*?\[(?P<cls>[0-9a-fA-F]{4})\]:\s+(?P<desc>.*?)\s*"
    r"\[(?P<vendor>[0-9a-fA-F]{4}):(?P<device>[0-9a-fA-F]{4})\]"
)
_BRACKETED = re.compile(r"^(?P<chip>.*?)\s*\[(?P<name>[^\[\]]+)\]\s*$")


def _hex(text: str | None, digits: int) -> str:
    """``"0x10de\\n"`` → ``"10de"``; "" when it is not a hex number of at most ``digits`` digits."""
    if not text:
        return ""
    value = text.strip().lower().removeprefix("0x")
    if not value or len(value) > digits or any(c not in "0123456789abcdef" for c in value):
        return ""
    return value.zfill(digits)


def is_nvidia_display(vendor: str, pci_class: str) -> bool:
    """Vendor 10de and PCI class 03xxxx (VGA 0300, 3D controller 0302); not its audio/USB functions."""
    return vendor == NVIDIA_VENDOR and pci_class.startswith("03")


def is_nvswitch(vendor: str, pci_class: str) -> bool:
    """Vendor 10de and PCI class 0680xx ("Bridge: other"), how NVSwitch chips appear on HGX/DGX boards.

    ``lspci -nn`` on an HGX A100: ``Bridge [0680]: NVIDIA Corporation GA100 [A100 NVSwitch] [10de:1af1]``.
    """
    return vendor == NVIDIA_VENDOR and pci_class.startswith("0680")


def parse_uevent(text: str | None) -> dict[str, str]:
    """sysfs ``uevent``: ``DRIVER=nvidia``, ``PCI_ID=10DE:2684``, ``PCI_SLOT_NAME=0000:01:00.0``…"""
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_sysfs_device(address: str, files: Mapping[str, str | None]) -> Gpu | None:
    """One /sys/bus/pci/devices/ADDRESS directory (file name → content) → a Gpu, or None if not one.

    Sample (an RTX 4090): vendor ``0x10de``, device ``0x2684``, class ``0x030000``, uevent
    ``DRIVER=nvidia``. When vendor/device/class are missing the uevent's PCI_ID / PCI_CLASS serve.
    """
    uevent = parse_uevent(files.get("uevent"))
    vendor = _hex(files.get("vendor"), 4)
    device = _hex(files.get("device"), 4)
    pci_class = _hex(files.get("class"), 6)
    if (not vendor or not device) and ":" in uevent.get("PCI_ID", ""):
        v, _, d = uevent["PCI_ID"].partition(":")
        vendor, device = _hex(v, 4), _hex(d, 4)
    if not pci_class:
        pci_class = _hex(uevent.get("PCI_CLASS"), 6)
    if not device or not is_nvidia_display(vendor, pci_class):
        return None
    return Gpu(
        pci_address=normalise_address(address),
        device_id=device,
        subsystem_vendor=_hex(files.get("subsystem_vendor"), 4),
        subsystem_device=_hex(files.get("subsystem_device"), 4),
        bound_driver=uevent.get("DRIVER", ""),
    )


def normalise_address(address: str) -> str:
    """``01:00.0`` / ``00000000:01:00.0`` (NVML) → ``0000:01:00.0``; unknown shapes lower-cased."""
    addr = address.strip().lower()
    parts = addr.split(":")
    if len(parts) == 2:
        return f"0000:{addr}"
    if len(parts) == 3 and parts[0]:
        try:
            return f"{int(parts[0], 16):04x}:{parts[1]}:{parts[2]}"
        except ValueError:
            return addr
    return addr


def parse_sysfs_nvswitch(address: str, files: Mapping[str, str | None]) -> str:
    """The normalised PCI address when the sysfs files describe an NVSwitch function, else ""."""
    uevent = parse_uevent(files.get("uevent"))
    vendor = _hex(files.get("vendor"), 4)
    pci_class = _hex(files.get("class"), 6) or _hex(uevent.get("PCI_CLASS"), 6)
    if not vendor and ":" in uevent.get("PCI_ID", ""):
        vendor = _hex(uevent["PCI_ID"].partition(":")[0], 4)
    return normalise_address(address) if is_nvswitch(vendor, pci_class) else ""


def read_sysfs_nvswitches(host: Host) -> tuple[str, ...] | None:
    """PCI addresses of NVSwitch functions under /sys/bus/pci/devices; None when sysfs is not there."""
    entries = host.list_dir(SYSFS_PCI)
    if entries is None:
        return None
    found = []
    for address in entries:
        vendor = host.read_text(f"{SYSFS_PCI}/{address}/vendor")
        if vendor is not None and _hex(vendor, 4) != NVIDIA_VENDOR:
            continue
        files = {
            name: host.read_text(f"{SYSFS_PCI}/{address}/{name}")
            for name in ("vendor", "class", "uevent")
        }
        addr = parse_sysfs_nvswitch(address, files)
        if addr:
            found.append(addr)
    return tuple(sorted(found))


def parse_lspci_nvswitches(text: str) -> tuple[str, ...]:
    """``lspci -nn`` → the PCI addresses of NVSwitch functions (class 0680, vendor 10de)."""
    found = []
    for line in text.splitlines():
        m = _LSPCI.match(line.strip())
        if m and is_nvswitch(m["vendor"].lower(), m["cls"].lower()):
            found.append(normalise_address(m["addr"]))
    return tuple(sorted(found))


def read_sysfs_gpus(host: Host) -> tuple[Gpu, ...] | None:
    """NVIDIA display functions under /sys/bus/pci/devices; None when sysfs is not there."""
    entries = host.list_dir(SYSFS_PCI)
    if entries is None:
        return None
    gpus = []
    for address in entries:
        # vendor first: most functions on a host are not NVIDIA's, one read rules them out.
        vendor = host.read_text(f"{SYSFS_PCI}/{address}/vendor")
        if vendor is not None and _hex(vendor, 4) != NVIDIA_VENDOR:
            continue
        files = {name: host.read_text(f"{SYSFS_PCI}/{address}/{name}") for name in SYSFS_FILES}
        gpu = parse_sysfs_device(address, files)
        if gpu is not None:
            gpus.append(gpu)
    return tuple(sorted(gpus, key=lambda g: g.pci_address))


def parse_lspci(text: str) -> tuple[Gpu, ...]:
    """``lspci -nn`` → the NVIDIA display functions, with the name and chip lspci's pci.ids knows.

    ``NVIDIA Corporation GA102 [GeForce RTX 3090] [10de:2204]`` gives chip GA102, name
    GeForce RTX 3090; an id too new for the local pci.ids reads ``NVIDIA Corporation Device 2b85``
    and gives neither.
    """
    gpus = []
    for line in text.splitlines():
        m = _LSPCI.match(line.strip())
        if not m or not is_nvidia_display(m["vendor"].lower(), m["cls"].lower()):
            continue
        desc = m["desc"].strip()
        desc = desc.removeprefix("NVIDIA Corporation").strip()
        chip = name = ""
        bracketed = _BRACKETED.match(desc)
        if bracketed:
            chip, name = bracketed["chip"].strip(), bracketed["name"].strip()
        elif desc.split(" ", 1)[0] != "Device":  # "Device [10de:2b85]": unknown to pci.ids
            chip = desc
        gpus.append(
            Gpu(
                pci_address=normalise_address(m["addr"]),
                device_id=m["device"].lower(),
                name=name,
                chip=chip,
            )
        )
    return tuple(gpus)
