"""Installing Docker: Docker CE from Docker's repository (conflicts removed first) or the distribution's package."""

from __future__ import annotations

from dlenv_tui.model import PkgFamily, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.steps import PlanError

DOCKER_URL = "https://download.docker.com/linux"
CE_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
    "docker-compose-plugin",
)

#: Docker's apt signing key (download.docker.com/linux/{ubuntu,debian}/gpg), as Docker's install
#: docs have long printed it for `apt-key fingerprint 0EBFCD88`.
APT_KEY_FINGERPRINT = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"
#: Docker's RPM signing key, as the Fedora / RHEL / SLES install docs print it (and the guide).
RPM_KEY_FINGERPRINT = "060A 61C5 1B55 8A7F 742B 77AA C52F EB6B 621E 9F35"
#: rpm names an imported key gpg-pubkey-<last 8 hex digits of the key id, lower case>.
RPM_KEY_PACKAGE = "gpg-pubkey-621e9f35"

APT_KEY = "/etc/apt/keyrings/docker.asc"
APT_SOURCES = "/etc/apt/sources.list.d/docker.sources"
RPM_KEY = "/etc/pki/rpm-gpg/docker-ce.asc"
RPM_REPO = "/etc/yum.repos.d/docker-ce.repo"

# The packages each of Docker's install pages removes first (docker.io, podman-docker ... would
# fight Docker CE over /usr/bin/docker and containerd).
CONFLICTS = {
    "ubuntu": (
        "docker.io",
        "docker-compose",
        "docker-compose-v2",
        "docker-doc",
        "podman-docker",
        "containerd",
        "runc",
    ),
    "debian": ("docker.io", "docker-doc", "docker-compose", "podman-docker", "containerd", "runc"),
    "fedora": (
        "docker",
        "docker-client",
        "docker-client-latest",
        "docker-common",
        "docker-latest",
        "docker-latest-logrotate",
        "docker-logrotate",
        "docker-selinux",
        "docker-engine-selinux",
        "docker-engine",
    ),
    "rhel": (
        "docker",
        "docker-client",
        "docker-client-latest",
        "docker-common",
        "docker-latest",
        "docker-latest-logrotate",
        "docker-logrotate",
        "docker-engine",
        "podman",
        "runc",
    ),
}

DISTRO_PACKAGE = {
    "ubuntu": "docker.io",
    "debian": "docker.io",
    "fedora": "moby-engine",
    "suse": "docker",
}


def apt_sources(target: Target) -> str:
    """Docker's deb822 source, with the release and architecture filled in (no shell at write time)."""
    return (
        "# Written by dlenv: Docker CE (https://docs.docker.com/engine/install/)\n"
        "Types: deb\n"
        f"URIs: {DOCKER_URL}/{target.docker_repo}\n"
        f"Suites: {target.codename}\n"
        "Components: stable\n"
        f"Architectures: {target.deb_arch}\n"
        f"Signed-By: {APT_KEY}\n"
    )


def docker_ce_steps(target: Target, reasons: list[str], warnings: list[str]) -> list[Step]:
    """Docker CE from download.docker.com, as Docker's install page for the distribution does it."""
    repo = target.docker_repo
    installed = s.installed_check(target.pm, ("docker-ce",))
    conflicts = CONFLICTS[target.family]
    reasons.append(f"Docker CE comes from Docker's own repository ({DOCKER_URL}/{repo}).")
    steps: list[Step] = []
    if target.pm is PkgFamily.APT:
        steps.append(
            s.run(
                "engine.remove-conflicts",
                "Remove packages that conflict with Docker CE",
                (p.APT_GET, "remove", "-y", *conflicts),
                check=installed,
                env=s.APT_ENV,
                note="Distribution Docker/containerd packages would fight Docker CE over the same files.",
            )
        )
        steps.append(
            s.download(
                "engine.docker-key",
                "Download Docker's repository signing key",
                f"{DOCKER_URL}/{repo}/gpg",
                APT_KEY,
                fingerprint=APT_KEY_FINGERPRINT,
            )
        )
        steps.append(
            s.write(
                "engine.docker-repo",
                "Add Docker's apt repository",
                APT_SOURCES,
                apt_sources(target),
            )
        )
        steps.append(s.refresh("engine.apt-update", PkgFamily.APT, until=installed, what="Docker"))
    else:
        if "podman" in conflicts:
            warnings.append(
                "Docker's RHEL instructions remove Podman and runc before installing Docker CE; "
                "this plan does the same."
            )
        steps.append(
            s.run(
                "engine.remove-conflicts",
                "Remove packages that conflict with Docker CE",
                (p.DNF, "remove", "-y", *conflicts),
                check=installed,
                note="Older Docker packages would fight Docker CE over the same files.",
            )
        )
        steps.append(
            s.download(
                "engine.docker-key",
                "Download Docker's RPM signing key",
                f"{DOCKER_URL}/{repo}/gpg",
                RPM_KEY,
                fingerprint=RPM_KEY_FINGERPRINT,
                note="Verified here so dnf never has to ask whether to trust it.",
            )
        )
        steps.append(
            s.run(
                "engine.docker-key-import",
                "Import Docker's signing key into rpm",
                (p.RPM, "--import", RPM_KEY),
                check=(p.RPM, "-q", RPM_KEY_PACKAGE),
            )
        )
        steps.append(
            s.download(
                "engine.docker-repo",
                "Add Docker's dnf repository",
                f"{DOCKER_URL}/{repo}/docker-ce.repo",
                RPM_REPO,
            )
        )
    steps.append(
        s.install("engine.install", "Install Docker CE", target.pm, CE_PACKAGES, check=installed)
    )
    return steps


def distro_docker_steps(target: Target, reasons: list[str]) -> list[Step]:
    package = DISTRO_PACKAGE.get(target.family)
    if package is None:
        raise PlanError(
            f"{target.name} does not package Docker itself; choose Docker CE or Podman."
        )
    reasons.append(f"Docker comes from the distribution's {package} package.")
    return [s.install("engine.install", f"Install Docker ({package})", target.pm, (package,))]
