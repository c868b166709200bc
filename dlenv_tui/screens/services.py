"""The one place the UI calls the core: thin wrappers over compat, checks, profiles, plan and image.

Each wrapper calls the core module named in docs/contracts.md. While a core module has not landed
yet, a small stand-in (marked ``_standin_*``) keeps the wizard walkable; the stand-ins are deleted as
the real modules arrive. Nothing here imports Textual.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import importlib
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dlenv_tui.model import (
    Check,
    DriverFlavour,
    EngineName,
    Event,
    EventKind,
    Gpu,
    HostFacts,
    Plan,
    Profile,
    Stage,
    StageState,
    Status,
    Step,
    StepKind,
    StepOutcome,
)


def _core(module: str) -> Any | None:
    try:
        return importlib.import_module(f"dlenv_tui.{module}")
    except ImportError:
        return None


def utc_now() -> str:
    return (
        _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------------------------
# compat


def usable_cuda(facts: HostFacts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CUDA versions (newest first) the GPUs and the loaded driver can run, and why."""
    from dlenv_tui import compat

    driver = facts.driver.version if facts.driver.loaded else ""
    d = compat.usable_cuda_versions(facts.gpus, driver)
    return tuple(d.value), unique(d.reasons)


def unique(items: Sequence[str]) -> tuple[str, ...]:
    """``items`` without repeats (two identical GPUs give the same reason twice)."""
    return tuple(dict.fromkeys(items))


def driver_advice(gpus: Sequence[Gpu]) -> Any:
    from dlenv_tui import compat

    return compat.driver_advice(gpus)


# --------------------------------------------------------------------------------------------
# checks


def run_checks(facts: HostFacts) -> tuple[Check, ...]:
    checks = _core("checks")
    if checks is not None and hasattr(checks, "run_checks"):
        return tuple(checks.run_checks(facts))
    return _standin_checks(facts)


def _standin_checks(f: HostFacts) -> tuple[Check, ...]:
    rows = [
        Check(
            "arch",
            "Architecture",
            Status.OK if f.arch in ("x86_64", "aarch64") else Status.FAIL,
            f.arch,
        ),
        Check("distro", "Distribution", Status.OK, f.distro.name or f.distro.id),
        Check("pkg", "Package manager", Status.OK, str(f.pkg_family)),
        Check(
            "init",
            "Init system",
            Status.OK if f.systemd else Status.WARN,
            "systemd" if f.systemd else "not systemd",
        ),
    ]
    for g in f.gpus:
        rows.append(
            Check(
                f"gpu.{g.pci_address}",
                "GPU",
                Status.OK,
                f"{g.name} [{g.device_id}] {g.architecture} CC {g.compute_capability}",
            )
        )
    d = f.driver
    rows.append(
        Check(
            "driver",
            "NVIDIA driver",
            Status.OK if d.loaded else Status.WARN,
            f"{d.version} ({d.flavour})" if d.loaded else "not loaded",
            "" if d.loaded else "the Driver stage installs it",
        )
    )
    sb = f.secure_boot.enabled
    rows.append(
        Check(
            "secureboot",
            "Secure Boot",
            Status.WARN if sb else Status.OK,
            "enabled" if sb else "disabled",
            "modules must be signed" if sb else "",
        )
    )
    rows.append(
        Check(
            "headers",
            "Kernel headers",
            Status.OK if f.kernel_headers else Status.WARN,
            f.kernel,
            "" if f.kernel_headers else "installed with the driver",
        )
    )
    for label, tool in (
        ("Docker", f.docker),
        ("Podman", f.podman),
        ("NVIDIA Container Toolkit", f.nvidia_ctk),
    ):
        rows.append(
            Check(
                label.lower(),
                label,
                Status.OK if tool.present else Status.SKIPPED,
                tool.version if tool.present else "not installed",
            )
        )
    return tuple(rows)


# --------------------------------------------------------------------------------------------
# profiles


def recommended_profile(name: str, facts: HostFacts, engine: EngineName | None = None) -> Profile:
    from dlenv_tui import profiles

    return profiles.recommended_profile(name, facts, engine=engine)


def recommend_engine(facts: HostFacts) -> tuple[EngineName, str]:
    from dlenv_tui import profiles

    return profiles.recommend_engine(facts)


def mark_stage(profile: Profile, stage: Stage, state: StageState, detail: str = "") -> Profile:
    from dlenv_tui import profiles

    return profiles.mark_stage(profile, stage, state, detail)


def make_store(directory: Path | None = None) -> Any:
    from dlenv_tui.profiles import ProfileStore

    return ProfileStore(directory)


# --------------------------------------------------------------------------------------------
# plan / image


def plan_stage(facts: HostFacts, profile: Profile, stage: Stage) -> Plan:
    plan = _core("plan")
    if plan is not None and hasattr(plan, "plan_stage"):
        return plan.plan_stage(facts, profile, stage)  # type: ignore[no-any-return]
    return _standin_plan(facts, profile, stage)


