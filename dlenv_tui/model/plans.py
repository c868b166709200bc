"""Checks, plans (steps with their read-only checks) and the root worker's events."""

from __future__ import annotations

from dataclasses import dataclass, field

from dlenv_tui.model import EventKind, ImageVariant, Stage, Status, StepKind, StepOutcome
from dlenv_tui.model.profile import DriverChoice, EngineChoice


@dataclass(frozen=True)
class Check:
    """One row of the prerequisite table."""

    id: str
    title: str
    status: Status
    detail: str = ""
    """One line: what was found."""
    fix: str = ""
    """One line: what to do about it (empty when nothing to do)."""


@dataclass(frozen=True)
class FileSpec:
    """A file a ``WRITE_FILE`` step writes: path, content and mode."""

    path: str
    """Absolute path on the host."""
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class DownloadSpec:
    """A file a ``DOWNLOAD`` step fetches over https and verifies before installing it."""

    url: str
    """https only."""
    dest: str
    """Absolute path on the host."""
    mode: int = 0o644
    fingerprint: str = ""
    """OpenPGP fingerprint to verify (keys), spaces allowed; empty when none is published."""
    sha256: str = ""
    dearmor: bool = False
    """Convert an ASCII-armoured key into a binary keyring (``gpg --dearmor``)."""


@dataclass(frozen=True)
class Step:
    """One privileged or read-only action of a plan: an argv, a file to write or a download."""

    id: str
    """Stable within a plan (``driver.install``); used for progress and resume."""
    title: str
    kind: StepKind = StepKind.RUN
    argv: tuple[str, ...] = ()
    needs_root: bool = True
    check: tuple[str, ...] = ()
    """A read-only command; exit status 0 means the step is already done. Empty: always run."""
    file: FileSpec | None = None
    download: DownloadSpec | None = None
    timeout_s: int = 3600
    env: tuple[tuple[str, str], ...] = ()
    """Extra environment (e.g. DEBIAN_FRONTEND=noninteractive); LC_ALL=C is always set."""
    note: str = ""
    """Why this step exists, one sentence for the preview."""
    skippable: bool = False
    """The planner's word that the step only verifies something (nothing later depends on it), so
    the user may skip it when it fails; an install never is."""


@dataclass(frozen=True)
class PlanInputs:
    """The profile's choices a privileged plan was made from: all that crosses to the root worker.

    Data only (no argv, no paths, no file contents, no environment); the worker validates it with
    the profile's own validator and plans again from it on the host it probes itself.
    """

    profile: str
    """The profile's name."""
    driver: DriverChoice = field(default_factory=DriverChoice)
    engine: EngineChoice = field(default_factory=EngineChoice)
    cuda: str = ""
    """The image's CUDA version (the driver must run it; the smoke test's tag)."""
    ubuntu: str = "24.04"
    variant: ImageVariant = ImageVariant.RUNTIME
    cudnn: bool = True


@dataclass(frozen=True)
class Plan:
    """What one stage would do on this host, step by step, with reasons and warnings for the UI."""

    stage: Stage
    steps: tuple[Step, ...] = ()
    reasons: tuple[str, ...] = ()
    """Why the plan looks the way it does (short sentences for the UI)."""
    warnings: tuple[str, ...] = ()
    """Things the user must know before confirming (Secure Boot enrolment, root-equivalent group)."""
    satisfied: bool = False
    """The stage is already done on this host; steps may be empty."""
    profile: str = ""
    distro: str = ""
    inputs: PlanInputs | None = None
    """What the planner read from the profile (None for a plan that did not come from one)."""
    finding: str = ""
    """A `dlenv doctor` repair: the signature id of the finding it fixes (the root worker
    diagnoses the host again and re-derives the fix from that id); empty for a stage's plan."""


@dataclass(frozen=True)
class Event:
    """One line of a root-worker job's event stream (JSON lines)."""

    kind: EventKind
    job: str = ""
    step: str = ""
    index: int = 0
    """1-based step number within the plan."""
    total: int = 0
    line: str = ""
    outcome: StepOutcome | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    message: str = ""
    time: float = 0.0
    """Unix time the event was written."""
