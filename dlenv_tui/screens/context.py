"""What every screen is handed: the host facts, the profile store and the factories for runners and engines.

No globals: the App builds one Context in ``make_app`` and passes it down; tests build their own with a
recording runner and a temporary store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dlenv_tui.model import EngineName
from dlenv_tui.screens.services import utc_now
from dlenv_tui.session import REAL, Mode

if TYPE_CHECKING:
    from dlenv_tui.demo import Scenario  # only the demo imports dlenv_tui.demo (json, assets)
    from dlenv_tui.model import HostFacts, Profile

RunnerFactory = Callable[[str | None], Any]
"""password (or None) -> an execute.Runner."""
EngineFactory = Callable[[EngineName], Any]
"""engine name -> an engine.EngineClient (or the DemoEngine)."""


@dataclass
class Context:
    """Dependencies of the wizard, built once at start-up."""

    store: Any
    """A profiles.ProfileStore (list / load / save / delete / exists)."""
    make_runner: RunnerFactory
    make_engine: EngineFactory
    load_facts: Callable[[], HostFacts]
    """Called on a worker thread after the first paint (probing may take a second)."""
    demo: bool = False
    dry_run: bool = False
    scenario: Scenario | None = None
    facts: HostFacts | None = None
    """None until ``load_facts`` has answered."""
    now: Callable[[], str] = utc_now
    """ISO-8601 UTC timestamps; tests fix it so snapshots and profiles are deterministic."""
    password_needed: Callable[[], bool] = lambda: False
    """Whether privileged steps need the user's sudo password (sudo without NOPASSWD, not root)."""
    find_job: Callable[[], Any] = lambda: None
    """A root-worker job left running or finished unseen (execute.find_unseen_job)."""
    follow_job: Callable[[str, Callable[[Any], None]], Any] | None = None
    engines: dict[str, Any] = field(default_factory=dict)
    """Engine clients made so far, by engine name (the demo engine remembers its containers)."""
    profile: Profile | None = None
    """The profile the wizard is on (for the command palette's rebuild / relaunch / stop)."""

    path_exists: Callable[[str], bool] = os.path.exists
    """Whether a path exists on the host (mount sources); the demo's simulated host has them all."""
    mode: Mode = REAL
    """Real, dry run or demo: how results are worded ("would" in a dry run) and where profiles live."""
    sysroot: str | None = None
    """``--sysroot``: the tree the Doctor screen reads instead of ``/``."""

    store_for_scenario: Callable[[str], Any] | None = None
    """Demo: the profile store of a scenario (each scenario keeps its own demo profiles)."""

    def use_scenario(self, scenario: Scenario) -> None:
        """Demo: switch to ``scenario``; its facts load afterwards like a probe."""
        self.scenario = scenario
        self.facts = None
        if self.store_for_scenario is not None:
            self.store = self.store_for_scenario(scenario.key)

    def engine(self, name: EngineName) -> Any:
        if name.value not in self.engines:
            self.engines[name.value] = self.make_engine(name)
        return self.engines[name.value]
