"""The mode a run of dlenv is in (real, dry run, demo) and the seams chosen once for it.

This is the composition root: ``seams_for`` picks, once, the runner, the engine, the probe, the
reachability checker, the clock and the profile store for a mode, and the wizard (``app.make_app``)
and the CLI (``cli``) both take them from here. Screens and commands then never ask which mode they
are in, except to word a result ("would" in a dry run) or show a badge. No Textual here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    from dlenv_tui.demo import Scenario
    from dlenv_tui.doctor import Finding
    from dlenv_tui.engine import BuildProgress, RunInfo
    from dlenv_tui.execute.journal import JobInfo
    from dlenv_tui.execute.runners import EventSink, JobResult, Runner
    from dlenv_tui.image import RenderedImage
    from dlenv_tui.knowledge.verify import Report
    from dlenv_tui.model import BuiltImage, Check, EngineName, GpuCheck, HostFacts, Profile
    from dlenv_tui.profiles import ProfileEntry, ProfileStore

ModeName = Literal["real", "dry-run", "demo"]
DoctorReport = tuple[str, tuple["Finding", ...]]
"""`dlenv doctor`'s text and its findings."""


class Mode(NamedTuple):
    """How results are worded and where profiles are kept; chosen once at start-up."""

    name: ModeName = "real"
    store_note: str = "your profiles directory"
    """Where the profile is saved, for the Summary."""
    badge: str = ""
    """The reverse-video word the screens show ("DEMO", "DRY RUN"); "" in a real run."""
    notice: str = ""
    """What the badge means, one phrase for the plan screen."""
    aside: str = ""
    """Added to a result a simulated host produced (" (demo: simulated)")."""

    @property
    def would(self) -> bool:
        """A dry run: nothing is changed, results say "would"."""
        return self.name == "dry-run"

    @property
    def changes_host(self) -> bool:
        """A real run: what runs changes this host (so it is confirmed first)."""
        return self.name == "real"

    def say(self, done: str, would: str) -> str:
        """``done`` ("Built X") in a real run or the demo, ``would`` ("Would build X") in a dry run."""
        return would if self.would else done


REAL = Mode()
DRY_RUN = Mode(
    "dry-run",
    "a throw-away copy of your profiles (dry run: your real profiles are untouched)",
    "DRY RUN",
    "steps are shown, never executed.",
)
DEMO = Mode(
    "demo",
    "a temporary demo directory (your real profiles are untouched)",
    "DEMO",
    "simulated: nothing on this machine changes.",
    " (demo: simulated)",
)


# --------------------------------------------------------------------------------------------
# the seams, typed


class ConnectionLines(Protocol):
    """How to reach a started container; ``ssh_key`` False: the image has no public key, so no
    ``ssh`` line that cannot log in."""

    def __call__(
        self, profile: Profile, info: RunInfo, facts: HostFacts | None, *, ssh_key: bool = True
    ) -> list[str]: ...


class RenderImage(Protocol):
    """The Dockerfile and build context of a profile on a host; ``upgrade``: the Python packages
    resolve afresh instead of installing the profile's lock (`dlenv build --upgrade`)."""

    def __call__(
        self, profile: Profile, facts: HostFacts | None, *, upgrade: bool = False
    ) -> RenderedImage: ...


class Store(Protocol):
    """Where profiles live (``profiles.ProfileStore``, or a throw-away one in a dry run)."""

    directory: Path

    def exists(self, name: str) -> bool: ...
    def list(self) -> list[ProfileEntry]: ...
    def load(self, name: str) -> Profile: ...
    def save(self, profile: Profile, *, create: bool = False) -> Path: ...
    def update(self, name: str, change: Callable[[Profile], Profile]) -> Profile: ...
    def delete(self, name: str) -> None: ...


