"""probe_host over the fixture sysroots, NVML through a fake pynvml, and load_facts."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.errors import UsageError
from dlenv_tui.model import DriverFlavour, Gpu, HostFacts, PkgFamily, SecureBoot, Tool, to_data
from dlenv_tui.probe import LocalHost, load_facts, probe_host
from dlenv_tui.probe.facts import merge_gpus
from dlenv_tui.probe.nvml import NvmlGpu, NvmlInfo, read_nvml


@pytest.fixture
def probe(sysroot: Callable[[str], Path]) -> Callable[[str], HostFacts]:
    """``probe(name)`` → probe_host over that tree, NVML included (a fake pynvml where tested)."""
    return lambda name: probe_host(LocalHost(sysroot(name)))


def test_ubuntu_2404_rtx4090_open_driver_secure_boot_docker(probe: Any) -> None:
    facts = probe("ubuntu-24.04-rtx4090")
    assert (facts.distro.id, facts.distro.version_id, facts.distro.codename) == (
        "ubuntu",
        "24.04",
        "noble",
    )
    assert facts.pkg_family is PkgFamily.APT
    assert facts.arch == "x86_64" and facts.kernel == "6.8.0-48-generic" and facts.systemd
    assert (
        facts.kernel_headers is True
    )  # lib/modules/<r>/build → /usr/src/linux-headers-<r> inside the tree
    assert facts.gpus == (
        Gpu(
            pci_address="0000:01:00.0",
            device_id="2684",
            name="GeForce RTX 4090",
            chip="AD102",
            architecture="Ada Lovelace",
            compute_capability="8.9",
            subsystem_vendor="1043",
            subsystem_device="889d",
            bound_driver="nvidia",
        ),
    )
    assert facts.driver.loaded and facts.driver.version == "565.57.01"
    assert facts.driver.flavour is DriverFlavour.OPEN
    assert (
        not facts.driver.nvml and not facts.driver.nouveau_loaded
    )  # NVML is never asked for a sysroot
    assert facts.secure_boot == SecureBoot(enabled=True, efi=True, source="mokutil")
    assert facts.docker == Tool(
        present=True, version="27.3.1", path="/usr/bin/docker", running=None
    )
    assert facts.podman == Tool(present=False)
    assert facts.nvidia_ctk.version == "1.17.8"
    assert facts.lspci
    u = facts.user
    assert (u.name, u.uid, u.is_root, u.sudo_present, u.sudo_nopasswd, u.home) == (
        "alice",
        1000,
        False,
        True,
        True,
        "/home/alice",
    )
    assert "docker" in u.groups
    assert (facts.disk.free_bytes, facts.disk.total_bytes) == (536870912000, 1000204886016)
    assert facts.hostname == "ada-ws" and facts.probed_at.endswith("+00:00")


def test_mixed_gpus_proprietary_driver_sudo_with_password(probe: Any) -> None:
    facts = probe("ubuntu-22.04-mixed")
    assert [(g.pci_address, g.name, g.architecture, g.compute_capability) for g in facts.gpus] == [
        ("0000:02:00.0", "GeForce GTX 1080", "Pascal", "6.1"),
        ("0000:03:00.0", "GeForce RTX 3090", "Ampere", "8.6"),
    ]
    assert (facts.driver.version, facts.driver.flavour) == ("580.95.05", DriverFlavour.PROPRIETARY)
    assert facts.secure_boot.enabled is False
    assert facts.user.sudo_nopasswd is False and facts.user.sudo_present
    assert "docker" not in facts.user.groups
    assert not facts.docker.present and not facts.nvidia_ctk.present


def test_no_gpu_audio_function_ignored_non_efi_no_lspci(probe: Any) -> None:
    facts = probe("debian-12-nogpu")
    assert facts.gpus == ()  # probed, none found (the lone 10de:10f0 audio function is not a GPU)
    assert not facts.lspci
    assert facts.secure_boot == SecureBoot(enabled=None, efi=False, source="mokutil")
    assert facts.kernel_headers is False
    assert not facts.driver.loaded


def test_fedora_nouveau_efivar_secure_boot_podman_root(probe: Any) -> None:
    facts = probe("fedora-42-a100")
    assert facts.pkg_family is PkgFamily.DNF
    (gpu,) = facts.gpus
    assert (gpu.name, gpu.architecture, gpu.bound_driver) == ("A100 PCIe 40GB", "Ampere", "nouveau")
    assert facts.driver.nouveau_loaded and not facts.driver.loaded
    assert facts.secure_boot == SecureBoot(
        enabled=True, efi=True, source="efivar"
    )  # no mokutil here
    assert facts.podman.present and facts.podman.version == "5.4.2" and not facts.docker.present
    assert facts.user.is_root and facts.user.sudo_nopasswd is None


def test_rocky_and_leap_families(probe: Any) -> None:
    rocky = probe("rocky-9-t4")
    assert rocky.distro.like == ("rhel", "centos", "fedora")
    assert rocky.kernel_headers is True  # via /usr/src/kernels/<r>
    assert rocky.gpus[0].name == "Tesla T4"
    leap = probe("opensuse-leap-15.6-rtx3090")
    assert (leap.distro.id, leap.pkg_family) == ("opensuse-leap", PkgFamily.ZYPPER)
    assert leap.driver.flavour is DriverFlavour.PROPRIETARY


def test_empty_sysroot_is_a_normal_answer(tmp_path: Path) -> None:
    facts = probe_host(LocalHost(tmp_path))
    assert facts.gpus == () and facts.arch == "" and facts.kernel == ""
    assert facts.kernel_headers is None
    assert facts.secure_boot.enabled is None and facts.secure_boot.efi is False
    assert facts.user.uid == -1 and not facts.docker.present
    assert facts.distro.id == "linux"


def test_this_machine_probes_without_errors() -> None:
    facts = probe_host(nvml=False)
    assert facts.arch and facts.kernel and facts.probed_at
    assert facts.user.uid >= 0


# --------------------------------------------------------------------------------------------
# NVML through a fake pynvml


class FakeNvmlError(Exception):
    pass


@dataclass
class FakePci:
    busId: bytes
    pciDeviceId: int


@dataclass
class FakeGpu:
    bus: str
    device: int
    name: str = "NVIDIA GeForce RTX 4090"
    cc: tuple[int, int] = (8, 9)
    total: int = 24564 * 1024 * 1024
    uuid: str = "GPU-5f1f1a3e-0000-1111-2222-333344445555"
    fail: set[str] = field(default_factory=set)


class FakeNvml:
    """The pynvml functions the probe calls, answering from a list of FakeGpu."""

    NVMLError = FakeNvmlError

    def __init__(self, gpus: list[FakeGpu], *, init_fails: bool = False, cuda: int = 13000) -> None:
        self.gpus, self.init_fails, self.cuda = gpus, init_fails, cuda
        self.shut_down = False

    def nvmlInit(self) -> None:
        if self.init_fails:
            raise FakeNvmlError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.95.05"

    def nvmlSystemGetCudaDriverVersion(self) -> int:
        return self.cuda

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> FakeGpu:
        return self.gpus[i]

    def _maybe_fail(self, gpu: FakeGpu, what: str) -> None:
        if what in gpu.fail:
            raise FakeNvmlError("Not Supported")

    def nvmlDeviceGetPciInfo(self, gpu: FakeGpu) -> FakePci:
        self._maybe_fail(gpu, "pci")
        return FakePci(gpu.bus.encode(), (gpu.device << 16) | 0x10DE)

    def nvmlDeviceGetName(self, gpu: FakeGpu) -> str:
        self._maybe_fail(gpu, "name")
        return gpu.name

    def nvmlDeviceGetCudaComputeCapability(self, gpu: FakeGpu) -> tuple[int, int]:
        self._maybe_fail(gpu, "cc")
        return gpu.cc

    def nvmlDeviceGetMemoryInfo(self, gpu: FakeGpu) -> Any:
        self._maybe_fail(gpu, "memory")
        return types.SimpleNamespace(total=gpu.total, free=0, used=0)

    def nvmlDeviceGetUUID(self, gpu: FakeGpu) -> str:
        self._maybe_fail(gpu, "uuid")
        return gpu.uuid


def test_nvml_reports_driver_cuda_and_each_gpu() -> None:
    fake = FakeNvml(
        [
            FakeGpu("00000000:01:00.0", 0x2684),
            FakeGpu(
                "00000000:41:00.0",
                0x1B80,
                name="NVIDIA GeForce GTX 1080",
                cc=(6, 1),
                fail={"uuid", "memory"},
            ),
            FakeGpu("00000000:81:00.0", 0x2204, fail={"pci"}),  # fallen off the bus
        ]
    )
    info = read_nvml(fake)
    assert info == NvmlInfo(
        driver_version="580.95.05",
        cuda_version="13.0",
        gpus=(
            NvmlGpu(
                "0000:01:00.0",
                "2684",
                "GeForce RTX 4090",
                "8.9",
                24564,
                "GPU-5f1f1a3e-0000-1111-2222-333344445555",
            ),
            NvmlGpu("0000:41:00.0", "1b80", "GeForce GTX 1080", "6.1", None, ""),
        ),
    )
    assert fake.shut_down


def test_nvml_failing_or_missing_is_a_normal_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_nvml(FakeNvml([], init_fails=True)) is None
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    assert read_nvml() is None


class DriverLoadedHost(LocalHost):
    """This machine, but with the nvidia module's /proc file there (NVML is asked only then)."""

    def read_text(self, path: str) -> str | None:
        if path == "/proc/driver/nvidia/version":
            return "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build\n"
        return super().read_text(path)


