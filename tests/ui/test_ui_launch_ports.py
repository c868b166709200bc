"""The Launch form keeps every port binding of the profile it does not show (issue 13)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dlenv_tui.app import make_app
from dlenv_tui.profiles import ProfileStore


def test_launch_form_keeps_the_bindings_it_does_not_show(
    wait_for: Callable[..., Any], screen_name: Callable[[Any], str], store: ProfileStore
) -> None:
    from dlenv_tui.model import PortMap, Profile, RunOptions
    from dlenv_tui.screens.launch import LaunchScreen

    ports = (
        PortMap(8888, 8888),
        PortMap(8888, 18888, "0.0.0.0"),  # the same container port on a second address
        PortMap(22, 2222),
        PortMap(6006, 6006),  # TensorBoard, set with `dlenv profiles set run.ports=…`
    )
    profile = Profile(name="ports", run=RunOptions(ports=ports))

    async def run() -> None:
        app = make_app(demo="ubuntu-4090", store=store)
        async with app.run_test(size=(100, 40)) as pilot:
            await wait_for(pilot, lambda: app.ctx.facts is not None, "facts", timeout=60)
            app.push_screen(LaunchScreen(app.ctx, profile))
            await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", "launch")
            await pilot.pause(0.3)
            assert set(app.screen.current_profile().run.ports) == set(ports)

    asyncio.run(run())
