"""Table-driven tests of the probe's pure parsers over real captured text, plus never-crash properties."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlenv_tui.model import Distro, DriverFlavour, Gpu, PkgFamily
from dlenv_tui.probe import driver, pci, secureboot, system, tools, user
from dlenv_tui.probe.host import command_key
from dlenv_tui.probe.nvml import cuda_version_text

# --------------------------------------------------------------------------------------------
# os-release

OS_RELEASE = [
    # (fixture tree, path, expected Distro, expected family)
    (
        "ubuntu-24.04-rtx4090",
        "usr/lib/os-release",
        Distro("ubuntu", "24.04", "noble", ("debian",), "Ubuntu 24.04.1 LTS"),
        PkgFamily.APT,
    ),
    (
        "ubuntu-22.04-mixed",
        "etc/os-release",
        Distro("ubuntu", "22.04", "jammy", ("debian",), "Ubuntu 22.04.4 LTS"),
        PkgFamily.APT,
    ),
    (
        "debian-12-nogpu",
        "etc/os-release",
        Distro("debian", "12", "bookworm", (), "Debian GNU/Linux 12 (bookworm)"),
        PkgFamily.APT,
    ),
    (
        "fedora-42-a100",
        "etc/os-release",
        # VERSION_CODENAME="" wins over VERSION's "(Server Edition)", as in the distro package.
        Distro("fedora", "42", "", (), "Fedora Linux 42 (Server Edition)"),
        PkgFamily.DNF,
    ),
    (
        "rocky-9-t4",
        "etc/os-release",
        Distro(
            "rocky", "9.5", "blue onyx", ("rhel", "centos", "fedora"), "Rocky Linux 9.5 (Blue Onyx)"
        ),
        PkgFamily.DNF,
    ),
    (
        "opensuse-leap-15.6-rtx3090",
        "etc/os-release",
        Distro("opensuse-leap", "15.6", "", ("suse", "opensuse"), "openSUSE Leap 15.6"),
        PkgFamily.ZYPPER,
    ),
    ("arch-rtx4090", "etc/os-release", Distro("arch", "", "", (), "Arch Linux"), PkgFamily.OTHER),
]


@pytest.mark.parametrize(
    ("tree", "path", "expected", "family"), OS_RELEASE, ids=lambda v: str(v)[:30]
)
def test_os_release_text_parses_to_the_distro(
    tree: str,
    path: str,
    expected: Distro,
    family: PkgFamily,
    sysroot: Callable[[str], Path],
) -> None:
    text = (sysroot(tree) / path).read_text()
    distro = system.distro_from_release(system.parse_os_release(text))
    assert distro == expected
    assert system.pkg_family_for(distro) is family


@pytest.mark.parametrize(
    ("tree", "path", "expected", "family"), OS_RELEASE, ids=lambda v: str(v)[:30]
)
def test_distro_package_with_root_dir_agrees_with_the_text_parser(
    tree: str,
    path: str,
    expected: Distro,
    family: PkgFamily,
    sysroot: Callable[[str], Path],
) -> None:
    from dlenv_tui.probe.host import LocalHost

    assert system.read_distro(LocalHost(sysroot(tree))) == expected


def test_os_release_quoting_comments_and_broken_lines() -> None:
    text = (
        "# a comment\n"
        "ID='single quoted'\n"
        'NAME="with \\"escaped\\" quotes"\n'
        'PRETTY_NAME="unclosed\n'
        "not a key value line\n"
        "=no key\n"
        "VERSION_ID=1.2 # trailing comment\n"
    )
    props = system.parse_os_release(text)
    assert props["id"] == "single quoted"
    assert props["name"] == 'with "escaped" quotes'
    assert props["pretty_name"] == "unclosed"
    assert props["version_id"] == "1.2"
    assert "" not in props


def test_old_os_release_codename_comes_from_version() -> None:
    distro = system.distro_from_release({"id": "debian", "version": "9 (stretch)"})
    assert distro.codename == "stretch"


@pytest.mark.parametrize(
    ("ident", "like", "family"),
    [
        ("linuxmint", ("ubuntu", "debian"), PkgFamily.APT),
        ("almalinux", ("rhel", "centos", "fedora"), PkgFamily.DNF),
        ("ol", ("fedora",), PkgFamily.DNF),
        ("sles", (), PkgFamily.ZYPPER),
        ("opensuse-tumbleweed", ("opensuse", "suse"), PkgFamily.ZYPPER),
        ("someos", ("debian",), PkgFamily.APT),
        ("alpine", (), PkgFamily.OTHER),
        ("nixos", (), PkgFamily.OTHER),
    ],
)
def test_pkg_family_from_id_then_like(ident: str, like: tuple[str, ...], family: PkgFamily) -> None:
    assert system.pkg_family_for(Distro(ident, like=like)) is family


# --------------------------------------------------------------------------------------------
# /proc/driver/nvidia/version, /proc/modules, /sys/module/nvidia/version

NVIDIA_VERSION = [
    (
        # Ubuntu 24.04, nvidia-driver-565-open (nix-community/nixGL#186)
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  565.57.01  Release Build  "
        "(dvs-builder@U16-A24-9-2)  Thu Oct 10 12:15:00 UTC 2024\n"
        "GCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n",
        "565.57.01",
        DriverFlavour.OPEN,
    ),
    (
        # Arch Linux, nvidia-open-dkms (nix-community/nixGL#121)
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  525.60.11  Release Build  "
        "(archlinux-builder@localhost)  \nGCC version:  gcc version 12.2.0 (GCC) \n",
        "525.60.11",
        DriverFlavour.OPEN,
    ),
    (
        # Jetson Orin NX (nix-community/nixGL#139): L4T's own version scheme, aarch64
        "NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  35.3.1  Release Build  "
        "(buildbrain@mobile-u64-6289-d7000)  Sun Mar 19 08:09:33 PDT 2023\n"
        "GCC version:  gcc version 9.3.0 (Buildroot 2020.08) \n",
        "35.3.1",
        DriverFlavour.OPEN,
    ),
    (
        # Gentoo, two-part version (hyprwm/Hyprland#6715)
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  555.58  Release Build  "
        "(portage@localhost)  Сб 29 июн 2024 14:36:22 MSK\n",
        "555.58",
        DriverFlavour.OPEN,
    ),
    (
        # Ubuntu, proprietary 384.98 (dylanaraps/neofetch#876)
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  384.98  Thu Oct 26 15:16:01 PDT 2017\n"
        "GCC version:  gcc version 7.2.0 (Ubuntu 7.2.0-8ubuntu3) \n",
        "384.98",
        DriverFlavour.PROPRIETARY,
    ),
    ("GCC version:  gcc version 12.2.0 (GCC)\n", "", None),
    ("", "", None),
]


@pytest.mark.parametrize(("text", "version", "flavour"), NVIDIA_VERSION)
def test_nvidia_version_file(text: str, version: str, flavour: DriverFlavour | None) -> None:
    assert driver.parse_nvidia_version(text) == (version, flavour)


def test_fixture_driver_files(sysroot: Callable[[str], Path]) -> None:
    prop = (sysroot("ubuntu-22.04-mixed") / "proc/driver/nvidia/version").read_text()
    assert driver.parse_nvidia_version(prop) == ("580.95.05", DriverFlavour.PROPRIETARY)
    mods = driver.parse_proc_modules((sysroot("fedora-42-a100") / "proc/modules").read_text())
    assert "nouveau" in mods and "nvidia" not in mods


def test_proc_modules() -> None:
    text = (
        "nvidia_uvm 1974272 0 - Live 0x0000000000000000 (PO)\n"
        "nvidia 60305408 3 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 (PO)\n"
        "\n"
        "i915 4218880 3 - Live 0x0000000000000000\n"
    )
    assert driver.parse_proc_modules(text) == {"nvidia_uvm", "nvidia", "i915"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("580.95.05\n", "580.95.05"), ("555.58", "555.58"), ("garbage\n", ""), ("", "")],
)
def test_module_version(text: str, expected: str) -> None:
    assert driver.parse_module_version(text) == expected


# --------------------------------------------------------------------------------------------
# Secure Boot

MOKUTIL = [
    ("SecureBoot enabled\n", True),
    ("SecureBoot disabled\n", False),
    ("SecureBoot disabled\nSecureBoot validation is disabled in shim\n", False),
    ("EFI variables are not supported on this system\n", None),
    ("This system doesn't support Secure Boot\n", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), MOKUTIL)
def test_mokutil_sb_state(text: str, expected: bool | None) -> None:
    assert secureboot.parse_mokutil(text) is expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("\x06\x00\x00\x00\x01", True),
        ("\x07\x00\x00\x00\x00", False),
        ("\x06\x00", None),
        ("\x06\x00\x00\x00\x05", None),
    ],
)
def test_efivar(data: str, expected: bool | None) -> None:
    assert secureboot.parse_efivar(data) is expected


# --------------------------------------------------------------------------------------------
# PCI


@pytest.fixture
def lspci_mixed(sysroot: Callable[[str], Path]) -> str:
    """``lspci -nn`` captured on the mixed-GPU Ubuntu 22.04 host."""
    return (sysroot("ubuntu-22.04-mixed") / ".commands" / "lspci_-nn.out").read_text()


def test_lspci_finds_display_functions_only(lspci_mixed: str) -> None:
    assert pci.parse_lspci(lspci_mixed) == (
        Gpu("0000:02:00.0", "1b80", name="GeForce GTX 1080", chip="GP104"),
        Gpu("0000:03:00.0", "2204", name="GeForce RTX 3090", chip="GA102"),
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "3b:00.0 3D controller [0302]: NVIDIA Corporation TU104GL [Tesla T4] [10de:1eb8] (rev a1)",
            Gpu("0000:3b:00.0", "1eb8", name="Tesla T4", chip="TU104GL"),
        ),
        (
            # pci.ids too old for the device: no name, no chip
            "0001:c1:00.0 VGA compatible controller [0300]: NVIDIA Corporation Device [10de:2b85] (rev a1)",
            Gpu("0001:c1:00.0", "2b85"),
        ),
        (
            "01:00.0 VGA compatible controller [0300]: NVIDIA Corporation GA102 [GeForce RTX 3080] "
            "[10de:2206] (rev a1) (prog-if 00 [VGA controller])",
            Gpu("0000:01:00.0", "2206", name="GeForce RTX 3080", chip="GA102"),
        ),
        (
            "00:02.0 VGA compatible controller [0300]: Intel Corporation CometLake-S GT2 "
            "[UHD Graphics 630] [8086:9bc5] (rev 05)",
            None,
        ),
        (
            "01:00.1 Audio device [0403]: NVIDIA Corporation AD102 High Definition Audio Controller [10de:22ba] (rev a1)",
            None,
        ),
    ],
)
def test_lspci_lines(line: str, expected: Gpu | None) -> None:
    assert pci.parse_lspci(line) == ((expected,) if expected else ())


SYSFS_4090 = {
    "vendor": "0x10de\n",
    "device": "0x2684\n",
    "class": "0x030000\n",
    "subsystem_vendor": "0x1043\n",
    "subsystem_device": "0x889d\n",
    "uevent": "DRIVER=nvidia\nPCI_CLASS=30000\nPCI_ID=10DE:2684\nPCI_SUBSYS_ID=1043:889D\n"
    "PCI_SLOT_NAME=0000:01:00.0\nMODALIAS=pci:v000010DEd00002684sv00001043sd0000889Dbc03sc00i00\n",
}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            SYSFS_4090,
            Gpu(
                "0000:01:00.0",
                "2684",
                subsystem_vendor="1043",
                subsystem_device="889d",
                bound_driver="nvidia",
            ),
        ),
        # only the uevent readable: PCI_ID and PCI_CLASS serve
        ({"uevent": SYSFS_4090["uevent"]}, Gpu("0000:01:00.0", "2684", bound_driver="nvidia")),
        # a 3D controller (class 0302), no driver bound
        (
            {"vendor": "0x10de", "device": "0x20f1", "class": "0x030200"},
            Gpu("0000:01:00.0", "20f1"),
        ),
        # its HDMI audio function, an NVSwitch bridge, an Intel GPU: not NVIDIA GPUs
        ({"vendor": "0x10de", "device": "0x22ba", "class": "0x040300"}, None),
        ({"vendor": "0x10de", "device": "0x1af1", "class": "0x068000"}, None),
        ({"vendor": "0x8086", "device": "0x9bc5", "class": "0x030000"}, None),
        ({"vendor": "garbage", "device": "0x2684", "class": "0x030000"}, None),
        ({}, None),
    ],
)
def test_sysfs_device(files: dict[str, str], expected: Gpu | None) -> None:
    assert pci.parse_sysfs_device("0000:01:00.0", files) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("01:00.0", "0000:01:00.0"),
        ("00000000:3B:00.0", "0000:3b:00.0"),  # NVML's 8-digit domain
        ("0001:c1:00.0", "0001:c1:00.0"),
    ],
)
def test_normalise_address(address: str, expected: str) -> None:
    assert pci.normalise_address(address) == expected


# --------------------------------------------------------------------------------------------
# Tools, users, NVML numbers, fixture keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Docker version 27.3.1, build ce12230\n", "27.3.1"),
        ("Docker version 20.10.24+dfsg1, build 297e128\n", "20.10.24+dfsg1"),
        ("Docker version 27.3.1, build 2.fc41\n", "27.3.1"),
        ("podman version 5.2.2\n", "5.2.2"),
        ("NVIDIA Container Toolkit CLI version 1.17.0\ncommit: 5bc0315448\n", "1.17.0"),
        ("command not found", ""),
    ],
)
def test_tool_versions(text: str, expected: str) -> None:
    assert tools.parse_version(text) == expected


def test_podman_docker_emulation() -> None:
    assert tools.is_podman_emulation("podman version 4.9.3\n")
    assert not tools.is_podman_emulation("Docker version 27.3.1, build ce12230\n")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "uid=1000(alice) gid=1000(alice) groups=1000(alice),4(adm),27(sudo),988(docker)\n",
            (1000, "alice", 1000, ("alice", "adm", "sudo", "docker")),
        ),
        ("uid=0(root) gid=0(root) groups=0(root)\n", (0, "root", 0, ("root",))),
        # a uid without a passwd entry (containers started with --user 1234)
        ("uid=1234 gid=0(root) groups=0(root)\n", (1234, "", 0, ("root",))),
        ("id: cannot find name for user ID 5\n", None),
    ],
)
def test_id_output(text: str, expected: tuple[int, str, int, tuple[str, ...]] | None) -> None:
    assert user.parse_id(text) == expected


def test_group_membership_and_home() -> None:
    group = "root:x:0:\nsudo:x:27:alice,bob\ndocker:x:988:bob\nalice:x:1000:\n#junk\nbroken\n"
    assert user.parse_group_members(group, "alice", 1000) == ("sudo", "alice")
    assert user.parse_group_members(group, "bob", 1001) == ("sudo", "docker")
    passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
    assert user.parse_passwd_home(passwd, "alice") == "/home/alice"
    assert user.parse_passwd_home(passwd, "nobody") == ""


@pytest.mark.parametrize(
    ("value", "text"), [(13000, "13.0"), (12090, "12.9"), (12080, "12.8"), (11040, "11.4"), (0, "")]
)
def test_cuda_driver_version_text(value: int, text: str) -> None:
    assert cuda_version_text(value) == text


@pytest.mark.parametrize(
    ("argv", "key"),
    [
        (["mokutil", "--sb-state"], "mokutil_--sb-state"),
        (["/usr/bin/lspci", "-nn"], "lspci_-nn"),
        (["sudo", "-n", "true"], "sudo_-n_true"),
        (["cat", "/etc/a b"], "cat_%2Fetc%2Fa%20b"),
    ],
)
def test_command_key(argv: list[str], key: str) -> None:
    assert command_key(argv) == key


# --------------------------------------------------------------------------------------------
# No parser crashes on arbitrary text (the host's files are not ours to trust).

TEXT = st.text(max_size=300)
PARSERS = [
    system.parse_os_release,
    lambda t: system.distro_from_release(system.parse_os_release(t)),
    driver.parse_nvidia_version,
    driver.parse_proc_modules,
    driver.parse_module_version,
    secureboot.parse_mokutil,
    secureboot.parse_efivar,
    pci.parse_lspci,
    pci.parse_uevent,
    pci.normalise_address,
    tools.parse_version,
    user.parse_id,
    lambda t: user.parse_group_members(t, "alice", 1000),
    lambda t: user.parse_passwd_home(t, "alice"),
]


@settings(max_examples=60, deadline=None)
@given(text=TEXT, which=st.integers(0, len(PARSERS) - 1))
def test_parsers_never_crash(text: str, which: int) -> None:
    PARSERS[which](text)


@settings(max_examples=60, deadline=None)
@given(
    files=st.dictionaries(st.sampled_from(pci.SYSFS_FILES), st.one_of(st.none(), TEXT), max_size=6),
    address=st.text(max_size=20),
)
def test_sysfs_parser_never_crashes(files: dict[str, str | None], address: str) -> None:
    gpu = pci.parse_sysfs_device(address, files)
    if gpu is not None:
        assert len(gpu.device_id) == 4


@settings(max_examples=40, deadline=None)
@given(
    prefix=st.text(alphabet=st.characters(blacklist_characters="\n"), max_size=40),
    version=st.from_regex(r"[1-9]\d{2}\.\d{1,3}(\.\d{2})?", fullmatch=True),
)
def test_open_flavour_and_version_survive_any_build_tail(prefix: str, version: str) -> None:
    line = f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {version}  Release Build  ({prefix})\n"
    assert driver.parse_nvidia_version(line) == (version, DriverFlavour.OPEN)
