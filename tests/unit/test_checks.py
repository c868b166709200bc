"""run_checks: one row per topic, each status decided from HostFacts alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.checks import GIB, run_checks
from dlenv_tui.compat import SUPPORTED_DISTROS_TEXT, enrich_gpu
from dlenv_tui.locations import asset
from dlenv_tui.model import (
    Check,
    DiskInfo,
    Distro,
    DriverFlavour,
    DriverInfo,
    Gpu,
    HostFacts,
    PkgFamily,
    SecureBoot,
    Status,
    Tool,
    UserInfo,
)
from dlenv_tui.probe import load_facts

OK, WARN, FAIL, SKIPPED = Status.OK, Status.WARN, Status.FAIL, Status.SKIPPED

RTX4090 = enrich_gpu(Gpu("0000:01:00.0", "2684", bound_driver="nvidia"))
GTX1080 = enrich_gpu(Gpu("0000:02:00.0", "1b80"))
RTX3090 = enrich_gpu(Gpu("0000:03:00.0", "2204"))
RTX5090 = enrich_gpu(Gpu("0000:04:00.0", "2b85"))

READY = HostFacts(
    arch="x86_64",
    distro=Distro("ubuntu", "24.04", "noble", ("debian",), "Ubuntu 24.04.1 LTS"),
    pkg_family=PkgFamily.APT,
    systemd=True,
    kernel="6.8.0-48-generic",
    kernel_headers=True,
    gpus=(RTX4090,),
    driver=DriverInfo(
        loaded=True, version="580.95.05", flavour=DriverFlavour.OPEN, cuda_version="13.0", nvml=True
    ),
    secure_boot=SecureBoot(enabled=False, efi=True, source="mokutil"),
    docker=Tool(present=True, version="27.3.1", path="/usr/bin/docker", running=True),
    podman=Tool(present=False),
    nvidia_ctk=Tool(present=True, version="1.17.8", path="/usr/bin/nvidia-ctk"),
    lspci=True,
    user=UserInfo(
        "alice", 1000, 1000, ("alice", "sudo", "docker"), False, True, True, "/home/alice"
    ),
    disk=DiskInfo("/var/lib/docker", 500 * GIB, 1000 * GIB),
    hostname="ada",
)


def facts(**changes: Any) -> HostFacts:
    """READY with some fields replaced; ``driver__loaded=False`` style keys reach one level down."""
    top: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in changes.items():
        if "__" in key:
            outer, inner = key.split("__", 1)
            nested.setdefault(outer, {})[inner] = value
        else:
            top[key] = value
    for outer, inner in nested.items():
        top[outer] = dataclasses.replace(getattr(READY, outer), **inner)
    return dataclasses.replace(READY, **top)


def row(f: HostFacts, check_id: str) -> Check:
    return next(c for c in run_checks(f) if c.id == check_id)


def test_ready_host_is_all_ok() -> None:
    checks = run_checks(READY)
    assert [c.id for c in checks] == [
        "arch", "distro", "pkg", "init", "gpus", "driver", "nouveau", "secure_boot",
        "headers", "disk", "privileges", "docker", "podman", "toolkit", "docker_group",
    ]  # fmt: skip
    assert {c.id: c.status for c in checks if c.status is not OK} == {"podman": SKIPPED}
    assert all(c.detail and "\n" not in c.detail and "\n" not in c.fix for c in checks)
    assert row(READY, "gpus").detail == "1 GPU: GeForce RTX 4090 (Ada Lovelace, CC 8.9)"
    assert row(READY, "driver").detail == "580.95.05 (open kernel modules), runs CUDA ≤ 13.0"


CASES = [
    # (case, changes, check id, status, words in detail or fix)
    ("aarch64", dict(arch="aarch64"), "arch", OK, "aarch64"),
    ("ppc64le", dict(arch="ppc64le"), "arch", FAIL, "not supported"),
    ("arch unknown", dict(arch=""), "arch", WARN, "unknown"),
    (
        "Arch Linux",
        dict(distro=Distro("arch", name="Arch Linux")),
        "distro",
        FAIL,
        "Ubuntu 22.04/24.04",
    ),
    (
        "Ubuntu 20.04",
        dict(distro=Distro("ubuntu", "20.04", name="Ubuntu 20.04.6 LTS")),
        "distro",
        FAIL,
        "Ubuntu 20.04.6 LTS is not supported",
    ),
    (
        "Rocky 9",
        dict(distro=Distro("rocky", "9.5", like=("rhel",), name="Rocky Linux 9.5")),
        "distro",
        OK,
        "Rocky",
    ),
    ("no package manager", dict(pkg_family=PkgFamily.OTHER), "pkg", FAIL, "apt, dnf or zypper"),
    ("no systemd", dict(systemd=False), "init", WARN, "not systemd"),
    ("no GPU", dict(gpus=()), "gpus", FAIL, "no NVIDIA GPU"),
    ("no GPU: driver skipped", dict(gpus=()), "driver", SKIPPED, "no NVIDIA GPU"),
    (
        "mixed GPUs",
        dict(gpus=(GTX1080, RTX3090)),
        "gpus",
        OK,
        "2 GPUs: GeForce GTX 1080 (Pascal, CC 6.1); GeForce RTX 3090",
    ),
    (
        "unknown id",
        dict(gpus=(Gpu("0000:01:00.0", "2fff"),)),
        "gpus",
        WARN,
        "not in dlenv's PCI table",
    ),
    (
        "vfio",
        dict(gpus=(dataclasses.replace(RTX4090, bound_driver="vfio-pci"),)),
        "gpus",
        WARN,
        "vfio-pci",
    ),
    (
        "NVML memory shown",
        dict(gpus=(dataclasses.replace(RTX4090, memory_mib=24564),)),
        "gpus",
        OK,
        "24 GiB",
    ),
    (
        "driver missing",
        dict(driver=DriverInfo()),
        "driver",
        WARN,
        "recommended: open kernel modules",
    ),
    (
        "driver missing, Pascal",
        dict(gpus=(GTX1080,), driver=DriverInfo()),
        "driver",
        WARN,
        "proprietary kernel modules, 580 branch",
    ),
    ("open modules with Pascal", dict(gpus=(GTX1080,)), "driver", FAIL, "older than Turing"),
    (
        "proprietary with Blackwell",
        dict(gpus=(RTX5090,), driver__flavour=DriverFlavour.PROPRIETARY),
        "driver",
        FAIL,
        "Blackwell",
    ),
    (
        "590 with Pascal",
        dict(
            gpus=(GTX1080,), driver__flavour=DriverFlavour.PROPRIETARY, driver__version="590.44.01"
        ),
        "driver",
        FAIL,
        "580 branch",
    ),
    (
        "580 proprietary with mixed",
        dict(gpus=(GTX1080, RTX3090), driver__flavour=DriverFlavour.PROPRIETARY),
        "driver",
        OK,
        "580.95.05 (proprietary",
    ),
    (
        "conflict Pascal+Blackwell",
        dict(gpus=(GTX1080, RTX5090), driver__flavour=DriverFlavour.PROPRIETARY),
        "driver",
        WARN,
        "no single driver",
    ),
    (
        "CUDA from compat without NVML",
        dict(driver__cuda_version="", driver__nvml=False),
        "driver",
        OK,
        "runs CUDA ≤ 13.0",
    ),
    ("flavour unknown", dict(driver__flavour=None), "driver", OK, "flavour unknown"),
    ("nouveau", dict(driver=DriverInfo(nouveau_loaded=True)), "nouveau", WARN, "blacklists"),
    (
        "nouveau, no GPU",
        dict(gpus=(), driver=DriverInfo(nouveau_loaded=True)),
        "nouveau",
        SKIPPED,
        "no NVIDIA GPU",
    ),
    (
        "SB on, no driver",
        dict(driver=DriverInfo(), secure_boot=SecureBoot(True, True, "mokutil")),
        "secure_boot",
        WARN,
        "signed",
    ),
    (
        "SB on, driver loaded",
        dict(secure_boot=SecureBoot(True, True, "mokutil")),
        "secure_boot",
        OK,
        "signed",
    ),
    ("BIOS", dict(secure_boot=SecureBoot(None, False, "none")), "secure_boot", OK, "legacy BIOS"),
    (
        "UEFI unknown",
        dict(secure_boot=SecureBoot(None, True, "none")),
        "secure_boot",
        WARN,
        "mokutil",
    ),
    ("SB not probed", dict(secure_boot=SecureBoot()), "secure_boot", SKIPPED, "not probed"),
    (
        "headers apt",
        dict(kernel_headers=False),
        "headers",
        WARN,
        "apt install linux-headers-6.8.0-48-generic",
    ),
    (
        "headers dnf",
        dict(kernel_headers=False, pkg_family=PkgFamily.DNF, kernel="5.14.0-503.el9.x86_64"),
        "headers",
        WARN,
        "dnf install kernel-devel-5.14.0-503.el9.x86_64",
    ),
    (
        "headers zypper",
        dict(kernel_headers=False, pkg_family=PkgFamily.ZYPPER),
        "headers",
        WARN,
        "kernel-default-devel",
    ),
    ("headers unknown", dict(kernel_headers=None), "headers", SKIPPED, "unknown"),
    ("disk 31 GiB", dict(disk__free_bytes=31 * GIB), "disk", OK, "31 GiB free"),
    ("disk 29 GiB", dict(disk__free_bytes=29 * GIB), "disk", WARN, "30 GiB recommended"),
    (
        "disk 9.5 GiB",
        dict(disk__free_bytes=int(9.5 * GIB)),
        "disk",
        FAIL,
        "9.5 GiB free at /var/lib/docker",
    ),
    ("disk unknown", dict(disk=DiskInfo("/")), "disk", SKIPPED, "unknown"),
    ("root", dict(user=UserInfo("root", 0, 0, ("root",), True)), "privileges", OK, "root"),
    ("sudo password", dict(user__sudo_nopasswd=False), "privileges", OK, "password"),
    (
        "no sudo",
        dict(user__sudo_nopasswd=None, user__sudo_present=False),
        "privileges",
        FAIL,
        "sudo is not installed",
    ),
    ("user unknown", dict(user=UserInfo()), "privileges", SKIPPED, "not probed"),
    ("docker down", dict(docker__running=False), "docker", WARN, "systemctl enable --now docker"),
    (
        "docker down, no systemd",
        dict(docker__running=False, systemd=False),
        "docker",
        WARN,
        "sudo dockerd &",
    ),
    ("docker unknown", dict(docker__running=None), "docker", OK, "27.3.1"),
    ("no engine", dict(docker=Tool()), "docker", WARN, "Docker CE or Podman"),
    (
        "podman instead",
        dict(docker=Tool(), podman=Tool(True, "5.2.2", "/usr/bin/podman", True)),
        "docker",
        SKIPPED,
        "Podman is",
    ),
    (
        "podman-docker",
        dict(docker=Tool(present=False, path="/usr/bin/docker"), podman=Tool(True, "5.2.2")),
        "docker",
        OK,
        "emulation",
    ),
    (
        "podman socket off",
        dict(podman=Tool(True, "5.2.2", running=False)),
        "podman",
        OK,
        "socket off",
    ),
    ("toolkit missing", dict(nvidia_ctk=Tool()), "toolkit", WARN, "Container toolkit stage"),
    ("toolkit old", dict(nvidia_ctk__version="1.17.3"), "toolkit", WARN, "CVE-2025-23266"),
    ("toolkit 1.18", dict(nvidia_ctk__version="1.18.0"), "toolkit", OK, "1.18.0"),
    (
        "not in docker group",
        dict(user__groups=("alice", "sudo")),
        "docker_group",
        WARN,
        "not a member",
    ),
    (
        "root: no group needed",
        dict(user=UserInfo("root", 0, 0, ("root",), True)),
        "docker_group",
        SKIPPED,
        "root",
    ),
    ("no docker: no group", dict(docker=Tool()), "docker_group", SKIPPED, "not installed"),
]


@pytest.mark.parametrize(
    ("case", "changes", "check_id", "status", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_check_rows(
    case: str, changes: dict[str, Any], check_id: str, status: Status, words: str
) -> None:
    check = row(facts(**changes), check_id)
    assert check.status is status, check
    assert words in f"{check.detail} {check.fix}", check
    if status in (WARN, FAIL):
        assert check.fix, f"{case}: a {status} row must say what to do"


def test_unsupported_distro_fails_and_names_the_supported_ones() -> None:
    check = row(facts(distro=Distro("arch", name="Arch Linux")), "distro")
    assert check.status is FAIL and SUPPORTED_DISTROS_TEXT in check.fix


@pytest.mark.parametrize("path", sorted(asset("demo").glob("*.json")), ids=lambda p: p.stem)
def test_every_demo_scenario_checks_cleanly(path: Path) -> None:
    checks = run_checks(load_facts(path))
    assert len(checks) == 15
    assert all(c.status in Status and c.detail for c in checks)


def test_identical_gpus_are_counted_once_per_model(sysroot: Any) -> None:
    # The recorded HGX H100 host: eight identical GPUs read as one counted entry, not eight.
    from dlenv_tui.probe import LocalHost
    from dlenv_tui.probe.facts import probe_host

    hgx = probe_host(LocalHost(sysroot("ubuntu-22.04-hgx-h100")), nvml=False)
    assert row(hgx, "gpus").detail == "8 GPUs: 8 × H100 SXM5 80GB (Hopper, CC 9.0)"
    mixed = facts(gpus=(GTX1080, GTX1080, RTX3090))
    assert row(mixed, "gpus").detail.startswith("3 GPUs: 2 × GeForce GTX 1080 (Pascal, CC 6.1); ")
