"""Running a privileged plan: confirm it (commands and files), ask for the sudo password only when
needed, then a live step list and log; a failure shows the failed step with Retry / Skip / Abort."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static

from dlenv_tui import operations
from dlenv_tui.model import Event, EventKind, Plan, Profile, Step, StepKind, StepOutcome
from dlenv_tui.screens.context import Context
from dlenv_tui.widgets.log_pane import LineBatcher, LogPane
from dlenv_tui.widgets.stage_bar import StageBar
from dlenv_tui.widgets.step_list import StepList

if TYPE_CHECKING:
    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.execute.runners import JobResult

ApplyState = Literal["done", "skipped", "aborted", "back", "reboot"]


@dataclass(frozen=True)
class ApplyOutcome:
    state: ApplyState
    detail: str = ""
    result: JobResult | None = None
    """The runner's result (None when nothing ran)."""


def step_preview(step: Step) -> list[tuple[str, str]]:
    """Markup lines describing one step for the confirmation: the command, the file or the download.

    Each line comes with its CSS class: ``plan-head`` (the title), ``plan-detail`` (indented under
    it) or ``plan-file`` (file contents), so a long line wraps under its own indent.
    """
    lines = [
        (
            f"[b]{escape(step.title)}[/b]" + (" [$text-muted](root)[/]" if step.needs_root else ""),
            "plan-head",
        )
    ]

    def detail(markup: str) -> None:
        lines.append((markup, "plan-detail"))

    if step.note:
        detail(f"[$text-muted]{escape(step.note)}[/]")
    if step.kind is StepKind.RUN and step.argv:
        detail(f"[$accent]$ {escape(shlex.join(step.argv))}[/]")
    elif step.kind is StepKind.WRITE_FILE and step.file is not None:
        detail(f"writes [b]{escape(step.file.path)}[/b] (mode {step.file.mode:o}):")
        body = step.file.content.rstrip("\n").splitlines()
        text = "\n".join(escape(line) for line in body[:12])
        if len(body) > 12:
            text += f"\n[$text-muted]… {len(body) - 12} more lines[/]"
        lines.append((text, "plan-file"))
    elif step.kind is StepKind.DOWNLOAD and step.download is not None:
        d = step.download
        detail(f"downloads {escape(d.url)} → {escape(d.dest)}")
        if d.fingerprint:
            detail(f"verifies key fingerprint {escape(d.fingerprint)}")
    elif step.kind is StepKind.REBOOT:
        detail("[$warning]you reboot the machine yourself; dlenv never reboots it[/]")
    if step.check:
        detail(f"[$text-muted]skipped when `{escape(shlex.join(step.check))}` succeeds[/]")
    return lines


def show_events(
    events: list[Event], steps: tuple[Step, ...], step_list: StepList | None, log: LogPane
) -> None:
    """Runner events onto a step list (when there is one) and a log pane."""
    lines: list[str] = []
    for e in events:
        if e.kind is EventKind.OUTPUT:
            lines.append(e.line)
        elif e.kind is EventKind.STEP_STARTED:
            if step_list is not None:
                step_list.set_state(e.step, "running")
            title = next((s.title for s in steps if s.id == e.step), e.step)
            lines.append(f"── {e.index}/{e.total} {title}")
        elif e.kind is EventKind.STEP_FINISHED and e.outcome is None:
            if step_list is not None:  # a dry run's step: shown, never run
                step_list.set_state(e.step, "not-run")
        elif e.kind is EventKind.STEP_FINISHED and e.outcome is not None:
            if step_list is not None:
                step_list.set_state(e.step, e.outcome.value)
            if e.outcome is StepOutcome.SKIPPED:
                lines.append("   already done, skipped")
        elif e.kind is EventKind.WAITING:
            lines.append(f"   waiting: {e.message}")
        elif e.kind is EventKind.ERROR:
            lines.append(f"   error: {e.message}")
    if lines:
        log.add_lines(lines)


def batched_sink(
    post: Callable[[list[Event]], object],
) -> tuple[Callable[[Event], None], LineBatcher]:
    """An event sink for a thread worker: output lines go up in batches, every other event at
    once (after the lines before it), so a step waiting silently still shows why."""
    pending: list[Event] = []
    lock = threading.Lock()

    def deliver(lines: list[str]) -> None:
        with lock:
            batch = [*pending, *(Event(EventKind.OUTPUT, line=line) for line in lines)]
            pending.clear()
        post(batch)

    batcher = LineBatcher(deliver)

    def on_event(event: Event) -> None:
        if event.kind is EventKind.OUTPUT:
            batcher.add(event.line)
            return
        batcher.flush()
        post([event])

    return on_event, batcher


