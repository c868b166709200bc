"""Launch: GPUs, shared memory, mounts, ports, user; start / replace / stop; how to connect.

A start finds the profile's container running first: replacing it is asked (what it loses), and
keeping it shows its connection lines, as `dlenv info` does."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.message import Message
from textual.widgets import Checkbox, Label, OptionList, Static
from textual.widgets.option_list import Option

from dlenv_tui.model import HostFacts, Mount, PortMap, Profile, RunOptions
from dlenv_tui.screens import services
from dlenv_tui.screens.base import Action, StageScreen
from dlenv_tui.screens.context import Context
from dlenv_tui.widgets.field import Field

if TYPE_CHECKING:
    from dlenv_tui.engine.types import RunInfo
    from dlenv_tui.launch_checks import LaunchProblems


def _check(kind: str) -> Callable[[str], str]:
    return lambda value: services.validate_field(kind, value)


def since_text(started_at: str) -> str:
    """``2025-06-01T09:00:00.123456789Z`` as ``2025-06-01 09:00 UTC``; "" when unknown."""
    if len(started_at) < 16:
        return ""
    offset = re.search(r"[+-]\d\d:\d\d$", started_at)
    zone = " UTC" if started_at.endswith("Z") else (f" {offset.group(0)}" if offset else "")
    return started_at[:16].replace("T", " ") + zone


def replace_question(profile: Profile, info: RunInfo) -> tuple[str, str]:
    """The title and text of the question before replacing ``info``, the running container:
    what is running, since when, and what replacing it loses and keeps."""
    since = since_text(info.started_at)
    started = f"Running since {since}" if since else "Running"
    home = (
        "/root"
        if info.user.startswith("0:") or info.user_name == "root"
        else (f"/home/{info.user_name}" if info.user_name else "")
    )
    home = f" ({home})" if home else ""
    mounts = ", ".join(m.target for m in profile.run.mounts)
    kept = (
        f"Your home{home}, with pip installs and ~/.cache, is kept in its volume"
        if profile.run.keep_home
        else f"Your home{home} is not kept (keep_home is off)"
    )
    if mounts:
        kept += f"; the host directories mounted into it ({mounts}) stay on the host"
    return (
        f"{info.name} is already running",
        f"{started}, from {info.image}.\n\n"
        "Replacing it starts a fresh container from the image: whatever was installed or "
        "changed in it outside your home and the mounts is lost (apt packages, files "
        f"elsewhere), and what runs in it (notebook kernels, tmux) stops. {kept}.\n\n"
        "Keep it to see how to connect to it.",
    )


def copy_text(line: str) -> str:
    """The part of a connection line worth copying: the command or URL after ``label: ``."""
    _label, sep, rest = line.partition(": ")
    return rest if sep else line


class LaunchScreen(StageScreen):
    KEY = "launch"
    TITLE_TEXT = "Launch the container"
    BINDINGS = [
        Binding("ctrl+r", "start", "Start / replace", priority=True),
        Binding("ctrl+t", "stop", "Stop", priority=True),
        Binding("c", "copy", "Copy", show=False),
        Binding("ctrl+o", "create_dirs", "Create dirs", priority=True),
    ]

    @dataclass
    class Started(Message):
        info: RunInfo | None
        lines: list[str]
        error: str = ""
        record_error: str = ""
        """The container started but the profile could not record it (a conflict, a full disk)."""

    @dataclass
    class AlreadyRunning(Message):
        """The profile's container is running: replacing it is asked first."""

        info: RunInfo
        lines: list[str]
        """Its connection lines, shown when the user keeps it."""

    @dataclass
    class Stopped(Message):
        stopped: bool
        error: str = ""

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
        self.busy = False
        self.started = False

    def compose_body(self) -> ComposeResult:
        r = self.profile.run
        home = (
            self.profile.host.user.home
            if self.profile.host and self.profile.host.user.home
            else "/home/user"
        )
        work = next(
            (m for m in r.mounts if m.target == "/workspace"),
            Mount(f"{home}/workspace", "/workspace"),
        )
        data = next(
            (m for m in r.mounts if m.target == "/datasets"), Mount("", "/datasets", read_only=True)
        )
        ports: dict[int, PortMap] = {}
        for p in r.ports:
            ports.setdefault(p.container, p)  # the form shows (and edits) each port's first binding
        with Horizontal(classes="row"):
            with Vertical(classes="col"):
                yield Field("GPUs (all, 2, device=0)", r.gpus, _check("gpus"), id="gpus")
            with Vertical(classes="col"):
                yield Field("Shared memory", r.shm_size, _check("shm_size"), id="shm")
            with Vertical(classes="col"):
                yield Field(
                    "Container name",
                    r.name or f"dlenv-{self.profile.name}",
                    _check("container_name"),
                    id="name",
                )
        yield Field(
            "Workspace on the host → /workspace",
            work.source,
            _check("mount_source"),
            id="workspace",
        )
        with Horizontal(classes="row"):
            with Vertical(classes="col wide"):
                yield Field(
                    "Datasets on the host → /datasets (optional)",
                    data.source,
                    _check("mount_source"),
                    id="datasets",
                )
            yield Checkbox("read-only", data.read_only, id="datasets-ro", compact=True)
        with Horizontal(classes="row"):
            with Vertical(classes="col"):
                yield Field(
                    "JupyterLab port",
                    str(ports[8888].host if 8888 in ports else 8888),
                    _check("port"),
                    id="jupyter-port",
                )
            with Vertical(classes="col"):
                yield Field(
                    "SSH port",
                    str(ports[22].host if 22 in ports else 2222),
                    _check("port"),
                    id="ssh-port",
                )
            with Vertical(classes="col"):
                yield Field(
                    "Bind ports to",
                    next(iter(ports.values())).host_ip if ports else "127.0.0.1",
                    _check("host_ip"),
                    id="bind",
                )
        yield Checkbox(
            "Run as root inside the container (default: your UID/GID)",
            r.as_root,
            id="root",
            compact=True,
        )
        yield Static("", id="launch-problems", classes="field-error")
        yield Static("", id="launch-state", classes="hint")
        yield Static("", id="gpu-check", classes="hint")
        # the notes `dlenv run` prints too (image_notes): SSH key, root, torch index
        yield Static("", id="launch-notes", classes="hint")
        yield Label("How to connect (Enter or c copies the selected line)", id="connect-label")
        yield OptionList(id="connect")

    def on_mount(self) -> None:
        self.query_one("#connect").display = False
        self.query_one("#connect-label").display = False
        from dlenv_tui.model import Stage
        from dlenv_tui.stages import done_text

        done = done_text(self.profile, Stage.LAUNCH)
        self.query_one("#launch-state", Static).update(
            (f"[$success]✓ {escape(done)}[/] " if done.startswith("Done") else "")
            + "Ctrl+R starts the container (asks first if it runs); Ctrl+N goes on."
        )
        self.show_gpu_check()
        self.show_notes()
        self.query_one("#gpus Input").focus()
        self.show_problems()
        if self.autostart:
            self.action_start()

    def show_notes(self) -> None:
        """The image's notes, from what its settings render (nothing when they do not render)."""
        self.ssh_key = True
        notes: tuple[str, ...] = ()
        try:
            rendered = self.ctx.render_image(self.profile)
        except Exception:  # ImageError: the Image and Build stages say it
            rendered = None
        if rendered is not None:
            notes = services.image_notes(rendered)
            self.ssh_key = not services.ssh_has_no_key(rendered)
        from dlenv_tui.launch_checks import gpu_note

        if note := gpu_note(self.profile, self.facts):
            notes = (note, *notes)
        box = self.query_one("#launch-notes", Static)
        box.update("\n".join(f"[$warning]• [/]{escape(n)}" for n in notes))
        box.display = bool(notes)

    def show_gpu_check(self) -> None:
        """The image's last in-image GPU check (recorded by a build or `dlenv doctor --profile`)."""
        box = self.query_one("#gpu-check", Static)
        built = self.profile.last_image
        check = built.gpu_check if built is not None else None
        if check is None:
            box.display = False
            return
        from dlenv_tui.doctor.gpucheck import summary

        style = "$success" if check.ok else "$error"
        box.update(f"[{style}]{escape(summary(check))}[/]")
        box.display = True

    def invalid_reason(self) -> str:
        bad = next((f for f in self.query(Field) if not f.valid), None)
        if bad is not None:
            return f"{bad.label}: {bad.error}"
        problems = self.problems()
        return problems.errors[0] if problems.errors else ""

    def problems(self) -> LaunchProblems:
        """The profile validator's run rules and the host's GPUs and paths, on what is on screen."""
        from dlenv_tui.launch_checks import launch_problems

        return launch_problems(self.current_profile(), self.facts, self.ctx.path_exists)

    @staticmethod
    def _missing_text(paths: tuple[str, ...]) -> str:
        return (
            f"{', '.join(paths)} does not exist on this host: Ctrl+O creates "
            f"{'them' if len(paths) > 1 else 'it'}, owned by you."
        )

    def show_problems(self) -> None:
        """Shown as the form changes, so a clash is fixed before Start, not lost after it."""
        if any(not f.valid for f in self.query(Field)):
            text = ""  # the field says it already
        else:
            problems = self.problems()
            lines = list(problems.errors)
            if problems.missing_dirs:
                lines.append(self._missing_text(problems.missing_dirs))
            text = "\n".join(lines)
        box = self.query_one("#launch-problems", Static)
        box.update(escape(text))
        box.display = bool(text)

    def on_field_changed(self, message: Field.Changed) -> None:
        self.show_problems()

    def action_create_dirs(self) -> None:
        from dlenv_tui.launch_checks import create_dirs

        missing = self.problems().missing_dirs
        if not missing:
            self.notify("Every mount source exists.")
            return
        if self.ctx.mode.would:
            self.notify(f"Would create {', '.join(missing)} (dry run: nothing was created).")
            return
        error = create_dirs(missing)
        self.notify(
            error or f"Created {', '.join(missing)}.", severity="error" if error else "information"
        )
        self.show_problems()

    def current_profile(self) -> Profile:
        def val(id_: str) -> str:
            return self.query_one(f"#{id_}", Field).value.strip()

        mounts = [m for m in self.profile.run.mounts if m.target not in ("/workspace", "/datasets")]
        if val("workspace"):
            mounts.insert(0, Mount(val("workspace"), "/workspace"))
        if val("datasets"):
            mounts.insert(
                1,
                Mount(
                    val("datasets"),
                    "/datasets",
                    read_only=self.query_one("#datasets-ro", Checkbox).value,
                ),
            )
        ports: list[PortMap] = []
        bind = val("bind") or "127.0.0.1"
        if self.profile.image.jupyter and val("jupyter-port").isdigit():
            ports.append(PortMap(8888, int(val("jupyter-port")), bind))
        if self.profile.image.ssh and val("ssh-port").isdigit():
            ports.append(PortMap(22, int(val("ssh-port")), bind))
        # the form edits the first binding of JupyterLab's and SSH's port; every other binding
        # the profile asks for (`profiles set run.ports=…`: TensorBoard, a second address) stays
        edited = {p.container for p in ports}
        firsts: set[int] = set()
        for p in self.profile.run.ports:
            if p.container in edited and p.container not in firsts:
                firsts.add(p.container)
                continue
            if p not in ports:
                ports.append(p)
        run = RunOptions(
            **{
                **{
                    f.name: getattr(self.profile.run, f.name)
                    for f in dataclasses.fields(RunOptions)
                },
                "gpus": val("gpus"),
                "shm_size": val("shm"),
                "name": val("name"),
                "mounts": tuple(mounts),
                "ports": tuple(ports),
                "as_root": self.query_one("#root", Checkbox).value,
            }
        )
        from dlenv_tui.profiles import expand_mounts

        facts = self.facts
        # ~/ws means the (probed) user's home, as in a profile file and `profiles set`
        home = facts.user.home if facts is not None and facts.user.home else ""
        return expand_mounts(dataclasses.replace(self.profile, run=run), home)

    def next_action(self) -> Action:
        return "next" if self.started else "skip"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("start", "stop", "next", "back"):
            return not self.busy
        return True

    # ---- start / stop

    def action_start(self) -> None:
        reason = self.invalid_reason()
        if reason:
            self.notify(reason, title="Fix this first", severity="error")
            return
        missing = self.problems().missing_dirs
        if missing and not self.ctx.mode.would:  # a dry run starts nothing: it says so below
            self.notify(self._missing_text(missing), title="Fix this first", severity="error")
            return
        if self.profile.last_image is None:
            self.notify("Build the image first (Esc goes back to Build).", severity="warning")
            return
        self.profile = self.current_profile()
        self._start(replace=False)

    def _start(self, *, replace: bool) -> None:
        self.busy = True
        self.refresh_bindings()
        self.query_one("#launch-state", Static).update("Replacing it…" if replace else "Starting…")
        self.start_container(self.profile, replace=replace)

    @work(thread=True, exit_on_error=False, exclusive=True, group="launch")
    def start_container(self, profile: Profile, replace: bool = False) -> None:
        """Start the container; without ``replace``, one of the profile's that is running is
        left alone and reported (as `dlenv run` without --replace refuses)."""
        try:
            from dlenv_tui import operations

            engine = self.ctx.engine(profile.engine.engine)
            if not replace:
                running = operations.running(profile, engine)
                if running is not None:
                    lines = self.ctx.deps.connection_lines(
                        profile, running, self.facts, ssh_key=self.ssh_key
                    )
                    self.post_message(self.AlreadyRunning(running, lines))
                    return
            # recorded as launched at once; the form's settings are saved when the stage ends
            launched = operations.launch(profile, engine, store=self.ctx.store, replace=replace)
            info = launched.info
            lines = self.ctx.deps.connection_lines(profile, info, self.facts, ssh_key=self.ssh_key)
        except Exception as exc:  # EngineError: one sentence
            self.post_message(self.Started(None, [], str(exc) or exc.__class__.__name__))
            return
        self.post_message(self.Started(info, lines, record_error=launched.record_error))

    def on_launch_screen_already_running(self, message: AlreadyRunning) -> None:
        from dlenv_tui.screens.dialogs import ReplaceDialog

        self.busy = False
        self.refresh_bindings()
        self.query_one("#launch-state", Static).update(
            f"{escape(message.info.name)} is already running."
        )

        def answered(replace: bool | None) -> None:
            if replace:
                self._start(replace=True)
            else:
                self.show_kept(message.info, message.lines)

        self.app.push_screen(ReplaceDialog(*replace_question(self.profile, message.info)), answered)

    def show_kept(self, info: RunInfo, lines: list[str]) -> None:
        """The running container kept as it is: its connection lines, as `dlenv info` shows them."""
        self.started = True  # the stage's goal, a running container, is met
        since = since_text(info.started_at)
        self.query_one("#launch-state", Static).update(
            f"[$success]✓ {escape(info.name)} keeps running[/]"
            + (f" (since {escape(since)})" if since else "")
            + f" from {escape(info.image)}; the form's changes apply when Ctrl+R replaces it."
        )
        self.show_connect(lines)
        self.refresh_bindings()

    def on_launch_screen_started(self, message: Started) -> None:
        self.busy = False
        state = self.query_one("#launch-state", Static)
        if message.info is None:
            state.update(f"[$error]✗ {escape(message.error)}[/]")
        else:
            self.started = True
            state.update(
                self.ctx.mode.say(
                    f"[$success]✓ {escape(message.info.name)} is running[/] ({escape(message.info.image)}, GPUs: {escape(message.info.gpus)}).",
                    f"[$warning]Would start {escape(message.info.name)}[/] ({escape(message.info.image)}, GPUs: {escape(message.info.gpus)}); dry run: nothing was started, so these lines show what you would run.",
                )
            )
            self.show_connect(message.lines)
            if message.record_error:  # the container runs; say why the profile does not know
                self.notify(
                    f"Could not record the launch in the profile: {message.record_error}",
                    severity="error",
                    timeout=15,
                )
        self.refresh_bindings()

    def show_connect(self, lines: list[str]) -> None:
        """How to connect, one line each, ready to copy."""
        connect = self.query_one("#connect", OptionList)
        connect.clear_options()
        connect.add_options([Option(escape(line)) for line in lines])
        self.connect_lines = lines
        connect.display = True
        self.query_one("#connect-label").display = True
        connect.highlighted = 0
        connect.focus()
        connect.scroll_visible()

    def action_stop(self) -> None:
        self.busy = True
        self.refresh_bindings()
        self.stop_container(self.current_profile())

    @work(thread=True, exit_on_error=False, exclusive=True, group="launch")
    def stop_container(self, profile: Profile) -> None:
        try:
            from dlenv_tui import operations

            stopped = operations.stop(profile, self.ctx.engine(profile.engine.engine))
        except Exception as exc:
            self.post_message(self.Stopped(False, str(exc)))
            return
        self.post_message(self.Stopped(stopped))

    def on_launch_screen_stopped(self, message: Stopped) -> None:
        self.busy = False
        self.started = False if message.stopped else self.started
        text = message.error or (
            self.ctx.mode.say("Stopped.", "Would stop it (dry run: nothing was stopped).")
            if message.stopped
            else "Nothing of this profile was running."
        )
        self.query_one("#launch-state", Static).update(escape(text))
        self.refresh_bindings()

    # ---- copying

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._copy(event.option_index)

    def action_copy(self) -> None:
        connect = self.query_one("#connect", OptionList)
        if connect.display and connect.highlighted is not None:
            self._copy(connect.highlighted)

    def _copy(self, index: int) -> None:
        text = copy_text(self.connect_lines[index])
        self.app.copy_to_clipboard(text)
        self.notify(escape(text), title="Copied to the clipboard")
