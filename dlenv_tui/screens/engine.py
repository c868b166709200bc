"""Engine: Docker vs Podman compared, the recommendation for this host, install and GPU hookup."""

from __future__ import annotations

import dataclasses

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.widgets import Checkbox, Label, RadioButton, RadioSet, Static

from dlenv_tui.model import EngineName, EngineSource, Profile, Stage
from dlenv_tui.screens import services
from dlenv_tui.screens.planned import PlannedStageScreen

#: Docker vs Podman, after the comparison table in the container-engine guide (seeds, in English).
COMPARISON = (
    ("Architecture", "client + a daemon (dockerd)", "no daemon; each container is a child process"),
    (
        "Privileges",
        "daemon runs as root; rootless mode exists but needs setup",
        "rootless by default, SELinux-confined",
    ),
    ("Overhead", "the daemon always runs in the background", "nothing runs between containers"),
    ("Start-up", "a little slower", "lighter path; often faster to start"),
    ("Failure scope", "a daemon crash takes every container down", "containers are independent"),
    (
        "Ecosystem",
        "the de-facto standard; most docs and examples",
        "smaller, growing; Docker-compatible CLI",
    ),
    ("Networking", "Docker bridge network", "CNI / netavark plugins"),
    ("Kubernetes YAML", "needs conversion", "`podman kube play` runs it directly"),
)


def comparison_table() -> Table:
    """Both engines side by side at any width: the columns share the width and wrap."""
    table = Table(expand=True, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("", ratio=2, style="bold", overflow="fold")
    table.add_column("Docker", ratio=5, overflow="fold")
    table.add_column("Podman", ratio=5, overflow="fold")
    for row in COMPARISON:
        table.add_row(*row)
    return table


class EngineScreen(PlannedStageScreen):
    KEY = "engine"
    STAGE = Stage.ENGINE
    TITLE_TEXT = "Container engine — Docker or Podman"

    _docker_source: EngineSource | None = None
    """The package source Docker had before Podman was picked (Podman forces the distribution)."""

    def compose_body(self) -> ComposeResult:
        yield from self.compose_satisfied()
        yield Static("", id="recommendation", classes="advice")
        with Horizontal(classes="choices"):
            with Vertical(classes="choice"):
                yield Label("Engine")
                with RadioSet(id="engine", compact=True):
                    yield RadioButton("Docker", id="docker")
                    yield RadioButton("Podman", id="podman")
            with Vertical(classes="choice"):
                yield Label("Packages from")
                with RadioSet(id="source", compact=True):
                    yield RadioButton("Docker's repository (docker-ce)", id="docker-ce")
                    yield RadioButton("the distribution", id="distro")
        yield Checkbox(
            "Add me to the docker group (no sudo for docker; root-equivalent)",
            id="group",
            compact=True,
        )
        yield Static(
            "⚠ Members of the docker group can become root on this host through the daemon. "
            "Leave it off on shared machines; dlenv uses sudo for the engine otherwise.",
            id="group-warning",
            classes="warning",
        )
        yield from self.compose_plan()
        yield Static("[b]Docker vs Podman[/b]", classes="section")
        yield Static(comparison_table(), id="comparison")

    def on_mount(self) -> None:
        facts = self.facts
        engine, why = services.recommend_engine(facts)
        installed = [
            f"{n} {t.version}"
            for n, t in (("Docker", facts.docker), ("Podman", facts.podman))
            if t.present
        ]
        text = f"Recommended here: [b]{engine.value.capitalize()}[/b] — {escape(why)}"
        if installed:
            text += f"\nInstalled: {', '.join(installed)}."
        self.query_one("#recommendation", Static).update(text)
        choice = self.profile.engine
        self.query_one(f"#{choice.engine.value}", RadioButton).value = True
        self.query_one(f"#{choice.source.value}", RadioButton).value = True
        self.query_one("#group", Checkbox).value = choice.docker_group
        self._docker_source = choice.source if choice.engine is EngineName.DOCKER else None
        self._sync()
        self.query_one("#engine", RadioSet).focus()

    def current_profile(self) -> Profile:
        e = self.query_one("#engine", RadioSet).pressed_button
        s = self.query_one("#source", RadioSet).pressed_button
        engine = EngineName(e.id) if e is not None and e.id else self.profile.engine.engine
        source = EngineSource(s.id) if s is not None and s.id else self.profile.engine.source
        if engine is EngineName.PODMAN:
            # Podman always comes from the distribution (its planner reads no source); the
            # profile keeps Docker's choice, so a later switch back finds it unchanged
            source = self._docker_source or self.profile.engine.source
        group = self.query_one("#group", Checkbox).value and engine is EngineName.DOCKER
        choice = dataclasses.replace(
            self.profile.engine, engine=engine, source=source, docker_group=group
        )
        return dataclasses.replace(self.profile, engine=choice)

    def _sync(self) -> None:
        docker = self.current_profile().engine.engine is EngineName.DOCKER
        self.query_one("#source").disabled = not docker
        self.query_one("#group").display = docker
        self.query_one("#group-warning").display = (
            docker and self.query_one("#group", Checkbox).value
        )
        self.refresh_plan()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        if event.radio_set.id == "engine" and event.pressed.id == "podman":
            # Podman comes from the distribution; remember Docker's source for the way back
            source = self.query_one("#source", RadioSet).pressed_button
            if source is not None and source.id:
                self._docker_source = EngineSource(source.id)
            self.query_one("#distro", RadioButton).value = True
        elif event.radio_set.id == "engine" and event.pressed.id == "docker":
            if self._docker_source is not None:
                self.query_one(f"#{self._docker_source.value}", RadioButton).value = True
        elif (
            event.radio_set.id == "source"
            and not self.query_one("#source").disabled
            and event.pressed.id
        ):
            self._docker_source = EngineSource(event.pressed.id)
        self._sync()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._sync()
