"""The tables in assets/data: well-formed, consistent with each other, reproducible, and loaded lazily."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui import compat
from dlenv_tui.locations import asset


@pytest.fixture
def reference(repo_root: Path) -> Path:
    """The research reference beside this checkout (``../shared/reference``); skips without it."""
    path = repo_root.parent / "shared" / "reference"
    if not path.is_dir():
        pytest.skip("the research reference is not beside this checkout")
    return path


DATA_FILES = ["pci_devices.json", "cuda.json", "distros.json", "nvidia_repos.json"]


def load(name: str) -> Any:
    return json.loads(asset("data", name).read_text(encoding="utf-8"))


def vkey(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def test_every_data_file_is_named_in_sources() -> None:
    sources = asset("data", "SOURCES.md").read_text(encoding="utf-8")
    shipped = sorted(p.name for p in asset("data").glob("*.json"))
    assert shipped == sorted(DATA_FILES)
    for name in shipped:
        assert f"`{name}`" in sources


def test_data_is_small() -> None:
    # Loaded on the `dlenv check` path: keep it far below the 392 KB reference table.
    for name in DATA_FILES:
        assert asset("data", name).stat().st_size < 100_000, name


def test_pci_devices_shape() -> None:
    data = load("pci_devices.json")
    archs = {arch for arch, _cc in data["chips"].values()}
    known_ccs = {cc for _arch, cc, _chips in load("cuda.json")["architectures"]}
    assert {"Maxwell", "Pascal", "Volta", "Turing", "Ampere", "Hopper", "Blackwell"} <= archs
    for dev, (name, chip) in data["devices"].items():
        assert re.fullmatch(r"[0-9a-f]{4}", dev), dev
        assert name and chip in data["chips"], dev
    for chip, (arch, cc) in data["chips"].items():
        assert arch, chip
        assert cc == "" or cc in known_ccs, chip
        if arch in {"Kepler", "Fermi", "Tesla"}:
            assert cc == "", chip
        else:
            assert cc, chip
    for dev in data["open_kernel_gpus"] + data["grace_superchips"]:
        assert re.fullmatch(r"[0-9a-f]{4}", dev)


def test_open_kernel_list_is_turing_or_newer() -> None:
    # The reference says all 825 open-module rows map to CC >= 7.5; the flavour rule rests on that.
    for dev in load("pci_devices.json")["open_kernel_gpus"]:
        info = compat.lookup_pci(dev)
        if info is None or not info.compute_capability:
            continue
        assert vkey(info.compute_capability) >= (7, 5), dev


def test_device_id_ranges_agree_with_the_table() -> None:
    # The fallback for unknown ids (>= 0x1E00 Turing+, 0x1300-0x1DFF Maxwell..Volta) must match
    # every id we do know, or the fallback would be wrong for ids just past the table.
    for dev in load("pci_devices.json")["devices"]:
        info = compat.lookup_pci(dev)
        assert info is not None
        n = int(dev, 16)
        if info.compute_capability:
            turing_plus = vkey(info.compute_capability) >= (7, 5)
            assert turing_plus == (n >= 0x1E00), dev
            if not turing_plus:
                assert n >= 0x1300, dev


def test_toolkit_driver_rows() -> None:
    rows = load("cuda.json")["toolkit_driver"]
    versions = [vkey(cuda) for cuda, _drv, _ok in rows]
    assert versions == sorted(versions, reverse=True)
    drivers = [vkey(drv) for _cuda, drv, _ok in rows]
    # A newer toolkit never needs an older driver.
    assert drivers == sorted(drivers, reverse=True)
    unverified = {cuda for cuda, _drv, ok in rows if not ok}
    assert unverified == {"13.3.0", "13.3.1", "13.4.2"}


def test_image_tags_shape() -> None:
    images = load("cuda.json")["images"]
    assert {"22.04", "24.04"} <= set(images)
    flavours = {"base", "runtime", "devel"}
    for release, versions in images.items():
        assert re.fullmatch(r"\d\d\.04", release)
        for version, names in versions.items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
            for name in names:
                assert re.fullmatch(r"(cudnn[89]?-|tensorrt-)?(base|runtime|devel)", name), name
                assert name.split("-")[-1] in flavours


def test_every_cuda_with_images_has_a_driver_row_and_a_torch_index() -> None:
    driver_rows = {vkey(c)[:2] for c, _d, _ok in load("cuda.json")["toolkit_driver"]}
    for cuda in compat.image_cuda_versions():
        assert vkey(cuda) in driver_rows, cuda
        compat.pytorch_index(cuda)  # must not raise


def test_arch_rows_cover_every_compute_capability() -> None:
    # Every CC the PCI table knows must map to a CUDA range, or cuda_for_gpus would give up.
    for _arch, cc in load("pci_devices.json")["chips"].values():
        if cc:
            lo, hi = compat._cuda_range_for_cc(vkey(cc))
            assert lo is not None and hi is not None and lo <= hi, cc


def test_importing_compat_reads_no_data() -> None:
    code = (
        "import dlenv_tui.compat as c\n"
        "print(c._load.cache_info().currsize)\n"
        "c.lookup_pci('2684')\n"
        "print(c._load.cache_info().currsize)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]


def test_build_data_reproduces_the_shipped_tables(
    tmp_path: Path, repo_root: Path, reference: Path
) -> None:
    subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "build-data"),
            "--reference",
            str(reference),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    for name in ("pci_devices.json", "cuda.json"):  # distros.json is written by hand
        assert (tmp_path / name).read_text(encoding="utf-8") == asset("data", name).read_text(
            encoding="utf-8"
        ), f"{name} is stale: run scripts/build-data"


def test_pci_table_agrees_with_the_reference(reference: Path) -> None:
    ref = json.loads((reference / "nvidia_pci_devices.json").read_text(encoding="utf-8"))
    checked = 0
    for row in ref["devices"]:
        if row["likely_non_gpu_function"] or not row["compute_capability"]:
            continue
        info = compat.lookup_pci(row["device_id"])
        assert info is not None, row["device_id"]
        assert info.compute_capability == row["compute_capability"], row["device_id"]
        assert info.architecture == row["architecture"], row["device_id"]
        checked += 1
    assert checked > 500
