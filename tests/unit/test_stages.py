"""The stage table: its order, finished / resume rules, and which stages a host change undoes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dlenv_tui.demo import load_scenario
from dlenv_tui.model import DriverFlavour, DriverInfo, HostFacts, Profile, Stage, StageState, Tool
from dlenv_tui.profiles import mark_stage
from dlenv_tui.stages import ORDER, resume_stage, undo, undone_by_drift

BASE = dataclasses.replace(
    load_scenario("ubuntu-4090").facts,
    driver=DriverInfo(loaded=True, version="580.95.05", flavour=DriverFlavour.OPEN),
    nvidia_ctk=Tool(present=True, version="1.17.8"),
    docker=Tool(present=True, version="28.1.1"),
)


def test_order_matches_the_model_stages() -> None:
    assert ORDER == ("prereq", "driver", "toolkit", "engine", "image", "build", "launch", "summary")


@pytest.mark.parametrize(
    ("name", "new", "undone"),
    [
        ("nothing changed", BASE, ()),
        ("driver unloaded", dataclasses.replace(BASE, driver=DriverInfo()), (Stage.DRIVER,)),
        (
            "driver updated",
            dataclasses.replace(BASE, driver=dataclasses.replace(BASE.driver, version="580.99.01")),
            (Stage.DRIVER,),
        ),
        (
            "a GPU moved slots",
            dataclasses.replace(
                BASE, gpus=(dataclasses.replace(BASE.gpus[0], pci_address="0000:09:00.0"),)
            ),
            (),
        ),
        ("toolkit removed", dataclasses.replace(BASE, nvidia_ctk=Tool()), (Stage.TOOLKIT,)),
        ("docker removed", dataclasses.replace(BASE, docker=Tool()), (Stage.ENGINE,)),
        (
            "unknown driver is no change",
            dataclasses.replace(BASE, driver=dataclasses.replace(BASE.driver, version="")),
            (),
        ),
    ],
)
def test_undone_by_drift(name: str, new: HostFacts, undone: tuple[Stage, ...]) -> None:
    assert undone_by_drift(BASE, new) == undone, name


def test_undo_sets_finished_stages_pending_and_resume_goes_back() -> None:
    p = Profile(name="p")
    for stage in (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE, Stage.IMAGE):
        p = mark_stage(p, stage, StageState.DONE)
    assert resume_stage(p) == "build"
    p = undo(p, (Stage.DRIVER,), "host changed: the driver is gone")
    assert p.progress["driver"].state is StageState.PENDING
    assert p.progress["toolkit"].state is StageState.DONE
    assert resume_stage(p) == "driver"


def test_a_pending_reboot_resumes_at_the_driver() -> None:
    p = mark_stage(Profile(name="p"), Stage.DRIVER, StageState.NEEDS_REBOOT)
    assert resume_stage(p) == "driver"


def test_missing_mount_sources_are_offered_for_creation(tmp_path: Any) -> None:
    from dlenv_tui.launch_checks import create_dirs, launch_problems
    from dlenv_tui.model import Mount, RunOptions

    missing = str(tmp_path / "ws")
    p = Profile(name="p", run=RunOptions(mounts=(Mount(missing, "/workspace"),)))
    assert launch_problems(p, None).missing_dirs == (missing,)
    assert create_dirs((missing,)) == ""
    assert launch_problems(p, None).missing_dirs == ()


@pytest.mark.parametrize("gpus", ["all", "2", "device=0"])
def test_a_launch_asking_for_gpus_on_a_host_without_one_says_so(gpus: str) -> None:
    """A profile from another host (or `profiles set gpus=all`) on a host with no NVIDIA GPU:
    the Launch form says so before Start, not the engine's "could not select device driver"."""
    from dlenv_tui.launch_checks import launch_problems
    from dlenv_tui.model import RunOptions

    facts = dataclasses.replace(load_scenario("ubuntu-4090").facts, gpus=())
    errors = launch_problems(Profile(name="p", run=RunOptions(gpus=gpus)), facts, lambda _: True)
    assert any("no NVIDIA GPU" in e and "none" in e for e in errors.errors), errors
    none = Profile(name="p", run=RunOptions(gpus="none"))
    assert launch_problems(none, facts, lambda _: True).errors == ()
    # and a profile that asks for none there is told why it has none
    from dlenv_tui.launch_checks import gpu_note

    assert "No NVIDIA GPU" in gpu_note(none, facts)
    assert gpu_note(none, load_scenario("ubuntu-4090").facts) == ""


def test_mount_sources_created_under_sudo_belong_to_the_user(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from dlenv_tui.launch_checks import create_dirs

    chowned: list[tuple[str, int, int]] = []
    monkeypatch.setenv("SUDO_UID", "1234")
    monkeypatch.setenv("SUDO_GID", "1235")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(os, "chown", lambda p, u, g: chowned.append((str(p), u, g)))
    assert create_dirs((str(tmp_path / "a" / "b"),)) == ""
    assert sorted(chowned) == [
        (str(tmp_path / "a"), 1234, 1235),
        (str(tmp_path / "a" / "b"), 1234, 1235),
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (StageState.DONE, StageState.DONE),  # s (or Launch's Ctrl+N) on a finished stage keeps it
        (StageState.PENDING, StageState.SKIPPED),
        (StageState.FAILED, StageState.SKIPPED),
        (None, StageState.SKIPPED),
    ],
)
def test_skipping_never_downgrades_a_done_stage(
    before: StageState | None, after: StageState
) -> None:
    from dlenv_tui.profiles import mark_stage
    from dlenv_tui.stages import done_text, skip

    p = Profile(name="p")
    if before is not None:
        p = mark_stage(p, Stage.TOOLKIT, before, "5 of 5 steps done")
    skipped = skip(p, Stage.TOOLKIT)
    assert skipped.progress["toolkit"].state is after
    if after is StageState.DONE:
        assert skipped.progress["toolkit"].detail == "5 of 5 steps done"
        assert done_text(skipped, Stage.TOOLKIT).endswith("UTC: 5 of 5 steps done.")
