"""The bash export: structure, quoting, and shellcheck over every supported distro × engine × flavour."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.model import Plan, Stage, Step, StepKind
from dlenv_tui.plan import plan_all, render_script
from dlenv_tui.plan import steps as s
from dlenv_tui.profiles import recommended_profile

SHELLCHECK = shutil.which("shellcheck")


def test_every_exported_script_passes_shellcheck(
    tmp_path: Path, fixture_facts: Any, release_matrix: Any
) -> None:
    if SHELLCHECK is None:
        pytest.fail(
            "shellcheck is not installed; scripts/test installs it (apt-get install shellcheck)."
        )
    files = []
    for name, facts, profile in release_matrix:
        path = tmp_path / f"{name}.sh"
        path.write_text(render_script(plan_all(facts, profile)))
        files.append(str(path))
    for extra in ("ubuntu-24.04-rtx4090-fresh", "rocky-9-l4-installed", "ubuntu-24.04-no-systemd"):
        facts = fixture_facts(extra)
        path = tmp_path / f"{extra}.sh"
        path.write_text(render_script(plan_all(facts, recommended_profile("x", facts))))
        files.append(str(path))
    # one shellcheck process for all scripts: CPU is shared
    result = subprocess.run(
        [SHELLCHECK, "--shell=bash", "--severity=style", *files], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert len(files) >= 17 * 2 * 2 * 2


def test_script_shape(fixture_facts: Any) -> None:
    facts = fixture_facts("ubuntu-24.04-rtx4090-fresh")
    text = render_script(plan_all(facts, recommended_profile("work", facts)))
    lines = text.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    assert "# [driver.install] Install the open NVIDIA driver" in text
    # dpkg-query exits 0 for a half-configured package: the script compares the status itself
    assert (
        "if [ \"$(/usr/bin/dpkg-query -W '-f=${Status}\\n' nvidia-open 2>/dev/null)\" = "
        "'install ok installed' ]; then" in text
    )
    assert "  echo 'skip: Install the open NVIDIA driver (already done)'" in text
    assert "  DEBIAN_FRONTEND=noninteractive /usr/bin/apt-get install -y nvidia-open" in text
    # file contents go through quoted heredocs, so $(ARCH) reaches apt unexpanded
    assert "<<'DLENV_EOF'" in text
    assert (
        "deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /"
        in text
    )
    # downloads verify the key fingerprint with gpg
    assert (
        "dlenv_download https://download.docker.com/linux/ubuntu/gpg /etc/apt/keyrings/docker.asc 0644 9DC858229FC7DD38854AE2D88D81803C0EBFCD88 0"
        in text
    )
    assert "gpg --batch --with-colons --show-keys" in text
    assert text.rstrip().endswith("echo 'dlenv: all steps done.'")


def test_every_value_is_shell_quoted() -> None:
    hostile = "a'b; rm -rf / $(id) `id`\n"
    plan = Plan(
        stage=Stage.ENGINE,
        steps=(
            s.run(
                "x.run", hostile, ("/usr/bin/true", hostile), check=("/usr/bin/test", "-e", hostile)
            ),
            s.write("x.write", "w", "/etc/docker/x.json", "line $HOME `id`\nDLENV_EOF\n"),
            Step(id="x.reboot", title="r", kind=StepKind.REBOOT),
        ),
        warnings=(hostile,),
    )
    text = render_script([plan])
    assert "/usr/bin/true 'a'\"'\"'b; rm -rf / $(id) `id`\n'" in text
    # a content line equal to the delimiter forces a longer delimiter
    assert "<<'DLENV_EOF_'" in text
    bash = shutil.which("bash")
    assert bash is not None
    assert subprocess.run([bash, "-n"], input=text, text=True).returncode == 0
