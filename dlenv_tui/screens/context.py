"""What every screen is handed: the seams chosen once at start-up, and the session's small state.

No globals: ``make_app`` builds one Context from ``session.seams_for`` and passes it down; tests
build theirs the same way with a recording runner and a temporary store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.demo import Scenario  # only the demo imports dlenv_tui.demo (json, assets)
    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.execute.runners import EventSink, JobResult
    from dlenv_tui.image import RenderedImage
    from dlenv_tui.model import Check, EngineName, HostFacts, Profile
    from dlenv_tui.session import DoctorReport, Engine, Mode, RunnerFactory, Seams, Store


@dataclass
class SessionState:
    """What changes while the wizard runs: the store (the demo's is per scenario), the facts once
    probed, the profile the wizard is on, and the engine connections made so far."""

    store: Store | None
    """None only in the demo before a scenario is chosen (each scenario has its own)."""
    facts: HostFacts | None = None
    """None until the probe has answered."""
    scenario: Scenario | None = None
    """Demo: the simulated host chosen."""
    profile: Profile | None = None
    """The profile the wizard is on (for the command palette's rebuild / relaunch / stop)."""
    engines: dict[str, Engine] = field(default_factory=dict)
    """Engine clients made so far, by engine name (the demo engine remembers its containers)."""


class Context:
    """The frozen seams (``deps``) and the mutable ``state``; the names screens read forward to
    one or the other, so a screen never knows which mode it is in."""

    def __init__(self, deps: Seams, store: Store | None, scenario: Scenario | None = None) -> None:
        self.deps = deps
        self.state = SessionState(store)
        if scenario is not None:
            self.use_scenario(scenario)

    # ---- the seams
    @property
    def mode(self) -> Mode:
        """Real, dry run or demo: how results are worded ("would" in a dry run), the badge."""
        return self.deps.mode

    @property
    def make_runner(self) -> RunnerFactory:
        return self.deps.make_runner

    @property
    def now(self) -> Callable[[], str]:
        return self.deps.now

    @property
    def password_needed(self) -> Callable[[], bool]:
        return self.deps.password_needed

    @property
    def find_job(self) -> Callable[[], JobInfo | None]:
        return self.deps.find_job

    @property
    def follow_job(self) -> Callable[[str, EventSink], JobResult] | None:
        return self.deps.follow_job

    @property
    def path_exists(self) -> Callable[[str], bool]:
        return self.deps.path_exists

    @property
    def sysroot(self) -> str | None:
        return self.deps.sysroot

    def load_facts(self) -> HostFacts:
        """The host's facts (a worker thread calls this after the first paint)."""
        return self.deps.probe(self.state.scenario)

    def reach(self, endpoints: tuple[str, ...]) -> tuple[Check, ...]:
        return self.deps.reach(endpoints)

    def render_image(self, profile: Profile, *, upgrade: bool = False) -> RenderedImage:
        """``upgrade``: the Python packages resolve afresh instead of from the profile's lock."""
        return self.deps.render_image(profile, self.state.facts, upgrade=upgrade)

    def proxy_env(self) -> Mapping[str, str]:
        """The environment whose proxy variables go to the build and the container."""
        return self.deps.proxy_env()

    def doctor_report(self, facts: HostFacts) -> DoctorReport:
        return self.deps.doctor_report(facts)

    def engine(self, name: EngineName) -> Engine:
        if name.value not in self.state.engines:
            self.state.engines[name.value] = self.deps.make_engine(name)
        return self.state.engines[name.value]

    # ---- the state
    @property
    def store(self) -> Store:
        if self.state.store is None:
            from dlenv_tui.errors import DlenvError

            raise DlenvError("choose a demo scenario first; each keeps its own profiles")
        return self.state.store

    @property
    def facts(self) -> HostFacts | None:
        return self.state.facts

    @facts.setter
    def facts(self, facts: HostFacts | None) -> None:
        self.state.facts = facts

    @property
    def profile(self) -> Profile | None:
        return self.state.profile

    @profile.setter
    def profile(self, profile: Profile | None) -> None:
        self.state.profile = profile

    @property
    def scenario(self) -> Scenario | None:
        return self.state.scenario

    def use_scenario(self, scenario: Scenario) -> None:
        """Demo: switch to ``scenario``; its facts load afterwards like a probe."""
        self.state.scenario = scenario
        self.state.facts = None
        if self.deps.store_for_scenario is not None:
            self.state.store = self.deps.store_for_scenario(scenario.key)
