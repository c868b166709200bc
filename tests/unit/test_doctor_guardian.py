"""The driver-upgrade guardian in every distribution family's driver plan."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from dlenv_tui.execute.validate import product_policy, validate_plan
from dlenv_tui.model import CdiSpec, DriverInfo, EngineName, Plan, Stage, StepKind, Tool
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


# ---------------------------------------------------------------------------------------------
# After a driver change: the CDI spec follows the new driver, Docker restarts, the container is
# relaunched


def _with_toolkit(facts, engine: EngineName, spec_for: str = "550.54.14"):  # type: ignore[no-untyped-def]
    specs = (CdiSpec("/etc/cdi/nvidia.yaml", (spec_for,)),) if spec_for else ()
    docker = Tool(present=True, version="27.3.1") if engine is EngineName.DOCKER else Tool()
    return replace(
        facts,
        nvidia_ctk=Tool(present=True, version="1.17.8"),
        cdi_specs=specs,
        docker=docker,
        podman=Tool(present=True, version="5.2.2") if engine is EngineName.PODMAN else Tool(),
    )


AFTER = ["driver.cdi-refresh", "driver.restart-engine"]


@pytest.mark.release_matrix(every=4)
def test_a_driver_change_ends_with_the_cdi_spec_and_the_engine(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    engine = profile.engine.engine
    old = _with_toolkit(replace(facts, driver=DriverInfo(loaded=True, version="550.54.14")), engine)
    plan = plan_stage(old, profile, Stage.DRIVER)
    ids = [s.id for s in plan.steps]
    after = AFTER if engine is EngineName.DOCKER and old.systemd else AFTER[:1]
    # after the reboot: the new module is loaded when these run (the resumed stage)
    assert ids[ids.index("driver.reboot") + 1 :] == after, name
    refresh = plan.steps[ids.index("driver.cdi-refresh")]
    assert refresh.argv == (
        "/usr/bin/nvidia-ctk",
        "cdi",
        "generate",
        "--output=/etc/cdi/nvidia.yaml",
    )
    assert any(f"dlenv run {profile.name}" in r for r in plan.reasons)
    validate_plan(replace(plan, steps=plan.steps[ids.index("driver.reboot") :]), product_policy())


def test_after_the_reboot_a_stale_cdi_spec_keeps_the_stage_open_until_it_is_refreshed(
    release_matrix: Any,
) -> None:
    name, facts, profile = next(
        m for m in release_matrix if m[2].engine.engine is EngineName.DOCKER and m[1].gpus
    )
    from dlenv_tui.plan.driver.common import decide

    kind, branch, _ = decide(facts, profile)
    version = f"{branch or 580}.95.05"
    profile = replace(profile, image=replace(profile.image, cuda="12.8"))  # what 580 runs
    flavour = DriverInfo(loaded=True, version=version, flavour=kind)
    rebooted = _with_toolkit(replace(facts, driver=flavour), EngineName.DOCKER)
    plan = plan_stage(rebooted, profile, Stage.DRIVER)
    assert not plan.satisfied, name
    assert [s.id for s in plan.steps] == (AFTER if rebooted.systemd else AFTER[:1])
    # done once the spec names the loaded driver's libraries
    assert plan.steps[0].check == ("/usr/bin/grep", "-qs", f".so.{version}", "/etc/cdi/nvidia.yaml")
    validate_plan(plan, product_policy())
    # the spec already follows the driver, or there is no toolkit: nothing to do
    current = _with_toolkit(replace(facts, driver=flavour), EngineName.DOCKER, spec_for=version)
    assert plan_stage(current, profile, Stage.DRIVER).satisfied
    bare = replace(rebooted, nvidia_ctk=Tool())
    assert plan_stage(bare, profile, Stage.DRIVER).satisfied


def test_the_end_of_a_refreshing_driver_stage_offers_to_relaunch_the_container() -> None:
    from dlenv_tui.model import StepOutcome
    from dlenv_tui.plan.driver.guardian import relaunch_note

    plan = Plan(stage=Stage.DRIVER, profile="train")
    ran = {"driver.cdi-refresh": StepOutcome.OK, "driver.restart-engine": StepOutcome.OK}
    assert "`dlenv run train`" in relaunch_note(plan, ran)
    assert relaunch_note(plan, {"driver.cdi-refresh": StepOutcome.SKIPPED}) == ""
    assert relaunch_note(plan, {"driver.reboot": StepOutcome.REBOOT}) == ""
