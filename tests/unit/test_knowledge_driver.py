"""Audit findings F1, F8, F2 on recorded hosts: the 580 branch is held, SUSE keeps KMP and user space
together, NVSwitch boards get Fabric Manager at the driver's version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlenv_tui import checks, compat
from dlenv_tui.model import DriverFlavour, DriverInfo, HostFacts, Stage, Status, Tool
from dlenv_tui.plan import plan_stage
from dlenv_tui.plan.driver.common import module_check
from dlenv_tui.probe.pci import parse_lspci_nvswitches, parse_sysfs_nvswitch
from dlenv_tui.profiles import recommended_profile


def driver_argv(facts: HostFacts) -> list[tuple[str, ...]]:
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    return [s.argv for s in plan.steps]


# ---- F1: Debian 12 + GTX 1080 cannot leave the 580 branch ------------------------------------


def test_debian_gtx1080_pins_580_then_installs_the_unversioned_driver(probed: Any) -> None:
    facts = probed("debian-12-gtx1080")
    assert [g.device_id for g in facts.gpus] == ["1b80"]
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    argv = {s.id: s.argv for s in plan.steps}
    # the pinning package comes before the driver, and the driver package is not cuda-drivers-580,
    # whose unbounded dependencies pull in 590 components on Debian
    assert ids.index("driver.pin-branch") < ids.index("driver.install")
    assert argv["driver.pin-branch"][-1] == "nvidia-driver-pinning-580"
    assert argv["driver.install"][-1] == "cuda-drivers"
    assert not any("cuda-drivers-580" in a for args in argv.values() for a in args)
    # after the reboot the check proves the loaded module is a proprietary 580.x one
    reboot = next(s for s in plan.steps if s.id == "driver.reboot")
    assert reboot.check == module_check(DriverFlavour.PROPRIETARY, "580")
    assert "+580\\." in reboot.check[2]


def test_ubuntu_without_secure_boot_pins_580_for_pascal(probed: Any) -> None:
    # GTX 1080 + RTX 3090, Secure Boot off; as if the driver were not installed yet
    facts = replace(probed("ubuntu-22.04-mixed"), driver=DriverInfo())
    argv = driver_argv(facts)
    assert ("/usr/bin/apt-get", "install", "-y", "nvidia-driver-pinning-580") in argv
    assert not any("cuda-drivers-580" in a for a in argv)


# ---- F8: SUSE 580 uses the meta package ---------------------------------------------------------


def test_suse_pascal_gets_the_g06_meta_package(probed: Any) -> None:
    leap = probed("opensuse-leap-15.6-rtx3090")
    pascal = replace(
        leap,
        gpus=tuple(
            replace(g, device_id="1b80", name="", architecture="", compute_capability="")
            for g in leap.gpus
        ),
        driver=DriverInfo(),
    )
    pascal = replace(pascal, gpus=tuple(compat.enrich_gpu(g) for g in pascal.gpus))
    install = next(a for a in driver_argv(pascal) if "install" in a)
    assert "nvidia-driver-G06-kmp-meta" in install
    assert "nvidia-driver-G06-kmp-default" not in install


# ---- F2: NVSwitch boards ------------------------------------------------------------------------


def test_nvswitch_functions_are_read_from_sysfs_and_lspci(
    probed: Any, sysroot: Callable[[str], Path]
) -> None:
    facts = probed("ubuntu-22.04-hgx-h100")
    assert len(facts.gpus) == 8
    assert facts.nvswitches == ("0000:05:00.0", "0000:06:00.0", "0000:07:00.0", "0000:08:00.0")
    lspci = (sysroot("ubuntu-22.04-hgx-h100") / ".commands" / "lspci_-nn.out").read_text()
    assert parse_lspci_nvswitches(lspci) == facts.nvswitches
    # an A100 NVSwitch as lspci prints it; a GPU or an audio function is not one
    assert parse_lspci_nvswitches(
        "c1:00.0 Bridge [0680]: NVIDIA Corporation GA100 [A100 NVSwitch] [10de:1af1] (rev a1)\n"
        "01:00.1 Audio device [0403]: NVIDIA Corporation AD102 High Definition Audio Controller [10de:22ba]\n"
    ) == ("0000:c1:00.0",)
    assert parse_sysfs_nvswitch("0000:01:00.0", {"vendor": "0x10de", "class": "0x030200"}) == ""


def test_hgx_h100_with_kept_550_driver_plans_fabric_manager_at_that_version(probed: Any) -> None:
    facts = probed("ubuntu-22.04-hgx-h100")
    assert facts.driver.version == "550.163.01"
    assert not facts.fabric_manager.present
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    assert not plan.satisfied
    argv = {s.id: s.argv for s in plan.steps}
    assert argv["driver.fabricmanager"][-1] == "nvidia-fabricmanager-550"
    assert argv["driver.fabricmanager-enable"] == (
        "/usr/bin/systemctl",
        "enable",
        "--now",
        "nvidia-fabricmanager",
    )
    assert any("Fabric Manager" in r for r in plan.reasons)


def test_hgx_h100_fresh_install_enables_fabric_manager_before_the_reboot(probed: Any) -> None:
    facts = replace(probed("ubuntu-22.04-hgx-h100"), driver=DriverInfo())
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    assert (
        ids.index("driver.install") < ids.index("driver.fabricmanager") < ids.index("driver.reboot")
    )
    enable = next(s for s in plan.steps if s.id == "driver.fabricmanager-enable")
    assert "--now" not in enable.argv  # the old module is still loaded until the reboot


def test_hgx_b200_adds_nvlsm_and_rhel_uses_the_rpm_name(probed: Any) -> None:
    rocky = probed("rocky-9-t4")
    b200 = tuple(
        compat.enrich_gpu(
            replace(
                rocky.gpus[0],
                pci_address=f"0000:{i + 10:02x}:00.0",
                device_id="2901",
                name="",
                chip="",
                architecture="",
                compute_capability="",
            )
        )
        for i in range(8)
    )
    facts = replace(rocky, gpus=b200, driver=DriverInfo())
    install = next(a for a in driver_argv(facts) if a and a[-1] == "nvlsm")
    assert install[-2] == "nvidia-fabric-manager"


def test_check_shows_fabric_manager_only_on_nvswitch_boards(probed: Any) -> None:
    hgx = probed("ubuntu-22.04-hgx-h100")
    row = next(c for c in checks.run_checks(hgx) if c.id == "fabric_manager")
    assert row.status is Status.WARN and "not installed" in row.detail
    installed = replace(hgx, fabric_manager=Tool(present=True, version="550.163.01"))
    assert (
        next(c for c in checks.run_checks(installed) if c.id == "fabric_manager").status
        is Status.OK
    )
    wrong = replace(hgx, fabric_manager=Tool(present=True, version="550.127.05"))
    assert (
        next(c for c in checks.run_checks(wrong) if c.id == "fabric_manager").status is Status.FAIL
    )
    plain = probed("ubuntu-24.04-rtx4090")
    assert "fabric_manager" not in [c.id for c in checks.run_checks(plain)]


def test_installed_fabric_manager_leaves_a_fitting_driver_satisfied(probed: Any) -> None:
    facts = replace(
        probed("ubuntu-22.04-hgx-h100"), fabric_manager=Tool(present=True, version="550.163.01")
    )
    assert plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER).satisfied


# ---- F10 / F15: Kepler -------------------------------------------------------------------------


def test_kepler_beside_an_a100_plans_the_driver_for_the_a100(probed: Any) -> None:
    base = probed("ubuntu-22.04-hgx-h100")
    k80 = compat.enrich_gpu(
        replace(
            base.gpus[0],
            pci_address="0000:99:00.0",
            device_id="102d",
            name="",
            chip="",
            architecture="",
            compute_capability="",
        )
    )
    a100 = compat.enrich_gpu(
        replace(
            base.gpus[0], device_id="20b0", name="", chip="", architecture="", compute_capability=""
        )
    )
    facts = replace(base, gpus=(k80, a100), nvswitches=(), driver=DriverInfo())
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    assert any(s.id == "driver.install" for s in plan.steps)
    assert any("leaves it unused" in r for r in plan.reasons)


def test_kepler_alone_is_refused_with_the_true_reason(probed: Any) -> None:
    base = probed("ubuntu-22.04-hgx-h100")
    k80 = compat.enrich_gpu(
        replace(
            base.gpus[0], device_id="102d", name="", chip="", architecture="", compute_capability=""
        )
    )
    facts = replace(base, gpus=(k80,), nvswitches=(), driver=DriverInfo())
    import pytest

    from dlenv_tui.plan import PlanError

    with pytest.raises(PlanError, match="end-of-life") as err:
        plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    assert "no longer packaged" not in str(err.value)


# ---- F17 / F19: RHEL-family 8/9 use NVIDIA's documented stream form, with CRB before EPEL ---------


def test_rocky9_enables_the_module_stream_then_installs_the_driver_package(probed: Any) -> None:
    # NVIDIA Driver Installation Guide 620, "Kernel Modules" Table 5, RHEL/Rocky 8/9:
    #   dnf module enable nvidia-driver:open-dkms ; dnf install nvidia-open
    facts = replace(probed("rocky-9-t4"), driver=DriverInfo())  # before the driver is installed
    argv = driver_argv(facts)
    assert ("/usr/bin/dnf", "-y", "module", "enable", "nvidia-driver:open-dkms") in argv
    assert ("/usr/bin/dnf", "install", "-y", "nvidia-open") in argv
    assert not any(a[1:4] == ("-y", "module", "install") for a in argv)
    assert argv.index(("/usr/bin/dnf", "-y", "module", "enable", "nvidia-driver:open-dkms")) < (
        argv.index(("/usr/bin/dnf", "install", "-y", "nvidia-open"))
    )


def test_rocky9_enables_crb_before_epel(probed: Any) -> None:
    # EPEL's instructions enable CodeReady Builder with EPEL (its packages may depend on CRB)
    facts = replace(probed("rocky-9-t4"), driver=DriverInfo())
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    crb = plan.steps[ids.index("driver.crb")]
    assert crb.argv == ("/usr/bin/dnf", "config-manager", "--set-enabled", "crb")
    assert ids.index("driver.crb") < ids.index("driver.epel")
    assert crb.check[:2] == ("/usr/bin/grep", "-rqszP")


# ---- F9: Ubuntu + Secure Boot + Blackwell: the reboot check proves the open module ---------------


def test_ubuntu_secure_boot_blackwell_checks_for_the_open_module_after_reboot(probed: Any) -> None:
    # recorded RTX 5090 host (Ubuntu 24.04, Secure Boot on), before the driver is installed
    facts = replace(probed("doctor-rtx5090"), driver=DriverInfo())
    assert [g.device_id for g in facts.gpus] == ["2b85"] and facts.secure_boot.enabled
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    argv = {s.id: s.argv for s in plan.steps}
    assert argv["driver.install"][:3] == ("/usr/bin/ubuntu-drivers", "install", "--gpgpu")
    reboot = next(s for s in plan.steps if s.id == "driver.reboot")
    # not "any NVIDIA module": a proprietary module cannot drive Blackwell
    assert reboot.check == module_check(DriverFlavour.OPEN, "")
    assert any("checks that the open module is loaded" in r for r in plan.reasons)


def test_ubuntu_secure_boot_ada_still_accepts_either_flavour(probed: Any) -> None:
    facts = replace(probed("ubuntu-24.04-rtx4090"), driver=DriverInfo())
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    reboot = next(s for s in plan.steps if s.id == "driver.reboot")
    assert reboot.check == ("/usr/bin/test", "-e", "/proc/driver/nvidia/version")


# ---- F11: Fedora + Turing or newer: RPM Fusion's akmod-nvidia picks the open modules itself -------


def test_fedora44_a100_installs_akmod_nvidia_without_the_tainted_repository(probed: Any) -> None:
    # RPM Fusion's nvidia-kmod ships nvidia-kmod-noopen-checks: akmod-nvidia builds kernel-open
    # unless a GPU from nvidia-kmod-noopen-pciids.txt (pre-Turing) is present
    facts = probed("fedora-44-a100")
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    argv = {s.id: s.argv for s in plan.steps}
    assert argv["driver.install"] == (
        "/usr/bin/dnf",
        "install",
        "-y",
        "akmod-nvidia",
        "xorg-x11-drv-nvidia-cuda",
    )
    assert "driver.rpmfusion-tainted" not in argv
    assert not any("akmod-nvidia-open" in a for args in argv.values() for a in args)
    reboot = next(s for s in plan.steps if s.id == "driver.reboot")
    assert reboot.check == module_check(DriverFlavour.OPEN, "")


def test_fedora44_a100_proprietary_by_choice_switches_the_detection_off(probed: Any) -> None:
    facts = probed("fedora-44-a100")
    prof = recommended_profile("x", facts)
    prof = replace(prof, driver=replace(prof.driver, flavour=DriverFlavour.PROPRIETARY))
    plan = plan_stage(facts, prof, Stage.DRIVER)
    step = next(s for s in plan.steps if s.id == "driver.akmod-closed")
    assert step.file is not None and step.file.path == "/etc/rpm/macros.nvidia-kmod"
    assert "%_without_kmod_nvidia_detect 1" in step.file.content


# ---- F16: Debian 13 on aarch64: NVIDIA has no debian13/sbsa repository -----------------------------


def _debian13(probed: Callable[[str], HostFacts], arch: str) -> HostFacts:
    # the recorded Debian 12 + GTX 1080 host with trixie's os-release; a GH200-style Arm board for
    # aarch64 (an H100-class GPU, so the plan is about the repository, not the GPU)
    facts = probed("debian-12-gtx1080")
    distro = replace(facts.distro, version_id="13", codename="trixie", name="Debian GNU/Linux 13")
    if arch == "aarch64":
        gh = next(iter(probed("ubuntu-22.04-hgx-h100").gpus))
        return replace(facts, distro=distro, arch=arch, gpus=(gh,))
    return replace(facts, distro=distro)


def test_debian13_aarch64_is_refused_in_one_sentence_instead_of_a_404(probed: Any) -> None:
    import pytest

    from dlenv_tui.plan.steps import PlanError

    facts = _debian13(probed, "aarch64")
    with pytest.raises(PlanError, match=r"debian13/sbsa does not exist") as info:
        plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    assert "cuda-repo-management#39" in str(info.value)


def test_debian13_x86_64_still_uses_the_debian13_repository(probed: Any) -> None:
    facts = _debian13(probed, "x86_64")
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    dl = next(s for s in plan.steps if s.id == "driver.cuda-keyring-download")
    assert dl.download is not None and "/repos/debian13/x86_64/" in dl.download.url


# ---- F18: an id in the Blackwell-or-newer range that the table lacks (Rubin GR10x: 3000-30c0) -----


def _rubin(probed: Callable[[str], HostFacts]) -> HostFacts:
    # the recorded RTX 5090 host with its GPU's id replaced by one of the unknown 3000-30c0 ids
    facts = replace(probed("doctor-rtx5090"), driver=DriverInfo())
    gpu = replace(facts.gpus[0], device_id="3000", name="", chip="", architecture="")
    gpu = replace(gpu, compute_capability="")
    return replace(facts, gpus=(gpu,))


def test_an_unknown_blackwell_or_newer_id_gets_open_modules_and_the_newest_cuda(
    probed: Any,
) -> None:
    facts = _rubin(probed)
    advice = compat.driver_advice(facts.gpus)
    assert advice.open_required and advice.flavour is DriverFlavour.OPEN
    lo, hi = compat.cuda_for_gpus(facts.gpus).value
    newest = compat.image_cuda_versions()[0]
    assert (lo, hi) == (newest, newest)
    assert any("newer than Blackwell" in r for r in compat.cuda_for_gpus(facts.gpus).reasons)
    # the reboot check demands the open module, as for a known Blackwell GPU
    plan = plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)
    reboot = next(s for s in plan.steps if s.id == "driver.reboot")
    assert reboot.check == module_check(DriverFlavour.OPEN, "")