class ApplyScreen(Screen[ApplyOutcome]):
    """Confirm → run → done / failed, for one stage's plan."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+n", "primary", "Run plan", priority=True),
        # the same key once the plan has run: the footer says where it leads
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("r", "retry", "Retry"),
        Binding("s", "skip", "Skip step"),
        Binding("a", "abort", "Abort"),
        Binding("ctrl+c", "cancel", "Cancel after this step"),
    ]

    @dataclass
    class Events(Message):
        events: list[Event]

    @dataclass
    class Finished(Message):
        result: JobResult | None
        error: str = ""

    @dataclass
    class PasswordRejected(Message):
        """sudo rejected the typed password: the form asks for it again."""

    @dataclass
    class SudoMode(Message):
        needs_password: bool

    def __init__(self, ctx: Context, plan: Plan, profile: Profile) -> None:
        super().__init__(classes="stage")
        self.ctx = ctx
        self.plan = plan
        self.profile = profile
        self.phase: Literal["confirm", "running", "done", "failed"] = "confirm"
        self.needs_password = False
        self.result: JobResult | None = None
        self.cancel_event = threading.Event()

    def compose(self) -> ComposeResult:
        from dlenv_tui.screens.base import done_stages, skipped_stages

        yield StageBar(
            self.plan.stage.value,
            done_stages(self.profile),
            self.profile.name,
            skipped_stages(self.profile),
        )
        yield Static(self._title(), id="apply-title", classes="stage-title")
        with VerticalScroll(id="confirm", classes="stage-body"):
            m = self.ctx.mode
            mode = f"[reverse] {m.badge} [/] {m.notice}\n" if m.badge else ""
            yield Static(
                mode
                + f"{len(self.plan.steps)} steps. Read them, then press [b]Ctrl+N[/b] to run them.",
                classes="hint",
            )
            for w in self.plan.warnings:
                yield Static(f"⚠ {escape(w)}", classes="warning")
            for i, step in enumerate(self.plan.steps, start=1):
                with Vertical(classes="plan-step"):
                    for n, (markup, css) in enumerate(step_preview(step)):
                        yield Static(f"{i}. {markup}" if n == 0 else markup, classes=css)
            with Vertical(id="password-box"):
                yield Label("sudo password (used once to start the root worker; never stored)")
                yield Input(password=True, id="password", placeholder="password")
                yield Static("", id="password-error", classes="field-error")
        with Vertical(id="run"):
            yield StepList(self.plan.steps, id="steps")
            yield Static("", id="failure", classes="failure")
            yield LogPane(id="log")
        yield Footer()

    def _title(self) -> str:
        names = {
            "driver": "NVIDIA driver",
            "toolkit": "Container toolkit",
            "engine": "Container engine",
        }
        what = names.get(self.plan.stage.value, self.plan.stage.value)
        if self.plan.finding:
            what = f"Doctor fix ({self.plan.finding})"
        return {
            "confirm": f"{what}: the plan",
            "running": f"{what}: running…",
            "done": self.ctx.mode.say(
                f"{what}: done", f"{what}: dry run finished (nothing was changed)"
            ),
            "failed": f"{what}: stopped"
            if self.cancel_event.is_set()
            else f"{what}: a step failed",
        }[self.phase]

    def on_mount(self) -> None:
        self.query_one("#run").display = False
        self.query_one("#password-box").display = False
        self.query_one("#failure").display = False
        self.ask_sudo_mode()  # the seam: never in a dry run or the demo
        self.query_one("#confirm").focus()

    @work(thread=True, exit_on_error=False, group="sudo")
    def ask_sudo_mode(self) -> None:
        try:
            needed = bool(self.ctx.password_needed())
        except Exception:
            needed = True
        self.post_message(self.SudoMode(needed))

    def on_apply_screen_sudo_mode(self, message: SudoMode) -> None:
        self.needs_password = message.needs_password
        box = self.query_one("#password-box")
        box.display = message.needs_password and any(s.needs_root for s in self.plan.steps)
        if box.display:
            self.query_one("#password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_primary()

    # --------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("retry", "abort"):
            return self.phase == "failed"
        if action == "skip":
            return self.phase == "failed" and self._skippable()
        if action == "back":
            return self.phase in ("confirm", "failed", "done")
        if action == "cancel":
            return self.phase == "running"
        if action == "primary":
            return self.phase == "confirm"
        if action == "next":
            return self.phase == "done"
        return True

    def _skippable(self) -> bool:
        from dlenv_tui.operations import may_skip

        return may_skip(self.plan, self.result)

    def action_primary(self) -> None:
        if self.phase == "confirm":
            password: str | None = None
            if self.query_one("#password-box").display:
                password = self.query_one("#password", Input).value
                if not password:
                    self.query_one("#password-error", Static).update(
                        "Type your sudo password to run the plan."
                    )
                    return
            self._start(password)
        elif self.phase == "done":
            self._finish()

    def action_next(self) -> None:
        self._finish()

    def _finish(self) -> None:
        outcomes = getattr(self.result, "outcomes", {}) or {}
        if any(o == StepOutcome.REBOOT for o in outcomes.values()):
            self.dismiss(ApplyOutcome("reboot", "reboot to load the new driver", self.result))
        else:
            self.dismiss(ApplyOutcome("done", "", self.result))

    def action_back(self) -> None:
        if self.phase == "failed":
            self.action_abort()
        elif self.phase == "done":
            self._finish()
        else:
            self.dismiss(ApplyOutcome("back"))

    def action_retry(self) -> None:
        self.query_one(StepList).reset()
        self.query_one("#failure").display = False
        self._start(self._password)

    def action_skip(self) -> None:
        self.dismiss(
            ApplyOutcome(
                "skipped",
                f"step {self.result.failed_step if self.result else ''} skipped after it failed",
                self.result,
            )
        )

    def action_abort(self) -> None:
        failed = getattr(self.result, "failed_step", "")
        self.dismiss(ApplyOutcome("aborted", f"step {failed} failed", self.result))

    def action_cancel(self) -> None:
        self.cancel_event.set()
        self.notify("Cancelling after the current step…")

    # --------------------------------------------------------------- running

    _password: str | None = None

    def _set_phase(self, phase: Literal["confirm", "running", "done", "failed"]) -> None:
        self.phase = phase
        self.query_one("#apply-title", Static).update(self._title())
        self.refresh_bindings()

    def _start(self, password: str | None) -> None:
        self._password = password
        self.query_one("#confirm").display = False
        self.query_one("#run").display = True
        self.cancel_event = threading.Event()
        self._set_phase("running")
        self.run_plan(password)

    @work(thread=True, exit_on_error=False, exclusive=True, group="apply")
    def run_plan(self, password: str | None) -> None:
        """The operations layer runs the stage, marks it running and records how it ended."""
        from dlenv_tui.execute.sudo import WrongPassword

        on_event, batcher = batched_sink(lambda events: self.post_message(self.Events(events)))
        try:
            ran = operations.apply_stage(
                self.plan,
                self.ctx.make_runner,
                on_event,
                store=self.ctx.store,
                profile=self.profile.name,
                # one try per typed password: after a rejection the form asks again
                password=lambda attempt: password if attempt == 0 else None,
                cancel=self.cancel_event,
            )
        except WrongPassword:
            batcher.flush()
            self.post_message(self.PasswordRejected())
            return
        except Exception as exc:  # the runner's one-sentence errors (no sudo, worker busy…)
            batcher.flush()
            self.post_message(self.Finished(None, str(exc) or exc.__class__.__name__))
            return
        batcher.flush()
        if ran.record_error:
            self.app.call_from_thread(
                self.notify,
                f"Could not record the outcome: {ran.record_error}",
                severity="error",
                timeout=15,
            )
        self.post_message(self.Finished(ran.result))

    def on_apply_screen_password_rejected(self, message: PasswordRejected) -> None:
        self.query_one("#run").display = False
        self.query_one("#confirm").display = True
        self._set_phase("confirm")
        box = self.query_one("#password-box")
        box.display = True
        field = self.query_one("#password", Input)
        field.value = ""
        self.query_one("#password-error", Static).update(
            "sudo rejected the password: type it again."
        )
        field.focus()

    def on_apply_screen_events(self, message: Events) -> None:
        show_events(
            message.events, self.plan.steps, self.query_one(StepList), self.query_one(LogPane)
        )

    def on_apply_screen_finished(self, message: Finished) -> None:
        self.result = message.result
        if message.result is not None and message.result.ok:
            self._set_phase("done")
            reboot = any(o == StepOutcome.REBOOT for o in message.result.outcomes.values())
            note = (
                "Reboot needed: press Ctrl+N. Run dlenv again after the reboot; this profile resumes here."
                if reboot
                else self.ctx.mode.say(
                    "Every step finished. Press Ctrl+N to continue.",
                    "Every step would run as shown (dry run: nothing ran). Press Ctrl+N to continue.",
                )
            )
            from dlenv_tui.plan.driver.guardian import relaunch_note

            if relaunch := relaunch_note(self.plan, message.result.outcomes):
                note += "\n" + relaunch
            failure = self.query_one("#failure", Static)
            failure.update(note)
            failure.set_class(False, "-error")
            failure.display = True
            return
        self._set_phase("failed")
        failure = self.query_one("#failure", Static)
        failure.set_class(True, "-error")
        if message.result is None:
            failure.update(f"✗ {escape(message.error)}\n[b]r[/b] retry · [b]a[/b] abort")
        else:
            r = message.result
            title = next((s.title for s in self.plan.steps if s.id == r.failed_step), r.failed_step)
            code = f" (exit status {r.exit_code})" if r.exit_code is not None else ""
            tail = "\n".join(f"  {escape(line)}" for line in list(r.last_lines)[-5:])
            keys = "[b]r[/b] retry · [b]a[/b] abort" + (
                " · [b]s[/b] skip this check" if self._skippable() else ""
            )
            if self.cancel_event.is_set() and r.exit_code is None:
                # nothing failed: the runner's sentence already names the step it stopped before
                failure.update(f"✗ {escape(r.message)}\n{keys}")
            else:
                failure.update(
                    f"✗ {escape(title)} failed{code}: {escape(r.message)}\n{tail}\n{keys}"
                )
        failure.display = True


class _StopFollowing(Exception):
    """Raised from the event sink when the job screen has closed: stops following, not the job."""


class JobScreen(Screen[None]):
    """A root-worker job that ran while nobody watched: its steps, its log while it runs, and its
    outcome, which is recorded in the profile the job belongs to."""

    BINDINGS = [Binding("escape,ctrl+n", "close", "Back to profiles")]

    @dataclass
    class Events(Message):
        events: list[Event]

    @dataclass
    class Finished(Message):
        result: JobResult | None
        error: str = ""

    def __init__(self, ctx: Context, job: JobInfo) -> None:
        super().__init__(classes="stage")
        self.ctx = ctx
        self.job = job
        self.job_id = str(getattr(job, "id", job))
        self.plan: Plan | None = getattr(job, "plan", None)
        self.result: JobResult | None = None
        self.recorded = ""
        """What was written into the job's profile, as a sentence ("" when nothing)."""
        self._left = threading.Event()

    def compose(self) -> ComposeResult:
        what = ""
        if self.plan is not None:
            what = f" — {_STAGE_NAMES.get(self.plan.stage.value, self.plan.stage.value)}"
            if self.plan.profile:
                what += f" for profile {self.plan.profile}"
        yield Static(f"Privileged job {escape(self.job_id)}{escape(what)}", classes="stage-title")
        running = getattr(self.job, "running", False)
        yield Static(
            "Following the job; it runs as root on its own, leaving this screen does not stop it."
            if running
            else "Replaying the job's journal…",
            id="job-state",
            classes="failure",
        )
        if self.plan is not None:
            yield StepList(self.plan.steps, id="steps")
        yield LogPane(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.follow()

    @work(thread=True, exit_on_error=False, group="job")
    def follow(self) -> None:
        if self.ctx.follow_job is None:
            self.post_message(self.Finished(None, "following jobs is not available here"))
            return
        on_event, batcher = batched_sink(lambda events: self.post_message(self.Events(events)))

        def sink(event: Event) -> None:
            if self._left.is_set():
                raise _StopFollowing
            on_event(event)

        try:
            result = self.ctx.follow_job(self.job_id, sink)
        except _StopFollowing:
            return  # the user left; the job goes on and is offered again next time
        except Exception as exc:
            batcher.flush()
            self.post_message(self.Finished(None, str(exc) or exc.__class__.__name__))
            return
        batcher.flush()
        recorded = ""
        if self.plan is not None:
            try:
                recorded = operations.record(self.ctx.store, self.plan.profile, self.plan, result)
            except Exception as exc:  # the outcome still shows; say why it was not recorded
                recorded = f"Could not record it in the profile: {exc}"
        self.recorded = recorded
        self.post_message(self.Finished(result))

    def on_job_screen_events(self, message: Events) -> None:
        steps = self.query_one(StepList) if self.plan is not None else None
        show_events(
            message.events, self.plan.steps if self.plan else (), steps, self.query_one(LogPane)
        )

    def on_job_screen_finished(self, message: Finished) -> None:
        self.result = message.result
        state = self.query_one("#job-state", Static)
        r = message.result
        ok = r is not None and r.ok
        state.set_class(not ok, "-error")
        if r is None:
            text = f"✗ {escape(message.error)}"
        elif r.ok:
            text = "✓ The job finished and every step succeeded."
        else:
            title = r.failed_step
            if self.plan is not None:
                title = next((s.title for s in self.plan.steps if s.id == r.failed_step), title)
            code = f" (exit status {r.exit_code})" if r.exit_code is not None else ""
            text = f"✗ {escape(title)} failed{code}: {escape(r.message)}"
        if self.recorded:
            text += f"\n{escape(self.recorded)}"
        if r is not None:
            text += "\nEsc: back to the profiles" + (
                f"; open {escape(self.plan.profile)} to go on."
                if self.plan and self.plan.profile
                else "."
            )
        state.update(text)

    def action_close(self) -> None:
        self._left.set()
        self.dismiss(None)


_STAGE_NAMES = {
    "driver": "NVIDIA driver",
    "toolkit": "Container toolkit",
    "engine": "Container engine",
}