def _standin_plan(f: HostFacts, p: Profile, stage: Stage) -> Plan:
    pm = {"apt": "apt-get", "dnf": "dnf", "zypper": "zypper"}.get(str(f.pkg_family), "apt-get")
    if stage is Stage.DRIVER:
        if f.driver.loaded:
            return Plan(stage, satisfied=True, reasons=(f"Driver {f.driver.version} is loaded.",))
        adv = driver_advice(f.gpus)
        pkg = (
            "nvidia-open"
            if adv.flavour is DriverFlavour.OPEN
            else f"cuda-drivers-{adv.branch or '580'}"
        )
        steps = [
            Step(
                "driver.repo",
                "Add NVIDIA's CUDA repository",
                argv=(pm, "install", "-y", "cuda-keyring"),
            ),
            Step("driver.install", f"Install {pkg}", argv=(pm, "install", "-y", pkg)),
            Step("driver.reboot", "Reboot into the new driver", kind=StepKind.REBOOT),
        ]
        warn = (
            ("Secure Boot is on: enrol the signing key at the console at the next boot.",)
            if f.secure_boot.enabled
            else ()
        )
        return Plan(stage, tuple(steps), reasons=adv.reasons, warnings=warn)
    if stage is Stage.TOOLKIT:
        if f.nvidia_ctk.present:
            return Plan(
                stage, satisfied=True, reasons=(f"nvidia-ctk {f.nvidia_ctk.version} is installed.",)
            )
        return Plan(
            stage,
            (
                Step(
                    "toolkit.install",
                    "Install nvidia-container-toolkit",
                    argv=(pm, "install", "-y", "nvidia-container-toolkit"),
                ),
            ),
        )
    if stage is Stage.ENGINE:
        tool = f.docker if p.engine.engine is EngineName.DOCKER else f.podman
        if tool.present and f.nvidia_ctk.present:
            return Plan(
                stage,
                satisfied=True,
                reasons=(f"{p.engine.engine} {tool.version} is installed and uses the GPU.",),
            )
        name = "docker-ce" if p.engine.engine is EngineName.DOCKER else "podman"
        steps = (
            Step("engine.install", f"Install {name}", argv=(pm, "install", "-y", name)),
            Step(
                "engine.gpu",
                "Connect the engine to the GPU",
                argv=("nvidia-ctk", "runtime", "configure", f"--runtime={p.engine.engine}"),
            ),
        )
        return Plan(stage, steps)
    return Plan(stage, satisfied=True)


def rendered_image(profile: Profile, facts: HostFacts | None, *, demo: bool = False) -> Any:
    """image.RenderedImage for ``profile``; in demo mode nothing is read from this machine."""
    from dlenv_tui import image

    if demo:
        return image.render_dockerfile(
            profile, facts, profile.engine.engine, ssh_keys="", ca_files={}
        )
    return image.render_dockerfile(profile, facts, profile.engine.engine)


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
    if kind in ("image", "url", "host_path") and not value:
        return ""
    checks: dict[str, Callable[[str], str]] = {
        "profile_name": v.profile_name_error,
        "container_name": v.container_name_error,
        "shm_size": v.shm_size_error,
        "gpus": v.gpus_error,
        "host_path": v.abs_path_error,
        "container_path": v.container_path_error,
        "image": v.image_ref_error,
        "url": v.https_url_error,
        "host_ip": v.host_ip_error,
    }
    return checks[kind](value)


# --------------------------------------------------------------------------------------------
# a simulated runner until execute.DemoRunner lands


@dataclasses.dataclass(frozen=True)
class StandinJobResult:
    job: str
    ok: bool
    outcomes: dict[str, StepOutcome]
    failed_step: str = ""
    exit_code: int | None = None
    last_lines: tuple[str, ...] = ()
    message: str = ""


class StandinRunner:
    """Pretends to run a plan: a few output lines per step, every step ok; a reboot step stops."""

    def __init__(self, delay: float = 0.15) -> None:
        self.delay = delay

    def run(
        self, plan: Plan, on_event: Callable[[Event], None], cancel: threading.Event | None = None
    ) -> StandinJobResult:
        total = len(plan.steps)
        outcomes: dict[str, StepOutcome] = {}
        on_event(Event(EventKind.JOB_STARTED, job="demo", total=total))
        for i, step in enumerate(plan.steps, start=1):
            if cancel is not None and cancel.is_set():
                return StandinJobResult("demo", False, outcomes, step.id, message="cancelled")
            on_event(Event(EventKind.STEP_STARTED, job="demo", step=step.id, index=i, total=total))
            if step.kind is StepKind.REBOOT:
                outcomes[step.id] = StepOutcome.REBOOT
                on_event(
                    Event(
                        EventKind.STEP_FINISHED,
                        job="demo",
                        step=step.id,
                        index=i,
                        total=total,
                        outcome=StepOutcome.REBOOT,
                    )
                )
                break
            for line in (
                f"$ {' '.join(step.argv)}",
                "Reading package lists... Done",
                "Setting up ... done",
            ):
                time.sleep(self.delay / 3)
                on_event(Event(EventKind.OUTPUT, job="demo", step=step.id, line=line))
            outcomes[step.id] = StepOutcome.OK
            on_event(
                Event(
                    EventKind.STEP_FINISHED,
                    job="demo",
                    step=step.id,
                    index=i,
                    total=total,
                    outcome=StepOutcome.OK,
                    exit_code=0,
                )
            )
        on_event(Event(EventKind.JOB_FINISHED, job="demo"))
        return StandinJobResult("demo", True, outcomes)