class Engine(Protocol):
    """A container engine (``engine.EngineClient``, or the demo's ``DemoEngine``)."""

    def build(
        self,
        profile: Profile,
        rendered: RenderedImage,
        on_progress: Callable[[BuildProgress], None] | None = None,
    ) -> BuiltImage: ...
    def run(self, profile: Profile, *, replace: bool = True) -> RunInfo: ...
    def stop(self, profile: Profile) -> bool: ...
    def status(self, profile: Profile) -> str: ...
    def info(self, profile: Profile) -> RunInfo | None: ...


RunnerFactory = Callable[[str | None], "Runner"]
"""password (or None) -> a runner (the root worker, the dry run's or the demo's)."""
EngineFactory = Callable[["EngineName"], Engine]
Clock = Callable[[], str]
"""ISO-8601 UTC timestamps."""


@dataclass(frozen=True)
class Seams:
    """Everything that differs between a real run, a dry run and the demo, chosen once."""

    mode: Mode
    make_runner: RunnerFactory
    make_engine: EngineFactory
    probe: Callable[[Scenario | None], HostFacts]
    """The host's facts (called on a worker thread); the demo reads its scenario's."""
    reach: Callable[[Sequence[str]], tuple[Check, ...]]
    """Reachability rows for these origins (blocks on the network; the demo's never leaves)."""
    render_image: RenderImage
    """The Dockerfile and build context (the demo reads no keys, certificates or proxy
    variables of this host)."""
    doctor_report: Callable[[HostFacts], DoctorReport]
    """`dlenv doctor`'s text report and its findings for these facts (the demo's from facts alone)."""
    connection_lines: ConnectionLines
    """How to reach a started container (the demo names its simulated user and host)."""
    now: Clock
    proxy_env: Callable[[], Mapping[str, str]] = lambda: os.environ
    """The environment whose HTTP(S)_PROXY / NO_PROXY the build and the container are given
    (this process's; the demo's simulated host sets none)."""
    password_needed: Callable[[], bool] = lambda: False
    """Whether privileged steps need the user's sudo password (sudo without NOPASSWD, not root)."""
    find_job: Callable[[], JobInfo | None] = lambda: None
    """A root-worker job left running or finished unseen (none in a dry run or the demo)."""
    follow_job: Callable[[str, EventSink], JobResult] | None = None
    path_exists: Callable[[str], bool] = os.path.exists
    """Whether a path exists on the host (mount sources); the demo's simulated host has them all."""
    sysroot: str | None = None
    """``--sysroot``: the tree the Doctor screen reads instead of ``/``."""
    store_for_scenario: Callable[[str], Store] | None = None
    """Demo: the profile store of a scenario (each scenario keeps its own demo profiles)."""
    after_reboot: Callable[[HostFacts, Profile], HostFacts] | None = None
    """Demo: the host after a simulated reboot; None: the user reboots for real (dlenv quits)."""
    reprobe: Callable[[HostFacts], HostFacts] = lambda facts: facts
    """The host after a plan changed it (a real run probes again; nothing changes otherwise)."""
    auto_build: bool = False
    """Build at once on the Build stage when nothing was built yet (the demo's walk-through)."""
    verify_build: Callable[[RenderedImage, str], Report] | None = None
    """Before a build: does the base tag (and the torch index) exist? A real run asks the
    registry (seconds at most); the demo and a dry run build nothing, so they ask nothing."""
    gpu_check: Callable[[Engine, Profile], GpuCheck | None] | None = None
    """After a build: the in-image GPU check on the new image (a real run, on a host whose driver
    is loaded); the demo and a dry run build nothing to check."""
    offer_refresh: bool = False
    """Offer `dlenv data refresh` when the data is old (a real run only: it writes the user's
    data dir and asks the network; the demo's and a dry run's data stay as shipped)."""


