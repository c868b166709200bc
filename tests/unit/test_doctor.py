"""`dlenv doctor`'s signatures over recorded sysroots: each found, explained, its fix planned and
accepted by the root worker's policy; a healthy host reports nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.doctor import examine
from dlenv_tui.doctor.evidence import (
    cdi_driver_versions,
    has_nvidia_module,
    parse_dpkg_status,
    parse_fm_version,
    parse_rpm_qa,
    read_host,
)
from dlenv_tui.doctor.signatures import Inputs, _arch_ok, diagnose
from dlenv_tui.execute.validate import product_policy, validate_plan
from dlenv_tui.model import (
    BuiltImage,
    EngineChoice,
    EngineName,
    GpuCheck,
    ImageOptions,
    Mount,
    Profile,
    RunOptions,
    Status,
)
from dlenv_tui.probe import LocalHost, probe_host


@pytest.fixture
def findings_of(sysroot: Callable[[str], Path]) -> Callable[..., Any]:
    """``findings_of(tree, profile=None)`` → the doctor's findings on that recorded host."""

    def examine_tree(name: str, profile: Profile | None = None) -> Any:
        host = LocalHost(sysroot(name))
        return examine(host, probe_host(host), profile)[1]

    return examine_tree


@pytest.fixture
def run_doctor(findings_of: Callable[..., Any]) -> Callable[..., tuple[str, ...]]:
    """``run_doctor(tree, profile=None)`` → the ids of its findings."""
    return lambda name, profile=None: tuple(f.id for f in findings_of(name, profile))


PODMAN_MOUNTS = Profile(
    name="train",
    engine=EngineChoice(engine=EngineName.PODMAN, rootless=True),
    run=RunOptions(mounts=(Mount("/home/alice/data", "/data"),)),
)
CUDA_13 = Profile(name="train", image=ImageOptions(cuda="13.0"))
OLD_TORCH = Profile(
    name="train",
    last_image=BuiltImage(
        tag="dlenv/train:latest",
        gpu_check=GpuCheck(
            ok=True,
            torch="2.5.1+cu124",
            arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
        ),
    ),
)
TRAIN = Profile(name="train")
FAILED_CHECK = Profile(
    name="train",
    last_image=BuiltImage(
        tag="dlenv/train:latest",
        gpu_check=GpuCheck(
            ok=False,
            gpu="skipped: no GPU on this host",
            lines=(
                "import numpy: ok",
                "import scipy: FAILED (ModuleNotFoundError: No module named 'scipy')",
            ),
        ),
    ),
)

# (sysroot, profile, the finding it must give, an evidence source it must name, a fix step it plans)
CASES = [
    (
        "doctor-version-mismatch",
        None,
        "driver.version-mismatch",
        "/sys/module/nvidia/version",
        "doctor.reboot",
    ),
    (
        "doctor-no-module-for-kernel",
        None,
        "driver.no-module-for-kernel",
        "/lib/modules/6.8.0-51-generic/modules.dep",
        "doctor.rebuild-module",
    ),
    ("fedora-42-a100", None, "driver.nouveau", "/proc/modules", "doctor.blacklist-nouveau"),
    (
        "doctor-secure-boot-unenrolled",
        None,
        "driver.secure-boot-unsigned",
        "mokutil --test-key /var/lib/shim-signed/mok/MOK.der",
        "doctor.mok-import-1",
    ),
    (
        "doctor-nvswitch-no-fabric-manager",
        None,
        "driver.fabric-manager",
        "systemctl is-active nvidia-fabricmanager",
        "doctor.fabric-manager-start",
    ),
    (
        "ubuntu-24.04-rtx4090",
        None,
        "engine.docker-runtime",
        "/etc/docker/daemon.json",
        "engine.gpu-runtime",
    ),
    (
        "doctor-podman-no-cdi",
        None,
        "engine.no-cdi-spec",
        "/etc/cdi/nvidia.yaml",
        "doctor.cdi-generate",
    ),
    (
        "doctor-stale-cdi-spec",
        None,
        "engine.stale-cdi-spec",
        "/etc/cdi/nvidia.yaml",
        "doctor.cdi-generate",
    ),
    ("rocky-9-t4", None, "toolkit.outdated", "nvidia-ctk --version", "doctor.toolkit-upgrade"),
    (
        "doctor-cgroup-nvml-loss",
        None,
        "engine.cgroup-nvml-loss",
        "/dev/char",
        "doctor.dev-char-symlinks",
    ),
    ("doctor-docker-group-session", None, "engine.docker-group-session", "/etc/group", None),
    ("doctor-healthy-ubuntu-24.04", CUDA_13, "image.cuda-too-new", "profile train", None),
    ("doctor-rtx5090", OLD_TORCH, "image.torch-no-kernels", "profile train: in-image check", None),
    (
        "doctor-healthy-ubuntu-24.04",
        FAILED_CHECK,
        "image.gpu-check-failed",
        "profile train: in-image check",
        None,
    ),
    (
        "doctor-small-shm",
        TRAIN,
        "launch.small-shm",
        "docker inspect --format {{.State.Running}} {{.HostConfig.ShmSize}} dlenv-train",
        None,
    ),
    (
        "doctor-podman-rootless-no-cgroups",
        None,
        "engine.podman-no-cgroups",
        "/etc/nvidia-container-runtime/config.toml",
        "doctor.no-cgroups",
    ),
    ("doctor-podman-no-cdi", PODMAN_MOUNTS, "engine.podman-keep-id", "profile train", None),
    (
        "doctor-selinux-enforcing",
        None,
        "engine.selinux-devices",
        "/sys/fs/selinux/booleans/container_use_devices",
        "doctor.selinux-devices",
    ),
]


