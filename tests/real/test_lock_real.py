"""Reproducible rebuilds on real Docker and Podman (issue 13): a build records the exact versions
in the profile and the image, a rebuild installs them again, an upgrade re-resolves and says
what changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from dlenv_tui.engine import EngineClient, lock_changes
from dlenv_tui.image import ImageUser, render_dockerfile
from dlenv_tui.model import Profile

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]


@pytest.fixture
def locked_build(image_user: ImageUser) -> Callable[..., Profile]:
    """``locked_build(client, profile, upgrade=False)`` → the profile with its image and lock."""

    def run(client: EngineClient, profile: Profile, upgrade: bool = False) -> Profile:
        rendered = render_dockerfile(
            profile,
            engine=client.engine,
            user=image_user,
            ssh_keys="",
            proxy_env={},
            upgrade=upgrade,
        )
        built = client.build(profile, rendered)
        image = dataclasses.replace(profile.image, lock=built.lock or profile.image.lock)
        return dataclasses.replace(profile, image=image, last_image=built)

    return run


def _version(lock: tuple[str, ...], name: str) -> str:
    return next(line.split("==")[1] for line in lock if line.lower().startswith(f"{name}=="))


def test_rebuild_reuses_the_lock_and_upgrade_shows_the_change(
    client: EngineClient,
    debian: str,
    locked_build: Any,
    small_profile: Any,
) -> None:
    p = small_profile(f"lock-{client.engine.value}", client.engine, debian)
    p = dataclasses.replace(p, image=dataclasses.replace(p.image, extra_pip=("six==1.16.0",)))
    p = locked_build(client, p)
    assert p.last_image is not None and _version(p.last_image.lock, "six") == "1.16.0"
    assert _version(p.image.lock, "uv")  # uv itself is pinned too

    # the requirement loosens, yet a rebuild installs the locked version again
    p = dataclasses.replace(p, image=dataclasses.replace(p.image, extra_pip=("six",)))
    rebuilt = locked_build(client, p)
    assert rebuilt.last_image is not None
    assert _version(rebuilt.last_image.lock, "six") == "1.16.0"

    upgraded = locked_build(client, rebuilt, upgrade=True)
    assert upgraded.last_image is not None
    new = _version(upgraded.last_image.lock, "six")
    assert new != "1.16.0"
    assert f"six 1.16.0 -> {new}" in lock_changes(rebuilt.image.lock, upgraded.image.lock)
