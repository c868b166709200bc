"""The core stays headless: no core module imports Textual or the Docker SDK at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest

CORE = [
    "model",
    "probe",
    "probe.reach",
    "compat",
    "plan",
    "execute",
    "profiles",
    "image",
    "errors",
    "locations",
    "fsutil",
    "checks",
    "drift",
    "validate",
    "worker",
    "doctor",
    "doctor.bundle",
    "doctor.gpucheck",
    "doctor.reboot",
]
# engine talks to Docker by design, but must still not import Textual
NO_TEXTUAL_ONLY = ["engine", "cli", "cli.doctor"]


def _loaded(module: str) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module('dlenv_tui.{module}')\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_neither_textual_nor_docker(module: str) -> None:
    loaded = _loaded(module)
    assert "textual" not in loaded
    assert "docker" not in loaded


@pytest.mark.parametrize("module", NO_TEXTUAL_ONLY)
def test_module_does_not_import_textual(module: str) -> None:
    assert "textual" not in _loaded(module)