class NoDriverHost(LocalHost):
    """This machine with no trace of the nvidia kernel module (whatever the real one has)."""

    def read_text(self, path: str) -> str | None:
        if path in ("/proc/driver/nvidia/version", "/sys/module/nvidia/version"):
            return None
        if path == "/proc/modules":
            return "i915 4218880 3 - Live 0x0000000000000000\n"
        return super().read_text(path)


def test_probe_host_merges_nvml_into_the_real_host(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml(
        [FakeGpu("00000000:FE:1F.0", 0x2330, name="NVIDIA H100 80GB HBM3", cc=(9, 0))], cuda=12090
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    facts = probe_host(DriverLoadedHost())
    gpu = next(g for g in facts.gpus if g.pci_address == "0000:fe:1f.0")
    assert (gpu.device_id, gpu.name, gpu.compute_capability, gpu.architecture) == (
        "2330",
        "H100 80GB HBM3",
        "9.0",
        "Hopper",
    )
    assert gpu.memory_mib == 24564 and gpu.uuid.startswith("GPU-")
    assert facts.driver.nvml and facts.driver.cuda_version == "12.9"
    assert facts.driver.version == "580.95.05"
    # nvml=False never asks it
    assert not probe_host(DriverLoadedHost(), nvml=False).driver.nvml


def test_nvml_is_not_asked_without_the_nvidia_module(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeNvml([FakeGpu("00000000:FE:1F.0", 0x2330)])
    fake.nvmlInit = None  # type: ignore[assignment, method-assign]  # calling it would fail the test
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    facts = probe_host(NoDriverHost())  # this machine, seen without the nvidia module
    assert not facts.driver.nvml and not facts.driver.loaded


def test_merge_prefers_nvml_names_then_table_then_lspci() -> None:
    sysfs = (
        Gpu("0000:01:00.0", "2684", bound_driver="nvidia"),
        Gpu("0000:02:00.0", "2b85"),
        Gpu("0000:03:00.0", "2fff"),  # not in dlenv's PCI table
    )
    lspci = (
        Gpu("0000:01:00.0", "2684", name="GeForce RTX 4090 (lspci)", chip="AD102"),
        Gpu("0000:02:00.0", "2b85", name="GB202 (lspci)", chip="GB202"),
        Gpu("0000:03:00.0", "2fff", name="Future GPU", chip="GB999"),
    )
    nvml = NvmlInfo(
        "580.95.05",
        "13.0",
        (NvmlGpu("0000:01:00.0", "2684", "GeForce RTX 4090 D", "8.9", 24000, "GPU-x"),),
    )
    merged = merge_gpus(sysfs, lspci, nvml)
    assert [(g.name, g.chip, g.bound_driver) for g in merged] == [
        ("GeForce RTX 4090 D", "AD102", "nvidia"),  # NVML's name
        ("GeForce RTX 5090", "GB202", ""),  # the table's
        ("Future GPU", "GB999", ""),  # lspci's, as nothing else knows it
    ]
    assert merged[0].architecture == "Ada Lovelace" and merged[2].architecture == ""


# --------------------------------------------------------------------------------------------
# load_facts


def test_load_facts_round_trip(tmp_path: Path, probe: Any) -> None:
    facts = probe("ubuntu-22.04-mixed")
    wrapped = tmp_path / "check.json"
    wrapped.write_text(json.dumps({"facts": to_data(facts), "checks": []}))
    bare = tmp_path / "facts.json"
    bare.write_text(json.dumps(to_data(facts)))
    assert load_facts(wrapped) == facts
    assert load_facts(bare) == facts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON"),
        ('{"facts": {"arch": "x86_64"}}', "missing field 'distro'"),
        ('{"facts": {"arch": 5, "distro": {"id": "debian"}}}', "expected text"),
        ("[1, 2]", "does not hold host facts"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_load_facts_errors_are_one_sentence(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "facts.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as err:
        load_facts(path)
    assert err.value.exit_code == 2
    assert "\n" not in str(err.value)
