"""The one place the UI calls the core: thin wrappers over compat, checks, profiles, plan, image, validate.

Core modules are imported inside the functions, so the first screen paints before any of them load.
Nothing here imports Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlenv_tui.model import EngineName, Stage, StageState

if TYPE_CHECKING:
    from collections.abc import Callable

    from dlenv_tui.image import RenderedImage
    from dlenv_tui.model import Check, HostFacts, ImageOptions, Plan, Profile


# --------------------------------------------------------------------------------------------
# checks


def run_checks(facts: HostFacts) -> tuple[Check, ...]:
    from dlenv_tui import checks

    return tuple(checks.run_checks(facts))


# --------------------------------------------------------------------------------------------
# profiles


def recommended_profile(name: str, facts: HostFacts, engine: EngineName | None = None) -> Profile:
    from dlenv_tui import profiles

    return profiles.recommended_profile(name, facts, engine=engine)


def recommend_engine(facts: HostFacts) -> tuple[EngineName, str]:
    from dlenv_tui import profiles

    return profiles.recommend_engine(facts)


def mark_stage(
    profile: Profile,
    stage: Stage,
    state: StageState,
    detail: str = "",
    done_steps: tuple[str, ...] = (),
) -> Profile:
    from dlenv_tui import profiles

    return profiles.mark_stage(profile, stage, state, detail, done_steps)


def host_changes(snapshot: HostFacts | None, facts: HostFacts) -> tuple[str, ...]:
    """How the host changed since a profile's ``snapshot`` was taken (none kept: nothing to say)."""
    if snapshot is None:
        return ()
    from dlenv_tui import drift

    return drift.host_changes(snapshot, facts)


# --------------------------------------------------------------------------------------------
# plan / image


def plan_stage(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    from dlenv_tui import plan

    return plan.plan_stage(facts, profile, stage)


# --------------------------------------------------------------------------------------------
# package repositories the plans download from


REACH_TITLE = "Package repositories"


def repository_endpoints(facts: HostFacts, profile: Profile) -> tuple[str, ...]:
    """The origins every stage's plan contacts (pure; the seam tests patch to aim elsewhere)."""
    from dlenv_tui import plan
    from dlenv_tui.probe import reach

    return reach.plan_endpoints(plan.plan_all(facts, profile))


def repository_checks(
    facts: HostFacts, profile: Profile, reach: Callable[[tuple[str, ...]], tuple[Check, ...]]
) -> tuple[Check, ...]:
    """Reachability rows for the repositories the plans need, checked by ``reach`` (the session's
    seam: the network, or the demo's simulated answers). Blocks: call it from a thread worker."""
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import Check, Status

    try:
        endpoints = repository_endpoints(facts, profile)
    except DlenvError as exc:  # PlanError: e.g. an unsupported distribution
        return (Check("reach", REACH_TITLE, Status.SKIPPED, f"nothing to reach: no plan ({exc})"),)
    if not endpoints:
        detail = "nothing to reach: the plans download nothing on this host"
        return (Check("reach", REACH_TITLE, Status.SKIPPED, detail),)
    return reach(endpoints)


def image_notes(rendered: RenderedImage) -> tuple[str, ...]:
    """The notes `dlenv build`, `run` and `info` print about this image (image_notes)."""
    from dlenv_tui.image_notes import image_notes as notes

    return notes(rendered)


def ssh_has_no_key(rendered: RenderedImage) -> bool:
    from dlenv_tui.image_notes import ssh_has_no_key as no_key

    return no_key(rendered)


def flavour_reasons(options: ImageOptions) -> tuple[str, ...]:
    """Why the base flavour fits the Python packages (CUDA once, not twice), for the Image stage."""
    from dlenv_tui.image import flavour_reasons as reasons

    return reasons(options)


# --------------------------------------------------------------------------------------------
# validation of what the user types


def validate_field(kind: str, value: str) -> str:
    """An empty string when ``value`` is fine for a field of ``kind``, else one sentence saying why."""
    from dlenv_tui import validate as v

    value = value.strip() if kind not in ("profile_name",) else value
    if kind == "port":
        if not value.isdigit():
            return "a port is a number from 1 to 65535."
        return v.port_error(int(value))
    if kind == "apt_packages":
        return next((e for e in map(v.apt_package_error, value.split()) if e), "")
    if kind == "pip_packages":
        return next((e for e in map(v.pip_requirement_error, value.split()) if e), "")
    if kind == "host_paths":
        return next(
            (e for e in (v.abs_path_error(p, "CA certificate path") for p in value.split()) if e),
            "",
        )
    if (
        kind in ("image", "url", "mirror_url", "torch_index", "host_path", "mount_source")
        and not value
    ):
        return ""
    checks: dict[str, Callable[[str], str]] = {
        "profile_name": v.profile_name_error,
        "container_name": v.container_name_error,
        "shm_size": v.shm_size_error,
        "gpus": v.gpus_error,
        "host_path": v.abs_path_error,
        "mount_source": v.mount_source_error,
        "container_path": v.container_path_error,
        "image": v.image_ref_error,
        "url": v.https_url_error,
        "mirror_url": v.mirror_url_error,
        "torch_index": v.torch_index_error,
        "host_ip": v.host_ip_error,
    }
    return checks[kind](value)
