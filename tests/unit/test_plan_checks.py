"""Checks are the read-only counterparts of their steps: after a run every check says done, and a re-run does nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from dlenv_tui.model import DriverFlavour, DriverInfo, EngineName, Tool
from dlenv_tui.plan import plan_all
from dlenv_tui.profiles import recommended_profile

# Steps with nothing to check: idempotent commands, and the smoke test, which is the proof itself
ALWAYS_RUN = {"driver.initramfs", "engine.docker-group-member", "engine.smoke-test"}


@pytest.mark.release_matrix
def test_after_a_run_every_check_reports_done_and_a_rerun_skips_everything(
    name, facts, profile, fake_host: Any, run_plan: Any
) -> None:  # type: ignore[no-untyped-def]
    plans = plan_all(facts, profile)
    steps = tuple(s for plan in plans for s in plan.steps)
    assert steps, name
    flavour = profile.driver.flavour or DriverFlavour.OPEN
    host = fake_host(flavour=flavour, branch=profile.driver.branch)
    first = run_plan(host, steps)
    # a verification whose check is itself (nvidia-ctk --version) is done once its tool is there
    # and a removal is done where the file never existed
    changes = {s.id for s in steps if s.check != s.argv and s.check[1:2] != ("!",)}
    assert set(first) >= changes, "a fresh host must run every step that changes something"
    not_done = [s.id for s in steps if s.check and not host.check(s.check)]
    assert not_done == [], f"checks still failing after their steps ran: {not_done}"
    again = run_plan(host, steps)
    assert set(again) <= ALWAYS_RUN, again


def installed(facts, engine):  # type: ignore[no-untyped-def]
    """The same host with everything the plans install already in place and running."""
    flavour = DriverFlavour.OPEN if facts.gpus[0].device_id == "2684" else DriverFlavour.PROPRIETARY
    # the newest branch, which a fresh install gets: 610 runs CUDA 13.3, the newest image
    version = "610.43.02" if flavour is DriverFlavour.OPEN else "580.95.05"
    tool = Tool(present=True, version="28.5.1", running=True)
    return replace(
        facts,
        driver=DriverInfo(loaded=True, version=version, flavour=flavour, nvml=True),
        nvidia_ctk=Tool(present=True, version="1.20.0"),
        docker=tool if engine is EngineName.DOCKER else Tool(),
        podman=tool if engine is EngineName.PODMAN else Tool(),
    )


@pytest.mark.release_matrix(every=4)
def test_installed_hosts_are_satisfied_in_every_stage(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    done = installed(facts, profile.engine.engine)
    driver, toolkit, engine = plan_all(done, profile)
    assert driver.satisfied and driver.steps == ()
    assert toolkit.satisfied and toolkit.steps == ()
    assert engine.satisfied
    assert not any(s.id == "engine.install" for s in engine.steps)


def test_the_installed_rocky_demo_host_has_nothing_left_but_the_smoke_test(
    fake_host: Any, run_plan: Any, fixture_facts: Any
) -> None:
    facts = fixture_facts("rocky-9-l4-installed")
    profile = recommended_profile("rocky", facts)
    plans = plan_all(facts, profile)
    assert [p.satisfied for p in plans] == [True, True, True]
    # the same host as the model sees it: Docker CE running with the NVIDIA runtime configured
    host = fake_host(flavour=DriverFlavour.OPEN)
    for pkg in ("docker-ce", "nvidia-container-toolkit"):
        host.install(pkg)
    host.units.add("docker.service")
    host.touch("/etc/docker/daemon.json", '{"runtimes": {"nvidia": {}}}')
    host.touch("/var/run/docker.pid")
    ran = run_plan(host, tuple(s for p in plans for s in p.steps))
    assert ran == ["engine.smoke-test"]


def test_a_loaded_driver_of_the_wrong_flavour_or_too_old_is_not_satisfied(
    fixture_facts: Any,
) -> None:
    facts = fixture_facts("ubuntu-24.04-rtx4090-fresh")
    profile = recommended_profile("x", facts)
    wrong = replace(
        facts,
        driver=DriverInfo(loaded=True, version="595.71.05", flavour=DriverFlavour.PROPRIETARY),
    )
    assert not plan_all(wrong, profile)[0].satisfied
    old = replace(
        facts, driver=DriverInfo(loaded=True, version="535.230.02", flavour=DriverFlavour.OPEN)
    )
    plan = plan_all(old, profile)[0]
    assert not plan.satisfied
    assert any("does not fit" in r for r in plan.reasons)
