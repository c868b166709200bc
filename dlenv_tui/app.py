"""The Textual app: ``make_app`` (used by the CLI and the tests), the wizard flow and ``run_wizard``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message

from dlenv_tui.locations import asset
from dlenv_tui.model import Stage, StageState

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterable

    from textual.screen import Screen

    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.model import HostFacts, Profile
    from dlenv_tui.screens.context import Context
    from dlenv_tui.screens.start import StartScreen
    from dlenv_tui.session import EngineFactory, RunnerFactory, Store

from dlenv_tui.stages import ORDER, resume_stage
from dlenv_tui.stages import skip as skip_stage

__all__ = ["ORDER", "DlenvApp", "make_app", "resume_stage", "run_wizard"]


class DlenvApp(App[int]):
    """dlenv's wizard."""

    CSS_PATH = str(asset("css", "dlenv.tcss"))
    TITLE = "dlenv"
    BINDINGS = [
        Binding("f1,question_mark", "help", "Help"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+r", "refresh_data", "Refresh data", show=False),
    ]
    OFFER_S = 30.0
    """How long the refresh offer (and its Ctrl+R) stays."""

    @dataclass
    class RefreshOffered(Message):
        days: int
        as_of: str

    @dataclass
    class RefreshDone(Message):
        text: str
        ok: bool

    @dataclass
    class FactsLoaded(Message):
        facts: HostFacts | None
        error: str = ""

    def __init__(self, ctx: Context, *, choose_scenario: bool = False) -> None:
        super().__init__()
        self.ctx = ctx
        self.choose_scenario = choose_scenario
        self._facts_waiters: list[Callable[[], None]] = []
        self._probing = False
        self._refresh_offered = False
        self._offer_checked = False

    # ---------------------------------------------------------------- start-up

    def on_mount(self) -> None:
        # The probe starts when the start screen has been painted (``on_start_screen_painted``):
        # a thread importing and probing would hold the GIL while the first screen lays out.
        self.wizard()

    def on_start_screen_painted(self, message: StartScreen.Painted) -> None:
        self.start_probe()

    # ---------------------------------------------------------------- data refresh offer

    def _offer_refresh(self) -> None:
        """Off the event loop: stale data (older than 60 days) and a network that answers."""
        from dlenv_tui.knowledge import offer

        try:
            found = offer.check(self.ctx.now())
        except Exception:  # an offer is never worth an error on screen
            return
        if found is not None:
            self.post_message(self.RefreshOffered(*found))

    def on_dlenv_app_refresh_offered(self, message: RefreshOffered) -> None:
        from dlenv_tui.knowledge import offer

        self._refresh_offered = True
        self.notify(offer.sentence(message.days, message.as_of), timeout=self.OFFER_S)
        self.set_timer(self.OFFER_S, self._withdraw_offer)

    def _withdraw_offer(self) -> None:
        self._refresh_offered = False

    def action_refresh_data(self) -> None:
        if not self._refresh_offered:
            return
        self._refresh_offered = False
        self.clear_notifications()
        self.notify("Refreshing dlenv's data…", timeout=5)
        import threading

        threading.Thread(target=self._run_refresh, name="dlenv-refresh", daemon=True).start()

    def _run_refresh(self) -> None:
        from dlenv_tui.knowledge.refresh import RefreshError, refresh
        from dlenv_tui.locations import knowledge_file

        try:
            done = refresh(knowledge_file())
        except RefreshError as exc:
            self.post_message(self.RefreshDone(f"{exc}; the data in use is unchanged.", False))
            return
        except Exception as exc:  # one sentence, never a traceback
            self.post_message(
                self.RefreshDone(f"The refresh failed ({exc}); nothing changed.", False)
            )
            return
        self.post_message(
            self.RefreshDone(f"dlenv's data refreshed: image tags as of {done.as_of}.", True)
        )

    def on_dlenv_app_refresh_done(self, message: RefreshDone) -> None:
        from dlenv_tui import compat

        if message.ok:
            compat.reload_data()
        self.notify(message.text, severity="information" if message.ok else "warning", timeout=10)

    def start_probe(self) -> None:
        """Start ``load_facts`` unless it has answered or is under way."""
        if self.ctx.facts is None and not self._probing:
            self._probing = True
            self.load_facts()

    def load_facts(self) -> None:
        """Probe (or read the scenario) off the event loop, after the first paint.

        A daemon thread rather than a thread worker: quitting must not wait for a probe that is
        still waiting on a slow command (Textual and asyncio join their worker threads on exit).
        """
        import threading

        threading.Thread(target=self._load_facts, name="dlenv-probe", daemon=True).start()

    def _load_facts(self) -> None:
        from dlenv_tui.errors import DlenvError

        try:
            facts = self.ctx.load_facts()
        except DlenvError as exc:
            self.post_message(self.FactsLoaded(None, str(exc)))
            return
        except Exception as exc:  # one sentence on screen, never a traceback
            self.post_message(self.FactsLoaded(None, f"{exc.__class__.__name__}: {exc}"))
            return
        self.post_message(self.FactsLoaded(facts))  # post_message is thread-safe

    def on_dlenv_app_facts_loaded(self, message: FactsLoaded) -> None:
        from dlenv_tui.screens.start import StartScreen

        if message.facts is None:
            self.notify(f"Could not probe this host: {message.error}", severity="error", timeout=30)
            return
        self.ctx.facts = message.facts
        if self.ctx.deps.offer_refresh and not self._offer_checked:
            # after the probe, not at the first paint: the offer's data load and network probe
            # must not compete with the first screen
            import threading

            self._offer_checked = True
            threading.Thread(target=self._offer_refresh, name="dlenv-offer", daemon=True).start()
        for screen in self.screen_stack:
            if isinstance(screen, StartScreen):
                screen.refresh_host()
        waiters, self._facts_waiters = self._facts_waiters, []
        for wake in waiters:
            wake()

    async def facts(self) -> HostFacts:
        if self.ctx.facts is None:
            import asyncio

            self.start_probe()  # no start screen has been painted yet
            event = asyncio.Event()
            self._facts_waiters.append(event.set)
            await event.wait()
        assert self.ctx.facts is not None
        return self.ctx.facts

    # ---------------------------------------------------------------- the flow

    def get_default_screen(self) -> Screen[Any]:
        """The start screen itself, so that start-up builds and paints one screen, not two (a
        blank default screen, then the start screen pushed over it: ~30 ms more to the first
        complete frame). The demo's scenario chooser comes first, so there it is pushed."""
        if self.choose_scenario:
            return super().get_default_screen()
        from dlenv_tui.screens.start import StartScreen

        return StartScreen(self.ctx)

    @work(exclusive=True, group="wizard")
    async def wizard(self) -> None:
        from dlenv_tui.screens.start import StartScreen

        if self.choose_scenario:
            from dlenv_tui.demo import list_scenarios
            from dlenv_tui.screens.scenario import ScenarioScreen

            scenario = await self.push_screen_wait(ScenarioScreen(list_scenarios()))
            if scenario is None:
                self.exit(0)
                return
            self.ctx.use_scenario(scenario)
            self.start_probe()
        base = self.screen_stack[0]
        first = True
        while True:
            if isinstance(base, StartScreen):
                choice = await base.wait_choice(refresh=not first)
            else:
                choice = await self.push_screen_wait(StartScreen(self.ctx))
            first = False
            if choice is None:
                break
            if choice.action == "job":
                if choice.job is not None:
                    await self.show_job(choice.job)
                continue
            assert choice.profile is not None
            profile = await self.confirm_host(choice.profile)
            if profile is None:
                continue
            start = {"rebuild": "build", "relaunch": "launch"}.get(choice.action, "")
            quit_now = await self.walk(
                profile, start or resume_stage(profile), autostart=bool(start)
            )
            if quit_now:
                break
        self.exit(0)

    async def confirm_host(self, profile: Profile) -> Profile | None:
        """Show how the host changed since ``profile``'s snapshot; on Continue the snapshot is
        refreshed and saved. None when the user went back to the profile list."""
        from dlenv_tui.screens.dialogs import DriftDialog
        from dlenv_tui.screens.services import host_changes
        from dlenv_tui.stages import undo, undone_by_drift

        facts = await self.facts()
        changes = host_changes(profile.host, facts)
        if not changes:
            return profile
        if not await self.push_screen_wait(DriftDialog(profile.name, changes)):
            return None
        # the stages whose facts changed no longer hold: undo them, and resume_stage goes back
        assert profile.host is not None
        undone = undone_by_drift(profile.host, facts)
        profile = undo(profile, undone, "host changed: " + " ".join(changes))
        if undone:
            self.notify(
                "Set up again: " + ", ".join(s.value for s in undone) + f" ({changes[0]})",
                title="Host changed",
                timeout=10,
            )
        profile = dataclasses.replace(profile, host=facts)
        self.save(profile)
        return profile

    async def walk(self, profile: Profile, start: str, autostart: bool = False) -> bool:
        """Drive the stages from ``start``; True when the user asked to quit."""
        from dlenv_tui.profiles import outcome_progress
        from dlenv_tui.screens import make_stage_screen
        from dlenv_tui.screens.apply import ApplyScreen
        from dlenv_tui.screens.services import mark_stage, plan_stage

        facts = await self.facts()
        i = ORDER.index(start)
        while 0 <= i < len(ORDER):
            key = ORDER[i]
            self.ctx.profile = profile
            result = await self.push_screen_wait(
                make_stage_screen(key, self.ctx, profile, facts, autostart=autostart)
            )
            autostart = False
            profile = result.profile
            stage = Stage(key) if key in Stage._value2member_map_ else None
            if result.action == "quit":
                self.save(profile)
                return True
            if result.action == "back":
                self.save(profile)
                i -= 1
                if i < 0:
                    return False
                continue
            if result.action == "jump":
                self.save(profile)
                i = ORDER.index(result.target)
                autostart = result.target in ("build", "launch")
                continue
            if result.action == "skip" and stage is not None:
                profile = skip_stage(profile, stage)  # a done stage stays done
            elif result.action == "next" and stage is not None:
                profile = mark_stage(profile, stage, StageState.DONE)
            elif result.action == "apply" and stage is not None:
                plan = plan_stage(facts, profile, stage)
                outcome = await self.push_screen_wait(ApplyScreen(self.ctx, plan, profile))
                if outcome.state == "back":
                    continue
                if outcome.state == "aborted":
                    profile = mark_stage(profile, stage, StageState.FAILED, outcome.detail)
                    self.save(profile)
                    continue
                if outcome.state == "reboot":
                    profile = mark_stage(profile, stage, StageState.NEEDS_REBOOT, outcome.detail)
                    self.save(profile)
                    if self.ctx.deps.after_reboot is None:
                        return True  # the user reboots; the profile resumes here
                    facts = self.simulate_reboot(facts, profile, self.ctx.deps.after_reboot)
                    profile = mark_stage(
                        profile, stage, StageState.DONE, "verified after reboot (simulated)"
                    )
                else:
                    state = StageState.SKIPPED if outcome.state == "skipped" else StageState.DONE
                    detail = outcome.detail
                    done: tuple[str, ...] = ()
                    if state is StageState.DONE and outcome.result is not None:
                        # what was done, as `dlenv apply` records it ("7 of 7 steps done")
                        _, detail, done = outcome_progress(plan, outcome.result)
                    profile = mark_stage(profile, stage, state, detail, done)
                    facts = await self.reprobe(facts)
                # The host changed by the profile's own hand: not news when it is re-opened.
                profile = dataclasses.replace(profile, host=facts)
            self.save(profile)
            i += 1
        return False

    async def reprobe(self, facts: HostFacts) -> HostFacts:
        """The host after a plan changed it (the seam: a real run probes again, the demo and a
        dry run changed nothing)."""
        import asyncio

        new: HostFacts = await asyncio.to_thread(self.ctx.deps.reprobe, facts)
        self.ctx.facts = new
        return new

    def simulate_reboot(
        self, facts: HostFacts, profile: Profile, reboot: Callable[[HostFacts, Profile], HostFacts]
    ) -> HostFacts:
        """Demo only: after the simulated reboot the new driver is loaded."""
        facts = reboot(facts, profile)
        self.ctx.facts = facts
        self.notify(
            "Demo: rebooted; the NVIDIA module is loaded.", title="Reboot simulated", timeout=3
        )
        return facts

    async def show_job(self, job: JobInfo) -> None:
        from dlenv_tui.screens.apply import JobScreen

        await self.push_screen_wait(JobScreen(self.ctx, job))

    def save(self, profile: Profile) -> None:
        try:
            self.ctx.store.save(profile)
        except Exception as exc:
            self.notify(
                f"Could not save profile {profile.name}: {exc}", severity="error", timeout=15
            )
        self.ctx.profile = profile

    # ---------------------------------------------------------------- keys and palette

    def action_help(self) -> None:
        from dlenv_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        from dlenv_tui.screens.base import StageScreen
        from dlenv_tui.screens.start import StartScreen

        yield from super().get_system_commands(screen)
        # rebuild / relaunch only where they can run: on a stage, or on a selected profile
        on_profile = isinstance(screen, StageScreen) or (
            isinstance(screen, StartScreen) and screen.query_one("#profiles").cursor_key is not None  # type: ignore[attr-defined]
        )
        if on_profile:
            yield SystemCommand(
                "Rebuild image", "Build this profile's image again", self.action_rebuild
            )
            yield SystemCommand(
                "Relaunch container",
                "Replace the running container with a fresh one",
                self.action_relaunch,
            )
        if self.ctx.profile is not None:
            yield SystemCommand("Stop container", "Stop this profile's container", self.action_stop)
        yield SystemCommand(
            "Doctor", "Diagnose this host: what is wrong, why, and the fix", self.action_doctor
        )
        yield SystemCommand("Help", "Keys and stages", self.action_help)

    async def action_quit(self) -> None:
        """Quitting while a privileged job runs: say that it goes on as root, and ask."""
        from dlenv_tui.screens.apply import ApplyScreen

        screen = self.screen
        if isinstance(screen, ApplyScreen) and screen.phase == "running":
            self.confirm_quit()
            return
        self.exit(0)

    @work(exclusive=True, group="quit")
    async def confirm_quit(self) -> None:
        from dlenv_tui.screens.dialogs import ConfirmDialog

        if await self.push_screen_wait(
            ConfirmDialog(
                "A job is running as root.",
                "It goes on after dlenv quits (it runs in the root worker, not in this window); "
                "run dlenv again to see how it ended.",
                yes="Quit anyway",
                no="Stay",
            )
        ):
            self.exit(0)

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save under the user's data directory (a headless server has no ~/Downloads), and say where."""
        from dlenv_tui.locations import screenshots_dir

        directory = Path(path) if path else screenshots_dir()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            saved = self.save_screenshot(filename, str(directory))
        except OSError as exc:
            self.notify(f"Could not save the screenshot: {exc}", severity="error")
            return
        self.notify(f"Saved {saved}", title="Screenshot")

    def _fatal_error(self) -> None:
        """Textual's crash report, without local variables: a frame may hold the sudo password."""
        import rich
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    def _jump(self, target: str) -> None:
        from dlenv_tui.screens.base import StageScreen
        from dlenv_tui.screens.start import StartChoice, StartScreen

        screen = self.screen
        if isinstance(screen, StageScreen):
            screen.jump(target)
        elif isinstance(screen, StartScreen):
            p = screen.selected()
            if p is not None:
                screen.choose(StartChoice("rebuild" if target == "build" else "relaunch", p))
        else:
            self.notify("Finish this step first.")

    def action_rebuild(self) -> None:
        self._jump("build")

    def action_relaunch(self) -> None:
        self._jump("launch")

    def action_doctor(self) -> None:
        from dlenv_tui.screens.doctor import DoctorScreen

        if not isinstance(self.screen, DoctorScreen):
            self.push_screen(DoctorScreen(self.ctx))

    def action_stop(self) -> None:
        if self.ctx.profile is None:
            self.notify("Open a profile first.")
            return
        self.stop_container(self.ctx.profile)

    @work(thread=True, exit_on_error=False, group="engine")
    def stop_container(self, profile: Profile) -> None:
        from dlenv_tui import operations

        try:
            stopped = operations.stop(profile, self.ctx.engine(profile.engine.engine))
        except Exception as exc:
            self.call_from_thread(self.notify, f"Could not stop: {exc}", severity="error")
            return
        text = "Container stopped." if stopped else "No container of this profile was running."
        self.call_from_thread(self.notify, text)


# -------------------------------------------------------------------- factory and entry point


def make_app(
    *,
    demo: str | None = None,
    dry_run: bool = False,
    sysroot: str | None = None,
    facts_file: str | None = None,
    store: Store | None = None,
    runner_factory: RunnerFactory | None = None,
    engine_factory: EngineFactory | None = None,
    now: Callable[[], str] | None = None,
    demo_speed: float = 1.0,
) -> DlenvApp:
    """Build the app and its Context; demo ``""`` asks for a scenario, a name picks one.

    The mode's seams come from ``session.seams_for``, chosen here once. Nothing slow happens
    here: probing, NVML and the Docker SDK load in workers after the first paint.
    """
    from dlenv_tui.screens.context import Context
    from dlenv_tui.session import DEMO, DRY_RUN, REAL, seams_for, store_for

    mode = DEMO if demo is not None else DRY_RUN if dry_run else REAL
    deps = seams_for(
        mode,
        sysroot=sysroot,
        facts_file=facts_file,
        store=store,
        runner_factory=runner_factory,
        engine_factory=engine_factory,
        now=now,
        demo_speed=demo_speed,
    )
    if demo is not None:
        from dlenv_tui.demo import load_scenario

        scenario = load_scenario(demo) if demo else None
        # the demo's store comes with its scenario; until one is chosen there is none to list
        ctx = Context(deps, store, scenario)
        return DlenvApp(ctx, choose_scenario=scenario is None)
    return DlenvApp(Context(deps, store_for(mode, store)))


def run_wizard(args: argparse.Namespace) -> int:
    """`dlenv` without a command: run the wizard until the user quits."""
    app = make_app(
        demo=args.demo,
        dry_run=bool(args.dry_run),
        sysroot=getattr(args, "sysroot", None),
        facts_file=getattr(args, "facts", None),
    )
    try:
        result = app.run()
        # a crash is not a success: Textual sets return_code 1 after its report
        return int(app.return_code or result or 0)
    finally:
        from dlenv_tui.probe.child import kill_probes

        kill_probes()
