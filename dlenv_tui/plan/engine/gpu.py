"""Connecting the engine to the GPU (nvidia-ctk runtime configure for Docker, CDI for Podman) and the smoke test."""

from __future__ import annotations

from dlenv_tui import compat
from dlenv_tui.model import EngineName, HostFacts, ImageVariant, Profile, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.steps import PlanError

DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_PID = "/var/run/docker.pid"
CDI_SPEC = "/etc/cdi/nvidia.yaml"
OCI_HOOK = "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"
CDI_REFRESH_SINCE = (1, 18)


def docker_steps(facts: HostFacts, reasons: list[str], warnings: list[str]) -> list[Step]:
    reasons.append(
        "nvidia-ctk registers the NVIDIA runtime in /etc/docker/daemon.json; Docker then restarts."
    )
    steps = [
        s.run(
            "engine.gpu-runtime",
            "Register the NVIDIA runtime with Docker",
            (p.NVIDIA_CTK, "runtime", "configure", "--runtime=docker"),
            check=(p.GREP, "-qs", '"nvidia"', DAEMON_JSON),
            timeout_s=60,
        )
    ]
    if facts.systemd:
        steps.append(
            s.run(
                "engine.restart",
                "Restart Docker to load the NVIDIA runtime",
                (p.SYSTEMCTL, "restart", "docker"),
                # done when the running daemon started after daemon.json last changed
                check=(p.TEST, DAEMON_JSON, "-ot", DOCKER_PID),
                note="Running containers stop unless live-restore is on.",
                timeout_s=300,
            )
        )
    else:
        warnings.append("Restart the Docker daemon yourself so it reads the NVIDIA runtime.")
    return steps


def _toolkit_version(facts: HostFacts) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in facts.nvidia_ctk.version.split(".")[:2])
    except ValueError:
        return ()


def podman_steps(facts: HostFacts, reasons: list[str]) -> list[Step]:
    steps = [
        s.run(
            "engine.remove-oci-hook",
            "Remove the legacy NVIDIA OCI hook",
            (p.RM, "-f", OCI_HOOK),
            check=(p.TEST, "!", "-e", OCI_HOOK),
            note="The old hook conflicts with CDI device injection.",
            timeout_s=30,
        )
    ]
    # a toolkit installed by this plan is the current one; one already here may predate 1.18
    version = _toolkit_version(facts) if facts.nvidia_ctk.present else CDI_REFRESH_SINCE
    if facts.systemd and version >= CDI_REFRESH_SINCE:
        reasons.append(
            "Podman finds GPUs through a CDI spec; the toolkit's nvidia-cdi-refresh units rewrite "
            "it at boot and after driver or toolkit upgrades."
        )
        steps.append(
            s.run(
                "engine.cdi",
                "Enable automatic CDI spec generation",
                (
                    p.SYSTEMCTL,
                    "enable",
                    "--now",
                    "nvidia-cdi-refresh.path",
                    "nvidia-cdi-refresh.service",
                ),
                check=(p.SYSTEMCTL, "is-enabled", "--quiet", "nvidia-cdi-refresh.path"),
                timeout_s=120,
            )
        )
    else:
        reasons.append(
            f"Podman finds GPUs through a CDI spec, written to {CDI_SPEC} so it survives reboots; "
            "generate it again after a driver upgrade."
        )
        steps.append(
            s.run(
                "engine.cdi",
                "Generate the CDI spec for the GPUs",
                (p.NVIDIA_CTK, "cdi", "generate", f"--output={CDI_SPEC}"),
                check=(p.TEST, "-s", CDI_SPEC),
                timeout_s=120,
            )
        )
    return steps


def smoke_image(facts: HostFacts, profile: Profile) -> str:
    """A small nvidia/cuda base image that this host's GPUs and driver can run."""
    from dlenv_tui.plan.cuda import which_cuda

    choice = which_cuda(facts, profile, variant=ImageVariant.BASE, cudnn=False)
    ubuntu, usable = choice.ubuntu, choice.versions
    if not usable:
        raise PlanError(
            f"No nvidia/cuda base image for Ubuntu {ubuntu} runs on this host's GPUs and driver."
        )
    cuda = profile.image.cuda if profile.image.cuda in usable else usable[0]
    try:
        tag = compat.image_tag(cuda, ImageVariant.BASE, False, ubuntu).value
    except compat.CompatError as exc:
        raise PlanError(f"No smoke-test image: {exc}.") from None
    # fully qualified: Podman refuses ambiguous short names without a terminal to ask on
    return tag if tag.count("/") > 1 else f"docker.io/{tag}"


def smoke_test(engine: EngineName, image: str) -> Step:
    if engine is EngineName.DOCKER:
        argv: tuple[str, ...] = (p.DOCKER, "run", "--rm", "--gpus", "all", image, "nvidia-smi")
        needs_root = True
    else:
        argv = (
            p.PODMAN,
            "run",
            "--rm",
            "--device",
            "nvidia.com/gpu=all",
            "--security-opt=label=disable",
            image,
            "nvidia-smi",
        )
        needs_root = False
    return s.run(
        "engine.smoke-test",
        "Run nvidia-smi in a CUDA container",
        argv,
        needs_root=needs_root,
        note="Pulls a small nvidia/cuda base image; success proves the engine reaches the GPU.",
        timeout_s=1800,
        skippable=True,
    )
