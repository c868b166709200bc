"""GPUs: PCI device id → name, chip, architecture, compute capability."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dlenv_tui.compat._base import (
    ANCIENT_ARCHS,
    BLACKWELL_CC,
    TURING_CC,
    Version,
    _arch_for_cc,
    _cc,
    _fmt,
    _grace_ids,
    _open_ids,
    _pci_data,
)
from dlenv_tui.model import Gpu


@dataclass(frozen=True)
class PciInfo:
    """What the PCI table knows about one NVIDIA device id."""

    device_id: str
    """Four lower-case hex digits, e.g. ``2684``."""
    name: str
    """Marketing name from pci.ids, e.g. ``GeForce RTX 4090``."""
    chip: str
    """Chip codename, e.g. ``AD102``."""
    architecture: str
    """``Maxwell`` … ``Blackwell``; empty when unknown."""
    compute_capability: str
    """``major.minor``, e.g. ``8.9``; empty when unknown (Kepler and older)."""
    open_module: bool = False
    """Listed as supported by NVIDIA's open kernel modules (README of 595.45.04)."""
    grace: bool = False
    """A Grace Hopper superchip (GH200): open kernel modules only."""


def _normalise_device_id(device_id: str) -> str | None:
    """Accepts ``2684``, ``0x2684``, ``10de:2684``, ``[10de:2684]`` and NVML's ``0x268410DE``."""
    text = device_id.strip().lower().strip("[]")
    if ":" in text:
        vendor, _, text = text.partition(":")
        if vendor.removeprefix("0x") != "10de":
            return None
    text = text.removeprefix("0x")
    if len(text) == 8 and text.endswith("10de"):
        text = text[:4]
    if not re.fullmatch(r"[0-9a-f]{4}", text):
        return None
    return text


def lookup_pci(device_id: str) -> PciInfo | None:
    """What the PCI table says about an NVIDIA device id; None for unknown ids and other vendors."""
    dev = _normalise_device_id(device_id)
    if dev is None:
        return None
    data = _pci_data()
    row = data["devices"].get(dev)
    if row is None:
        return None
    name, chip = row
    arch, cc = data["chips"].get(chip, ["", ""])
    return PciInfo(
        device_id=dev,
        name=name,
        chip=chip,
        architecture=arch,
        compute_capability=cc,
        open_module=dev in _open_ids(),
        grace=dev in _grace_ids(),
    )


def architecture_for_cc(compute_capability: str) -> str:
    """``"8.9"`` → ``"Ada Lovelace"``; empty when the CC is unknown."""
    cc = _cc(compute_capability)
    if cc is None:
        return ""
    known = _arch_for_cc()
    if cc in known:
        return known[cc]
    # An unlisted minor of a listed major (e.g. 8.8) belongs to the same generation.
    same_major = [arch for v, arch in known.items() if v[0] == cc[0]]
    return same_major[0] if same_major else ""


def enrich_gpu(gpu: Gpu) -> Gpu:
    """Fill name, chip, architecture and compute capability from the tables where they are empty."""
    info = lookup_pci(gpu.device_id)
    name = gpu.name or (info.name if info else "")
    chip = gpu.chip or (info.chip if info else "")
    cc = gpu.compute_capability or (info.compute_capability if info else "")
    arch = gpu.architecture or (info.architecture if info else "") or architecture_for_cc(cc)
    if (name, chip, cc, arch) == (
        gpu.name,
        gpu.chip,
        gpu.compute_capability,
        gpu.architecture,
    ):
        return gpu
    return replace(gpu, name=name, chip=chip, architecture=arch, compute_capability=cc)


@dataclass(frozen=True)
class _Seen:
    """One GPU as the rules see it."""

    label: str
    arch: str
    cc: Version | None
    grace: bool
    guessed: str = ""
    """``new`` / ``old`` / ``ancient`` when the CC comes from the device-id ranges, else empty."""

    @property
    def ancient(self) -> bool:
        return self.arch in ANCIENT_ARCHS or self.guessed == "ancient"

    @property
    def old(self) -> bool:
        """Maxwell, Pascal or Volta: proprietary modules and the 580 branch."""
        if self.ancient:
            return False
        return (self.cc is not None and self.cc < TURING_CC) or self.guessed == "old"

    @property
    def needs_open(self) -> bool:
        return (
            self.grace
            or (self.cc is not None and self.cc >= BLACKWELL_CC)
            or self.guessed == "blackwell+"
        )

    def describe(self) -> str:
        """``GeForce GTX 1080 is a Pascal GPU (compute capability 6.1)``."""
        if self.grace:
            return f"The {self.label} is a Grace Hopper superchip"
        if not self.arch:
            return f"The {self.label} is not in dlenv's GPU table"
        article = "an" if self.arch[0] in "AEIOU" else "a"
        cc = f" (compute capability {_fmt(self.cc)})" if self.cc else ""
        return f"The {self.label} is {article} {self.arch} GPU{cc}"


def _see(gpu: Gpu) -> _Seen:
    gpu = enrich_gpu(gpu)
    info = lookup_pci(gpu.device_id)
    dev = _normalise_device_id(gpu.device_id) or gpu.device_id
    label = gpu.name or f"GPU {dev}"
    cc = _cc(gpu.compute_capability)
    grace = bool(info and info.grace) or "GH200" in gpu.name
    guessed = ""
    if cc is None and not gpu.architecture and re.fullmatch(r"[0-9a-f]{4}", dev):
        # The reference's device-id ranges (0 violations against pci.ids): a fallback for ids newer
        # than our table. 0x1E00 and up is Turing or newer, 0x1300-0x1DFF Maxwell to Volta.
        # 0x2900 and up is Blackwell (GB100 2900 .. GB20x 31fe) or a GPU newer than the table
        # (Rubin GR10x ids fall inside it, 3000-30c0): open kernel modules only, CUDA 12.8 at least.
        n = int(dev, 16)
        guessed = (
            "blackwell+"
            if n >= 0x2900
            else "new"
            if n >= 0x1E00
            else "old"
            if n >= 0x1300
            else "ancient"
        )
    return _Seen(label=label, arch=gpu.architecture, cc=cc, grace=grace, guessed=guessed)
