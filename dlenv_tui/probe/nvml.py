"""NVML (nvidia-ml-py, imported lazily): driver and CUDA versions and each GPU as the driver sees it.

NVML missing (no driver, no libnvidia-ml.so, no nvidia-ml-py) or failing is a normal answer: None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from dlenv_tui.probe.pci import normalise_address

T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True)
class NvmlGpu:
    pci_address: str
    """``0000:01:00.0`` (NVML's 8-digit domain shortened to sysfs's 4)."""
    device_id: str
    """Four hex digits, from ``pciDeviceId`` = ``(device << 16) | 0x10de``."""
    name: str = ""
    compute_capability: str = ""
    memory_mib: int | None = None
    uuid: str = ""


@dataclass(frozen=True)
class NvmlInfo:
    driver_version: str
    """e.g. ``580.95.05``."""
    cuda_version: str
    """Newest CUDA the driver runs, e.g. ``13.0``; "" when NVML did not say."""
    gpus: tuple[NvmlGpu, ...]


def cuda_version_text(value: int) -> str:
    """``nvmlSystemGetCudaDriverVersion`` → text: 13000 → ``13.0``, 12090 → ``12.9``."""
    if value <= 0:
        return ""
    return f"{value // 1000}.{(value % 1000) // 10}"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").strip("\x00 ")
    return str(value).strip()


def _ask(query: Callable[[], T], default: D) -> T | D:
    """One NVML query whose failure (NVMLError_NotSupported and friends) means "unknown"."""
    try:
        return query()
    except Exception:
        return default


def _gpu(nv: Any, index: int) -> NvmlGpu | None:
    handle = nv.nvmlDeviceGetHandleByIndex(index)
    pci = nv.nvmlDeviceGetPciInfo(handle)
    device = (int(pci.pciDeviceId) >> 16) & 0xFFFF
    # Each of the rest is optional: MIG, vGPU and old GPUs refuse some queries.
    name = _ask(lambda: _text(nv.nvmlDeviceGetName(handle)), "")
    compute = _ask(lambda: "{}.{}".format(*nv.nvmlDeviceGetCudaComputeCapability(handle)), "")
    memory = _ask(lambda: int(nv.nvmlDeviceGetMemoryInfo(handle).total) // (1024 * 1024), None)
    uuid = _ask(lambda: _text(nv.nvmlDeviceGetUUID(handle)), "")
    return NvmlGpu(
        pci_address=normalise_address(_text(pci.busId)),
        device_id=f"{device:04x}",
        name=name.removeprefix("NVIDIA ").strip(),
        compute_capability=compute,
        memory_mib=memory,
        uuid=uuid,
    )


def read_nvml(module: Any | None = None) -> NvmlInfo | None:
    """Ask NVML; ``module`` replaces ``pynvml`` (tests pass a fake). None when NVML is unusable."""
    nv = module
    if nv is None:
        try:
            import pynvml

            nv = pynvml
        except ImportError:
            return None
    try:
        nv.nvmlInit()
    except Exception:  # NVMLError_LibraryNotFound, _DriverNotLoaded, _NoPermission…
        return None
    try:
        driver = _text(nv.nvmlSystemGetDriverVersion())
        cuda = _ask(lambda: cuda_version_text(int(nv.nvmlSystemGetCudaDriverVersion())), "")
        gpus = []
        for index in range(int(nv.nvmlDeviceGetCount())):
            try:
                gpu = _gpu(nv, index)
            except Exception:  # one GPU fallen off the bus must not hide the others
                continue
            if gpu is not None:
                gpus.append(gpu)
        return NvmlInfo(driver_version=driver, cuda_version=cuda, gpus=tuple(gpus))
    except Exception:
        return None
    finally:
        _ask(nv.nvmlShutdown, None)
