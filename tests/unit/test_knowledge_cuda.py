"""Audit findings F3, F4, F14: the image is chosen for the driver that runs after the driver stage,
and a kept R535/R550 driver gets a working image (Ubuntu 22.04), never a dead end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dlenv_tui import compat
from dlenv_tui.image import render_dockerfile
from dlenv_tui.model import DriverFlavour, DriverInfo, Gpu, HostFacts, ImageVariant, Stage
from dlenv_tui.plan import plan_all, plan_stage
from dlenv_tui.plan.cuda import driver_after_plan, which_cuda
from dlenv_tui.profiles import recommended_profile


def with_driver(facts: HostFacts, version: str, flavour: DriverFlavour) -> HostFacts:
    return replace(facts, driver=DriverInfo(loaded=True, version=version, flavour=flavour))


def test_kept_550_driver_gets_an_ubuntu_22_04_image_with_the_reason(probed: Any) -> None:
    facts = probed("ubuntu-22.04-hgx-h100")  # 8 x H100, open 550.163.01 loaded
    profile = recommended_profile("x", facts)
    assert driver_after_plan(facts, profile) == "550.163.01"  # the driver stage keeps it
    assert (profile.image.ubuntu, profile.image.cuda) == ("22.04", "12.4")
    choice = which_cuda(facts, replace(profile, image=replace(profile.image, ubuntu="24.04")))
    assert choice.ubuntu == "22.04"
    assert any("Ubuntu 22.04" in r and "550.163.01" in r for r in choice.reasons)
    r = render_dockerfile(profile, facts)
    # the lean default (issue 13): the base flavour, the wheels bring cuDNN themselves
    assert "FROM nvidia/cuda:12.4.1-base-ubuntu22.04" in r.dockerfile
    # every stage plans, the smoke test included (it was "No nvidia/cuda base image for Ubuntu
    # 24.04 runs on this host's GPUs and driver")
    plans = plan_all(facts, profile)
    smoke = [s for p in plans for s in p.steps if s.id == "engine.smoke-test"]
    assert smoke and "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04" in smoke[0].argv


def test_kept_535_on_an_a100_gets_cuda_12_2(probed: Any) -> None:
    a100 = compat.enrich_gpu(Gpu("0000:41:00.0", "20b0"))
    facts = with_driver(
        replace(probed("ubuntu-22.04-hgx-h100"), gpus=(a100,), nvswitches=()),
        "535.261.03",
        DriverFlavour.OPEN,
    )
    profile = recommended_profile("x", facts)
    assert (profile.image.ubuntu, profile.image.cuda) == ("22.04", "12.2")
    # F14: the wheels still come from cu126 (newest torch), by CUDA 12 minor-version compatibility
    r = render_dockerfile(
        replace(profile, image=replace(profile.image, python_packages=("torch",))), facts
    )
    assert "download.pytorch.org/whl/cu126" in r.dockerfile


def test_v100_on_535_is_planned_for_the_580_driver_that_replaces_it(probed: Any) -> None:
    v100 = compat.enrich_gpu(Gpu("0000:01:00.0", "1db4"))
    debian = probed("debian-12-gtx1080")
    facts = with_driver(replace(debian, gpus=(v100,)), "535.216.01", DriverFlavour.PROPRIETARY)
    profile = recommended_profile("x", facts)
    assert driver_after_plan(facts, profile) == ""  # the driver stage installs 580
    assert not plan_stage(facts, profile, Stage.DRIVER).satisfied
    # the 580 branch runs CUDA up to 12.9 for Volta; before, the loaded 535 capped it at nothing
    assert profile.image.cuda == "12.9"
    assert render_dockerfile(profile, facts).dockerfile.count("FROM nvidia/cuda:12.9") == 1


def test_gtx1080_with_590_loaded_is_planned_for_580(probed: Any) -> None:
    facts = with_driver(probed("debian-12-gtx1080"), "590.48.01", DriverFlavour.PROPRIETARY)
    profile = recommended_profile("x", facts)
    assert driver_after_plan(facts, profile) == ""
    assert profile.image.cuda == "12.9"  # containers for Pascal stop at 12.9 (580 branch)


def test_rtx3090_with_proprietary_570_on_leap_gets_the_new_drivers_cuda(probed: Any) -> None:
    facts = probed(
        "opensuse-leap-15.6-rtx3090"
    )  # proprietary 570.172.08; the plan installs G07 open
    profile = recommended_profile("x", facts)
    assert driver_after_plan(facts, profile) == ""
    newest = which_cuda(facts, profile).versions[0]
    assert compat.parse_cuda_version(newest) >= (13, 0), newest


def test_smoke_image_and_profile_agree(probed: Any) -> None:
    facts = probed("ubuntu-22.04-hgx-h100")
    profile = recommended_profile("x", facts)
    base = which_cuda(facts, profile, variant=ImageVariant.BASE, cudnn=False)
    assert base.ubuntu == profile.image.ubuntu
    assert profile.image.cuda in base.versions
