"""The one table of the wizard's stages and the rules over it: finished, resume here, undone by drift.

The stage bar, the screens table, the app, the CLI and the apply screen read it; no Textual here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from dlenv_tui.model import Stage, StageState

if TYPE_CHECKING:
    from dlenv_tui.model import HostFacts, Profile


class StageInfo(NamedTuple):
    """One row of the table (a NamedTuple: a frozen dataclass costs ~1.5 ms at the first screen)."""

    key: str
    """The screen's key ("prereq" … "summary")."""
    label: str
    """Its name in the stage bar."""
    title: str
    """What it sets up, in a sentence's words."""
    stage: Stage | None
    """The model stage whose progress the profile keeps; None for screens without progress."""
    privileged: bool = False
    """Its plan runs as root (through the root worker)."""


STAGES: tuple[StageInfo, ...] = (
    StageInfo("prereq", "Prereq", "Prerequisites", None),
    StageInfo("driver", "Driver", "NVIDIA driver", Stage.DRIVER, privileged=True),
    StageInfo("toolkit", "Toolkit", "Container toolkit", Stage.TOOLKIT, privileged=True),
    StageInfo("engine", "Engine", "Container engine", Stage.ENGINE, privileged=True),
    StageInfo("image", "Image", "Image", Stage.IMAGE),
    StageInfo("build", "Build", "Build", None),
    StageInfo("launch", "Launch", "Launch", Stage.LAUNCH),
    StageInfo("summary", "Summary", "Summary", None),
)

ORDER: tuple[str, ...] = tuple(s.key for s in STAGES)
LABELS: tuple[tuple[str, str], ...] = tuple((s.key, s.label) for s in STAGES)
BY_KEY: dict[str, StageInfo] = {s.key: s for s in STAGES}
FINISHED_STATES = (StageState.DONE, StageState.SKIPPED)


def finished(profile: Profile, key: str) -> bool:
    """Whether stage ``key`` needs nothing more on this profile (done, or skipped on purpose)."""
    info = BY_KEY[key]
    if key == "build":
        return profile.last_image is not None and bool(profile.last_image.tag)
    if info.stage is None:
        return False
    p = profile.progress.get(info.stage.value)
    return p is not None and p.state in FINISHED_STATES


def resume_stage(profile: Profile) -> str:
    """Where re-opening ``profile`` lands: the first stage not finished (a pending reboot: the
    driver, which then verifies the loaded module)."""
    if not profile.progress:
        return "prereq"
    for key in ("driver", "toolkit", "engine", "image", "build", "launch"):
        if not finished(profile, key):
            return key
    return "summary"


def undone_by_drift(old: HostFacts, new: HostFacts) -> tuple[Stage, ...]:
    """The stages whose facts changed between ``old`` (the profile's snapshot) and ``new``: their
    progress no longer holds, and the wizard goes back to the first of them.

    Unknown on either side is never a change (as in ``drift.host_changes``).
    """
    out: list[Stage] = []
    a, b = old.driver, new.driver
    driver_gone = a.loaded and not b.loaded
    driver_changed = (
        a.loaded
        and b.loaded
        and (
            (bool(a.version) and bool(b.version) and a.version != b.version)
            or (a.flavour is not None and b.flavour is not None and a.flavour != b.flavour)
        )
    )
    # a card moved to another slot changes nothing; another card (or one more) may change the driver
    gpus_changed = sorted(g.device_id for g in old.gpus) != sorted(g.device_id for g in new.gpus)
    distro_changed = bool(old.distro.id and new.distro.id) and (
        (old.distro.id, old.distro.version_id) != (new.distro.id, new.distro.version_id)
    )
    if driver_gone or driver_changed or gpus_changed or distro_changed:
        out.append(Stage.DRIVER)
    if (old.nvidia_ctk.present and not new.nvidia_ctk.present) or distro_changed:
        out.append(Stage.TOOLKIT)
    engine_gone = (old.docker.present and not new.docker.present) or (
        old.podman.present and not new.podman.present
    )
    if engine_gone or distro_changed:
        out.append(Stage.ENGINE)
    return tuple(out)


def skip(profile: Profile, stage: Stage) -> Profile:
    """``profile`` after the user skipped ``stage``: recorded as skipped, unless it is done
    already (a done stage stays done, with what was done; revisiting it is no reason to doubt it)."""
    from dlenv_tui.profiles import mark_stage

    p = profile.progress.get(stage.value)
    if p is not None and p.state is StageState.DONE:
        return profile
    return mark_stage(profile, stage, StageState.SKIPPED, "skipped by the user")


def done_text(profile: Profile, stage: Stage) -> str:
    """What a finished stage shows when it is revisited ("" when it is not done or skipped):
    ``Done 2025-06-01 09:00 UTC: 7 of 7 steps done.``"""
    p = profile.progress.get(stage.value)
    if p is None or p.state not in FINISHED_STATES:
        return ""
    when = p.updated_at.replace("T", " ").removesuffix("Z")[:16]
    when = f" {when} UTC" if when else ""
    what = "Done" if p.state is StageState.DONE else "Skipped"
    detail = p.detail.rstrip(".")
    return f"{what}{when}" + (f": {detail}." if detail else ".")


def undo(profile: Profile, stages: tuple[Stage, ...], why: str) -> Profile:
    """``profile`` with the finished ones among ``stages`` set back to pending, ``why`` kept as
    the detail: the wizard goes back to them and plans them again."""
    from dlenv_tui.profiles import mark_stage

    for stage in stages:
        p = profile.progress.get(stage.value)
        if p is not None and p.state in (*FINISHED_STATES, StageState.NEEDS_REBOOT):
            profile = mark_stage(profile, stage, StageState.PENDING, why)
    return profile
