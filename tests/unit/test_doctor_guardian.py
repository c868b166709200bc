"""The driver-upgrade guardian in every distribution family's driver plan."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from dlenv_tui.execute.validate import product_policy, validate_plan
from dlenv_tui.model import DriverInfo, Plan, Stage, StepKind
from dlenv_tui.plan import plan_stage
from dlenv_tui.plan.driver.guardian import APT_BLACKLIST, APT_HOLD_FILE, apt_hold_text


def guardian_only(plan: Plan) -> Plan:
    """The guardian's own steps, for the worker's policy (the rest is the planners' business)."""
    ours = ("driver.hold", "driver.hold-plugin", "driver.unhold")
    return replace(plan, steps=tuple(s for s in plan.steps if s.id in ours))


@pytest.mark.release_matrix
def test_every_driver_plan_holds_the_driver(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    plan = plan_stage(facts, profile, Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    assert "driver.hold" in ids, name
    hold = plan.steps[ids.index("driver.hold")]
    assert ids.index("driver.hold") > ids.index("driver.install")
    assert hold.check, "a hold is done once its lock is in place"
    family = facts.pkg_family.value
    if family == "apt":
        assert hold.kind is StepKind.WRITE_FILE and hold.file is not None
        assert hold.file.path == APT_HOLD_FILE
    elif family == "dnf":
        assert hold.argv[1:3] == ("versionlock", "add")
    else:
        assert hold.argv[2] == "addlock" and any("-G0" in a for a in hold.argv[3:])
    assert any("re-run dlenv's driver stage" in r for r in plan.reasons)
    validate_plan(guardian_only(plan), product_policy())


@pytest.mark.release_matrix(every=3, families=("dnf", "zypper"))
def test_replacing_a_loaded_driver_lifts_the_lock_first(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    old = replace(facts, driver=DriverInfo(loaded=True, version="550.54.14"))
    plan = plan_stage(old, profile, Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    assert ids.index("driver.unhold") < ids.index("driver.install") < ids.index("driver.hold")
    assert any("run the engine stage again" in w for w in plan.warnings)
    validate_plan(guardian_only(plan), product_policy())


def test_apt_blacklist_holds_the_driver_not_the_toolkit() -> None:
    def held(pkg: str) -> bool:
        return any(re.match(p, pkg) for p in APT_BLACKLIST)  # how unattended-upgrades matches

    for pkg in (
        "nvidia-driver-580-open",
        "libnvidia-compute-565",
        "nvidia-dkms-565-open",
        "nvidia-utils-580-server",
        "linux-modules-nvidia-580-server-open-generic",
        "nvidia-open",
        "cuda-drivers-580",
    ):
        assert held(pkg), pkg
    for pkg in ("nvidia-container-toolkit", "libnvidia-container1", "libnvidia-container-tools"):
        assert not held(pkg), pkg
    text = apt_hold_text()
    assert text.count('";') == len(APT_BLACKLIST)
    assert text.startswith("// Written by dlenv")
