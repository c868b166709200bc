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
    "lockfile",
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
    "operations",
    "session",
    "stages",
    "compat.choices",
    "probe.child",
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


def test_screens_and_commands_do_not_branch_on_the_mode() -> None:
    """Demo and dry run are seams chosen in ``session``: a screen or a command asks the mode only
    to word a result or show a badge, never to decide what to do."""
    import re
    from pathlib import Path

    import dlenv_tui

    root = Path(dlenv_tui.__file__).parent
    branch = re.compile(r"ctx\.demo|ctx\.dry_run|if (?:not )?dry_run|\bdemo=self|if .*\.demo\b")
    hits = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for folder in ("screens", "cli")
        for path in sorted((root / folder).glob("*.py"))
        # cli/__init__.py is the entry point: it reads --demo / --dry-run to choose the mode
        if path.name != "__init__.py" or folder == "screens"
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if branch.search(line)
    ]
    assert hits == []


def test_each_mode_gets_its_own_seams() -> None:
    """The composition root: a dry run runs nothing, finds no job and asks no password; the demo
    also never leaves this machine (its reachability answers are simulated)."""
    from dlenv_tui.execute.runners import DemoRunner, DryRunRunner
    from dlenv_tui.session import DEMO, DRY_RUN, REAL, seams_for

    dry = seams_for(DRY_RUN)
    assert isinstance(dry.make_runner("pw"), DryRunRunner)
    assert dry.find_job() is None and dry.password_needed() is False
    demo = seams_for(DEMO, demo_speed=0)
    assert isinstance(demo.make_runner(None), DemoRunner)
    rows = demo.reach(("https://download.docker.com",))
    assert [r.detail.endswith("(simulated)") for r in rows] == [True]
    assert demo.after_reboot is not None and demo.auto_build
    real = seams_for(REAL)
    assert real.after_reboot is None and not real.auto_build
    assert type(real.make_runner(None)).__name__ == "WorkerRunner"
