"""`dlenv doctor` as a user runs it: exit status 0/1/2, JSON, the bundle and its redaction."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.doctor.bundle import redact


@pytest.fixture
def dlenv(
    repo_root: Path, dlenv_argv: list[str]
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``dlenv(*args, env=None)``: the CLI in a subprocess from the checkout."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*dlenv_argv, *args],
            capture_output=True,
            text=True,
            cwd=repo_root,
            env={**os.environ, **(env or {})},
            timeout=120,
            check=False,
        )

    return run


def test_healthy_exit_0_findings_exit_1(dlenv: Any, sysroot: Callable[[str], Path]) -> None:
    ok = dlenv("doctor", "--sysroot", str(sysroot("doctor-healthy-ubuntu-24.04")))
    assert ok.returncode == 0, ok.stderr
    assert "Healthy" in ok.stdout
    bad = dlenv("doctor", "--sysroot", str(sysroot("doctor-version-mismatch")))
    assert bad.returncode == 1, bad.stderr
    assert (
        "Driver/library version mismatch: a reboot (or reloading the module) is needed"
        in bad.stdout
    )
    assert "evidence:" in bad.stdout and "why:" in bad.stdout and "fix (1 step" in bad.stdout


def test_json_has_the_same_findings(dlenv: Any, sysroot: Callable[[str], Path]) -> None:
    text = dlenv("doctor", "--json", "--sysroot", str(sysroot("rocky-9-t4")))
    assert text.returncode == 1
    data = json.loads(text.stdout)
    assert data["healthy"] is False
    assert [f["id"] for f in data["findings"]] == ["engine.docker-runtime", "toolkit.outdated"]
    first = data["findings"][0]
    assert first["evidence"][0]["source"] == "/etc/docker/daemon.json"
    assert first["fix"]["steps"][0]["argv"][0] == "/usr/bin/nvidia-ctk"
    assert data["facts"]["distro"]["id"] == "rocky"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["doctor", "--anonymize"], "--anonymize only applies to a bundle"),
        (["doctor", "--fix", "--sysroot", "sysroot:rocky-9-t4"], "add --dry-run"),
        (["doctor", "--fix", "--json"], "use --fix or --json"),
        (["doctor", "--sysroot", "/nonexistent/root"], "is not a directory"),
        (["doctor", "--bundle", "out.zip"], "must be named FILE.tar.gz"),
        (["doctor", "--profile", "no-such-profile"], "no-such-profile"),
        (["doctor", "--finding", "engine.stale-cdi-spec"], "add --fix"),
        (["doctor", "--fix", "--finding", "engine.docker-group-session"], "plans no fix for"),
    ],
)
def test_bad_usage_is_one_sentence(
    args: list[str], says: str, tmp_path: Path, dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    """``sysroot:NAME`` in ``args`` stands for that fixture tree."""
    args = [str(sysroot(a[8:])) if a.startswith("sysroot:") else a for a in args]
    result = dlenv(*args, env={"DLENV_CONFIG_DIR": str(tmp_path)})
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_this_machine_gives_a_verdict(dlenv: Any) -> None:
    """The real host (a CI machine without a GPU here): a verdict and 0/1, never a traceback."""
    result = dlenv("doctor", "--no-network")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    assert "Healthy" in result.stdout or "finding" in result.stdout


def test_bundle_is_redacted_and_anonymized(
    tmp_path: Path, dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    root = tmp_path / "host"
    shutil.copytree(sysroot("doctor-stale-cdi-spec"), root, symlinks=True)
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text(
        '{"registry-mirrors": ["https://bob:hunter2@mirror.example.com"],\n'
        ' "runtimes": {"nvidia": {"path": "nvidia-container-runtime"}}}\n'
    )
    jobs = tmp_path / "state" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "20261201-1.jsonl").write_text(
        '{"kind": "output", "line": "export HF_TOKEN=hf_abcdefghijklmnopqrstuv on ada-ws"}\n'
        '{"kind": "output", "line": "-----BEGIN OPENSSH PRIVATE KEY-----"}\n'
        '{"kind": "output", "line": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU"}\n'
        '{"kind": "output", "line": "-----END OPENSSH PRIVATE KEY-----"}\n'
        '{"kind": "output", "line": "password: s3cret for alice"}\n'
    )
    out = tmp_path / "diag.tar.gz"
    result = dlenv(
        "doctor",
        "--sysroot",
        str(root),
        "--bundle",
        str(out),
        "--anonymize",
        env={"DLENV_STATE_DIR": str(tmp_path / "state")},
    )
    assert result.returncode == 1, result.stderr
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(out) as tar:
        names = tar.getnames()
        text = "\n".join(
            tar.extractfile(m).read().decode()
            for m in tar.getmembers()
            if m.isfile()  # type: ignore[union-attr]
        )
    for member in (
        "README.txt",
        "facts.json",
        "findings.json",
        "engine-info.txt",
        "kernel-log.txt",
        "driver/proc-driver-nvidia-version",
        "driver/cdi-nvidia.yaml",
        "jobs/20261201-1.jsonl",
    ):
        assert f"dlenv-bundle/{member}" in names
    for secret in (
        "hunter2",
        "hf_abcdefghijklmnopqrstuv",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmU",
        "s3cret",
    ):
        assert secret not in text
    assert "ada-ws" not in text and "alice" not in text
    assert "NVRM: loading NVIDIA UNIX Open Kernel Module" in text
    assert "engine.stale-cdi-spec" in text
    assert "attach this file" in text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://u:p@host/x", "https://[REDACTED]@host/x"),
        ("Authorization: Bearer abcdefgh12345678", "Authorization: Bearer [REDACTED]"),
        ('"auth": "dXNlcjpwYXNz"', '"auth": "[REDACTED]"'),
        ("http://localhost:8888/lab?token=0123abcd", "http://localhost:8888/lab?token=[REDACTED]"),
        ("ghp_0123456789abcdefghij", "[REDACTED]"),
        ("nothing secret here: 565.57.01", "nothing secret here: 565.57.01"),
    ],
)
def test_redact(raw: str, clean: str) -> None:
    assert redact(raw) == clean


def test_fix_dry_run_previews_and_runs_nothing(dlenv: Any, sysroot: Callable[[str], Path]) -> None:
    result = dlenv(
        "doctor", "--fix", "--dry-run", "--sysroot", str(sysroot("doctor-stale-cdi-spec"))
    )
    assert result.returncode == 1, result.stderr
    assert "== the fixes" in result.stdout
    assert "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml" in result.stdout
    assert "Dry run: nothing was changed." in result.stdout


def test_fix_finding_picks_the_fix_and_the_rest_waits(
    dlenv: Any, sysroot: Callable[[str], Path]
) -> None:
    root = str(sysroot("doctor-podman-rootless-no-cgroups"))
    picked = dlenv(
        "doctor", "--fix", "--dry-run", "--finding", "engine.podman-no-cgroups", "--sysroot", root
    )
    assert picked.returncode == 1, picked.stderr
    fixes = picked.stdout.split("== the fixes", 1)[1]
    assert "no-cgroups" in fixes and "cdi generate" not in fixes
    absent = dlenv("doctor", "--fix", "--dry-run", "--finding", "driver.nouveau", "--sysroot", root)
    assert absent.returncode == 1
    assert "None of the chosen findings is on this host." in absent.stdout
