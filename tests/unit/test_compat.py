"""Compat decisions as tables: GPUs → driver flavour and CUDA range, drivers → CUDA, image tags, wheels, distros."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlenv_tui import compat
from dlenv_tui.compat import CompatError
from dlenv_tui.model import Distro, DriverFlavour, Gpu, ImageVariant

OPEN = DriverFlavour.OPEN
PROP = DriverFlavour.PROPRIETARY


def gpus(*device_ids: str) -> tuple[Gpu, ...]:
    return tuple(
        Gpu(pci_address=f"0000:{i + 1:02x}:00.0", device_id=d) for i, d in enumerate(device_ids)
    )


# --------------------------------------------------------------------------------------------
# PCI table

PCI_CASES = [
    # (name, input, (name, chip, architecture, cc))
    ("rtx 4090 bare", "2684", ("GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")),
    ("rtx 4090 0x", "0x2684", ("GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")),
    ("rtx 4090 vendor:device", "10de:2684", ("GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")),
    ("lspci brackets upper", "[10DE:2684]", ("GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")),
    ("nvml combined id", "0x268410DE", ("GeForce RTX 4090", "AD102", "Ada Lovelace", "8.9")),
    ("a100", "20b0", ("A100 SXM4 40GB", "GA100", "Ampere", "8.0")),
    ("h100 sxm5", "2330", ("H100 SXM5 80GB", "GH100", "Hopper", "9.0")),
    ("b200", "2901", ("B200", "GB100", "Blackwell", "10.0")),
    ("b300", "3182", ("B300 SXM6 AC", "GB110", "Blackwell", "10.3")),
    ("rtx 5090", "2b85", ("GeForce RTX 5090", "GB202", "Blackwell", "12.0")),
    ("gtx 1080", "1b80", ("GeForce GTX 1080", "GP104", "Pascal", "6.1")),
    ("v100", "1db4", ("Tesla V100 PCIe 16GB", "GV100", "Volta", "7.0")),
    ("t4", "1eb8", ("Tesla T4", "TU104", "Turing", "7.5")),
    ("rtx 3090", "2204", ("GeForce RTX 3090", "GA102", "Ampere", "8.6")),
    ("l4", "27b8", ("L4", "AD104", "Ada Lovelace", "8.9")),
    ("kepler has no cc", "1004", ("GeForce GTX 780", "GK110", "Kepler", "")),
]


@pytest.mark.parametrize(
    ("name", "device_id", "expected"), PCI_CASES, ids=[c[0] for c in PCI_CASES]
)
def test_lookup_pci(name: str, device_id: str, expected: tuple[str, str, str, str]) -> None:
    info = compat.lookup_pci(device_id)
    assert info is not None
    assert (info.name, info.chip, info.architecture, info.compute_capability) == expected
    assert len(info.device_id) == 4


@pytest.mark.parametrize(
    "device_id",
    [
        "",
        "zzzz",
        "8086:2684",  # another vendor's id with the same digits
        "26841",
        "0x",
        "10de:",
        "ffff",  # not in pci.ids
        "10f0",  # an HDMI-audio function, flagged non-GPU in the reference
    ],
)
def test_lookup_pci_unknown(device_id: str) -> None:
    assert compat.lookup_pci(device_id) is None


def test_open_module_and_grace_flags() -> None:
    assert compat.lookup_pci("2684").open_module  # type: ignore[union-attr]
    assert not compat.lookup_pci("1b80").open_module  # type: ignore[union-attr]
    assert compat.lookup_pci("2342").grace  # type: ignore[union-attr]
    assert not compat.lookup_pci("2330").grace  # type: ignore[union-attr]


def test_enrich_fills_only_empty_fields() -> None:
    bare = Gpu(pci_address="0000:01:00.0", device_id="2684")
    full = compat.enrich_gpu(bare)
    assert (full.name, full.chip, full.architecture, full.compute_capability) == (
        "GeForce RTX 4090",
        "AD102",
        "Ada Lovelace",
        "8.9",
    )
    nvml = Gpu(pci_address="0000:01:00.0", device_id="2684", name="NVIDIA GeForce RTX 4090")
    assert compat.enrich_gpu(nvml).name == "NVIDIA GeForce RTX 4090"
    # Unknown id with an NVML compute capability: the architecture comes from the CC.
    unknown = Gpu(pci_address="0000:01:00.0", device_id="ffff", compute_capability="12.0")
    assert compat.enrich_gpu(unknown).architecture == "Blackwell"
    nothing = Gpu(pci_address="0000:01:00.0", device_id="ffff")
    assert compat.enrich_gpu(nothing) == nothing


# --------------------------------------------------------------------------------------------
# Driver flavour and CUDA range per host (issue 2 acceptance)

HOSTS = [
    # (name, device ids, flavour, branch, open_required, proprietary_required, max_cuda, (min, max) CUDA)
    ("RTX 4090", ("2684",), OPEN, "", False, False, "", ("11.8", "13.3")),
    ("A100", ("20b0",), OPEN, "", False, False, "", ("11.0", "13.3")),
    ("H100", ("2330",), OPEN, "", False, False, "", ("11.8", "13.3")),
    ("B200", ("2901",), OPEN, "", True, False, "", ("12.8", "13.3")),
    ("B300 (sm_103)", ("3182",), OPEN, "", True, False, "", ("12.9", "13.3")),
    ("RTX 5090", ("2b85",), OPEN, "", True, False, "", ("12.8", "13.3")),
    ("GH200", ("2342",), OPEN, "", True, False, "", ("11.8", "13.3")),
    ("GTX 1080", ("1b80",), PROP, "580", False, True, "12.9", ("11.0", "12.9")),
    ("Tesla V100", ("1db4",), PROP, "580", False, True, "12.9", ("11.0", "12.9")),
    ("T4", ("1eb8",), OPEN, "", False, False, "", ("11.0", "13.3")),
    ("GTX 1080 + RTX 3090", ("1b80", "2204"), PROP, "580", False, True, "12.9", ("11.1", "12.9")),
    ("2x RTX 4090", ("2684", "2684"), OPEN, "", False, False, "", ("11.8", "13.3")),
    ("T4 + B200", ("1eb8", "2901"), OPEN, "", True, False, "", ("12.8", "13.3")),
]


@pytest.mark.parametrize(
    ("name", "ids", "flavour", "branch", "open_req", "prop_req", "max_cuda", "cuda_range"),
    HOSTS,
    ids=[h[0] for h in HOSTS],
)
def test_host_decision_table(
    name: str,
    ids: tuple[str, ...],
    flavour: DriverFlavour,
    branch: str,
    open_req: bool,
    prop_req: bool,
    max_cuda: str,
    cuda_range: tuple[str, str],
) -> None:
    host = gpus(*ids)
    advice = compat.driver_advice(host)
    assert advice.flavour is flavour
    assert advice.branch == branch
    assert advice.open_required is open_req
    assert advice.proprietary_required is prop_req
    assert advice.max_cuda == max_cuda
    assert not advice.conflict
    assert advice.reasons and all(r.endswith(".") for r in advice.reasons)
    assert compat.cuda_for_gpus(host).value == cuda_range
    usable = compat.usable_cuda_versions(host).value
    assert usable[0] == cuda_range[1]
    assert usable[-1] == cuda_range[0]


def test_identical_gpus_do_not_repeat_reasons() -> None:
    one, two = compat.driver_advice(gpus("2684")), compat.driver_advice(gpus("2684", "2684"))
    assert one.reasons == two.reasons
    assert (
        compat.cuda_for_gpus(gpus("1b80", "1b80")).reasons
        == compat.cuda_for_gpus(gpus("1b80")).reasons
    )


def test_pascal_reason_reads_as_a_sentence() -> None:
    advice = compat.driver_advice(gpus("1b80"))
    assert advice.reasons[0] == (
        "The GeForce GTX 1080 is a Pascal GPU (compute capability 6.1): it needs the proprietary "
        "driver, and the 580 branch is the last that supports it."
    )


def test_mixed_host_says_why_proprietary() -> None:
    advice = compat.driver_advice(gpus("1b80", "2204"))
    assert any("mixes GPUs older than Turing" in r for r in advice.reasons)


def test_pascal_plus_blackwell_is_a_conflict() -> None:
    advice = compat.driver_advice(gpus("1b80", "2b85"))
    assert advice.conflict
    assert advice.open_required and advice.proprietary_required
    assert advice.flavour is PROP and advice.branch == "580"
    conflict = next(r for r in advice.reasons if r.startswith("Conflict"))
    assert "GeForce GTX 1080" in conflict and "GeForce RTX 5090" in conflict


def test_no_gpu_defaults_to_open_and_says_so() -> None:
    advice = compat.driver_advice(())
    assert advice.flavour is OPEN and not advice.open_required
    assert "No NVIDIA GPU" in advice.reasons[0]
    assert compat.cuda_for_gpus(()).value == ("11.0", "13.3")


def test_kepler_only_host_is_the_470_branch() -> None:
    advice = compat.driver_advice(gpus("1004"))
    assert (advice.flavour, advice.branch, advice.max_cuda) == (PROP, "470", "11.4")
    usable = compat.usable_cuda_versions(gpus("1004"))
    assert usable.value[0] == "11.4"
    assert any("470 driver branch" in r for r in usable.reasons)


def test_fermi_host_has_no_usable_driver_or_cuda() -> None:
    fermi = gpus("0de1")  # GeForce GT 430
    advice = compat.driver_advice(fermi)
    assert (advice.flavour, advice.branch, advice.max_cuda) == (PROP, "", "")
    assert "No driver dlenv can install" in advice.reasons[-1]
    assert compat.cuda_for_gpus(fermi).value == ("", "")
    assert compat.usable_cuda_versions(fermi).value == ()


def test_kepler_beside_a_new_gpu_is_left_out() -> None:
    advice = compat.driver_advice(gpus("1004", "2684"))
    # F10: the driver for the RTX 4090 ignores the Kepler GPU, as the reason says: no conflict
    assert advice.flavour is OPEN and not advice.conflict
    assert any("leaves it unused" in r for r in advice.reasons)
    assert compat.cuda_for_gpus(gpus("1004", "2684")).value == ("11.8", "13.3")


@pytest.mark.parametrize(
    ("device_id", "flavour", "branch"),
    [("2fff", OPEN, ""), ("1d00", PROP, "580"), ("12ff", PROP, "470")],
)
def test_unknown_ids_fall_back_to_the_id_ranges(
    device_id: str, flavour: DriverFlavour, branch: str
) -> None:
    assert compat.lookup_pci(device_id) is None
    advice = compat.driver_advice(gpus(device_id))
    assert (advice.flavour, advice.branch) == (flavour, branch)
    assert "not in dlenv's GPU table" in advice.reasons[0]


# --------------------------------------------------------------------------------------------
# Driver → CUDA

DRIVERS = [
    # (name, driver, full view, minor-compat view)
    ("R470 (11.4 U3/U4)", "470.82.01", "11.4", "11.8"),
    ("R535 (12.2 U2)", "535.104.05", "12.2", "12.9"),
    ("R550 GA floor", "550.54.14", "12.4", "12.9"),
    ("R570 12.8 GA, two-part version", "570.26", "12.8", "12.9"),
    ("R575 just below 12.9 GA", "575.51.02", "12.8", "12.9"),
    ("R580 13.0 U2", "580.95.05", "13.0", "13.4"),
    ("R580 exactly the 13.0 floor", "580.65.06", "13.0", "13.4"),
    ("R590 13.1", "590.44.01", "13.1", "13.4"),
    ("R595 13.2 U2", "595.71.05", "13.2", "13.4"),
    ("R610 13.3 (secondary)", "610.43.02", "13.3", "13.4"),
    ("R615 13.4 U1 (secondary)", "615.71.09", "13.4", "13.4"),
    ("R615 just below 13.4 U1", "615.71.08", "13.3", "13.4"),
    ("padded with spaces", "  560.35.03\n", "12.6", "12.9"),
    ("R450 before the 11.x minor floor", "450.51.06", "11.0", "11.0"),
    ("too old", "440.100", "", ""),
]


@pytest.mark.parametrize(("name", "driver", "full", "minor"), DRIVERS, ids=[d[0] for d in DRIVERS])
def test_max_cuda_for_driver(name: str, driver: str, full: str, minor: str) -> None:
    decision = compat.max_cuda_for_driver(driver)
    assert decision.value == full
    assert decision.reasons
    if full:  # both views, every time
        assert any("minor-version" in r.lower() for r in decision.reasons)
    assert compat.max_cuda_minor_compat(driver) == minor


def test_driver_reasons_give_both_views() -> None:
    reasons = compat.max_cuda_for_driver("535.104.05").reasons
    assert reasons[0] == "Driver 535.104.05 fully supports CUDA 12.2 (which needs 535.54.03)."
    assert any("minor-version compatibility" in r and "12.9" in r for r in reasons)
    assert any("CUDA 12.3 needs driver 545.23.06" in r for r in reasons)


def test_unverified_row_is_flagged() -> None:
    assert any("secondary sources" in r for r in compat.max_cuda_for_driver("610.43.02").reasons)


@pytest.mark.parametrize("text", ["", "580", "abc", "580.95.05.1", "5.8", "-580.95", "580,95"])
def test_max_cuda_for_driver_rejects_non_versions(text: str) -> None:
    with pytest.raises(CompatError):
        compat.max_cuda_for_driver(text)


def test_usable_versions_follow_the_driver() -> None:
    rtx4090 = gpus("2684")
    assert compat.usable_cuda_versions(rtx4090, "580.95.05").value[0] == "13.0"
    assert compat.usable_cuda_versions(rtx4090, "570.26").value[0] == "12.8"
    # A Blackwell GPU with a driver older than 12.8: nothing fits.
    assert compat.usable_cuda_versions(gpus("2b85"), "560.35.03").value == ()
    with pytest.raises(CompatError):
        compat.usable_cuda_versions(rtx4090, "not-a-driver")


def test_usable_versions_filtered_by_image_always_have_that_image() -> None:
    for variant in ImageVariant:
        for cudnn in (False, True):
            for ubuntu in ("22.04", "24.04"):
                found = compat.usable_cuda_versions(
                    gpus("2684"), "595.71.05", variant=variant, cudnn=cudnn, ubuntu=ubuntu
                ).value
                if variant is ImageVariant.BASE and cudnn:
                    assert found == ()
                    continue
                assert found, (variant, cudnn, ubuntu)
                for cuda in found:
                    compat.image_tag(cuda, variant, cudnn, ubuntu)  # must not raise


# --------------------------------------------------------------------------------------------
# cuDNN

CUDNN = [
    # (name, cuda, device ids, expected major)
    ("ada on 12.8", "12.8", ("2684",), "9"),
    ("blackwell on 13.0", "13.0", ("2b85",), "9"),
    ("b300 on 12.9 (10.0 kernels run on 10.3)", "12.9", ("3182",), "9"),
    ("pascal on 12.8 (cuDNN 9.10)", "12.8", ("1b80",), "9"),
    ("pascal on 13.0: not in the 13.x matrix", "13.0", ("1b80",), ""),
    ("12.2 images carry cuDNN 8", "12.2", ("2204",), "8"),
    ("11.8 images carry cuDNN 8", "11.8", ("20b0",), "8"),
    ("12.3 images carry cuDNN 9", "12.3", ("20b0",), "9"),
    ("no gpu", "13.2", (), "9"),
]


@pytest.mark.parametrize(("name", "cuda", "ids", "expected"), CUDNN, ids=[c[0] for c in CUDNN])
def test_cudnn_for(name: str, cuda: str, ids: tuple[str, ...], expected: str) -> None:
    decision = compat.cudnn_for(cuda, gpus(*ids))
    assert decision.value == expected
    assert decision.reasons


def test_cudnn_warns_about_the_last_release_for_pascal() -> None:
    assert any("9.10" in r for r in compat.cudnn_for("12.8", gpus("1b80")).reasons)


# --------------------------------------------------------------------------------------------
# nvidia/cuda image tags

RUNTIME, DEVEL, BASE = ImageVariant.RUNTIME, ImageVariant.DEVEL, ImageVariant.BASE
TAGS = [
    # (name, (cuda, variant, cudnn, ubuntu), expected tag)
    (
        "12.8 cudnn runtime 24.04",
        ("12.8", RUNTIME, True, "24.04"),
        "12.8.1-cudnn-runtime-ubuntu24.04",
    ),
    (
        "13.0 cudnn devel: newest patch",
        ("13.0", DEVEL, True, "24.04"),
        "13.0.3-cudnn-devel-ubuntu24.04",
    ),
    (
        "13.0 runtime: the newest patch, never the superseded 13.0.0 (F5)",
        ("13.0", RUNTIME, False, "24.04"),
        "13.0.3-runtime-ubuntu24.04",
    ),
    ("13.2 cudnn devel 22.04", ("13.2", DEVEL, True, "22.04"), "13.2.1-cudnn-devel-ubuntu22.04"),
    ("12.6 base", ("12.6", BASE, False, "24.04"), "12.6.3-base-ubuntu24.04"),
    ("12.3 cudnn9 naming", ("12.3", RUNTIME, True, "22.04"), "12.3.2-cudnn9-runtime-ubuntu22.04"),
    ("12.2 cudnn8 naming", ("12.2", DEVEL, True, "22.04"), "12.2.2-cudnn8-devel-ubuntu22.04"),
    ("exact patch", ("12.8.0", DEVEL, True, "24.04"), "12.8.0-cudnn-devel-ubuntu24.04"),
    (
        "ubuntu prefix accepted",
        ("12.9", RUNTIME, False, "ubuntu22.04"),
        "12.9.1-runtime-ubuntu22.04",
    ),
    ("11.8 on 20.04", ("11.8", RUNTIME, True, "20.04"), "11.8.0-cudnn8-runtime-ubuntu20.04"),
]


@pytest.mark.parametrize(("name", "args", "expected"), TAGS, ids=[t[0] for t in TAGS])
def test_image_tag(name: str, args: tuple[str, ImageVariant, bool, str], expected: str) -> None:
    decision = compat.image_tag(*args)
    assert decision.value == f"nvidia/cuda:{expected}"
    assert decision.reasons


MISSING_TAGS = [
    ("13.x has no 20.04", ("13.0", RUNTIME, False, "20.04")),
    ("12.5 has no cudnn on 24.04", ("12.5", RUNTIME, True, "24.04")),
    ("no cudnn base", ("12.8", BASE, True, "24.04")),
    ("13.3 has no 22.04 tags", ("13.3", RUNTIME, True, "22.04")),
    ("no such cuda", ("12.7", RUNTIME, False, "24.04")),
    ("no such ubuntu", ("12.8", RUNTIME, False, "23.10")),
    ("unknown patch", ("12.8.9", DEVEL, True, "24.04")),
    ("13.4 left out: no verified driver row", ("13.4", RUNTIME, True, "26.04")),
    ("not a version", ("latest", RUNTIME, False, "24.04")),
]


@pytest.mark.parametrize(("name", "args"), MISSING_TAGS, ids=[t[0] for t in MISSING_TAGS])
def test_image_tag_missing(name: str, args: tuple[str, ImageVariant, bool, str]) -> None:
    with pytest.raises(CompatError):
        compat.image_tag(*args)


@pytest.mark.parametrize(
    ("cuda", "expected"),
    [
        ("13.0", ("24.04", "22.04")),
        ("12.8", ("24.04", "22.04", "20.04")),
        ("12.4", ("22.04", "20.04")),
        ("12.7", ()),
        ("", ()),
        ("latest", ()),
    ],
)
def test_ubuntu_releases_for(cuda: str, expected: tuple[str, ...]) -> None:
    assert compat.ubuntu_releases_for(cuda) == expected


# --------------------------------------------------------------------------------------------
# PyTorch

TORCH = [
    # (name, cuda, device ids, index suffix)
    # F12/F14: any index of the image's CUDA major runs by minor-version compatibility, so the one
    # with the newest torch in the data wins (2.14 has cu126 but no cu128 wheels in cuda.json)
    ("12.8 takes cu126 for its newer torch", "12.8", (), "cu126"),
    ("exact cu126", "12.6", (), "cu126"),
    ("13.1 falls back to cu130", "13.1", (), "cu130"),
    ("13.2", "13.2", (), "cu132"),
    ("12.5 moves up to cu126", "12.5", (), "cu126"),
    ("F14: 12.2 image on an A100 gets cu126", "12.2", ("20b0",), "cu126"),
    # F6: never cu102 (no sm_80/sm_86 kernels) for a CUDA 11.0-11.2 image
    ("F6: 11.0 on an A100", "11.0", ("20b0",), "cu118"),
    ("F6: 11.1 on an RTX 3090", "11.1", ("2204",), "cu118"),
    ("F6: 11.2", "11.2", (), "cu118"),
    ("11.8", "11.8", (), "cu118"),
    ("patch version", "12.8.1", (), "cu126"),
    ("pascal on 12.8 gets cu126", "12.8", ("1b80",), "cu126"),
    ("volta on 12.9 gets cu126", "12.9", ("1db4",), "cu126"),
    ("pascal on 12.4 gets cu126", "12.4", ("1b80",), "cu126"),
    ("blackwell on 12.8", "12.8", ("2b85",), "cu128"),
]


@pytest.mark.parametrize(("name", "cuda", "ids", "suffix"), TORCH, ids=[t[0] for t in TORCH])
def test_pytorch_index(name: str, cuda: str, ids: tuple[str, ...], suffix: str) -> None:
    decision = compat.pytorch_index(cuda, gpus(*ids))
    assert decision.value == f"https://download.pytorch.org/whl/{suffix}"
    assert decision.reasons


@pytest.mark.parametrize("cuda", ["9.0", "10.1", "x"])
def test_pytorch_index_without_wheels(cuda: str) -> None:
    with pytest.raises(CompatError):
        compat.pytorch_index(cuda)


# --------------------------------------------------------------------------------------------
# Distributions (issue 3)

DISTROS = [
    # (name, Distro, key, family, supported)
    (
        "ubuntu 24.04",
        Distro("ubuntu", "24.04", "noble", ("debian",)),
        "ubuntu-24.04",
        "ubuntu",
        True,
    ),
    (
        "ubuntu 22.04",
        Distro("ubuntu", "22.04", "jammy", ("debian",)),
        "ubuntu-22.04",
        "ubuntu",
        True,
    ),
    (
        "ubuntu 20.04",
        Distro("ubuntu", "20.04", "focal", ("debian",)),
        "ubuntu-20.04",
        "ubuntu",
        False,
    ),
    ("debian 12", Distro("debian", "12", "bookworm"), "debian-12", "debian", True),
    ("debian 13", Distro("debian", "13", "trixie"), "debian-13", "debian", True),
    ("debian 11", Distro("debian", "11", "bullseye"), "debian-11", "debian", False),
    ("debian sid", Distro("debian", ""), "debian", "debian", False),
    ("fedora 43", Distro("fedora", "43"), "fedora-43", "fedora", True),
    ("fedora 42", Distro("fedora", "42"), "fedora-42", "fedora", True),
    ("fedora 41", Distro("fedora", "41"), "fedora-41", "fedora", False),
    ("rhel 9.4", Distro("rhel", "9.4", like=("fedora",)), "rhel-9", "rhel", True),
    ("rhel 10.0", Distro("rhel", "10.0", like=("fedora",)), "rhel-10", "rhel", True),
    ("rhel 7", Distro("rhel", "7.9", like=("fedora",)), "rhel-7", "rhel", False),
    ("rocky 9", Distro("rocky", "9.6", like=("rhel", "centos", "fedora")), "rocky-9", "rhel", True),
    (
        "rocky 8",
        Distro("rocky", "8.10", like=("rhel", "centos", "fedora")),
        "rocky-8",
        "rhel",
        True,
    ),
    (
        "alma 10",
        Distro("almalinux", "10.0", like=("rhel", "centos", "fedora")),
        "almalinux-10",
        "rhel",
        True,
    ),
    (
        "centos stream 9",
        Distro("centos", "9", like=("rhel", "fedora")),
        "centos-stream-9",
        "rhel",
        True,
    ),
    (
        "centos stream 10",
        Distro("centos", "10", like=("rhel", "fedora")),
        "centos-stream-10",
        "rhel",
        True,
    ),
    ("centos linux 7", Distro("centos", "7", like=("rhel", "fedora")), "centos-7", "rhel", False),
    (
        "leap 15.6",
        Distro("opensuse-leap", "15.6", like=("suse", "opensuse")),
        "opensuse-leap-15",
        "suse",
        True,
    ),
    (
        "leap 16.0",
        Distro("opensuse-leap", "16.0", like=("suse", "opensuse")),
        "opensuse-leap-16",
        "suse",
        True,
    ),
    (
        "tumbleweed",
        Distro("opensuse-tumbleweed", "20260101", like=("opensuse", "suse")),
        "opensuse-tumbleweed",
        "suse",
        True,
    ),
    ("sles 15 sp6", Distro("sles", "15.6", like=("suse",)), "sles-15", "suse", True),
    ("arch", Distro("arch", "", name="Arch Linux"), "arch", "", False),
    (
        "mint (ubuntu-like)",
        Distro("linuxmint", "22", like=("ubuntu", "debian")),
        "linuxmint-22",
        "ubuntu",
        False,
    ),
    ("oracle linux", Distro("ol", "9.4", like=("fedora",)), "ol-9.4", "fedora", False),
    ("empty os-release", Distro(""), "unknown", "", False),
]


@pytest.mark.parametrize(
    ("name", "distro", "key", "family", "supported"), DISTROS, ids=[d[0] for d in DISTROS]
)
def test_distro_support(name: str, distro: Distro, key: str, family: str, supported: bool) -> None:
    result = compat.distro_support(distro)
    assert (result.key, result.family, result.supported) == (key, family, supported)
    if supported:
        assert "supported" in result.reason
    else:
        assert result.reason.startswith("unsupported: ")
        assert result.reason.endswith("supported: " + compat.SUPPORTED_DISTROS_TEXT)


def test_unsupported_reason_names_the_pretty_name() -> None:
    reason = compat.distro_support(Distro("arch", name="Arch Linux")).reason
    assert reason.startswith(
        "unsupported: Arch Linux; supported: Ubuntu 22.04/24.04/26.04, Debian 12/13"
    )


# --------------------------------------------------------------------------------------------
# Arbitrary input never crashes: a result or CompatError

SMALL = settings(max_examples=150, deadline=None)
VERSIONISH = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"\s?[0-9]{1,4}(\.[0-9]{1,3}){0,3}\s?", fullmatch=True),
)


@SMALL
@given(st.one_of(st.text(max_size=16), st.from_regex(r"(0x|10de:)?[0-9a-fA-F]{4}", fullmatch=True)))
def test_lookup_pci_never_crashes(text: str) -> None:
    info = compat.lookup_pci(text)
    if info is not None:
        assert compat.lookup_pci(info.device_id) == info


@SMALL
@given(VERSIONISH)
def test_max_cuda_for_driver_never_crashes(text: str) -> None:
    try:
        decision = compat.max_cuda_for_driver(text)
    except CompatError:
        return
    assert decision.reasons
    if decision.value:
        # a CUDA release with images, or one the driver table knows before the image data does
        known = {".".join(map(str, xy)) for xy, _need, _ok in compat._toolkit_minimums()}
        assert decision.value in compat.image_cuda_versions() or decision.value in known


@SMALL
@given(VERSIONISH)
def test_cuda_functions_never_crash(text: str) -> None:
    for call in (
        lambda: compat.pytorch_index(text),
        lambda: compat.image_tag(text, ImageVariant.RUNTIME, True, "24.04"),
        lambda: compat.ubuntu_releases_for(text),
        lambda: compat.cudnn_for(text, gpus("2684")),
    ):
        with contextlib.suppress(CompatError):
            call()


@SMALL
@given(st.text(max_size=12), st.text(max_size=8), st.lists(st.text(max_size=8), max_size=3))
def test_distro_support_never_crashes(ident: str, version: str, like: list[str]) -> None:
    result = compat.distro_support(Distro(ident, version, like=tuple(like)))
    assert result.supported or result.reason.startswith("unsupported: ")
