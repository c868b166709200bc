"""Two Podman builds at once share the apt cache mounts (Podman gets no ``sharing=locked``: buildah
1.28 never releases it inside one `podman system service`): apt's own lock files in the shared
mount would fail the second build's apt at once, so the apt steps take turns on a lock file there.
Checked on the host afterwards: both images hold the package their profile asked for."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from dlenv_tui.engine import connect
from dlenv_tui.model import EngineName, Profile


def test_two_podman_builds_at_once_both_get_their_apt_packages(
    debian: str, small_profile: Any, build: Any
) -> None:
    import dataclasses

    run = uuid.uuid4().hex[:8]  # fresh names: no layer of an earlier run is reused
    profiles: list[Profile] = []
    for package in ("hello", "sl"):
        p = small_profile(f"turn-{package}-{run}", EngineName.PODMAN, debian)
        profiles.append(
            dataclasses.replace(p, image=dataclasses.replace(p.image, extra_apt=(package,)))
        )
    errors: list[str] = []
    start = threading.Barrier(len(profiles))

    def one(profile: Profile) -> None:
        with connect(EngineName.PODMAN, start_service=False) as client:
            start.wait(timeout=30)
            try:
                build(client, profile)
            except Exception as exc:  # the build's one sentence, with its last lines
                errors.append(f"{profile.name}: {exc}")

    threads = [threading.Thread(target=one, args=(p,)) for p in profiles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors
    with connect(EngineName.PODMAN, start_service=False) as client:
        try:
            for profile, binary in zip(profiles, ("/usr/bin/hello", "/usr/games/sl"), strict=True):
                out = client.client.containers.run(
                    profile.image.tag, entrypoint=["ls", binary], remove=True, network_mode="none"
                )
                assert bytes(out).decode().strip() == binary
        finally:
            for profile in profiles:
                client.client.images.remove(profile.image.tag, force=True)
