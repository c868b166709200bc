"""Host drift: `host_changes` over fixture facts and sysroots, and `dlenv profiles show`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.cli import main
from dlenv_tui.drift import host_changes
from dlenv_tui.model import (
    DiskInfo,
    DriverFlavour,
    Gpu,
    HostFacts,
    SecureBoot,
    Tool,
    UserInfo,
)
from dlenv_tui.probe import LocalHost, load_facts, probe_host
from dlenv_tui.profiles import ProfileStore, recommended_profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def facts(
    sysroot: Callable[[str], Path], facts_file: Callable[[str], Path]
) -> Callable[[str], HostFacts]:
    """``facts(name)``: a fixture facts file (``ubuntu-24.04-rtx4090-fresh``) or a probed sysroot
    (``tree:NAME``), each read once per module."""

    @cache
    def read(name: str) -> HostFacts:
        if name.startswith("tree:"):
            return probe_host(LocalHost(sysroot(name[5:])))
        return load_facts(facts_file(name))

    return read


def test_same_host_has_no_changes(recorded_host: str, facts: Callable[[str], HostFacts]) -> None:
    assert host_changes(facts(recorded_host), facts(recorded_host)) == ()


def test_noise_is_ignored(recorded_host: str, facts: Callable[[str], HostFacts]) -> None:
    old = facts(recorded_host)
    new = replace(
        old,
        probed_at="2030-01-01T00:00:00Z",
        disk=DiskInfo(path="/var/lib/docker", free_bytes=1, total_bytes=2),
        user=UserInfo(name="bob", uid=1001, gid=1001, groups=("bob", "docker")),
        docker=replace(old.docker, running=not old.docker.running),
        gpus=tuple(replace(g, name="", memory_mib=81920, uuid="GPU-x") for g in old.gpus),
        driver=replace(old.driver, cuda_version="", nvml=not old.driver.nvml),
        lspci=not old.lspci,
    )
    assert host_changes(old, new) == ()


def test_snapshot_saved_in_a_profile_reads_back_without_drift(
    recorded_host: str, tmp_path: Path, facts: Callable[[str], HostFacts]
) -> None:
    store = ProfileStore(tmp_path)
    store.save(recommended_profile("p", facts(recorded_host)))
    saved = store.load("p").host
    assert saved is not None
    assert host_changes(saved, facts(recorded_host)) == ()


def _gpu(addr: str, device: str, name: str = "") -> Gpu:
    return Gpu(pci_address=addr, device_id=device, name=name)


Change = Callable[[HostFacts], HostFacts]

# (case, old host, how the new host differs, the sentences expected: each must start one)
CASES: list[tuple[str, str, Change, list[str]]] = [
    (
        "kernel update, headers installed",
        "tree:ubuntu-24.04-rtx4090",
        lambda f: replace(f, kernel="6.8.0-50-generic"),
        ["Kernel changed: 6.8.0-48-generic → 6.8.0-50-generic; the NVIDIA module must be built"],
    ),
    (
        "kernel update, headers missing",
        "ubuntu-24.04-rtx4090-fresh",
        lambda f: replace(f, kernel="6.8.0-50-generic", kernel_headers=False),
        [
            "Kernel changed: 6.8.0-45-generic → 6.8.0-50-generic; the NVIDIA module must be built for it, and its headers are not installed"
        ],
    ),
    (
        "driver upgraded",
        "tree:rocky-9-t4",
        lambda f: replace(f, driver=replace(f.driver, version="580.95.05")),
        ["NVIDIA driver changed: 570.172.08 open → 580.95.05 open."],
    ),
    (
        "driver flavour switched",
        "tree:opensuse-leap-15.6-rtx3090",
        lambda f: replace(f, driver=replace(f.driver, flavour=DriverFlavour.OPEN)),
        ["NVIDIA driver changed: 570.172.08 proprietary → 570.172.08 open."],
    ),
    (
        "driver flavour unknown on one side",
        "tree:rocky-9-t4",
        lambda f: replace(f, driver=replace(f.driver, flavour=None)),
        [],
    ),
    (
        "driver unloaded",
        "tree:ubuntu-22.04-mixed",
        lambda f: replace(f, driver=replace(f.driver, loaded=False, version="", flavour=None)),
        ["The NVIDIA driver is no longer loaded (was 580.95.05 proprietary)."],
    ),
    (
        "GPU swapped in the same slot",
        "tree:ubuntu-24.04-rtx4090",
        lambda f: replace(f, gpus=(_gpu("0000:01:00.0", "2b85", "GeForce RTX 5090"),)),
        [
            "GPU at 0000:01:00.0 changed: GeForce RTX 4090 (2684) → GeForce RTX 5090 (2b85).",
            "Check the driver choice again",
        ],
    ),
    (
        "GPU moved to another slot",
        "tree:rocky-9-t4",
        lambda f: replace(f, gpus=(replace(f.gpus[0], pci_address="0000:af:00.0"),)),
        ["GPU Tesla T4 (1eb8) moved: 0000:3b:00.0 → 0000:af:00.0."],
    ),
    (
        "second GPU added",
        "tree:rocky-9-t4",
        lambda f: replace(f, gpus=(*f.gpus, _gpu("0000:af:00.0", "1eb8"))),
        ["GPU added: device 1eb8 at 0000:af:00.0.", "Check the driver choice again"],
    ),
    (
        "every GPU removed",
        "tree:ubuntu-22.04-mixed",
        lambda f: replace(f, gpus=()),
        [
            "GPU removed: GeForce GTX 1080 (1b80) at 0000:02:00.0.",
            "GPU removed: GeForce RTX 3090 (2204) at 0000:03:00.0.",
            "Check the driver choice again",
        ],
    ),
    (
        "Secure Boot turned on",
        "tree:rocky-9-t4",
        lambda f: replace(f, secure_boot=replace(f.secure_boot, enabled=True)),
        ["Secure Boot is now on"],
    ),
    (
        "Secure Boot turned off",
        "tree:ubuntu-24.04-rtx4090",
        lambda f: replace(f, secure_boot=replace(f.secure_boot, enabled=False)),
        ["Secure Boot is now off."],
    ),
    (
        "Secure Boot no longer readable",
        "tree:ubuntu-24.04-rtx4090",
        lambda f: replace(f, secure_boot=SecureBoot()),
        [],
    ),
    (
        "Docker minor upgrade",
        "tree:rocky-9-t4",
        lambda f: replace(f, docker=replace(f.docker, version="27.5.2")),
        [],
    ),
    (
        "Docker major upgrade",
        "tree:rocky-9-t4",
        lambda f: replace(f, docker=replace(f.docker, version="28.0.1")),
        ["Docker changed major version: 27.5.1 → 28.0.1."],
    ),
    (
        "Docker removed",
        "tree:ubuntu-24.04-rtx4090",
        lambda f: replace(f, docker=Tool()),
        ["Docker was removed (was 27.3.1)."],
    ),
    (
        "Podman installed",
        "tree:rocky-9-t4",
        lambda f: replace(f, podman=Tool(present=True, version="5.2.2")),
        ["Podman is now installed (5.2.2)."],
    ),
    (
        "toolkit patch release",
        "tree:rocky-9-t4",
        lambda f: replace(f, nvidia_ctk=replace(f.nvidia_ctk, version="1.17.8")),
        ["NVIDIA Container Toolkit changed: 1.17.3 → 1.17.8."],
    ),
    (
        "point release of the distribution",
        "tree:rocky-9-t4",
        lambda f: replace(f, distro=replace(f.distro, version_id="9.6", name="Rocky Linux 9.6")),
        ["Distribution release changed: Rocky Linux 9.5 (Blue Onyx) → Rocky Linux 9.6;"],
    ),
    (
        "architecture",
        "ubuntu-24.04-rtx4090-fresh",
        lambda f: replace(f, arch="aarch64"),
        ["Architecture changed: x86_64 → aarch64;"],
    ),
    (
        "host renamed",
        "ubuntu-24.04-rtx4090-fresh",
        lambda f: replace(f, hostname="gpu2"),
        ["Host name changed: gpu1 → gpu2"],
    ),
    (
        "host name unknown on one side",
        "ubuntu-24.04-rtx4090-fresh",
        lambda f: replace(f, hostname=""),
        [],
    ),
]


@pytest.mark.parametrize(("case", "old", "change", "expected"), CASES, ids=[c[0] for c in CASES])
def test_one_change(case: str, old: str, change: Change, expected: list[str], facts: Any) -> None:
    before = facts(old)
    got = host_changes(before, change(before))
    assert len(got) == len(expected), got
    for sentence, start in zip(got, expected, strict=True):
        assert sentence.startswith(start), (sentence, start)


def test_the_driver_stage_done_on_a_fresh_host(facts: Any) -> None:
    # The fresh Ubuntu 24.04 fixture after the wizard: open driver loaded, Docker + toolkit in.
    old = facts("ubuntu-24.04-rtx4090-fresh")
    new = replace(
        old,
        driver=replace(old.driver, loaded=True, version="580.95.05", flavour=DriverFlavour.OPEN),
        docker=Tool(present=True, version="28.5.1"),
        nvidia_ctk=Tool(present=True, version="1.18.0"),
    )
    assert host_changes(old, new) == (
        "The NVIDIA driver is now loaded: 580.95.05 open.",
        "NVIDIA Container Toolkit is now installed (1.18.0).",
        "Docker is now installed (28.5.1).",
    )


def test_a_profile_opened_on_another_machine(facts: Any) -> None:
    changes = host_changes(facts("tree:ubuntu-22.04-mixed"), facts("tree:ubuntu-24.04-rtx4090"))
    assert [c.split(":")[0] for c in changes] == [
        "Host name changed",
        "Distribution release changed",
        "Kernel changed",
        "GPU removed",
        "GPU removed",
        "GPU added",
        "Check the driver choice again",
        "NVIDIA driver changed",
        "Secure Boot is now on",
        "NVIDIA Container Toolkit is now installed (1.17.8).",
        "Docker is now installed (27.3.1).",
    ]


# --------------------------------------------------------------------------------------------
# dlenv profiles show


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProfileStore:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path))
    return ProfileStore(tmp_path / "profiles")


def test_show_appends_the_changes_as_toml_comments(
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    facts: Any,
    sysroot: Callable[[str], Path],
) -> None:
    store.save(recommended_profile("lab", facts("tree:rocky-9-t4")))
    code = main(["profiles", "show", "lab", "--sysroot", str(sysroot("ubuntu-24.04-rtx4090"))])
    out = capsys.readouterr().out
    assert code == 0
    head, block = out.split("\n# Host changed since this profile was made:\n")
    assert tomllib.loads(head)["name"] == "lab"
    lines = block.splitlines()
    assert (
        lines[0]
        == "#   - Host name changed: inference-01 → ada-ws (another machine, or this one renamed)."
    )
    assert all(line.startswith("#   - ") for line in lines)
    assert tomllib.loads(out) == tomllib.loads(head)  # still the same profile file


def test_show_on_the_same_host_prints_no_block(
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    facts: Any,
    sysroot: Callable[[str], Path],
) -> None:
    store.save(recommended_profile("lab", facts("tree:rocky-9-t4")))
    assert main(["--sysroot", str(sysroot("rocky-9-t4")), "profiles", "show", "lab"]) == 0
    assert "Host changed" not in capsys.readouterr().out


def test_show_with_recorded_facts(
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    facts: Any,
    facts_file: Callable[[str], Path],
) -> None:
    store.save(recommended_profile("lab", facts("ubuntu-24.04-rtx4090-fresh")))
    fresh = facts_file("ubuntu-22.04-l4-secureboot")
    assert main(["profiles", "show", "lab", "--facts", str(fresh)]) == 0
    out = capsys.readouterr().out
    assert "#   - Distribution release changed: Ubuntu 24.04.1 LTS → " in out


def test_show_without_a_snapshot_does_not_probe(
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    facts: Any,
) -> None:
    store.save(replace(recommended_profile("lab", facts("tree:rocky-9-t4")), host=None))

    def no_probe(*args: object, **kwargs: object) -> HostFacts:
        raise AssertionError("probed a host for a profile without a snapshot")

    monkeypatch.setattr("dlenv_tui.probe.probe_host", no_probe)
    assert main(["profiles", "show", "lab"]) == 0
    assert "Host changed" not in capsys.readouterr().out


def test_drift_is_headless() -> None:
    code = "import sys, dlenv_tui.drift; print('textual' in sys.modules or 'docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
