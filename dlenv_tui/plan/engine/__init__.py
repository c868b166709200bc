"""The engine stage: install Docker or Podman, start it, connect it to the GPU, run a GPU smoke test."""

from __future__ import annotations

from dlenv_tui.model import EngineName, EngineSource, HostFacts, Plan, Profile, Stage, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.engine import docker, gpu, podman

GROUP_WARNING = (
    "Members of the docker group can start containers as root on this host: membership is "
    "root-equivalent. It takes effect at the next login (or `newgrp docker`)."
)
NO_SYSTEMD_WARNING = (
    "This host does not run systemd, so nothing starts the Docker daemon at boot: start it "
    "yourself (`service docker start` where an init script exists, or `dockerd &`). Podman needs "
    "no daemon and suits such hosts better."
)


def plan_engine(facts: HostFacts, profile: Profile, target: Target) -> Plan:
    choice = profile.engine
    engine = choice.engine
    reasons: list[str] = []
    warnings: list[str] = []
    steps: list[Step] = []
    tool = facts.docker if engine is EngineName.DOCKER else facts.podman
    label = "Docker" if engine is EngineName.DOCKER else "Podman"
    if tool.present:
        version = f" {tool.version}" if tool.version else ""
        reasons.append(f"{label}{version} is already installed; it is left as it is.")
    elif engine is EngineName.PODMAN:
        steps += podman.podman_steps(target, reasons)
    elif choice.source is EngineSource.DOCKER_CE and target.docker_repo:
        steps += docker.docker_ce_steps(target, reasons, warnings)
    else:
        if choice.source is EngineSource.DOCKER_CE:
            warnings.append(
                f"Docker publishes no Docker CE packages for {target.name} on {target.arch}; "
                "using the distribution's docker package instead."
            )
        steps += docker.distro_docker_steps(target, reasons)

    if engine is EngineName.DOCKER:
        if facts.systemd:
            steps.append(
                s.enable_now(
                    "engine.service",
                    "Start Docker now and at every boot",
                    ("docker.service", "containerd.service"),
                    check_unit="docker.service",
                )
            )
        else:
            warnings.append(NO_SYSTEMD_WARNING)
        steps += _group_steps(facts, profile, reasons, warnings)
        steps += gpu.docker_steps(facts, reasons, warnings)
    else:
        reasons.append("Podman runs containers without a daemon, rootless by default.")
        steps += gpu.podman_steps(facts, reasons)
    image = gpu.smoke_image(facts, profile)
    steps.append(gpu.smoke_test(engine, image))

    running = tool.running is not False if engine is EngineName.DOCKER else True
    satisfied = tool.present and running and facts.nvidia_ctk.present
    if satisfied:
        reasons.append(
            f"{label} and the NVIDIA Container Toolkit are installed; the steps left only make sure "
            "it runs and reaches the GPU, then test it."
        )
    return Plan(
        stage=Stage.ENGINE,
        steps=tuple(steps),
        reasons=tuple(reasons),
        warnings=tuple(warnings),
        satisfied=satisfied,
        profile=profile.name,
        distro=target.key,
    )


def _group_steps(
    facts: HostFacts, profile: Profile, reasons: list[str], warnings: list[str]
) -> list[Step]:
    if not profile.engine.docker_group:
        return []
    user = facts.user
    if user.is_root or not user.name or user.name == "root":
        reasons.append("The docker group is not needed: dlenv runs as root here.")
        return []
    if "docker" in user.groups:
        reasons.append(f"{user.name} is already in the docker group.")
        return []
    warnings.append(GROUP_WARNING)
    return [
        s.run(
            "engine.docker-group",
            "Create the docker group",
            (p.GROUPADD, "-f", "docker"),
            check=(p.GETENT, "group", "docker"),
            timeout_s=30,
        ),
        s.run(
            "engine.docker-group-member",
            f"Add {user.name} to the docker group",
            (p.USERMOD, "-aG", "docker", user.name),
            note="Lets this user run docker without sudo.",
            timeout_s=30,
        ),
    ]
