"""The shared shape of the three host stages (driver, toolkit, engine): why, the plan in short, and
"already satisfied — s to skip"."""

from __future__ import annotations

import shlex

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.widgets import Static

from dlenv_tui import stages
from dlenv_tui.model import Plan, Stage, StageState, StepKind
from dlenv_tui.screens import services
from dlenv_tui.screens.base import Action, StageResult, StageScreen
from dlenv_tui.screens.dialogs import ConfirmDialog


class PlannedStageScreen(StageScreen):
    """A stage whose Next applies a privileged plan (after the apply screen's confirmation)."""

    STAGE: Stage = Stage.DRIVER
    BINDINGS = [Binding("s", "skip", "Skip")]

    plan: Plan | None = None

    def compose_satisfied(self) -> ComposeResult:
        """Goes at the top: "already satisfied — s skips"."""
        yield Static("", id="satisfied", classes="satisfied")

    def compose_plan(self) -> ComposeResult:
        """Goes at the bottom: the plan in short."""
        yield Static("", id="plan-summary", classes="plan-summary")

    def refresh_plan(self) -> None:
        """Re-plan for the choices on screen (pure and fast) and show the result."""
        try:
            self.plan = services.plan_stage(self.facts, self.current_profile(), self.STAGE)
        except Exception as exc:  # PlanError: unsupported distro and the like
            self.plan = None
            self.query_one("#plan-summary", Static).update(f"[$error]✗ {escape(str(exc))}[/]")
            self.query_one("#satisfied").display = False
            self.refresh_bindings()
            return
        plan = self.plan
        sat = self.query_one("#satisfied", Static)
        progress = self.profile.progress.get(self.STAGE.value)
        done = stages.done_text(self.profile, self.STAGE)
        if done and not plan.satisfied:
            # finished earlier (applied, or skipped on purpose): say so, not "here is a plan"
            mark = "✓" if done.startswith("Done") else "–"
            sat.update(
                f"[$success]{mark} {escape(done)}[/]\nPress [b]s[/b] to keep it and go on; "
                "Ctrl+N runs the plan below again."
            )
            sat.display = True
        elif not plan.satisfied and not plan.steps:
            # nothing to plan here (no GPU for a driver): why, and what Ctrl+N does
            why = plan.reasons[0] if plan.reasons else "Nothing can be planned on this host."
            sat.update(
                f"[$warning]⚠ {escape(why)}[/]\nCtrl+N goes on without this stage "
                "(recorded as skipped)."
            )
            sat.display = True
        elif plan.satisfied:
            why = self.satisfied_why(plan)
            sat.update(
                f"[$success]✓ Already satisfied.[/] {escape(why)}\nPress [b]s[/b] to skip this stage."
            )
            sat.display = True
        elif progress is not None and progress.state is StageState.NEEDS_REBOOT:
            sat.update(
                "[$warning]⟳ Waiting for a reboot.[/] The plan below shows what is still missing."
            )
            sat.display = True
        else:
            sat.display = False
        lines = []
        if plan.steps and not plan.satisfied:
            lines.append(
                f"[b]Plan[/b] ({len(plan.steps)} steps; shown in full before anything runs):"
            )
            for i, step in enumerate(plan.steps, start=1):
                cmd = ""  # indented under the step's title, not its number
                if step.kind is StepKind.RUN and step.argv:
                    cmd = f"    [$text-muted]{escape(shlex.join(step.argv))}[/]"
                elif step.kind is StepKind.WRITE_FILE and step.file is not None:
                    cmd = f"    [$text-muted]writes {escape(step.file.path)}[/]"
                elif step.kind is StepKind.DOWNLOAD and step.download is not None:
                    cmd = f"    [$text-muted]downloads {escape(step.download.dest)}[/]"
                lines.append(f" {i}. {escape(step.title)}")
                if cmd:
                    lines.append(cmd)
            for w in plan.warnings:
                lines.append(f"[$warning]⚠ {escape(w)}[/]")
        self.query_one("#plan-summary", Static).update("\n".join(lines))
        self.refresh_bindings()

    def satisfied_why(self, plan: Plan) -> str:
        """Why nothing is left to do: the plan's first reason (later ones describe steps that
        would run, which reads as a contradiction next to "already satisfied")."""
        return plan.reasons[0] if plan.reasons else "Nothing to do on this host."

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next":
            return self.plan is not None
        return True

    def next_action(self) -> Action:
        assert self.plan is not None
        if not self.plan.satisfied and not self.plan.steps:
            return "skip"  # nothing to apply: an empty confirmation screen would say nothing
        return "next" if self.plan.satisfied else "apply"

    @work
    async def action_skip(self) -> None:
        if self.plan is not None and self.plan.satisfied:
            self.dismiss(StageResult("next", self.current_profile()))
            return
        if stages.finished(self.profile, self.KEY):
            # finished earlier: s keeps it as it is (stages.skip leaves a done stage done)
            self.dismiss(StageResult("skip", self.current_profile()))
            return
        ok = await self.app.push_screen_wait(
            ConfirmDialog(
                "Skip this stage without running its plan?",
                "Only when you have set this up another way; later stages may fail otherwise.",
                yes="Skip",
                no="Stay",
            )
        )
        if ok:
            self.dismiss(StageResult("skip", self.current_profile()))
