"""The in-image GPU check for real, on Docker and Podman, in a locally built image (no GPU here:
the imports are checked and the GPU part says it was skipped); the result lands in the profile."""

from __future__ import annotations

import dataclasses
import glob
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.cli import main
from dlenv_tui.doctor.gpucheck import NO_GPU, parse_output, record_gpu_check, run_gpu_check
from dlenv_tui.engine import EngineClient
from dlenv_tui.profiles import ProfileStore

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]


def test_check_runs_in_the_built_image_and_is_recorded(
    client: EngineClient,
    debian: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    small_profile: Any,
    build: Any,
) -> None:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path))
    profile = small_profile(f"gpucheck-{client.engine.value}", client.engine, debian)
    # tqdm: a small pure-Python preset the check imports; "scipy" stays out, so one import fails
    profile = dataclasses.replace(
        profile,
        image=dataclasses.replace(
            profile.image,
            python_packages=("tqdm",),
            # as test_engine_real's Debian stack: the CI proxy's CA for apt and pip
            ca_certs=tuple(sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))),
        ),
    )
    profile, _ = build(client, profile)
    store = ProfileStore()
    store.save(profile)
    try:
        check = run_gpu_check(client, profile, gpu=False)
        assert check.ok, check.lines
        assert "import tqdm: ok" in check.lines
        assert check.gpu == NO_GPU
        assert check.torch == ""  # no torch in this image, and the check says so
        assert any("torch is not in the image" in line for line in check.lines)

        broken = dataclasses.replace(
            profile, image=dataclasses.replace(profile.image, python_packages=("tqdm", "scipy"))
        )
        failed = run_gpu_check(client, broken, gpu=False)
        assert not failed.ok
        assert any(line.startswith("import scipy: FAILED") for line in failed.lines)

        record_gpu_check(profile.name, check)
        saved = store.load(profile.name)
        assert saved.last_image is not None and saved.last_image.gpu_check == check

        # `dlenv doctor --profile P` runs it too, says so, and records a fresh result
        code = main(["doctor", "--profile", profile.name, "--no-network"])
        out = capsys.readouterr().out
        assert code in (0, 1)
        assert f"In-image check of {profile.image.tag}: ok" in out
        assert f"GPU: {NO_GPU}" in out
        again = store.load(profile.name).last_image
        assert again is not None and again.gpu_check is not None
        assert again.gpu_check.checked_at >= check.checked_at
    finally:
        client.client.images.remove(profile.image.tag, force=True)


def test_parse_output_without_a_report() -> None:
    check = parse_output("python3: not found\n")
    assert not check.ok and check.lines == ("python3: not found",)
