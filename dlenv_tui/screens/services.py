"""The one place the UI calls the core: thin wrappers over compat, checks, profiles, plan, image, validate.

Core modules are imported inside the functions, so the first screen paints before any of them load.
Nothing here imports Textual.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from typing import TYPE_CHECKING, Any

from dlenv_tui.model import EngineName, ImageVariant, Stage, StageState

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from dlenv_tui.model import Check, Gpu, HostFacts, ImageOptions, Plan, Profile


def utc_now() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------------------------
# compat


def usable_cuda(
    facts: HostFacts, profile: Profile | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CUDA versions (newest first) the GPUs and the driver after the driver stage can run, and why."""
    from dlenv_tui.model import Profile
    from dlenv_tui.plan.cuda import which_cuda_any_flavour

    d = which_cuda_any_flavour(facts, profile or Profile(name="draft"))
    return d.versions, unique(d.reasons)


def image_cuda_choices(
    facts: HostFacts, variant: ImageVariant, cudnn: bool, profile: Profile | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CUDA versions (newest first) the GPUs and the driver after the driver stage can run that
    have an nvidia/cuda image of this flavour for at least one Ubuntu release, and why; () when
    the flavour has none."""
    from dlenv_tui import compat
    from dlenv_tui.model import Profile
    from dlenv_tui.plan.cuda import driver_after_plan, which_cuda

    draft = profile or Profile(name="draft")
    driver = driver_after_plan(facts, draft)
    plain = compat.usable_cuda_versions(facts.gpus, driver)
    found: set[str] = set()
    for release in unique([r for v in plain.value for r in compat.ubuntu_releases_for(v)]):
        d = compat.usable_cuda_versions(
            facts.gpus, driver, variant=variant, cudnn=cudnn, ubuntu=release
        )
        found.update(d.value)
    versions = tuple(v for v in plain.value if v in found)
    reasons = unique(plain.reasons)
    # the same sentence the profile's own decision gives (kept driver, Ubuntu fallback)
    extra = [r for r in which_cuda(facts, draft, variant=variant, cudnn=cudnn).reasons]
    reasons = unique([*(r for r in extra if r not in reasons), *reasons])
    missing = [v for v in plain.value if v not in found]
    if versions and missing:
        words = flavour_words(variant, cudnn)
        if len(missing) > 3:
            left = f"{len(missing)} of these versions have no {words} image and are left out."
        elif len(missing) == 1:
            left = f"CUDA {missing[0]} has no {words} image, so it is left out."
        else:
            names = ", ".join(missing[:-1]) + " and " + missing[-1]
            left = f"CUDA {names} have no {words} image, so they are left out."
        reasons += (left,)
    return versions, reasons


def image_ubuntus(cuda: str, variant: ImageVariant, cudnn: bool) -> tuple[str, ...]:
    """Ubuntu releases (newest first) with an nvidia/cuda image of this CUDA and flavour."""
    from dlenv_tui import compat

    return tuple(
        release
        for release in compat.ubuntu_releases_for(cuda)
        if not image_error(cuda, variant, cudnn, release)
    )


def image_error(cuda: str, variant: ImageVariant, cudnn: bool, ubuntu: str) -> str:
    """ "" when nvidia/cuda has this image, else one sentence saying so and what to pick instead."""
    from dlenv_tui import compat

    if variant is ImageVariant.BASE and cudnn:
        return "nvidia/cuda has no base image with cuDNN: choose runtime or devel, or untick cuDNN."
    try:
        compat.image_tag(cuda, variant, cudnn, ubuntu)
    except compat.CompatError:
        return (
            f"nvidia/cuda has no CUDA {cuda} {flavour_words(variant, cudnn)} image for Ubuntu "
            f"{ubuntu}: choose another CUDA version, flavour or Ubuntu release."
        )
    return ""


def no_image_error(variant: ImageVariant, cudnn: bool) -> str:
    """The sentence for a flavour that no CUDA version this host can run comes in."""
    if variant is ImageVariant.BASE and cudnn:
        return image_error("", variant, cudnn, "")
    untick = ", or untick cuDNN" if cudnn else ""
    return (
        f"No CUDA version this host can run has a {flavour_words(variant, cudnn)} image: "
        f"choose another flavour{untick}."
    )


def flavour_words(variant: ImageVariant, cudnn: bool) -> str:
    return f"cuDNN {variant.value}" if cudnn else variant.value


def unique(items: Sequence[str]) -> tuple[str, ...]:
    """``items`` without repeats (two identical GPUs give the same reason twice)."""
    return tuple(dict.fromkeys(items))


def driver_advice(gpus: Sequence[Gpu]) -> Any:
    from dlenv_tui import compat

    return compat.driver_advice(gpus)


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


def record_job(store: Any, plan: Plan, result: Any) -> str:
    """Write a finished root-worker job's outcome into the profile its plan belongs to (as
    `dlenv apply` does); a sentence saying what was recorded, "" when there is no such profile."""
    from dlenv_tui.profiles import record_outcome

    state = record_outcome(store, plan.profile, plan, result)
    if state is None:
        return ""
    return f"Recorded in profile {plan.profile}: {plan.stage.value} {state.value}."


def make_store(directory: Path | None = None) -> Any:
    from dlenv_tui.profiles import ProfileStore

    return ProfileStore(directory)


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
    facts: HostFacts, profile: Profile, *, demo: bool = False, timeout: float = 3.0
) -> tuple[Check, ...]:
    """Reachability rows for the repositories the plans need. Blocks on the network (call it from
    a thread worker); in demo mode nothing leaves this machine and every origin answers."""
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import Check, Status

    try:
        endpoints = repository_endpoints(facts, profile)
    except DlenvError as exc:  # PlanError: e.g. an unsupported distribution
        return (Check("reach", REACH_TITLE, Status.SKIPPED, f"nothing to reach: no plan ({exc})"),)
    if not endpoints:
        detail = "nothing to reach: the plans download nothing on this host"
        return (Check("reach", REACH_TITLE, Status.SKIPPED, detail),)
    if demo:
        return simulated_reach(endpoints)
    from dlenv_tui.probe import reach

    return reach.check_reachable(endpoints, timeout=timeout)


def simulated_reach(endpoints: Sequence[str]) -> tuple[Check, ...]:
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


def rendered_image(profile: Profile, facts: HostFacts | None, *, demo: bool = False) -> Any:
    """image.RenderedImage for ``profile``; in demo mode nothing is read from this machine."""
    from dlenv_tui import image

    if demo:
        # the simulated user has one public key, as a host set up for SSH would
        return image.render_dockerfile(
            profile, facts, profile.engine.engine, ssh_keys=DEMO_SSH_KEY, ca_files={}
        )
    return image.render_dockerfile(profile, facts, profile.engine.engine)


#: The simulated user's public key in demo mode (nothing is read from this machine).
DEMO_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOfTheSimulatedUserOnly alice@demo\n"


def image_notes(rendered: Any) -> tuple[str, ...]:
    """The notes `dlenv build`, `run` and `info` print about this image (image_notes)."""
    from dlenv_tui.image_notes import image_notes as notes

    return notes(rendered)


def ssh_has_no_key(rendered: Any) -> bool:
    from dlenv_tui.image_notes import ssh_has_no_key as no_key

    return no_key(rendered)


def flavour_reasons(options: ImageOptions) -> tuple[str, ...]:
    """Why the base flavour fits the Python packages (CUDA once, not twice), for the Image stage."""
    from dlenv_tui.image import flavour_reasons as reasons

    return reasons(options)


def render_dockerfile(profile: Profile, facts: HostFacts | None, *, demo: bool = False) -> str:
    return str(rendered_image(profile, facts, demo=demo).dockerfile)


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


# --------------------------------------------------------------------------------------------
# the host probe, in a child process

#: How long the wizard waits for `python -m dlenv_tui.probe` before it says the probe hung.
PROBE_TIMEOUT_S = 120.0

#: Probe processes still running; the wizard kills them when it quits (a hung one would linger).
_PROBES: set[Any] = set()


def kill_probes() -> None:
    for proc in list(_PROBES):
        with contextlib.suppress(OSError):
            proc.kill()


def doctor_report(facts: HostFacts, *, sysroot: str | None = None, demo: bool = False) -> str:
    """`dlenv doctor`'s text report for ``facts`` (a simulated host: from the facts alone)."""
    from dlenv_tui.cli.doctor import render_text, verdict_notes
    from dlenv_tui.doctor import HostReads, examine
    from dlenv_tui.doctor.signatures import Inputs, diagnose
    from dlenv_tui.probe import LocalHost

    if demo:
        findings = diagnose(Inputs(facts, HostReads()))
    else:
        _, findings = examine(LocalHost(sysroot or "/"), facts)
    return render_text(facts, findings, verdict_notes(facts, findings))


