"""Driver: the recommended flavour and branch and why, the Secure Boot sub-flow, the reboot."""

from __future__ import annotations

import dataclasses

from textual.app import ComposeResult
from textual.markup import escape
from textual.widgets import RadioButton, RadioSet, Static

from dlenv_tui.compat import choices
from dlenv_tui.model import DriverFlavour, Plan, Profile, Stage
from dlenv_tui.screens.planned import PlannedStageScreen


class DriverScreen(PlannedStageScreen):
    KEY = "driver"
    STAGE = Stage.DRIVER
    TITLE_TEXT = "NVIDIA driver"

    def compose_body(self) -> ComposeResult:
        yield from self.compose_satisfied()
        yield Static("", id="advice", classes="advice")
        with RadioSet(id="flavour", compact=True):
            yield RadioButton("Open kernel modules", id="open")
            yield RadioButton("Proprietary kernel modules", id="proprietary")
        yield Static("", id="secureboot", classes="warning")
        yield from self.compose_plan()

    def on_mount(self) -> None:
        facts = self.facts
        advice = choices.driver_advice(facts.gpus)
        self.advice = advice
        chosen = self.profile.driver.flavour or advice.flavour
        lines = [
            f"Recommended: [b]{advice.flavour.value}[/b] kernel modules"
            + (f", branch [b]{advice.branch}[/b]" if advice.branch else "")
        ]
        lines += [f"• {escape(r)}" for r in choices.unique(advice.reasons)]
        if facts.driver.loaded:
            lines.insert(
                0,
                f"Loaded now: driver [b]{facts.driver.version}[/b] ({facts.driver.flavour or 'flavour unknown'}).",
            )
        self.query_one("#advice", Static).update("\n".join(lines))
        self.query_one(f"#{chosen.value}", RadioButton).value = True
        self.query_one("#open", RadioButton).disabled = advice.proprietary_required
        self.query_one("#proprietary", RadioButton).disabled = advice.open_required
        sb = self.query_one("#secureboot", Static)
        if facts.secure_boot.enabled:
            sb.update(
                "⚠ Secure Boot is on. The kernel only loads signed modules: dlenv uses the distribution's "
                "signed modules where it has them, otherwise it makes a key and runs `mokutil --import`. "
                "Then the key must be enrolled at the [b]console or BMC[/b] at the next boot (MOK manager, "
                "blue screen) — plan to be there, or have remote console access."
            )
        else:
            sb.display = False
        if not facts.gpus:
            # no GPU, no driver plan (the reason above says so): no flavour to choose either
            self.query_one("#advice", Static).display = False
            self.query_one(RadioSet).display = False
        self.refresh_plan()
        if facts.gpus:
            self.query_one(RadioSet).focus()

    def satisfied_why(self, plan: Plan) -> str:
        # the advice below already names the loaded driver and the GPU reasons
        return "The loaded driver fits these GPUs; nothing to change."

    def current_profile(self) -> Profile:
        pressed = self.query_one(RadioSet).pressed_button
        flavour = (
            DriverFlavour(pressed.id)
            if pressed is not None and pressed.id
            else self.profile.driver.flavour
        )
        return dataclasses.replace(
            self.profile, driver=dataclasses.replace(self.profile.driver, flavour=flavour)
        )

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.refresh_plan()
