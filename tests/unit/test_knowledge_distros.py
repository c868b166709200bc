"""Audit finding F7: current releases are supported, every release carries its end-of-life date,
and a release newer than the data is planned as the closest known one with a warning."""

from __future__ import annotations

import datetime
from dataclasses import replace
from typing import Any

import pytest

from dlenv_tui import checks, compat
from dlenv_tui.model import Distro, Stage, Status
from dlenv_tui.plan import plan_all, plan_stage
from dlenv_tui.plan.distros import resolve
from dlenv_tui.profiles import recommended_profile

TODAY = datetime.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("tree", "key"),
    [
        ("ubuntu-26.04-rtx4090", "ubuntu-26.04"),
        ("fedora-44-a100", "fedora-44"),
        ("opensuse-leap-16.0-rtx3090", "opensuse-leap-16"),
    ],
)
def test_current_releases_are_supported_and_planned(tree: str, key: str, probed: Any) -> None:
    facts = probed(tree)
    support = compat.distro_support(facts.distro, TODAY)
    assert (support.key, support.supported, support.eol_passed) == (key, True, False)
    row = next(c for c in checks.run_checks(facts) if c.id == "distro")
    assert row.status is Status.OK and "supported until" in row.detail
    plans = plan_all(facts, recommended_profile("x", facts))
    assert [p.stage for p in plans] == [Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE]


def test_ubuntu_26_04_uses_its_own_repositories(probed: Any) -> None:
    target = resolve(probed("ubuntu-26.04-rtx4090"))
    assert (target.cuda_repo, target.codename) == ("ubuntu2604", "resolute")


def test_leap_16_uses_nvidias_leap_16_repository(probed: Any) -> None:
    target = resolve(probed("opensuse-leap-16.0-rtx3090"))
    assert target.suse_gfx_repo == "https://download.nvidia.com/opensuse/leap/16.0/"
    sles = replace(
        probed("opensuse-leap-16.0-rtx3090"), distro=Distro("sles", "16.0", name="SLES 16")
    )
    assert resolve(sles).suse_gfx_repo == "https://download.nvidia.com/suse/sle16/"


def test_a_release_past_its_end_of_life_warns_and_still_plans(probed: Any) -> None:
    facts = probed("fedora-42-a100")
    row = next(c for c in checks.run_checks(facts) if c.id == "distro")
    assert row.status is Status.WARN
    assert row.detail == (
        "Fedora Linux 42 (Server Edition) reached end of life on 2026-05-28: plans still work, "
        "upgrade soon."
    )
    assert "Fedora 44" in row.fix
    assert plan_stage(facts, recommended_profile("x", facts), Stage.TOOLKIT).steps


def test_end_of_life_depends_on_the_date() -> None:
    f42 = Distro("fedora", "42")
    assert not compat.distro_support(f42, datetime.date(2026, 5, 27)).eol_passed
    assert compat.distro_support(f42, datetime.date(2026, 5, 28)).eol_passed


@pytest.mark.parametrize(
    ("distro", "planned_as"),
    [
        (Distro("ubuntu", "26.10", "stonking", ("debian",), "Ubuntu 26.10"), "ubuntu-26.04"),
        (Distro("fedora", "45", name="Fedora Linux 45"), "fedora-44"),
    ],
)
def test_a_release_newer_than_the_data_warns_and_gets_the_closest_plan(
    distro: Distro,
    planned_as: str,
    probed: Any,
) -> None:
    facts = replace(
        probed("ubuntu-26.04-rtx4090" if distro.id == "ubuntu" else "fedora-44-a100"), distro=distro
    )
    support = compat.distro_support(distro, TODAY)
    assert support.supported and support.newer_than_data and support.key == planned_as
    row = next(c for c in checks.run_checks(facts) if c.id == "distro")
    assert row.status is Status.WARN and "newer than dlenv's data" in row.detail
    target = resolve(facts)
    assert target.key == planned_as
    if distro.id == "ubuntu":  # the repositories are named after 26.04, not the unknown 26.10
        assert (target.cuda_repo, target.codename) == ("ubuntu2604", "resolute")
    assert plan_all(facts, recommended_profile("x", facts))


def test_every_supported_release_has_an_end_of_life_date() -> None:
    for entry in compat._distro_data()["distros"].values():
        for release, info in entry["releases"].items():
            datetime.date.fromisoformat(info["eol"])  # raises when missing or malformed
            assert release


def test_older_releases_stay_unsupported() -> None:
    for distro in (Distro("ubuntu", "20.04"), Distro("fedora", "41"), Distro("debian", "11")):
        assert not compat.distro_support(distro, TODAY).supported