def probe_in_subprocess(sysroot: str | None, timeout: float = PROBE_TIMEOUT_S) -> HostFacts:
    """This host's facts from `python -m dlenv_tui.probe`, run by this interpreter.

    Another process, not a thread: the probe's imports and NVML then never hold the UI's GIL, and a
    driver call that hangs is given up on after ``timeout`` seconds (the child is killed).
    Raises ``DlenvError`` with one sentence when the probe fails, hangs or answers nonsense.
    """
    import json
    import subprocess
    import sys

    from dlenv_tui.errors import DlenvError
    from dlenv_tui.model import DataError, HostFacts, from_data

    argv = [sys.executable, "-m", "dlenv_tui.probe"]
    if sysroot:
        argv += ["--sysroot", sysroot]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _PROBES.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise DlenvError(
            f"the probe did not answer within {timeout:.0f} s (a hung driver call?); "
            "run `dlenv check` in another terminal to see where it stops"
        ) from None
    finally:
        _PROBES.discard(proc)
    if proc.returncode != 0:
        reason = (stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise DlenvError(f"the probe failed: {reason}")
    try:
        return from_data(HostFacts, json.loads(stdout))
    except (ValueError, DataError) as exc:
        raise DlenvError(f"the probe answered something that is not host facts: {exc}") from None