@pytest.mark.parametrize(
    ("tree", "profile", "finding", "source", "step"), CASES, ids=[c[2] for c in CASES]
)
def test_signature_found_explained_and_fixed(
    tree: str,
    profile: Profile | None,
    finding: str,
    source: str,
    step: str | None,
    findings_of: Any,
) -> None:
    found = {f.id: f for f in findings_of(tree, profile)}
    assert finding in found, f"{tree}: got {sorted(found)}"
    f = found[finding]
    assert f.title and f.why and f.evidence
    assert source in [r.source for r in f.evidence]
    if step is None:
        assert f.manual, "a finding without a plan says what to do by hand"
    else:
        assert f.fix is not None
        assert step in [s.id for s in f.fix.steps]
        validate_plan(f.fix, product_policy())  # the root worker would run it


def test_healthy_host_has_no_finding(run_doctor: Any) -> None:
    assert run_doctor("doctor-healthy-ubuntu-24.04") == ()
    assert run_doctor("doctor-healthy-ubuntu-24.04", TRAIN) == ()


@pytest.mark.parametrize(
    ("tree", "expected"),
    [
        ("debian-12-nogpu", ()),
        ("ubuntu-22.04-mixed", ()),
        ("doctor-version-mismatch", ("driver.version-mismatch",)),
        ("doctor-no-module-for-kernel", ("driver.no-module-for-kernel",)),
        ("doctor-secure-boot-unenrolled", ("driver.secure-boot-unsigned",)),
        ("doctor-nvswitch-no-fabric-manager", ("driver.fabric-manager",)),
        ("doctor-stale-cdi-spec", ("engine.stale-cdi-spec",)),
        ("doctor-cgroup-nvml-loss", ("engine.cgroup-nvml-loss",)),
        ("doctor-rtx5090", ()),
        ("rocky-9-t4", ("engine.docker-runtime", "toolkit.outdated")),
    ],
)
def test_exactly_these_findings(tree: str, expected: tuple[str, ...], run_doctor: Any) -> None:
    """No signature fires where it does not belong (each fixture differs from healthy in one way)."""
    assert run_doctor(tree) == expected


def test_mismatch_evidence_and_fix_use_the_user_space_version(findings_of: Any) -> None:
    (f,) = findings_of("doctor-version-mismatch")
    texts = {r.source: r.text for r in f.evidence}
    assert texts["/sys/module/nvidia/version"] == "565.57.01"
    assert "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.565.77" in texts
    assert any("API mismatch" in t for t in texts.values())
    assert f.fix is not None
    assert f.fix.steps[-1].check[-2:] == ("565.77", "/proc/driver/nvidia/version")


def test_missing_module_installs_the_headers_first(findings_of: Any) -> None:
    (f,) = findings_of("doctor-no-module-for-kernel")
    assert f.fix is not None
    steps = {s.id: s for s in f.fix.steps}
    assert steps["doctor.kernel-headers"].argv[-1] == "linux-headers-6.8.0-51-generic"
    assert steps["doctor.rebuild-module"].argv == (
        "/usr/sbin/dkms",
        "autoinstall",
        "-k",
        "6.8.0-51-generic",
    )
    assert [s.id for s in f.fix.steps].index("doctor.kernel-headers") < [
        s.id for s in f.fix.steps
    ].index("doctor.rebuild-module")


def test_fabric_manager_of_another_version_is_found(sysroot: Callable[[str], Path]) -> None:
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "host"
        shutil.copytree(sysroot("doctor-nvswitch-no-fabric-manager"), root, symlinks=True)
        cmds = root / ".commands"
        (cmds / "systemctl_is-active_nvidia-fabricmanager.out").write_text("active\n")
        (cmds / "systemctl_is-active_nvidia-fabricmanager.rc").write_text("0\n")
        (cmds / "nv-fabricmanager_--version.out").write_text(
            "Fabric Manager version is : 560.35.03\n"
        )
        host = LocalHost(root)
        (f,) = examine(host, probe_host(host))[1]
        assert "560.35.03 runs with driver 565.57.01" in f.title
        (cmds / "nv-fabricmanager_--version.out").write_text(
            "Fabric Manager version is : 565.57.01\n"
        )
        assert examine(host, probe_host(host))[1] == ()


