"""`probe_host`: every topic probe run against one Host and merged into HostFacts; `load_facts`."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from dlenv_tui.errors import UsageError
from dlenv_tui.model import (
    CdiSpec,
    DiskInfo,
    DriverInfo,
    Gpu,
    HostFacts,
    Tool,
    from_data,
)
from dlenv_tui.probe import driver as drv
from dlenv_tui.probe import pci, system, tools
from dlenv_tui.probe.host import Host, LocalHost
from dlenv_tui.probe.nvml import NvmlInfo, read_nvml
from dlenv_tui.probe.secureboot import read_secure_boot
from dlenv_tui.probe.user import read_user

T = TypeVar("T")

DOCKER_DATA = "/var/lib/docker"
CONTAINERS_DATA = "/var/lib/containers"


def probe_host(host: Host | None = None, *, nvml: bool = True) -> HostFacts:
    """Read everything dlenv needs to know about ``host`` (this machine by default); never changes it.

    The programs it starts (version queries, mokutil, lspci, sudo -n) and NVML's initialisation run
    in parallel threads: each waits on a separate process or library, and together they are most of
    the time `dlenv check` takes. NVML is asked only on the real root and only when the nvidia
    kernel module is loaded (without it NVML cannot answer, and importing it costs ~50 ms).
    """
    host = host or LocalHost()
    modules_text = host.read_text("/proc/modules")
    version_text = host.read_text(drv.PROC_VERSION)
    module_version = drv.parse_module_version(host.read_text("/sys/module/nvidia/version") or "")
    modules = drv.parse_proc_modules(modules_text) if modules_text is not None else frozenset()
    loaded = "nvidia" in modules or version_text is not None or bool(module_version)
    ask_nvml = nvml and loaded and Path(host.root).resolve() == Path("/")

    user_job = _Job(read_user, host)
    secure_boot_job = _Job(read_secure_boot, host)
    docker_job = _Job(_docker, host)
    podman_job = _Job(lambda: tools.read_tool(host, "podman")[0])
    ctk_job = _Job(lambda: tools.read_tool(host, "nvidia-ctk")[0])
    lspci_job = _Job(_lspci, host)
    nvml_job: _Job[NvmlInfo | None] = _Job(read_nvml) if ask_nvml else _Job(lambda: None)

    distro = system.read_distro(host)
    kernel = system.read_kernel(host)
    sysfs_gpus = pci.read_sysfs_gpus(host)
    nvswitches = pci.read_sysfs_nvswitches(host) or ()
    user = user_job.result()
    docker, podman = docker_job.result(), podman_job.result()
    docker_running = _Job(_running, host, docker, [tools.docker_socket()])
    podman_running = _Job(_running, host, podman, tools.podman_sockets(user.uid))
    docker = dataclasses.replace(docker, running=docker_running.result())
    podman = dataclasses.replace(podman, running=podman_running.result())
    lspci_gpus, lspci_switches = lspci_job.result() or (None, ())
    nvswitches = nvswitches or lspci_switches
    # Fabric Manager only matters on NVSwitch boards; elsewhere its version query is not run
    fabric_manager = tools.read_tool(host, "nv-fabricmanager")[0] if nvswitches else Tool()
    nvml_info = nvml_job.result()

    version, flavour = drv.parse_nvidia_version(version_text or "")
    driver = DriverInfo(
        loaded=loaded,
        version=version or module_version or (nvml_info.driver_version if nvml_info else ""),
        flavour=flavour,
        cuda_version=nvml_info.cuda_version if nvml_info else "",
        nvml=nvml_info is not None,
        nouveau_loaded="nouveau" in modules,
    )
    return HostFacts(
        arch=system.read_arch(host),
        distro=distro,
        pkg_family=system.read_pkg_family(host, distro),
        systemd=system.read_systemd(host),
        kernel=kernel,
        kernel_headers=system.read_kernel_headers(host, kernel),
        gpus=merge_gpus(sysfs_gpus, lspci_gpus, nvml_info),
        nvswitches=nvswitches,
        fabric_manager=fabric_manager,
        driver=driver,
        secure_boot=secure_boot_job.result(),
        docker=docker,
        podman=podman,
        nvidia_ctk=ctk_job.result(),
        cdi_specs=_cdi_specs(host),
        lspci=lspci_gpus is not None,
        user=user,
        disk=read_disk(host, docker, podman),
        hostname=system.read_hostname(host),
        probed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def _cdi_specs(host: Host) -> tuple[CdiSpec, ...]:
    return tuple(
        CdiSpec(path, tuple(sorted(drv.cdi_driver_versions(text))))
        for path in drv.CDI_SPECS
        if (text := host.read_text(path)) is not None
    )


class _Job(Generic[T]):
    """``func(*args)`` on a daemon thread; ``result()`` waits and returns or re-raises.

    A bare thread rather than concurrent.futures: that module pulls in logging, and start-up time
    is what `dlenv check` is measured on.
    """

    def __init__(self, func: Callable[..., T], *args: Any) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(func, args), daemon=True)
        self._thread.start()

    def _run(self, func: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = func(*args)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


def _docker(host: Host) -> Tool:
    tool, result = tools.read_tool(host, "docker")
    if result is not None and tools.is_podman_emulation(result.output):
        # podman-docker's wrapper: there is no Docker engine, whatever `docker` on PATH says.
        return Tool(present=False, path=tool.path)
    return tool


def _lspci(host: Host) -> tuple[tuple[Gpu, ...], tuple[str, ...]] | None:
    """The GPUs and the NVSwitch addresses ``lspci -nn`` lists; None without lspci."""
    path = host.which("lspci")
    if path is None:
        return None
    result = host.run([path, "-nn"])
    if result is None:
        return None
    return pci.parse_lspci(result.stdout), pci.parse_lspci_nvswitches(result.stdout)


def _running(host: Host, tool: Tool, sockets: list[str]) -> bool | None:
    return tools.answers(host, sockets) if tool.present else None


def merge_gpus(
    sysfs: tuple[Gpu, ...] | None,
    lspci: tuple[Gpu, ...] | None,
    nvml: NvmlInfo | None,
) -> tuple[Gpu, ...]:
    """One Gpu per PCI address. Names: NVML's, else the PCI table's (compat), else lspci's."""
    by_addr: dict[str, Gpu] = {}
    for source in (sysfs or (), lspci or ()):
        for gpu in source:
            by_addr.setdefault(gpu.pci_address, dataclasses.replace(gpu, name="", chip=""))
    for ng in nvml.gpus if nvml else ():
        base = by_addr.get(ng.pci_address) or Gpu(
            pci_address=ng.pci_address, device_id=ng.device_id
        )
        by_addr[ng.pci_address] = dataclasses.replace(
            base,
            name=ng.name,
            compute_capability=ng.compute_capability,
            memory_mib=ng.memory_mib,
            uuid=ng.uuid,
        )
    enrich = _enricher()
    named = {g.pci_address: g for g in lspci or ()}
    merged = []
    for addr in sorted(by_addr):
        gpu = enrich(by_addr[addr])
        from_lspci = named.get(addr)
        if from_lspci is not None:
            gpu = dataclasses.replace(
                gpu, name=gpu.name or from_lspci.name, chip=gpu.chip or from_lspci.chip
            )
        merged.append(gpu)
    return tuple(merged)


