"""The wizard's screens, one module per stage, plus dialogs and help."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.model import HostFacts, Profile
    from dlenv_tui.screens.base import StageScreen
    from dlenv_tui.screens.context import Context


def make_stage_screen(
    key: str, ctx: Context, profile: Profile, facts: HostFacts, *, autostart: bool = False
) -> StageScreen:
    """The screen of stage ``key`` (one of ``dlenv_tui.app.ORDER``) on the host's ``facts``."""
    from dlenv_tui.screens.build import BuildScreen
    from dlenv_tui.screens.driver import DriverScreen
    from dlenv_tui.screens.engine import EngineScreen
    from dlenv_tui.screens.image import ImageScreen
    from dlenv_tui.screens.launch import LaunchScreen
    from dlenv_tui.screens.prereq import PrereqScreen
    from dlenv_tui.screens.summary import SummaryScreen
    from dlenv_tui.screens.toolkit import ToolkitScreen

    if key == "build":
        return BuildScreen(ctx, profile, facts, autostart=autostart)
    if key == "launch":
        return LaunchScreen(ctx, profile, facts, autostart=autostart)
    simple: dict[str, type[StageScreen]] = {
        "prereq": PrereqScreen,
        "driver": DriverScreen,
        "toolkit": ToolkitScreen,
        "engine": EngineScreen,
        "image": ImageScreen,
        "summary": SummaryScreen,
    }
    return simple[key](ctx, profile, facts)
