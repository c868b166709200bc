"""`host_changes`: what changed on a host since a profile's snapshot, as short sentences (pure)."""

from __future__ import annotations

import re

from dlenv_tui.model import DriverInfo, Gpu, HostFacts, Tool

# What is compared, and why some facts are left out:
# - compared: host name, architecture, distribution release, kernel, GPUs (PCI address + device
#   id), the NVIDIA driver (loaded, version, flavour), Secure Boot, the container toolkit
#   (any version change), Docker and Podman (installed / removed / new major version).
# - host name: reported, because profiles live in the home directory and lab nodes often share
#   one over NFS: the same profile is then opened on another machine, which is worth a sentence.
#   An empty name on either side (old snapshots, --facts files) is not a change.
# - ignored as noise: probe time, free disk, the user and groups, sudo, whether an engine daemon
#   is running right now, GPU names/memory/UUIDs (they come and go with NVML), NVML's CUDA
#   version (it follows the driver version), nouveau (it follows the driver).
# - None / "" means "not known" (model convention), so an unknown side is never a change.


def host_changes(old: HostFacts, new: HostFacts) -> tuple[str, ...]:
    """Sentences for each difference between ``old`` (a profile's snapshot) and ``new`` that
    matters to a setup, most fundamental first; empty when nothing that matters changed."""
    out: list[str] = []
    if old.hostname and new.hostname and old.hostname != new.hostname:
        out.append(
            f"Host name changed: {old.hostname} → {new.hostname} "
            "(another machine, or this one renamed)."
        )
    if old.arch and new.arch and old.arch != new.arch:
        out.append(
            f"Architecture changed: {old.arch} → {new.arch}; "
            "the plans and images were made for the old one."
        )
    out.extend(_distro(old, new))
    out.extend(_kernel(old, new))
    out.extend(_gpus(old.gpus, new.gpus))
    out.extend(_driver(old.driver, new.driver))
    out.extend(_secure_boot(old, new))
    out.extend(_toolkit(old.nvidia_ctk, new.nvidia_ctk))
    out.extend(_engine("Docker", old.docker, new.docker))
    out.extend(_engine("Podman", old.podman, new.podman))
    return tuple(out)


def _distro_label(facts: HostFacts) -> str:
    d = facts.distro
    return d.name or " ".join(p for p in (d.id, d.version_id) if p)


def _distro(old: HostFacts, new: HostFacts) -> list[str]:
    a, b = old.distro, new.distro
    if not a.id or not b.id or (a.id, a.version_id) == (b.id, b.version_id):
        return []
    if a.id != b.id:
        return [
            f"Distribution changed: {_distro_label(old)} → {_distro_label(new)}; "
            "plan every stage again."
        ]
    return [
        f"Distribution release changed: {_distro_label(old)} → {_distro_label(new)}; "
        "the package repositories may differ, plan the stages again."
    ]


def _kernel(old: HostFacts, new: HostFacts) -> list[str]:
    if not old.kernel or not new.kernel or old.kernel == new.kernel:
        return []
    text = f"Kernel changed: {old.kernel} → {new.kernel}; the NVIDIA module must be built for it"
    if new.kernel_headers is False:
        return [f"{text}, and its headers are not installed (DKMS needs them)."]
    return [f"{text} (DKMS does this when its headers are installed)."]


def _gpu_label(gpu: Gpu) -> str:
    return f"{gpu.name} ({gpu.device_id})" if gpu.name else f"device {gpu.device_id}"


def _gpus(old: tuple[Gpu, ...], new: tuple[Gpu, ...]) -> list[str]:
    before = {g.pci_address: g for g in old}
    after = {g.pci_address: g for g in new}
    out: list[str] = []
    for addr in sorted(before.keys() & after.keys()):
        a, b = before[addr], after[addr]
        if a.device_id != b.device_id:
            out.append(f"GPU at {addr} changed: {_gpu_label(a)} → {_gpu_label(b)}.")
    removed = [before[a] for a in sorted(before.keys() - after.keys())]
    added = [after[a] for a in sorted(after.keys() - before.keys())]
    # A card moved to another slot reads as one move, not a removal plus an addition; a move
    # alone leaves the driver choice as it was.
    moves = 0
    for gpu in list(removed):
        twin = next((g for g in added if g.device_id == gpu.device_id), None)
        if twin is not None:
            removed.remove(gpu)
            added.remove(twin)
            moves += 1
            out.append(f"GPU {_gpu_label(gpu)} moved: {gpu.pci_address} → {twin.pci_address}.")
    out.extend(f"GPU removed: {_gpu_label(g)} at {g.pci_address}." for g in removed)
    out.extend(f"GPU added: {_gpu_label(g)} at {g.pci_address}." for g in added)
    if len(out) > moves:
        out.append("Check the driver choice again: the GPUs decide the driver flavour and branch.")
    return out


def _driver_label(d: DriverInfo) -> str:
    parts = [d.version or "unknown version"]
    if d.flavour is not None:
        parts.append(str(d.flavour))
    return " ".join(parts)


def _driver(old: DriverInfo, new: DriverInfo) -> list[str]:
    if old.loaded and not new.loaded:
        return [f"The NVIDIA driver is no longer loaded (was {_driver_label(old)})."]
    if new.loaded and not old.loaded:
        return [f"The NVIDIA driver is now loaded: {_driver_label(new)}."]
    if not (old.loaded and new.loaded):
        return []
    version = old.version and new.version and old.version != new.version
    flavour = old.flavour is not None and new.flavour is not None and old.flavour != new.flavour
    if not (version or flavour):
        return []
    return [f"NVIDIA driver changed: {_driver_label(old)} → {_driver_label(new)}."]


def _secure_boot(old: HostFacts, new: HostFacts) -> list[str]:
    a, b = old.secure_boot.enabled, new.secure_boot.enabled
    if a is None or b is None or a == b:
        return []
    if b:
        return [
            "Secure Boot is now on: unsigned kernel modules no longer load, so the driver "
            "needs signed modules or an enrolled key."
        ]
    return ["Secure Boot is now off."]


def _toolkit(old: Tool, new: Tool) -> list[str]:
    name = "NVIDIA Container Toolkit"
    if old.present != new.present:
        return [_presence(name, old, new)]
    if old.present and old.version and new.version and old.version != new.version:
        return [f"{name} changed: {old.version} → {new.version}."]
    return []


def _engine(name: str, old: Tool, new: Tool) -> list[str]:
    if old.present != new.present:
        return [_presence(name, old, new)]
    a, b = _major(old.version), _major(new.version)
    if old.present and a is not None and b is not None and a != b:
        return [f"{name} changed major version: {old.version} → {new.version}."]
    return []


def _presence(name: str, old: Tool, new: Tool) -> str:
    if new.present:
        return f"{name} is now installed" + (f" ({new.version})." if new.version else ".")
    return f"{name} was removed" + (f" (was {old.version})." if old.version else ".")


def _major(version: str) -> int | None:
    match = re.match(r"\s*v?(\d+)", version)
    return int(match.group(1)) if match else None
