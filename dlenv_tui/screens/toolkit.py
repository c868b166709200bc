"""Container toolkit: NVIDIA's repository for this distro, the package, `nvidia-ctk` verified."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from dlenv_tui.model import Stage
from dlenv_tui.screens.planned import PlannedStageScreen


class ToolkitScreen(PlannedStageScreen):
    KEY = "toolkit"
    STAGE = Stage.TOOLKIT
    TITLE_TEXT = "NVIDIA Container Toolkit"
    BINDINGS = [Binding("enter", "next", "Next", show=False)]

    def compose_body(self) -> ComposeResult:
        yield from self.compose_satisfied()  # at the top, as on the driver and engine stages
        yield Static(
            "The toolkit lets containers see the GPU: the engine asks `nvidia-container-runtime` (Docker) "
            "or reads a CDI spec (Podman) to hand the devices and driver libraries to the container.",
            classes="advice",
        )
        yield from self.compose_plan()

    def on_mount(self) -> None:
        facts = self.facts
        self.refresh_plan()
        # when satisfied, the line above already says it is installed: keep the explanation
        if facts.nvidia_ctk.present and not (self.plan is not None and self.plan.satisfied):
            self.query_one(".advice", Static).update(
                f"nvidia-ctk {facts.nvidia_ctk.version} is installed at {facts.nvidia_ctk.path or 'PATH'}."
            )