def dry_run_store(real: Path | None = None) -> ProfileStore:
    """A throw-away store for a dry run: a copy of the real profiles in a fresh temporary directory.

    Reads see the user's profiles as they are; whatever the dry run records (progress, a simulated
    build) lands in the copy and is gone with it.
    """
    import shutil
    import tempfile

    from dlenv_tui import locations
    from dlenv_tui.profiles import ProfileStore

    source = real if real is not None else locations.profiles_dir()
    copy = Path(tempfile.mkdtemp(prefix="dlenv-dry-run-")) / "profiles"
    copy.mkdir(mode=0o700)
    try:
        files = [p for p in source.iterdir() if p.suffix == ".toml" and p.is_file()]
    except OSError:  # no profiles yet (or unreadable: the real store reports that when listing)
        files = []
    for path in files:
        try:
            shutil.copy2(path, copy / path.name)
        except OSError:
            continue
    return ProfileStore(copy)


#: Subcommands that honour a dry run: they change nothing, or say what they would do.
DRY_RUN_COMMANDS = frozenset(
    {
        "check",
        "plan",
        "apply",
        "build",
        "run",
        "stop",
        "dockerfile",
        "export",
        "doctor",
        "profiles list",
        "profiles show",
    }
)
#: Subcommands that work on a demo scenario's simulated host (none yet: each would read or change
#: this host or its real profiles, so --demo is refused with them).
DEMO_COMMANDS: frozenset[str] = frozenset()


def refusal(command: str, *, demo: bool, dry_run: bool) -> str:
    """One sentence when ``command`` ("check", "profiles new") cannot honour --demo / --dry-run;
    "" when it can."""
    if demo and command not in DEMO_COMMANDS:
        return (
            f"--demo works only with the wizard, not with `dlenv {command}` (that would read or "
            "change this host); run `dlenv --demo` for the simulated wizard, or drop --demo."
        )
    if dry_run and command not in DRY_RUN_COMMANDS:
        return (
            f"--dry-run does not work with `dlenv {command}` (it would change your real "
            "profiles); drop --dry-run."
        )
    return ""


# --------------------------------------------------------------------------------------------
# the composition root: one set of seams per mode


def utc_now() -> str:
    import datetime as _dt

    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    return now.isoformat().replace("+00:00", "Z")


def seams_for(
    mode: Mode,
    *,
    sysroot: str | None = None,
    facts_file: str | None = None,
    store: Store | None = None,
    runner_factory: RunnerFactory | None = None,
    engine_factory: EngineFactory | None = None,
    now: Clock | None = None,
    demo_speed: float = 1.0,
    saved_plan: bool = False,
) -> Seams:
    """The seams for ``mode``, for the wizard and the CLI alike; the factories given (tests)
    replace the mode's own. ``saved_plan``: the root worker is handed the whole plan (`dlenv
    apply --plan`, a doctor repair), which only root itself may do.

    Nothing is imported or probed here beyond this module: every seam loads what it needs on
    first use, so the wizard's first screen paints before any of it.
    """
    clock = now or utc_now
    if mode.name == "demo":
        speed = demo_speed
        return Seams(
            mode=mode,
            make_runner=runner_factory or (lambda _pw: _demo_runner(speed)),
            make_engine=engine_factory or _demo_engine(speed, clock),
            probe=_scenario_facts,
            reach=_simulated_reach,
            render_image=_render_offline,
            doctor_report=_doctor_from_facts,
            connection_lines=_demo_connection_lines,
            now=clock,
            proxy_env=dict,
            path_exists=lambda _path: True,
            store_for_scenario=(lambda _key: store) if store is not None else _demo_store,
            after_reboot=_simulated_reboot,
            auto_build=True,
        )
    dry = mode.would
    return Seams(
        mode=mode,
        make_runner=runner_factory or (_dry_runner if dry else _worker_runner(saved_plan)),
        # a dry run builds and starts nothing: its engine lists what would run, inventing nothing
        make_engine=engine_factory or (_dry_run_engine if dry else _real_engine),
        probe=_real_facts(sysroot, facts_file),
        reach=_check_reachable,
        render_image=_render_here,
        doctor_report=_doctor_here(sysroot),
        connection_lines=_connection_help,
        now=clock,
        password_needed=(lambda: False) if dry else _password_needed,
        find_job=(lambda: None) if dry else _find_job,
        follow_job=_follow_job,
        sysroot=sysroot,
        reprobe=(lambda facts: facts) if dry else _reprobe(sysroot, facts_file),
        offer_refresh=not dry,
        verify_build=None if dry else verify_before_build,
        gpu_check=None if dry else _gpu_check,
    )


