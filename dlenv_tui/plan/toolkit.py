"""The container toolkit stage: NVIDIA's libnvidia-container repository, nvidia-container-toolkit, nvidia-ctk."""

from __future__ import annotations

from dataclasses import replace

from dlenv_tui.model import HostFacts, PkgFamily, Plan, Profile, Stage, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target

BASE_URL = "https://nvidia.github.io/libnvidia-container"
APT_KEYRING = "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg"
APT_LIST = "/etc/apt/sources.list.d/nvidia-container-toolkit.list"
RPM_REPO_URL = f"{BASE_URL}/stable/rpm/nvidia-container-toolkit.repo"
PACKAGE = "nvidia-container-toolkit"

# What NVIDIA's nvidia-container-toolkit.list holds after the install guide's sed: apt itself
# substitutes $(ARCH).
APT_LIST_CONTENT = (
    "# Written by dlenv: NVIDIA Container Toolkit (https://github.com/NVIDIA/nvidia-container-toolkit)\n"
    f"deb [signed-by={APT_KEYRING}] {BASE_URL}/stable/deb/$(ARCH) /\n"
    f"#deb [signed-by={APT_KEYRING}] {BASE_URL}/experimental/deb/$(ARCH) /\n"
)


def ctk_present() -> tuple[str, ...]:
    return (p.TEST, "-x", p.NVIDIA_CTK)


def repo_steps(target: Target) -> list[Step]:
    if target.pm is PkgFamily.APT:
        return [
            s.download(
                "toolkit.key",
                "Download the NVIDIA Container Toolkit signing key",
                f"{BASE_URL}/gpgkey",
                APT_KEYRING,
                dearmor=True,
                note="apt trusts this key for the toolkit repository only (signed-by).",
            ),
            s.write(
                "toolkit.repo",
                "Add the NVIDIA Container Toolkit apt repository",
                APT_LIST,
                APT_LIST_CONTENT,
            ),
        ]
    dest = (
        "/etc/yum.repos.d/nvidia-container-toolkit.repo"
        if target.pm is PkgFamily.DNF
        else "/etc/zypp/repos.d/nvidia-container-toolkit.repo"
    )
    return [
        s.download(
            "toolkit.repo",
            "Add the NVIDIA Container Toolkit repository",
            RPM_REPO_URL,
            dest,
            note="The repository file names NVIDIA's signing key, which the package manager imports.",
        )
    ]


def plan_toolkit(facts: HostFacts, profile: Profile, target: Target) -> Plan:
    base = Plan(stage=Stage.TOOLKIT, profile=profile.name, distro=target.key)
    ctk = facts.nvidia_ctk
    if ctk.present:
        version = f" {ctk.version}" if ctk.version else ""
        return Plan(
            stage=Stage.TOOLKIT,
            profile=profile.name,
            distro=target.key,
            satisfied=True,
            reasons=(f"The NVIDIA Container Toolkit{version} is installed (nvidia-ctk).",),
        )
    steps = repo_steps(target)
    installed = ctk_present()
    steps.append(
        s.refresh("toolkit.refresh", target.pm, until=installed, what="NVIDIA Container Toolkit")
    )
    install = s.install(
        "toolkit.install",
        "Install the NVIDIA Container Toolkit",
        target.pm,
        (PACKAGE,),
        check=installed,
        note="nvidia-container-toolkit brings nvidia-ctk and the runtime hooks.",
    )
    if target.pm is PkgFamily.ZYPPER:
        # the guide's zypper form: accept the new repository's key during this install
        install = s.run(
            install.id,
            install.title,
            (p.ZYPPER, "--non-interactive", "--gpg-auto-import-keys", "install", PACKAGE),
            check=installed,
            note=install.note,
        )
    steps.append(install)
    steps.append(
        s.run(
            "toolkit.verify",
            "Check that nvidia-ctk runs",
            (p.NVIDIA_CTK, "--version"),
            check=(p.NVIDIA_CTK, "--version"),
            needs_root=False,
            note="A read-only check: it counts as done whenever nvidia-ctk answers.",
            timeout_s=60,
            skippable=True,
        )
    )
    return replace(
        base,
        steps=tuple(steps),
        reasons=(
            "The toolkit lets containers use the GPU: nvidia-ctk wires it into Docker or writes the "
            "CDI spec Podman reads.",
            f"It comes from NVIDIA's libnvidia-container repository ({target.pm.value}).",
        ),
    )
