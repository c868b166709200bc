"""The start screen: the host in one line, a left-over root-worker job, and the saved profiles."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import HostFacts, Profile, StageState
from dlenv_tui.screens import services
from dlenv_tui.screens.context import Context
from dlenv_tui.widgets.footer import Footer

StartAction = Literal["open", "new", "rebuild", "relaunch", "job"]


@dataclass(frozen=True)
class StartChoice:
    action: StartAction
    profile: Profile | None = None
    job: Any = None


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
    from dlenv_tui.app import resume_stage
    from dlenv_tui.widgets.stage_bar import STAGE_LABELS

    key = resume_stage(profile)
    if key == "summary":
        return "complete"
    return dict(STAGE_LABELS)[key]


class StartScreen(Screen[StartChoice | None]):
    """Open / new / duplicate / delete profiles; rebuild or relaunch one in two keys."""

    BINDINGS = [
        Binding("enter", "open", "Open", priority=True),
        Binding("n", "new", "New"),
        Binding("c", "duplicate", "Duplicate"),
        Binding("d", "delete", "Delete"),
        Binding("b", "rebuild", "Rebuild"),
        Binding("l", "relaunch", "Relaunch"),
        Binding("j", "job", "Job"),
        Binding("q", "quit_app", "Quit", show=False),
    ]

    class Painted(Message):
        """The screen has been painted once; slow work (probing) may start now."""

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self.job: Any = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="start"):
            badge = (
                " [reverse] DEMO [/]"
                if self.ctx.demo
                else (" [reverse] DRY RUN [/]" if self.ctx.dry_run else "")
            )
            yield Static(
                f"[b]dlenv[/b] — deep-learning containers on this host{badge}",
                classes="stage-title",
            )
            yield Static(host_summary(self.ctx.facts), id="host", classes="host-line")
            yield Static("", id="job", classes="job-banner")
            yield Static("Profiles", classes="section")
            yield DataTable(id="profiles", cursor_type="row", zebra_stripes=True)
            yield Static("", id="empty", classes="hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#profiles", DataTable)
        table.add_columns("Profile", "Engine", "Next stage", "Updated")
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
        table = self.query_one("#profiles", DataTable)
        table.clear()
        entries = sorted(self.ctx.store.list(), key=lambda e: e.name)
        for e in entries:
            if getattr(e, "error", ""):
                table.add_row(e.name, "—", f"unreadable: {e.error}", "", key=e.name)
                continue
            try:
                p = self.ctx.store.load(e.name)
            except DlenvError as exc:
                table.add_row(e.name, "—", f"unreadable: {exc}", "", key=e.name)
                continue
            table.add_row(
                p.name,
                str(p.engine.engine),
                next_stage_label(p),
                (p.updated_at or "")[:16].replace("T", " "),
                key=p.name,
            )
        empty = self.query_one("#empty", Static)
        empty.update(
            "" if entries else "No profiles yet — press [b]n[/b] to make one for this host."
        )
        empty.display = not entries
        if select:
            for i, e in enumerate(entries):
                if e.name == select:
                    table.move_cursor(row=i)
        table.focus()

    @work(thread=True, exit_on_error=False, group="job")
    def look_for_job(self) -> None:
        job = self.ctx.find_job()
        if job is not None:
            self.app.call_from_thread(self._show_job, job)

    def _show_job(self, job: Any) -> None:
        self.job = job
        banner = self.query_one("#job", Static)
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
        table = self.query_one("#profiles", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        try:
            return self.ctx.store.load(str(key))  # type: ignore[no-any-return]
        except DlenvError as exc:
            self.notify(str(exc), severity="error")
            return None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def action_open(self) -> None:
        p = self.selected()
        if p is not None:
            self.dismiss(StartChoice("open", p))

    def action_rebuild(self) -> None:
        p = self.selected()
        if p is not None:
            self.dismiss(StartChoice("rebuild", p))

    def action_relaunch(self) -> None:
        p = self.selected()
        if p is not None:
            self.dismiss(StartChoice("relaunch", p))

    def action_job(self) -> None:
        if self.job is not None:
            self.dismiss(StartChoice("job", job=self.job))

    def action_quit_app(self) -> None:
        self.dismiss(None)

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
        self.ctx.store.save(profile)
        self.dismiss(StartChoice("new", profile))

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