def _gpu_check(engine: Engine, profile: Profile) -> GpuCheck | None:
    from dlenv_tui.doctor.gpucheck import after_build

    return after_build(engine, profile)  # type: ignore[arg-type]


def verify_before_build(rendered: RenderedImage, profile: str) -> Report:
    """A real run's check before a build: the base tag exists, the torch index answers."""
    from dlenv_tui.knowledge.verify import report_before_build

    return report_before_build(rendered.base, rendered.dockerfile, profile)


def store_for(mode: Mode, store: Store | None = None) -> Store:
    """The profile store a wizard in ``mode`` starts on: ``store`` (tests) or the user's; a dry
    run's is a throw-away copy of it (the demo's comes per scenario, ``Seams.store_for_scenario``)."""
    from dlenv_tui.profiles import ProfileStore

    if mode.would:
        return dry_run_store(store.directory if store is not None else None)
    return store if store is not None else ProfileStore()


def _demo_runner(speed: float) -> Runner:
    from dlenv_tui.execute.runners import DemoRunner

    return DemoRunner(speed=speed)


def _dry_runner(_password: str | None) -> Runner:
    from dlenv_tui.execute.runners import DryRunRunner

    return DryRunRunner()


def _worker_runner(saved_plan: bool) -> RunnerFactory:
    def make(password: str | None) -> Runner:
        from dlenv_tui.execute.client import WorkerRunner

        return WorkerRunner(password=password, saved_plan=saved_plan)

    return make


def _demo_engine(speed: float, clock: Clock) -> EngineFactory:
    def make(name: EngineName) -> Engine:
        from dlenv_tui.demo import DemoEngine

        return DemoEngine(str(name), delay=0.02 / speed if speed > 0 else 0.0, now=clock)

    return make


def _dry_run_engine(name: EngineName) -> Engine:
    from dlenv_tui.demo import DryRunEngine

    return DryRunEngine(str(name), delay=0.0)


def _real_engine(name: EngineName) -> Engine:
    from dlenv_tui.engine import connect

    return connect(name)


def _demo_store(key: str) -> Store:
    """Demo profiles never touch the user's: they live in a per-scenario temporary directory."""
    from dlenv_tui.demo import demo_profiles_dir
    from dlenv_tui.profiles import ProfileStore

    return ProfileStore(demo_profiles_dir(key))


def _scenario_facts(scenario: Scenario | None) -> HostFacts:
    if scenario is None:
        from dlenv_tui.errors import DlenvError

        raise DlenvError("no demo scenario was chosen")
    return scenario.facts


def _real_facts(
    sysroot: str | None, facts_file: str | None
) -> Callable[[Scenario | None], HostFacts]:
    def load(_scenario: Scenario | None) -> HostFacts:
        if facts_file:
            from dlenv_tui.probe import load_facts

            return load_facts(Path(facts_file))
        from dlenv_tui.probe.child import probe_in_subprocess

        return probe_in_subprocess(sysroot)

    return load


def _reprobe(sysroot: str | None, facts_file: str | None) -> Callable[[HostFacts], HostFacts]:
    load = _real_facts(sysroot, facts_file)

    def again(facts: HostFacts) -> HostFacts:
        try:
            return load(None)
        except Exception:  # keep going on what was known; the next start probes again
            return facts

    return again


def _simulated_reboot(facts: HostFacts, profile: Profile) -> HostFacts:
    from dlenv_tui.demo import after_reboot

    return after_reboot(facts, profile)


def _check_reachable(endpoints: Sequence[str]) -> tuple[Check, ...]:
    from dlenv_tui.probe import reach

    return reach.check_reachable(endpoints, timeout=3.0)


