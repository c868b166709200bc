"""The Image stage offers only CUDA / flavour / Ubuntu combinations that nvidia/cuda publishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.widgets import Checkbox, Select, Static

from dlenv_tui import compat
from dlenv_tui.model import ImageVariant


@pytest.fixture
def skip_to_image(
    wait_for: Callable[..., Any], screen_name: Callable[[Any], str], new_profile: Any
) -> Any:
    async def run(pilot: Any) -> None:
        """New profile on a host without a driver, skipping the host stages (no driver limit)."""
        app = pilot.app
        await new_profile(pilot)
        await pilot.press("ctrl+n")
        for stage in ("DriverScreen", "ToolkitScreen", "EngineScreen"):
            await wait_for(pilot, lambda s=stage: screen_name(app) == s, stage)
            await pilot.press("s")
            await wait_for(pilot, lambda: screen_name(app) == "ConfirmDialog", "skip?")
            await pilot.press("y")
        await wait_for(pilot, lambda: screen_name(app) == "ImageScreen", "image")
        await pilot.pause(0.3)

    return run


def options(select: Select[str]) -> list[str]:
    return [str(value) for _label, value in select._options if isinstance(value, str)]


async def test_cuda_and_ubuntu_follow_the_flavour_and_next_waits_for_an_image(
    screen_name: Callable[[Any], str],
    demo_app: Any,
    skip_to_image: Any,
    press_next: Any,
) -> None:
    app, store, _, _ = demo_app("fedora-a100")
    async with app.run_test(size=(80, 24)) as pilot:
        await skip_to_image(pilot)
        screen = app.screen
        cuda = screen.query_one("#cuda", Select)
        variant = screen.query_one("#variant", Select)
        ubuntu = screen.query_one("#ubuntu", Select)
        error = screen.query_one("#image-error", Static)

        # the default is base without cuDNN: PyTorch's wheels bring CUDA's libraries themselves
        assert not screen.query_one("#cudnn", Checkbox).value
        assert variant.value == ImageVariant.BASE.value
        flavour = screen.query_one("#flavour-reasons", Static)
        assert "once, not twice" in " ".join(str(flavour.render()).split())
        # runtime + cuDNN: CUDA 11.3 comes only as cuDNN devel images (since the audit's F5
        # refresh every 13.x minor has all flavours); the reasons say CUDA would be there twice
        variant.value = ImageVariant.RUNTIME.value
        screen.query_one("#cudnn", Checkbox).value = True
        await pilot.pause(0.2)
        assert "twice" in " ".join(str(flavour.render()).split())
        assert "11.3" not in options(cuda) and "11.4" in options(cuda)
        assert not error.display
        assert "11.3" in str(screen.query_one("#cuda-reasons", Static).render())

        variant.value = ImageVariant.DEVEL.value
        await pilot.pause(0.2)
        assert "11.3" in options(cuda)
        cuda.value = "11.3"
        await pilot.pause(0.2)
        assert options(ubuntu) == list(compat.ubuntu_releases_for("11.3"))
        assert not error.display

        # back to runtime: 11.3 is no longer offered and the choice moves to one that exists
        variant.value = ImageVariant.RUNTIME.value
        await pilot.pause(0.2)
        assert "11.3" not in options(cuda)
        assert cuda.value in options(cuda)
        assert not error.display

        # base + cuDNN exists for no CUDA version: said under the row, and Next stays put
        variant.value = ImageVariant.BASE.value
        await pilot.pause(0.2)
        assert error.display
        assert "no base image with cuDNN" in str(error.render())
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert screen_name(app) == "ImageScreen"

        screen.query_one("#cudnn", Checkbox).value = False
        await pilot.pause(0.2)
        assert not error.display
        await press_next(pilot, "BuildScreen")
    image = store.load("gpu-dev").image
    assert (image.variant, image.cudnn) == (ImageVariant.BASE, False)
    compat.image_tag(image.cuda, image.variant, image.cudnn, image.ubuntu)  # exists


@pytest.fixture
def _image_to_launch(build_image: Any, press_next: Any) -> Any:
    async def run(pilot: Any) -> None:
        await build_image(pilot)
        await press_next(pilot, "LaunchScreen")
        await pilot.pause()

    return run


def _text(screen: Any, id_: str) -> str:
    box = screen.query_one(f"#{id_}", Static)
    return " ".join(str(box.render()).split()) if box.display else ""


async def test_image_and_launch_show_the_cli_notes_and_no_ssh_line_that_cannot_work(
    monkeypatch: Any,
    demo_app: Any,
    skip_to_image: Any,
    _image_to_launch: Any,
    launch_container: Any,
) -> None:
    from dlenv_tui import session
    from dlenv_tui.image_notes import NO_SSH_KEY

    monkeypatch.setattr(session, "DEMO_SSH_KEY", "")  # the simulated user has no public key
    app, _, _, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await skip_to_image(pilot)
        notes = _text(app.screen, "image-notes")
        assert NO_SSH_KEY in notes, notes
        assert "PyTorch" in notes and "cu1" in notes  # why this torch index
        await _image_to_launch(pilot)
        assert NO_SSH_KEY in _text(app.screen, "launch-notes")
        await launch_container(pilot)
        lines = app.screen.connect_lines
    assert not any("ssh -p" in line for line in lines), lines
    assert any("the image has no public key" in line for line in lines), lines


async def test_with_a_public_key_launch_shows_the_ssh_line(
    demo_app: Any, skip_to_image: Any, _image_to_launch: Any, launch_container: Any
) -> None:
    from dlenv_tui.image_notes import NO_SSH_KEY

    app, _, _, _ = demo_app("ubuntu-4090")
    async with app.run_test(size=(80, 24)) as pilot:
        await skip_to_image(pilot)
        assert NO_SSH_KEY not in _text(app.screen, "image-notes")
        await _image_to_launch(pilot)
        await launch_container(pilot)
        lines = app.screen.connect_lines
    assert any("ssh -p 2222" in line for line in lines), lines


async def test_a_base_tag_gone_from_the_registry_stops_the_build_and_u_builds_on_the_newest(
    wait_for: Callable[..., Any],
    demo_app: Any,
    skip_to_image: Any,
    press_next: Any,
    registry: Any,
) -> None:
    from dataclasses import replace

    from dlenv_tui.session import verify_before_build

    app, store, _, _ = demo_app("fedora-a100")
    # the real run's check before a build, against the local registry (the demo asks nothing)
    app.ctx.deps = replace(app.ctx.deps, verify_build=verify_before_build)
    async with app.run_test(size=(100, 30)) as pilot:
        await skip_to_image(pilot)
        base = app.ctx.render_image(store.load("gpu-dev")).base
        major, minor, patch = (int(n) for n in base.split(":", 1)[1].split("-", 1)[0].split("."))
        flavour = base.split("-", 1)[1]
        # NVIDIA published the next patch release of the chosen CUDA minor and deleted this one
        newer = f"{major}.{minor}.{patch + 1}-{flavour}"
        registry.tags.add(newer)
        registry.tags.discard(base.split(":", 1)[1])
        await press_next(pilot, "BuildScreen")
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.offer), "the check before the build")
        state = " ".join(str(screen.query_one("#build-state", Static).render()).split())
        assert f"{base.removeprefix('docker.io/')} is not on the registry" in state
        assert f"u builds on {screen.offer}" in state
        # nothing was built or recorded, and the offer is a shown key
        assert screen.built is None and store.load("gpu-dev").last_image is None
        assert any(b.binding.key == "u" and b.enabled for b in app.active_bindings.values())
        offer = screen.offer
        assert offer == f"nvidia/cuda:{newer}"

        await pilot.press("u")
        await wait_for(pilot, lambda: screen.built is not None, "the build on the offered base")
    saved = store.load("gpu-dev")
    assert saved.image.base_override == offer
    assert saved.last_image is not None and app.ctx.render_image(saved).base == offer
