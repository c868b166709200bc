"""Verify before acting: before a build dlenv asks the registry whether the chosen nvidia/cuda tag
exists (a manifest HEAD with Docker Hub's anonymous token) and the PyTorch index whether it answers.
A local server stands in for both, answering like Docker Hub: 401 with a Bearer challenge, a token
from the realm, then 200 or 404. The tags it holds are the recorded tag listing of
tests/fixtures/knowledge (hub-page1/2.json) less the ones a test deletes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.cli import main
from dlenv_tui.knowledge import verify
from dlenv_tui.model import ImageOptions, Profile
from dlenv_tui.profiles import ProfileStore


def test_an_existing_tag_passes_with_the_token_flow(registry: Any, tags: set[str]) -> None:
    assert "13.2.2-cudnn-runtime-ubuntu24.04" in tags
    check = verify.check_base("nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04")
    assert check is not None and check.ok is True
    # first HEAD without a token (401), then with it
    assert registry.heads.count("/v2/nvidia/cuda/manifests/13.2.2-cudnn-runtime-ubuntu24.04") == 2


def test_a_deleted_tag_offers_the_newest_existing_patch_release(registry: Any) -> None:
    # NVIDIA deletes superseded patch tags: 13.2.1 is gone, 13.2.2 is there
    registry.tags.discard("13.2.1-cudnn-runtime-ubuntu24.04")
    known = [
        "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04",
        "nvidia/cuda:13.2.0-cudnn-runtime-ubuntu24.04",
    ]
    check = verify.check_base("nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04", known)
    assert check is not None and check.ok is False
    assert check.suggestion == "nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04"
    assert "is not on the registry" in check.message and check.message.count(". ") == 0


def test_the_torch_index_is_checked(registry: Any) -> None:
    ok = verify.check_torch_index("https://download.pytorch.org/whl/cu126")
    gone = verify.check_torch_index("https://download.pytorch.org/whl/cu125")
    assert ok is not None and ok.ok is True
    assert gone is not None and gone.ok is False and "HTTP 404" in gone.message


def test_offline_the_checks_say_they_were_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", "http://127.0.0.1:9/whl")
    df = "RUN uv pip install --extra-index-url https://download.pytorch.org/whl/cu126 torch\n"
    report = verify.report_before_build("nvidia/cuda:12.8.1-runtime-ubuntu24.04", df, "p")
    assert not report.stop
    assert len(report.lines) == 2 and all("was skipped" in line for line in report.lines)


def test_a_base_that_is_not_nvidia_cuda_is_not_checked() -> None:
    assert verify.check_base("localhost/my-base:1") is None


def test_cli_build_stops_before_the_engine_with_the_offer(
    registry: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    ProfileStore().save(Profile(name="full", image=ImageOptions(cuda="13.2", ssh=False)))
    assert main(["dockerfile", "full"]) == 0
    base = next(
        line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("FROM ")
    )
    registry.tags.discard(base.split(":", 1)[1])
    # no engine is needed: the check stops the build before dlenv connects to one
    assert main(["build", "full"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not on the registry" in err
    assert "dlenv profiles set full image.base_override=nvidia/cuda:" in err