def _simulated_reach(endpoints: Sequence[str]) -> tuple[Check, ...]:
    """Demo: every origin reachable, with a made-up but stable round-trip time."""
    import zlib
    from urllib.parse import urlsplit

    from dlenv_tui.model import Check, Status

    rows = []
    for origin in endpoints:
        host = urlsplit(origin).netloc
        ms = 40 + zlib.crc32(host.encode()) % 160
        rows.append(Check(f"reach.{host}", host, Status.OK, f"reachable in {ms} ms (simulated)"))
    return tuple(rows)


def _render_here(
    profile: Profile, facts: HostFacts | None, *, upgrade: bool = False
) -> RenderedImage:
    from dlenv_tui.image import render_dockerfile

    return render_dockerfile(profile, facts, profile.engine.engine, upgrade=upgrade)


DEMO_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOfTheSimulatedUserOnly alice@demo\n"
"""The simulated user's one public key, as a host set up for SSH would have."""


def _render_offline(
    profile: Profile, facts: HostFacts | None, *, upgrade: bool = False
) -> RenderedImage:
    """Demo: no SSH keys, CA certificates or proxy variables are read from this machine (the
    simulated user has one made-up public key, the simulated host no proxy)."""
    from dlenv_tui.image import render_dockerfile

    return render_dockerfile(
        profile,
        facts,
        profile.engine.engine,
        ssh_keys=DEMO_SSH_KEY,
        ca_files={},
        proxy_env={},
        upgrade=upgrade,
    )


def _doctor_here(sysroot: str | None) -> Callable[[HostFacts], DoctorReport]:
    def report(facts: HostFacts) -> DoctorReport:
        from dlenv_tui.cli.doctor import render_text, verdict_notes
        from dlenv_tui.doctor import examine
        from dlenv_tui.probe import LocalHost

        _, findings = examine(LocalHost(sysroot or "/"), facts)
        return render_text(facts, findings, verdict_notes(facts, findings)), tuple(findings)

    return report


def _doctor_from_facts(facts: HostFacts) -> DoctorReport:
    """Demo: a simulated host's report comes from its facts alone."""
    from dlenv_tui.cli.doctor import render_text, verdict_notes
    from dlenv_tui.doctor import HostReads
    from dlenv_tui.doctor.signatures import Inputs, diagnose

    findings = diagnose(Inputs(facts, HostReads()))
    return render_text(facts, findings, verdict_notes(facts, findings)), tuple(findings)


def _connection_help(
    profile: Profile, info: RunInfo, facts: HostFacts | None, *, ssh_key: bool = True
) -> list[str]:
    """How to reach the container on this host (``facts`` unused: the lines name this machine)."""
    from dlenv_tui.engine import connection_help

    return connection_help(profile, info, ssh_key=ssh_key)


def _demo_connection_lines(
    profile: Profile, info: RunInfo, facts: HostFacts | None, *, ssh_key: bool = True
) -> list[str]:
    """connection_help names this machine's user and host; the demo shows the simulated host's."""
    import getpass
    import socket

    lines = _connection_help(profile, info, facts, ssh_key=ssh_key)
    if facts is None:
        return lines
    real = f"{getpass.getuser()}@{socket.gethostname()}"
    fake = f"{facts.user.name or 'you'}@{facts.hostname or 'gpu-host'}"
    return [line.replace(real, fake) for line in lines]


def _password_needed() -> bool:
    from dlenv_tui.execute.sudo import sudo_mode

    return sudo_mode() == "password"


def _find_job() -> JobInfo | None:
    from dlenv_tui.locations import jobs_dir

    try:
        if not any(e.name.endswith(".jsonl") for e in os.scandir(jobs_dir())):
            return None  # no job was ever run here: skip loading the journal code (~15 ms)
    except OSError:
        return None
    try:
        from dlenv_tui.execute.journal import find_unseen_job

        return find_unseen_job()
    except (ImportError, AttributeError, OSError):
        return None


def _follow_job(job_id: str, on_event: EventSink) -> JobResult:
    from dlenv_tui.execute.journal import follow_job

    return follow_job(job_id, on_event)
