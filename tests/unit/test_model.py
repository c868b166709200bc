"""Model round-trips through plain data and rejects data that does not fit."""

from __future__ import annotations

import json

import pytest

from dlenv_tui import model as m


def _facts() -> m.HostFacts:
    return m.HostFacts(
        arch="x86_64",
        distro=m.Distro(id="ubuntu", version_id="24.04", codename="noble", like=("debian",)),
        pkg_family=m.PkgFamily.APT,
        systemd=True,
        gpus=(
            m.Gpu(
                pci_address="0000:01:00.0",
                device_id="2684",
                name="GeForce RTX 4090",
                chip="AD102",
                architecture="Ada Lovelace",
                compute_capability="8.9",
                memory_mib=24564,
            ),
        ),
        driver=m.DriverInfo(loaded=True, version="580.95.05", flavour=m.DriverFlavour.OPEN),
        secure_boot=m.SecureBoot(enabled=False, efi=True, source="mokutil"),
        user=m.UserInfo(name="ada", uid=1000, gid=1000, groups=("ada", "docker")),
    )


def test_host_facts_json_round_trip() -> None:
    facts = _facts()
    text = json.dumps(m.to_data(facts))
    assert m.from_data(m.HostFacts, json.loads(text)) == facts


def test_profile_round_trip_with_nested_tables() -> None:
    profile = m.Profile(
        name="lab",
        run=m.RunOptions(mounts=(m.Mount("/data", "/data", read_only=True),)),
        progress={
            "driver": m.StageProgress(state=m.StageState.DONE, updated_at="2026-11-23T00:00:00Z")
        },
        last_image=m.BuiltImage(tag="dlenv/lab:latest", id="sha256:abc"),
        host=_facts(),
    )
    assert m.from_data(m.Profile, m.to_data(profile)) == profile


def test_none_fields_are_dropped_for_toml() -> None:
    data = m.to_data(m.Gpu(pci_address="0000:01:00.0", device_id="1b80"))
    assert "memory_mib" not in data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "schema": "one"}, "Profile.schema: expected a whole number"),
        ({"name": "x", "colour": "red"}, "unknown field 'colour'"),
        ({}, "missing field 'name'"),
        ({"name": "x", "engine": {"engine": "lxc"}}, "'lxc' is not one of docker, podman"),
        (
            {"name": "x", "image": {"jupyter": "yes"}},
            "Profile.image.jupyter: expected true or false",
        ),
    ],
)
def test_bad_data_names_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(m.DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        m.from_data(m.Profile, data)
