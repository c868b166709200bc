"""Build: the image built by the engine with a progress bar, step i/n and the live log; a rebuild
installs the package lock's versions, an upgrade resolves them afresh and shows what changed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.message import Message
from textual.widgets import ProgressBar, Static

from dlenv_tui import operations
from dlenv_tui.model import BuiltImage, HostFacts, Profile
from dlenv_tui.screens.base import StageResult, StageScreen
from dlenv_tui.screens.context import Context
from dlenv_tui.widgets.log_pane import LineBatcher, LogPane

if TYPE_CHECKING:
    from dlenv_tui.engine.types import BuildProgress


class BuildScreen(StageScreen):
    KEY = "build"
    TITLE_TEXT = "Build the image"
    BINDINGS = [
        Binding("r", "build", "Build / rebuild"),
        Binding("g", "upgrade", "Upgrade"),
        Binding("s", "skip", "Keep image"),
        Binding("u", "use_offer", "Use the newest base"),
    ]

    @dataclass
    class Progress(Message):
        step: int
        total: int
        lines: list[str]

    @dataclass
    class Finished(Message):
        run: operations.BuildRun | None
        error: str = ""
        offer: str = ""
        """The base tag was gone: the newest existing patch release of it, to build on instead."""
        upgrade: bool = False
        """The build resolved the Python packages afresh (``g``) instead of from the lock."""

    def __init__(
        self,
        ctx: Context,
        profile: Profile,
        facts: HostFacts | None = None,
        *,
        autostart: bool = False,
    ) -> None:
        super().__init__(ctx, profile, facts)
        self.autostart = autostart
        self.building = False
        self.built: BuiltImage | None = None
        self.stale = False
        """The last build came from other settings (its Dockerfile digest differs)."""
        self.offer = ""
        """The check before the build found the base tag gone: the release it offers instead."""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="build-state", classes="hint")
        yield ProgressBar(total=1, show_eta=False, id="progress")
        yield Static("", id="step", classes="step-line")
        yield LogPane(id="log")

    def on_mount(self) -> None:
        last = self.profile.last_image
        state = self.query_one("#build-state", Static)
        engine = self.profile.engine.engine.value
        tag = self.profile.image.tag or f"dlenv/{self.profile.name}:latest"
        self.stale = self._stale()
        if last is not None and last.tag and self.stale:
            state.update(
                f"[$warning]The settings changed since the last build[/] ([b]{escape(last.tag)}[/b] "
                f"{escape(last.built_at[:16].replace('T', ' '))}): its Dockerfile differs. "
                "[b]Ctrl+N[/b] or [b]r[/b] rebuilds, [b]s[/b] keeps the old image."
            )
        elif last is not None and last.tag:
            state.update(
                f"Last build: [b]{escape(last.tag)}[/b] {escape(last.built_at[:16].replace('T', ' '))}. "
                f"[b]r[/b] rebuilds{self._lock_aside()}, [b]g[/b] upgrades the packages, "
                "[b]s[/b] keeps it."
            )
        else:
            state.update(
                f"Builds [b]{escape(tag)}[/b] with {engine}. Press [b]r[/b] to start"
                + f"{self.ctx.mode.aside}."
            )
        if self.autostart or (last is None and self.ctx.deps.auto_build):
            self.action_build()

    def _lock_aside(self) -> str:
        lock = self.profile.image.lock
        return f" (the {len(lock)} locked package versions)" if lock else ""

    def _stale(self) -> bool:
        try:
            rendered = self.ctx.render_image(self.profile)
        except Exception:  # the build itself reports a profile that cannot render
            return False
        return operations.build_is_stale(self.profile, rendered)

    def action_next(self) -> None:
        if self.stale and self.built is None:
            self.action_build()  # out of date: going on means rebuilding first
            return
        super().action_next()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("build", "upgrade", "back"):
            return not self.building
        if action == "next":
            return not self.building and (
                self.built is not None or self.profile.last_image is not None
            )
        if action == "use_offer":
            return not self.building and bool(self.offer)
        if action == "skip":
            return not self.building and self.profile.last_image is not None and self.built is None
        return True

    def action_build(self, upgrade: bool = False) -> None:
        if self.building:
            return
        self.building = True
        self.query_one(LogPane).clear()
        self.query_one("#build-state", Static).update(
            "Upgrading: the Python packages resolve afresh, not from the lock…"
            if upgrade
            else "Building…"
        )
        self.refresh_bindings()
        self.build(upgrade)

    def action_upgrade(self) -> None:
        """Build with the Python packages resolved afresh (`dlenv build --upgrade`); the new
        versions replace the lock, and what changed is shown version by version."""
        self.action_build(upgrade=True)

    def action_use_offer(self) -> None:
        """Build on the base the check found (recorded as the profile's base override)."""
        if self.building or not self.offer:
            return
        base, name = self.offer, self.profile.name

        def use(p: Profile) -> Profile:
            return replace(p, image=replace(p.image, base_override=base))

        store = self.ctx.store
        try:
            if store is not None and store.exists(name):
                self.profile = store.update(name, use)
            else:
                self.profile = use(self.profile)
        except Exception as exc:  # ProfileError: the store refused the edit
            self.notify(f"Could not record the base image: {exc}", severity="error", timeout=15)
            return
        self.offer = ""
        self.notify(f"The profile now builds on {base}.", timeout=8)
        self.action_build()

    def action_skip(self) -> None:
        self.dismiss(StageResult("next", self.profile))

    @work(thread=True, exit_on_error=False, exclusive=True, group="build")
    def build(self, upgrade: bool = False) -> None:
        profile = self.profile
        state = {"step": 0, "total": 0}

        def deliver(lines: list[str]) -> None:
            self.post_message(self.Progress(state["step"], state["total"], lines))

        batcher = LineBatcher(deliver)

        def on_progress(p: BuildProgress) -> None:
            state["step"], state["total"] = p.step, p.total
            batcher.add(p.line)

        try:
            rendered = self.ctx.render_image(profile, upgrade=upgrade)
            if self.ctx.deps.verify_build is not None:
                # verify before acting: the base tag and the torch index exist (a real run)
                checked = self.ctx.deps.verify_build(rendered, profile.name)
                for line in checked.lines:
                    batcher.add(line)
                if checked.stop:
                    batcher.flush()
                    why = checked.reason if checked.suggestion else checked.stop
                    self.post_message(self.Finished(None, why, checked.suggestion))
                    return
            engine = self.ctx.engine(profile.engine.engine)
            gpu_check = self.ctx.deps.gpu_check
            ran = operations.build_image(
                profile,
                engine,
                rendered,
                on_progress,
                store=self.ctx.store,
                now=self.ctx.now,
                # the in-image GPU check, as after `dlenv build` (a real run on a GPU host)
                check=(lambda p: gpu_check(engine, p)) if gpu_check is not None else None,
                # stamped as this screen renders a rebuild: with the lock the build recorded
                render=self.ctx.render_image,
            )
        except Exception as exc:  # EngineError / ImageError: one sentence
            batcher.flush()
            self.post_message(self.Finished(None, str(exc) or exc.__class__.__name__))
            return
        batcher.flush()
        self.post_message(self.Finished(ran, upgrade=upgrade))

    def on_build_screen_progress(self, message: Progress) -> None:
        bar = self.query_one(ProgressBar)
        if message.total:
            bar.update(total=message.total, progress=message.step)
            self.query_one("#step", Static).update(f"Step {message.step}/{message.total}")
        self.query_one(LogPane).add_lines(message.lines)

    def on_build_screen_finished(self, message: Finished) -> None:
        self.building = False
        state = self.query_one("#build-state", Static)
        self.offer = message.offer
        if message.run is None and message.offer:
            state.update(
                f"[$error]✗ Not built: {escape(message.error)}[/]\n[b]u[/b] builds on "
                f"{escape(message.offer)} · [b]r[/b] tries again · Esc goes back to the image."
            )
        elif message.run is None:
            state.update(
                f"[$error]✗ The build failed: {escape(message.error)}[/]\n[b]r[/b] tries again · Esc goes back to the image."
            )
        else:
            # recorded the moment it was built: quitting now keeps it
            built = message.run.built
            self.built = built
            self.profile = message.run.profile
            if message.run.record_error:
                self.notify(
                    f"Could not record the build: {message.run.record_error}",
                    severity="error",
                    timeout=15,
                )
            bar = self.query_one(ProgressBar)
            bar.update(progress=bar.total or 1)
            report = message.run.lock_report(upgrade=message.upgrade)
            lock_line = ""
            if report is not None and report.changes:
                # version by version at the end of the log, where it is in view however many
                n = len(report.changes)
                lock_line = (
                    f"\n[$warning]{n} package version{'s' if n > 1 else ''} changed[/]: "
                    "each is listed at the end of the log, old -> new."
                )
                self.query_one(LogPane).add_lines(
                    [report.heading, *(f"  {c}" for c in report.changes)]
                )
            elif report is not None:
                lock_line = "\n" + escape(report.heading)
            state.update(
                self.ctx.mode.say(
                    f"[$success]✓ Built {escape(built.tag)}[/] ({escape(built.id[:19])}). Ctrl+N to launch it.",
                    f"[$warning]Would build {escape(built.tag)}[/] (dry run: nothing was built). Ctrl+N goes on.",
                )
                + lock_line
            )
            if built.gpu_check is not None:  # the in-image check ran (a GPU host)
                from dlenv_tui.doctor.gpucheck import summary

                self.query_one(LogPane).add_lines([summary(built.gpu_check)])
            # the longer state above shrinks the log: keep its last lines (the changes) in view
            self.call_after_refresh(self.query_one(LogPane).scroll_end, animate=False)
        self.refresh_bindings()
