"""The start screen: the host in one line, a left-over root-worker job, and the saved profiles."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Static

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import StageState
from dlenv_tui.screens import services
from dlenv_tui.widgets.footer import Footer
from dlenv_tui.widgets.row_list import RowList

if TYPE_CHECKING:
    from textual.app import ComposeResult

    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.model import HostFacts, Profile
    from dlenv_tui.screens.context import Context

StartAction = Literal["open", "new", "rebuild", "relaunch", "job"]


@dataclass(frozen=True)
class StartChoice:
    action: StartAction
    profile: Profile | None = None
    job: JobInfo | None = None


def host_summary(facts: HostFacts | None) -> str:
    """One line about the host, e.g. ``ada-ws · Ubuntu 24.04.3 LTS · 1× GeForce RTX 4090 · driver: none``."""
    if facts is None:
        return "Probing this host…"
    gpus: dict[str, int] = {}
    for g in facts.gpus:
        key = g.name or g.device_id
        gpus[key] = gpus.get(key, 0) + 1
    gpu_text = ", ".join(f"{n}× {name}" for name, n in gpus.items()) or "no NVIDIA GPU"
    d = facts.driver
    driver = f"driver {d.version} ({d.flavour})" if d.loaded else "no driver"
    engines = [
        f"{n} {t.version}"
        for n, t in (("Docker", facts.docker), ("Podman", facts.podman))
        if t.present
    ]
    parts = [facts.hostname or "this host", facts.distro.name or facts.distro.id, gpu_text, driver]
    parts.append(", ".join(engines) if engines else "no engine")
    return " · ".join(parts)


def next_stage_label(profile: Profile) -> str:
    from dlenv_tui.stages import LABELS as STAGE_LABELS
    from dlenv_tui.stages import resume_stage

    key = resume_stage(profile)
    if key == "summary":
        return "complete"
    return dict(STAGE_LABELS)[key]


class StartScreen(Screen[StartChoice | None]):
    """Open / new / duplicate / delete profiles; rebuild or relaunch one in two keys."""

    BINDINGS = [
        Binding("enter", "open", "Open", priority=True),
        Binding("n", "new", "New"),
        Binding("c", "duplicate", "Copy"),
        Binding("d", "delete", "Delete"),
        Binding("b", "rebuild", "Rebuild"),
        Binding("l", "relaunch", "Relaunch"),
        Binding("j", "job", "Job"),
        Binding("o", "doctor", "Doctor", show=False),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    class Painted(Message):
        """The screen has been painted once; slow work (probing) may start now."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.job: JobInfo | None = None
        self._waiting: asyncio.Future[StartChoice | None] | None = None
        self._early: tuple[StartChoice | None] | None = None
        """A choice made before anybody waited (a key pressed as the app started)."""

    # ---------------------------------------------------------------- the user's choice

    async def wait_choice(self, *, refresh: bool = False) -> StartChoice | None:
        """The next choice made on this screen while it stays installed (the app's first screen,
        under the stage screens: no push, no second screen to build and lay out at start-up).
        ``refresh`` re-reads the profiles, the host line and left-over jobs first (coming back
        from a profile). A pushed StartScreen reports its choice with ``dismiss`` instead."""
        if refresh:
            self.refresh_host()
            self.reload()
            self.look_for_job()
        if self._early is not None:
            (choice,), self._early = self._early, None
            return choice
        self._waiting = asyncio.get_running_loop().create_future()
        try:
            return await self._waiting
        finally:
            self._waiting = None

    def choose(self, choice: StartChoice | None) -> None:
        """Report ``choice`` to whoever waits for it (``wait_choice`` or the pushing ``dismiss``)."""
        if self._waiting is not None:
            if not self._waiting.done():
                self._waiting.set_result(choice)
        elif self.app.screen_stack[0] is not self:
            self.dismiss(choice)
        else:
            self._early = (choice,)

    def compose(self) -> ComposeResult:
        with Vertical(classes="start"):
            mode = self.ctx.mode
            badge = f" [reverse] {mode.badge} [/]" if mode.badge else ""
            yield Static(
                f"[b]dlenv[/b] — deep-learning containers on this host{badge}",
                classes="stage-title",
            )
            yield Static(host_summary(self.ctx.facts), id="host", classes="host-line")
            yield Static("", id="job", classes="job-banner")
            yield Static("Profiles", classes="section")
            yield RowList(("Profile", "Engine", "Next stage", "Updated"), id="profiles")
            yield Static("", id="empty", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#job").display = False
        self.reload()
        # Threads started now would hold the GIL while the screen lays out: start them once painted.
        # The footer draws its keys in that first frame.
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        self.post_message(self.Painted())
        self.look_for_job()

    def refresh_host(self) -> None:
        """Called by the app when the probe has answered."""
        self.query_one("#host", Static).update(host_summary(self.ctx.facts))

    def reload(self, select: str = "") -> None:
        rows: list[tuple[str, tuple[str, ...]]] = []
        entries = sorted(self.ctx.store.list(), key=lambda e: e.name)
        for e in entries:
            # A broken file is listed, not hidden; Enter on it says what is wrong in one sentence.
            if getattr(e, "error", ""):
                rows.append((e.name, (e.name, "—", "unreadable (Enter: why)", "")))
                continue
            try:
                p = self.ctx.store.load(e.name)
            except DlenvError:
                rows.append((e.name, (e.name, "—", "unreadable (Enter: why)", "")))
                continue
            updated = (p.updated_at or "")[:16].replace("T", " ")
            rows.append((p.name, (p.name, str(p.engine.engine), next_stage_label(p), updated)))
        table = self.query_one("#profiles", RowList)
        table.set_rows(rows, select=select)
        table.display = bool(rows)
        empty = self.query_one("#empty", Static)
        empty.update(
            "" if entries else "No profiles yet — press [b]n[/b] to make one for this host."
        )
        empty.display = not entries
        table.focus()

    @work(thread=True, exit_on_error=False, group="job")
    def look_for_job(self) -> None:
        job = self.ctx.find_job()
        if job is not None or self.job is not None:
            self.app.call_from_thread(self._show_job, job)

    def _show_job(self, job: JobInfo | None) -> None:
        """Offer ``job`` in the banner; None takes the banner away (the job has been seen)."""
        self.job = job
        banner = self.query_one("#job", Static)
        if job is None:
            banner.display = False
            self.refresh_bindings()
            return
        job_id = escape(str(getattr(job, "id", job)))
        plan = getattr(job, "plan", None)
        profile = (
            f" for profile {escape(plan.profile)}" if plan is not None and plan.profile else ""
        )
        if getattr(job, "running", False):
            text = f"A privileged job{profile} is running ({job_id}) — press [b]j[/b] to follow it."
        else:
            text = (
                f"A privileged job{profile} finished while dlenv was not watching ({job_id}) — "
                "press [b]j[/b] to see how it went."
            )
        banner.update(text)
        banner.display = True
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "job":
            return self.job is not None
        return True

    def selected(self) -> Profile | None:
        key = self.query_one("#profiles", RowList).cursor_key
        if key is None:  # an empty list: say what works instead of doing nothing
            self.notify("No profile yet: press n to make one.")
            return None
        try:
            return self.ctx.store.load(key)
        except DlenvError as exc:
            self.notify(str(exc), severity="error")
            return None

    def on_row_list_selected(self, event: RowList.Selected) -> None:
        self.action_open()

    def action_open(self) -> None:
        p = self.selected()
        if p is not None:
            self.choose(StartChoice("open", p))

    def action_rebuild(self) -> None:
        p = self.selected()
        if p is not None:
            self.choose(StartChoice("rebuild", p))

    def action_relaunch(self) -> None:
        p = self.selected()
        if p is not None:
            self.choose(StartChoice("relaunch", p))

    def action_job(self) -> None:
        if self.job is not None:
            self.choose(StartChoice("job", job=self.job))

    def action_doctor(self) -> None:
        from dlenv_tui.screens.doctor import DoctorScreen

        self.app.push_screen(DoctorScreen(self.ctx))

    def action_quit_app(self) -> None:
        self.choose(None)

    def _check_new_name(self, name: str) -> str:
        error = services.validate_field("profile_name", name)
        if not error and self.ctx.store.exists(name):
            return f"a profile named {name!r} already exists."
        return error

    def _free_name(self, base: str) -> str:
        n = 1
        name = base
        while self.ctx.store.exists(name):
            n += 1
            name = f"{base}-{n}"
        return name

    @work
    async def action_new(self) -> None:
        from dlenv_tui.screens.dialogs import NameDialog  # not needed for the first paint

        facts = self.ctx.facts
        if facts is None:
            self.notify("Still probing the host; try again in a moment.")
            return
        name = await self.app.push_screen_wait(
            NameDialog("New profile", self._free_name("gpu-dev"), self._check_new_name)
        )
        if not name:
            return
        now = self.ctx.now()
        profile = services.recommended_profile(name, facts)
        profile = dataclasses.replace(profile, created_at=now, updated_at=now, host=facts)
        try:
            self.ctx.store.save(profile, create=True)  # another dlenv may have made it meanwhile
        except DlenvError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        if not facts.gpus:
            from dlenv_tui.launch_checks import NO_GPU_NOTE

            self.notify(f"{NO_GPU_NOTE} (GPUs: none; the Launch stage changes it.)", timeout=10)
        self.choose(StartChoice("new", profile))

    @work
    async def action_duplicate(self) -> None:
        from dlenv_tui.screens.dialogs import NameDialog  # not needed for the first paint

        p = self.selected()
        if p is None:
            return
        name = await self.app.push_screen_wait(
            NameDialog(
                f"Duplicate {p.name} as", self._free_name(f"{p.name}-copy"), self._check_new_name
            )
        )
        if not name:
            return
        now = self.ctx.now()
        copy = dataclasses.replace(p, name=name, created_at=now, updated_at=now, last_image=None)
        copy = dataclasses.replace(
            copy,
            progress={k: v for k, v in p.progress.items() if v.state is not StageState.RUNNING},
        )
        self.ctx.store.save(copy)
        self.reload(select=name)
        self.notify(f"Duplicated {p.name} as {name}.")

    @work
    async def action_delete(self) -> None:
        from dlenv_tui.screens.dialogs import ConfirmDialog

        p = self.selected()
        if p is None:
            return
        ok = await self.app.push_screen_wait(
            ConfirmDialog(
                f"Delete profile {p.name}?",
                "The profile file is removed; images and containers stay.",
                yes="Delete",
                no="Keep",
            )
        )
        if ok:
            self.ctx.store.delete(p.name)
            self.reload()
            self.notify(f"Deleted {p.name}.")