def test_unreachable_repositories_are_a_finding(sysroot: Callable[[str], Path]) -> None:
    from dlenv_tui.probe.reach import check_reachable

    rows = check_reachable(["https://127.0.0.1:9"], timeout=2.0)
    host = LocalHost(sysroot("doctor-healthy-ubuntu-24.04"))
    facts = probe_host(host)
    (f,) = diagnose(Inputs(facts, read_host(host, facts.kernel), None, rows))
    assert f.id == "network.unreachable"
    assert f.status is Status.WARN
    assert f.evidence[0].source == "HEAD https://127.0.0.1:9/"


@pytest.mark.parametrize(
    ("cc", "arch_list", "ok"),
    [
        ("8.9", ("sm_80", "sm_86", "sm_90"), True),  # sm_86 cubins run on 8.9
        ("12.0", ("sm_50", "sm_80", "sm_86", "sm_90"), False),  # pytorch#150733
        ("12.0", ("sm_90", "compute_90"), True),  # PTX JIT
        ("9.0", ("sm_90a",), True),
        ("7.5", ("sm_80", "sm_86"), False),
        ("8.0", ("sm_86",), False),
    ],
)
def test_torch_arch_compatibility(cc: str, arch_list: tuple[str, ...], ok: bool) -> None:
    assert _arch_ok(cc, arch_list) is ok


def test_parsers() -> None:
    assert parse_dpkg_status(
        "Package: libnvidia-compute-565\nStatus: install ok installed\nVersion: 565.57.01-0ubuntu0.24.04.1\n\n"
        "Package: libnvidia-container1\nStatus: install ok installed\nVersion: 1.17.8-1\n\n"
        "Package: nvidia-utils-565\nStatus: deinstall ok config-files\nVersion: 565.57.01-0ubuntu1\n"
    ) == (("libnvidia-compute-565", "565.57.01"),)
    assert parse_rpm_qa(
        "nvidia-driver-cuda-libs-570.172.08-1.el9.x86_64\n"
        "nvidia-container-toolkit-1.17.3-1.x86_64\n"
        "xorg-x11-drv-nvidia-cuda-libs-3:575.64.05-1.fc42.x86_64\n"
    ) == (("nvidia-driver-cuda-libs", "570.172.08"), ("xorg-x11-drv-nvidia-cuda-libs", "575.64.05"))
    assert parse_fm_version("Fabric Manager version is : 570.172.08\n") == "570.172.08"
    assert has_nvidia_module("updates/dkms/nvidia.ko.zst:\n")
    assert has_nvidia_module("extra/nvidia/nvidia.ko.xz: kernel/drivers/video/video.ko.xz")
    assert not has_nvidia_module("updates/dkms/nvidia-uvm.ko.zst: updates/nouveau.ko\n")
    assert cdi_driver_versions("hostPath: /usr/lib64/libcuda.so.560.35.03\n") == {"560.35.03"}


@pytest.mark.parametrize(
    ("tree", "detail"),
    [
        ("doctor-version-mismatch", "a reboot is pending for nvidia-dkms-565-open, linux-base"),
        ("doctor-selinux-enforcing", "needs-restarting -r: a reboot is pending for kernel"),
        ("doctor-healthy-ubuntu-24.04", None),
        ("rocky-9-t4", None),
    ],
)
def test_check_notes_a_pending_reboot(
    tree: str, detail: str | None, sysroot: Callable[[str], Path]
) -> None:
    from dlenv_tui.doctor.reboot import pending_reboot_check

    row = pending_reboot_check(LocalHost(sysroot(tree)))
    if detail is None:
        assert row is None
    else:
        assert row is not None and row.status is Status.WARN
        assert detail in row.detail


def test_nouveau_on_a_host_without_an_initramfs_is_fixed_by_the_blacklist_alone(
    sysroot: Callable[[str], Path],
) -> None:
    """A VM started straight from a kernel has no initramfs to rebuild: the blacklist on the root
    file system takes effect at the next boot, and the fix says what it read."""
    import dataclasses

    host = LocalHost(sysroot("fedora-42-a100"))
    facts = probe_host(host)
    reads = read_host(host, facts.kernel)
    assert reads.initramfs == "/boot/initramfs-6.14.5-300.fc42.x86_64.img"
    with_image = next(f for f in diagnose(Inputs(facts, reads)) if f.id == "driver.nouveau")
    assert with_image.fix is not None
    assert [s.id for s in with_image.fix.steps] == [
        "doctor.blacklist-nouveau",
        "doctor.initramfs",
        "doctor.reboot",
    ]
    bare = dataclasses.replace(reads, initramfs="")
    found = next(f for f in diagnose(Inputs(facts, bare)) if f.id == "driver.nouveau")
    assert found.fix is not None and found.fix.finding == "driver.nouveau"
    assert [s.id for s in found.fix.steps] == ["doctor.blacklist-nouveau", "doctor.reboot"]
    assert any(r.source == "/boot" and "without one" in r.text for r in found.evidence)
    validate_plan(found.fix, product_policy())
    # not looked at (a --facts file, the demo): the initramfs is rebuilt as before
    unknown = dataclasses.replace(reads, initramfs=None)
    again = next(f for f in diagnose(Inputs(facts, unknown)) if f.id == "driver.nouveau")
    assert again.fix is not None and len(again.fix.steps) == 3