def _enricher() -> Callable[[Gpu], Gpu]:
    try:
        from dlenv_tui.compat import enrich_gpu
    except ImportError:  # compat not there yet (parallel development): names from lspci/NVML only
        return lambda gpu: gpu
    return enrich_gpu


def read_disk(host: Host, docker: Tool, podman: Tool) -> DiskInfo:
    """Free space where images will live: Docker's data root, else Podman's, nearest existing dir."""
    target = CONTAINERS_DATA if podman.present and not docker.present else DOCKER_DATA
    path = _nearest_existing(host, target)
    usage = host.disk_usage(path)
    if usage is None:
        return DiskInfo(path=path)
    return DiskInfo(path=path, free_bytes=usage.free_bytes, total_bytes=usage.total_bytes)


def _nearest_existing(host: Host, path: str) -> str:
    for candidate in _parents(path):
        if host.exists(candidate):
            return candidate
    return "/"


def _parents(path: str) -> Iterable[str]:
    parts = path.rstrip("/").split("/")
    while len(parts) > 1:
        yield "/".join(parts)
        parts.pop()


def load_facts(path: Path | str) -> HostFacts:
    """Host facts recorded by `dlenv check --json` (its ``facts`` key, or a bare facts object).

    Raises UsageError (exit status 2) with one sentence when the file is missing or does not hold
    host facts.
    """
    import json

    from dlenv_tui.model import DataError

    p = Path(path)
    record = "record facts with `dlenv check --json > FILE`"
    from dlenv_tui.fsutil import ReadError, read_bounded_bytes

    if not p.exists():
        raise UsageError(f"facts file {str(p)!r} does not exist; {record}.")
    try:
        text = read_bounded_bytes(p, 8 << 20, "facts file").decode("utf-8")
    except ReadError as exc:
        raise UsageError(f"{exc.sentence.rstrip('.')}; {record}.") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "it is not UTF-8 text"
        raise UsageError(f"cannot read facts file {str(p)!r}: {reason}; {record}.") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"facts file {str(p)!r} is not valid JSON (line {exc.lineno}, column {exc.colno}); "
            f"{record}."
        ) from None
    if isinstance(data, dict) and "facts" in data:
        if not isinstance(data["facts"], dict):
            raise UsageError(
                f"facts file {str(p)!r} does not hold host facts (its 'facts' entry is not a "
                f"JSON object); {record}."
            )
        data = data["facts"]
    try:
        return from_data(HostFacts, data, "facts")
    except DataError as exc:
        raise UsageError(
            f"facts file {str(p)!r} does not hold host facts ({exc}); {record}."
        ) from None
