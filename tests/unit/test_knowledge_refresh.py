"""`dlenv data refresh` against a local HTTP server serving the recorded-format responses: the new
data is used by later decisions; a malformed or truncated response changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui import compat
from dlenv_tui.cli import main
from dlenv_tui.knowledge.refresh import RefreshError, refresh
from dlenv_tui.locations import knowledge_file, repos_file
from dlenv_tui.model import HostFacts, ImageVariant, Plan, Stage
from dlenv_tui.plan import plan_stage
from dlenv_tui.plan.steps import PlanError
from dlenv_tui.profiles import recommended_profile

pytestmark = pytest.mark.usefixtures("data_dir")


def _tag_13_2() -> str:
    return compat.image_tag("13.2", ImageVariant.RUNTIME, True, "24.04").value


def test_refresh_updates_the_decisions_and_says_as_of_when(server: str) -> None:
    assert _tag_13_2() == "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04"
    done = refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    assert done.tags == 745 and done.torch_releases == 4
    compat.reload_data()
    decision = compat.image_tag("13.2", ImageVariant.RUNTIME, True, "24.04")
    assert decision.value == "nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04"
    assert any(f"image tags as of {done.as_of}" in r for r in decision.reasons)


def test_the_cli_prints_one_sentence(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}/hub")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    assert main(["data", "refresh"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "image tags as of" in out


@pytest.mark.parametrize("path", ["/truncated", "/malformed", "/missing"])
def test_a_broken_tag_list_changes_nothing(
    server: str, path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a good refresh first, so there is data that must stay
    refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    before = knowledge_file().read_bytes()
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}{path}")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    assert main(["data", "refresh"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlenv: ") and err.count("\n") == 0 and "unchanged" in err
    assert "Traceback" not in err
    assert knowledge_file().read_bytes() == before


def test_an_index_without_wheels_is_refused(server: str) -> None:
    with pytest.raises(RefreshError, match="lists no CUDA wheels"):
        refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/empty-torch/")
    assert not knowledge_file().exists()


def test_a_corrupt_stored_file_leaves_the_snapshot_in_use(data_dir: Path) -> None:
    knowledge_file().parent.mkdir(parents=True)
    knowledge_file().write_text('{"schema": 1, "images": ')
    compat.reload_data()
    assert _tag_13_2() == "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04"


def test_unreachable_host_is_one_sentence(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    probed: Any,
) -> None:
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", "http://127.0.0.1:9/hub")
    assert main(["data", "refresh", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "could not fetch" in err and "unchanged" in err


# ---- NVIDIA's repository metadata ----------------------------------------------------------------


def _debian13_gtx1080(probed: Callable[[str], HostFacts]) -> HostFacts:
    # the recorded Debian 12 + GTX 1080 host (must stay on 580) with trixie's os-release
    facts = probed("debian-12-gtx1080")
    distro = replace(facts.distro, version_id="13", codename="trixie")
    return replace(facts, distro=distro)


def _driver_plan(facts: HostFacts) -> Plan:
    return plan_stage(facts, recommended_profile("x", facts), Stage.DRIVER)


def test_refresh_stores_nvidia_repositories_and_the_plans_use_them(
    server: str, probed: Any
) -> None:
    facts = _debian13_gtx1080(probed)
    assert _driver_plan(facts).steps  # the snapshot knows nothing of debian13/x86_64's branches
    done = refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    stored = json.loads(repos_file().read_text())
    assert stored["repos"]["debian13/x86_64"] == {
        "exists": True,
        "branches": ["590", "595"],
        "toolkits": ["13.1.1", "13.2.1", "13.5.0"],
        "compat": {"13.5": "620.15.03"},  # the lowest: the driver 13.5 came with
    }
    assert stored["repos"]["rhel9/x86_64"]["branches"] == ["580", "595"]
    assert stored["repos"]["debian13/sbsa"] == {"exists": False}  # 404
    assert done.repos == 3
    compat.reload_data()
    # a Pascal host must stay on 580, which this debian13 listing does not carry: refused, with why
    with pytest.raises(PlanError, match=r"debian13/x86_64 repository has no 580 driver packages"):
        _driver_plan(facts)
    # Debian 12's listing has 580: planned, and the reason names the data it used
    plan = _driver_plan(probed("debian-12-gtx1080"))
    assert any(f"listing as of {done.as_of}" in r for r in plan.reasons)


def test_refresh_learns_the_driver_a_newer_cuda_minor_needs_from_the_compat_packages(
    server: str,
) -> None:
    # the audit's F20: the snapshot's driver table stops at CUDA 13.4 (a secondary 13.4.2 row)
    before = compat.max_cuda_for_driver("620.41.02")
    assert before.value == "13.4"
    assert any("newest release dlenv knows" in r for r in before.reasons)
    assert any("secondary sources" in r for r in compat.max_cuda_for_driver("615.71.09").reasons)
    done = refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    compat.reload_data()
    after = compat.max_cuda_for_driver("620.41.02")
    assert after.value == "13.5"
    source = f"debian13/x86_64 (cuda-compat-13-5 620.15.03, as of {done.as_of})"
    assert any(source in r for r in after.reasons), after.reasons
    # a driver of the branch below the first 13.5 release stays on 13.4, and says what 13.5 needs
    below = compat.max_cuda_for_driver("620.15.02")
    assert below.value == "13.4"
    assert any("CUDA 13.5 needs driver 620.15.03 or newer" in r for r in below.reasons)
    # NVIDIA's repository replaces the secondary 13.4 row (rhel9 lists cuda-compat-13-4 615.71.09)
    r615 = compat.max_cuda_for_driver("615.71.09").reasons
    assert not any("secondary sources" in r for r in r615)
    assert any("rhel9/x86_64 (cuda-compat-13-4 615.71.09" in r for r in r615)
    # the secondary 13.3 row is replaced the same way (610.43.02); release-notes rows stay
    assert compat.max_cuda_for_driver("595.58.03").value == "13.2"


@pytest.mark.parametrize("path", ["/repos-malformed/", "/repos-truncated/", "/no-such-repos/"])
def test_a_broken_repository_listing_changes_nothing(
    server: str, path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    before = (knowledge_file().read_bytes(), repos_file().read_bytes())
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}/hub")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    monkeypatch.setenv("DLENV_REFRESH_REPOS_URL", f"{server}{path}")
    assert main(["data", "refresh"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlenv: ") and err.count("\n") == 0 and "unchanged" in err
    assert (knowledge_file().read_bytes(), repos_file().read_bytes()) == before


# cuda-compat file names from NVIDIA's ubuntu2404/x86_64 repository as public install scripts
# download them (developer.download.nvidia.com/compute/cuda/repos/ubuntu2404/x86_64/…)
UBUNTU2404_COMPAT = (
    "cuda-compat-10-2_440.33.01-1_amd64.deb",  # a scenario: an old minor, as older repos hold
    "cuda-compat-12-8_570.211.01-0ubuntu1_amd64.deb",
    "cuda-compat-12-9_575.57.08-0ubuntu1_amd64.deb",
    "cuda-compat-13-0_580.95.05-0ubuntu1_amd64.deb",
    "cuda-compat-13-0_580.178.04-1ubuntu1_amd64.deb",
    "cuda-compat-13-3_610.43.02-1ubuntu1_amd64.deb",
    "cuda-toolkit-13-3_13.3.0-1_amd64.deb",
)


def test_the_lowest_cuda_compat_of_a_minor_is_its_driver_and_release_notes_rows_stay() -> None:
    from dlenv_tui.knowledge import repos

    links = "".join(f"<a href='{n}'>{n}</a>\n" for n in UBUNTU2404_COMPAT)
    listing = repos.parse_listing(f"<pre>{links}</pre>".encode(), "ubuntu2404/x86_64/")
    # NVIDIA republishes cuda-compat-13-0 with later R580 drivers: the lowest is 13.0's
    assert listing["compat"] == {
        "10.2": "440.33.01",
        "12.8": "570.211.01",
        "12.9": "575.57.08",
        "13.0": "580.95.05",
        "13.3": "610.43.02",
    }
    repos_file().parent.mkdir(parents=True, exist_ok=True)
    repos_file().write_text(
        json.dumps(
            {
                "schema": 1,
                "as_of": "2026-11-30",
                "repos": {"ubuntu2404/x86_64": {"exists": True, **listing}},
            }
        )
    )
    compat.reload_data()
    # a republished package (570.211.01, 575.57.08) does not raise a minimum the release notes
    # give (12.8 needs 570.26, 12.9 575.51.03): those rows are NVIDIA's and stay
    assert compat.max_cuda_for_driver("575.51.03").value == "12.9"
    assert compat.max_cuda_for_driver("570.26").value == "12.8"
    # nor does an old minor's package add a row the snapshot leaves out (older than CUDA 11)
    assert compat.max_cuda_for_driver("440.40").value == ""
    # the secondary 13.3 row gives way to the repository's (the same 610.43.02)
    reasons = compat.max_cuda_for_driver("610.43.02").reasons
    assert any(
        "ubuntu2404/x86_64 (cuda-compat-13-3 610.43.02, as of 2026-11-30)" in r for r in reasons
    )
    assert not any("secondary sources" in r for r in reasons)
