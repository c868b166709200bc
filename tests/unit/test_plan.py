"""Plans per distro × GPU scenario: exact argv tables, allow-list invariants, warnings, unsupported hosts, JSON."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from dlenv_tui.model import (
    Distro,
    DriverFlavour,
    EngineName,
    EngineSource,
    HostFacts,
    Plan,
    Profile,
    SecureBoot,
    Stage,
    StepKind,
)
from dlenv_tui.plan import (
    CHECK_PROGRAMS,
    PROGRAMS,
    REMOVE_FILES,
    WRITE_DIRS,
    PlanError,
    plan_all,
    plan_from_json,
    plan_stage,
    plan_to_json,
)
from dlenv_tui.plan.driver.common import ENROL_WARNING
from dlenv_tui.plan.engine import GROUP_WARNING, NO_SYSTEMD_WARNING
from dlenv_tui.profiles import recommended_profile


@pytest.fixture
def scenario(release_matrix: Any, fixture_facts: Any) -> Callable[[str], tuple[HostFacts, Profile]]:
    """``scenario(name)`` → facts and profile: a matrix case, or a recorded host's recommendation."""
    by_name = {name: (facts, profile) for name, facts, profile in release_matrix}

    def find(name: str) -> tuple[HostFacts, Profile]:
        if name in by_name:
            return by_name[name]
        if name == "debian-12-gtx1080-podman":
            facts = fixture_facts("debian-12-gtx1080")
            return facts, recommended_profile("x", facts, engine=EngineName.PODMAN)
        facts = fixture_facts(name)
        return facts, recommended_profile("x", facts)

    return find


Row = tuple[str, tuple[str, ...]]


def table(facts: HostFacts, profile: Profile) -> list[Row]:
    rows: list[Row] = []
    for plan in plan_all(facts, profile):
        for s in plan.steps:
            if s.kind is StepKind.RUN:
                what = s.argv
            elif s.kind is StepKind.WRITE_FILE:
                assert s.file is not None
                what = ("write", s.file.path)
            elif s.kind is StepKind.DOWNLOAD:
                assert s.download is not None
                what = ("download", s.download.url, s.download.dest)
            else:
                what = ("reboot",)
            rows.append((s.id, what))
    return rows


# What Docker's install pages say to run (docs.docker.com/engine/install/ubuntu/ and /rhel/), in
# the pages' order: the conflicting packages each removes first, and the Docker CE packages both
# install. Stated here from the pages, not taken from the planner, so a plan that drifts fails.
UBUNTU_DOCKER_CONFLICTS = (
    "docker.io",
    "docker-compose",
    "docker-compose-v2",
    "docker-doc",
    "podman-docker",
    "containerd",
    "runc",
)
RHEL_DOCKER_CONFLICTS = (
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
)
DOCKER_CE_PACKAGES = (
    "docker-ce",
    "docker-ce-cli",
    "containerd.io",
    "docker-buildx-plugin",
    "docker-compose-plugin",
)

CUDA_13_IMAGE = "docker.io/nvidia/cuda:13.3.1-base-ubuntu24.04"
CUDA_12_IMAGE = "docker.io/nvidia/cuda:12.9.1-base-ubuntu24.04"

# Steps and runs of steps that several hosts' tables below share, each stated once (the tables
# keep their order).
REBOOT: Row = ("driver.reboot", ("reboot",))
APT_DRIVER_HOLD: Row = ("driver.hold", ("write", "/etc/apt/apt.conf.d/51dlenv-nvidia-driver"))
CUDA_REPOS = "https://developer.download.nvidia.com/compute/cuda/repos"


def cuda_keyring(repo: str) -> list[Row]:
    """NVIDIA's cuda-keyring package for ``repo`` (ubuntu2404, debian12 ...): fetched, then installed."""
    deb = "/var/cache/dlenv/cuda-keyring_1.1-1_all.deb"
    url = f"{CUDA_REPOS}/{repo}/x86_64/cuda-keyring_1.1-1_all.deb"
    return [
        ("driver.cuda-keyring-download", ("download", url, deb)),
        ("driver.cuda-keyring", ("/usr/bin/dpkg", "-i", deb)),
    ]


def cuda_repo(repo: str) -> Row:
    """NVIDIA's CUDA repository for ``repo`` (rhel9, rhel10 ...) as a dnf .repo file."""
    return (
        "driver.cuda-repo",
        (
            "download",
            f"{CUDA_REPOS}/{repo}/x86_64/cuda-{repo}.repo",
            f"/etc/yum.repos.d/cuda-{repo}.repo",
        ),
    )


def dnf_driver_hold(kmod: str) -> Row:
    """The versionlock that holds NVIDIA's driver packages, with the kernel module package ``kmod``."""
    return (
        "driver.hold",
        ("/usr/bin/dnf", "versionlock", "add", "nvidia-driver", "nvidia-driver-cuda", kmod),
    )


ZYPPER_REFRESH = ("/usr/bin/zypper", "--non-interactive", "--gpg-auto-import-keys", "refresh")
TOOLKIT_RPM_REPO = (
    "https://nvidia.github.io/libnvidia-container/stable/rpm/nvidia-container-toolkit.repo"
)


def toolkit(source: list[Row], refresh: tuple[str, ...], install: tuple[str, ...]) -> list[Row]:
    """NVIDIA's container toolkit: its repository (``source``), a refresh, the install, the check."""
    return [
        *source,
        ("toolkit.refresh", refresh),
        ("toolkit.install", (*install, "nvidia-container-toolkit")),
        ("toolkit.verify", ("/usr/bin/nvidia-ctk", "--version")),
    ]


APT_TOOLKIT = toolkit(
    [
        (
            "toolkit.key",
            (
                "download",
                "https://nvidia.github.io/libnvidia-container/gpgkey",
                "/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg",
            ),
        ),
        ("toolkit.repo", ("write", "/etc/apt/sources.list.d/nvidia-container-toolkit.list")),
    ],
    refresh=("/usr/bin/apt-get", "update"),
    install=("/usr/bin/apt-get", "install", "-y"),
)
DNF_TOOLKIT = toolkit(
    [
        (
            "toolkit.repo",
            ("download", TOOLKIT_RPM_REPO, "/etc/yum.repos.d/nvidia-container-toolkit.repo"),
        )
    ],
    refresh=("/usr/bin/dnf", "makecache"),
    install=("/usr/bin/dnf", "install", "-y"),
)
ZYPPER_TOOLKIT = toolkit(
    [
        (
            "toolkit.repo",
            ("download", TOOLKIT_RPM_REPO, "/etc/zypp/repos.d/nvidia-container-toolkit.repo"),
        )
    ],
    refresh=ZYPPER_REFRESH,
    install=("/usr/bin/zypper", "--non-interactive", "--gpg-auto-import-keys", "install"),
)
DOCKER_SERVICE: Row = (
    "engine.service",
    ("/usr/bin/systemctl", "enable", "--now", "docker.service", "containerd.service"),
)
# After the service (and the docker group, where the profile asks for it): the GPU runtime.
DOCKER_GPU: list[Row] = [
    ("engine.gpu-runtime", ("/usr/bin/nvidia-ctk", "runtime", "configure", "--runtime=docker")),
    ("engine.restart", ("/usr/bin/systemctl", "restart", "docker")),
    (
        "engine.smoke-test",
        ("/usr/bin/docker", "run", "--rm", "--gpus", "all", CUDA_13_IMAGE, "nvidia-smi"),
    ),
]
UBUNTU_DOCKER_CE: list[Row] = [
    ("engine.remove-conflicts", ("/usr/bin/apt-get", "remove", "-y", *UBUNTU_DOCKER_CONFLICTS)),
    (
        "engine.docker-key",
        (
            "download",
            "https://download.docker.com/linux/ubuntu/gpg",
            "/etc/apt/keyrings/docker.asc",
        ),
    ),
    ("engine.docker-repo", ("write", "/etc/apt/sources.list.d/docker.sources")),
    ("engine.apt-update", ("/usr/bin/apt-get", "update")),
    ("engine.install", ("/usr/bin/apt-get", "install", "-y", *DOCKER_CE_PACKAGES)),
    DOCKER_SERVICE,
    *DOCKER_GPU,
]


def podman_engine(package_manager: str, image: str) -> list[Row]:
    """The distribution's Podman, NVIDIA's CDI refresh units, and a smoke test on ``image``."""
    return [
        ("engine.install", (package_manager, "install", "-y", "podman")),
        (
            "engine.remove-oci-hook",
            ("/usr/bin/rm", "-f", "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"),
        ),
        (
            "engine.cdi",
            (
                "/usr/bin/systemctl",
                "enable",
                "--now",
                "nvidia-cdi-refresh.path",
                "nvidia-cdi-refresh.service",
            ),
        ),
        (
            "engine.smoke-test",
            (
                "/usr/bin/podman",
                "run",
                "--rm",
                "--device",
                "nvidia.com/gpu=all",
                "--security-opt=label=disable",
                image,
                "nvidia-smi",
            ),
        ),
    ]


EXPECTED: dict[str, list[Row]] = {
    "ubuntu-24.04-rtx4090-fresh": [
        ("driver.blacklist-nouveau", ("write", "/etc/modprobe.d/blacklist-nouveau.conf")),
        ("driver.initramfs", ("/usr/sbin/update-initramfs", "-u")),
        *cuda_keyring("ubuntu2404"),
        (
            "driver.kernel-headers",
            ("/usr/bin/apt-get", "install", "-y", "linux-headers-6.8.0-45-generic"),
        ),
        ("driver.apt-update", ("/usr/bin/apt-get", "update")),
        ("driver.install", ("/usr/bin/apt-get", "install", "-y", "nvidia-open")),
        ("driver.dkms-module", ("/usr/sbin/dkms", "autoinstall", "-k", "6.8.0-45-generic")),
        APT_DRIVER_HOLD,
        REBOOT,
        *APT_TOOLKIT,
        *UBUNTU_DOCKER_CE,
    ],
    "ubuntu-22.04-l4-secureboot": [
        (
            "driver.ubuntu-drivers-common",
            ("/usr/bin/apt-get", "install", "-y", "ubuntu-drivers-common"),
        ),
        ("driver.install", ("/usr/bin/ubuntu-drivers", "install", "--gpgpu")),
        APT_DRIVER_HOLD,
        REBOOT,
        *APT_TOOLKIT,
        *UBUNTU_DOCKER_CE,
    ],
    "fedora-43-a100-secureboot": [
        (
            "driver.rpmfusion",
            (
                "/usr/bin/dnf",
                "install",
                "-y",
                "https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-43.noarch.rpm",
                "https://mirrors.rpmfusion.org/nonfree/fedora/rpmfusion-nonfree-release-43.noarch.rpm",
            ),
        ),
        (
            "driver.akmods-tools",
            ("/usr/bin/dnf", "install", "-y", "kmodtool", "akmods", "mokutil", "openssl"),
        ),
        ("driver.akmods-key", ("/usr/sbin/kmodgenca", "-a")),
        (
            "driver.install",
            ("/usr/bin/dnf", "install", "-y", "akmod-nvidia", "xorg-x11-drv-nvidia-cuda"),
        ),
        (
            "driver.mok-import",
            ("/usr/bin/mokutil", "--import", "/etc/pki/akmods/certs/public_key.der", "--root-pw"),
        ),
        (
            "driver.hold",
            ("/usr/bin/dnf", "versionlock", "add", "akmod-nvidia", "xorg-x11-drv-nvidia-cuda"),
        ),
        REBOOT,
        *DNF_TOOLKIT,
        *podman_engine("/usr/bin/dnf", CUDA_13_IMAGE),
    ],
    "opensuse-leap-15.6-rtx4090": [
        (
            "driver.repo",
            (
                "/usr/bin/zypper",
                "--non-interactive",
                "addrepo",
                "--refresh",
                "https://download.nvidia.com/opensuse/leap/15.6/",
                "nvidia",
            ),
        ),
        ("driver.refresh", ZYPPER_REFRESH),
        (
            "driver.install",
            (
                "/usr/bin/zypper",
                "--non-interactive",
                "install",
                "nvidia-open-driver-G07-signed-kmp-meta",
                "nvidia-compute-utils-G07",
            ),
        ),
        (
            "driver.hold",
            (
                "/usr/bin/zypper",
                "--non-interactive",
                "addlock",
                "nvidia-open-driver-G07-signed-kmp-default",
                "nvidia-open-driver-G07-signed-kmp-meta",
                "nvidia-compute-utils-G07",
                "nvidia-compute-G07",
            ),
        ),
        REBOOT,
        *ZYPPER_TOOLKIT,
        ("engine.install", ("/usr/bin/zypper", "--non-interactive", "install", "docker")),
        DOCKER_SERVICE,
        *DOCKER_GPU,
    ],
    "debian-12-gtx1080-podman": [
        *cuda_keyring("debian12"),
        ("driver.apt-update", ("/usr/bin/apt-get", "update")),
        # F1: the pinning package holds 580; cuda-drivers-580 alone pulls in 590 on Debian
        (
            "driver.pin-branch",
            ("/usr/bin/apt-get", "install", "-y", "nvidia-driver-pinning-580"),
        ),
        ("driver.install", ("/usr/bin/apt-get", "install", "-y", "cuda-drivers")),
        ("driver.dkms-module", ("/usr/sbin/dkms", "autoinstall", "-k", "6.1.0-26-amd64")),
        APT_DRIVER_HOLD,
        REBOOT,
        *APT_TOOLKIT,
        *podman_engine("/usr/bin/apt-get", CUDA_12_IMAGE),
    ],
    "rocky-9.6-docker-open-sb": [
        ("driver.crb", ("/usr/bin/dnf", "config-manager", "--set-enabled", "crb")),
        ("driver.epel", ("/usr/bin/dnf", "install", "-y", "epel-release")),
        cuda_repo("rhel9"),
        (
            "driver.module-stream",
            ("/usr/bin/dnf", "-y", "module", "enable", "nvidia-driver:open-dkms"),
        ),
        ("driver.install", ("/usr/bin/dnf", "install", "-y", "nvidia-open")),
        ("driver.dkms-module", ("/usr/sbin/dkms", "autoinstall", "-k", "5.14.0-570.el9_6.x86_64")),
        (
            "driver.mok-import",
            ("/usr/bin/mokutil", "--import", "/var/lib/dkms/mok.pub", "--root-pw"),
        ),
        ("driver.hold-plugin", ("/usr/bin/dnf", "install", "-y", "python3-dnf-plugin-versionlock")),
        dnf_driver_hold("kmod-nvidia-open-dkms"),
        REBOOT,
        *DNF_TOOLKIT,
        ("engine.remove-conflicts", ("/usr/bin/dnf", "remove", "-y", *RHEL_DOCKER_CONFLICTS)),
        (
            "engine.docker-key",
            (
                "download",
                "https://download.docker.com/linux/centos/gpg",
                "/etc/pki/rpm-gpg/docker-ce.asc",
            ),
        ),
        (
            "engine.docker-key-import",
            ("/usr/bin/rpm", "--import", "/etc/pki/rpm-gpg/docker-ce.asc"),
        ),
        (
            "engine.docker-repo",
            (
                "download",
                "https://download.docker.com/linux/centos/docker-ce.repo",
                "/etc/yum.repos.d/docker-ce.repo",
            ),
        ),
        ("engine.install", ("/usr/bin/dnf", "install", "-y", *DOCKER_CE_PACKAGES)),
        DOCKER_SERVICE,
        ("engine.docker-group", ("/usr/sbin/groupadd", "-f", "docker")),
        ("engine.docker-group-member", ("/usr/sbin/usermod", "-aG", "docker", "alice")),
        *DOCKER_GPU,
    ],
    "rhel-10.0-podman-proprietary": [
        (
            "driver.crb",
            (
                "/usr/sbin/subscription-manager",
                "repos",
                "--enable",
                "codeready-builder-for-rhel-10-x86_64-rpms",
            ),
        ),
        (
            "driver.epel",
            (
                "/usr/bin/dnf",
                "install",
                "-y",
                "https://dl.fedoraproject.org/pub/epel/epel-release-latest-10.noarch.rpm",
            ),
        ),
        cuda_repo("rhel10"),
        (
            "driver.versionlock-plugin",
            ("/usr/bin/dnf", "install", "-y", "python3-dnf-plugin-versionlock"),
        ),
        ("driver.versionlock", ("/usr/bin/dnf", "versionlock", "add", "*nvidia*580*")),
        ("driver.install", ("/usr/bin/dnf", "install", "-y", "cuda-drivers")),
        ("driver.dkms-module", ("/usr/sbin/dkms", "autoinstall", "-k", "6.12.0-55.el10.x86_64")),
        dnf_driver_hold("kmod-nvidia-latest-dkms"),
        REBOOT,
        *DNF_TOOLKIT,
        *podman_engine("/usr/bin/dnf", CUDA_12_IMAGE),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_exact_argv_per_distro_and_gpu_scenario(name: str, scenario: Any) -> None:
    assert table(*scenario(name)) == EXPECTED[name]


@pytest.mark.release_matrix
def test_every_step_stays_inside_the_worker_allow_lists(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    plans = plan_all(facts, profile)
    ids = [s.id for p in plans for s in p.steps]
    assert len(ids) == len(set(ids)), "step ids must be unique"
    for plan in plans:
        assert plan.reasons, f"{plan.stage}: every plan says why"
        for s in plan.steps:
            assert s.title and s.id.startswith(plan.stage.value + ".")
            if s.kind is StepKind.RUN:
                assert s.argv[0] in PROGRAMS, s.argv
                assert all("\n" not in a for a in s.argv)
                if s.argv[0].endswith("/rm"):
                    assert s.argv[-1] in REMOVE_FILES
            else:
                assert s.argv == ()
            if s.check:
                assert s.check[0] in CHECK_PROGRAMS, s.check
            if s.file is not None:
                assert s.file.path.rsplit("/", 1)[0] in WRITE_DIRS, s.file.path
            if s.download is not None:
                assert s.download.url.startswith("https://")
                assert s.download.dest.rsplit("/", 1)[0] in WRITE_DIRS, s.download.dest
        if plan.stage is Stage.DRIVER:
            assert plan.steps[-1].kind is StepKind.REBOOT


@pytest.mark.release_matrix
def test_secure_boot_plans_sign_or_warn(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    driver = plan_stage(facts, profile, Stage.DRIVER)
    ids = [s.id for s in driver.steps]
    enrols = "driver.mok-import" in ids
    if not facts.secure_boot.enabled:
        assert not enrols and ENROL_WARNING not in driver.warnings
        return
    assert any("Secure Boot" in r for r in driver.reasons)
    if enrols:
        assert ENROL_WARNING in driver.warnings
    family = facts.distro.id
    if family == "ubuntu":
        assert not enrols and "/usr/bin/ubuntu-drivers" in [
            s.argv[0] for s in driver.steps if s.argv
        ]
    elif family == "fedora":
        assert (
            ids.index("driver.akmods-key")
            < ids.index("driver.install")
            < ids.index("driver.mok-import")
        )
    elif family in ("debian", "rhel", "rocky", "almalinux", "centos"):
        assert enrols
    else:  # SUSE: open KMPs are SUSE-signed; the proprietary one queues its own key
        assert not enrols
        assert (ENROL_WARNING in driver.warnings) == (
            profile.driver.flavour is DriverFlavour.PROPRIETARY
        )


def test_nouveau_is_blacklisted_only_when_loaded(scenario: Any) -> None:
    facts, profile = scenario("ubuntu-24.04-rtx4090-fresh")
    driver = plan_stage(facts, profile, Stage.DRIVER)
    [blacklist] = [s for s in driver.steps if s.id == "driver.blacklist-nouveau"]
    assert blacklist.file is not None
    assert blacklist.file.path == "/etc/modprobe.d/blacklist-nouveau.conf"
    assert "blacklist nouveau\noptions nouveau modeset=0\n" in blacklist.file.content
    facts2, profile2 = scenario("debian-12-gtx1080")
    assert "driver.blacklist-nouveau" not in [
        s.id for s in plan_stage(facts2, profile2, Stage.DRIVER).steps
    ]


def test_reboot_step_checks_the_loaded_module_flavour_and_branch(scenario: Any) -> None:
    facts, profile = scenario("debian-12-gtx1080")
    reboot = plan_stage(facts, profile, Stage.DRIVER).steps[-1]
    assert reboot.kind is StepKind.REBOOT and not reboot.needs_root
    assert reboot.check == (
        "/usr/bin/grep",
        "-qE",
        r"UNIX [a-z0-9_]+ +Kernel Module +580\.",
        "/proc/driver/nvidia/version",
    )


def test_docker_group_is_optional_and_warned_about(scenario: Any) -> None:
    facts, profile = scenario("rocky-9.6-docker-open-sb")
    engine = plan_stage(facts, profile, Stage.ENGINE)
    assert GROUP_WARNING in engine.warnings
    no_group = replace(profile, engine=replace(profile.engine, docker_group=False))
    engine = plan_stage(facts, no_group, Stage.ENGINE)
    assert GROUP_WARNING not in engine.warnings
    assert "engine.docker-group" not in [s.id for s in engine.steps]


def test_docker_without_systemd_says_how_to_start_it_and_recommends_podman(
    fixture_facts: Any,
) -> None:
    facts = fixture_facts("ubuntu-24.04-no-systemd")
    profile = recommended_profile("x", facts, engine=EngineName.DOCKER)
    engine = plan_stage(facts, profile, Stage.ENGINE)
    assert NO_SYSTEMD_WARNING in engine.warnings
    assert not any(s.argv[:1] == ("/usr/bin/systemctl",) for s in engine.steps)
    # Podman on the same host generates the CDI spec by hand (no refresh units without systemd)
    podman = plan_stage(facts, recommended_profile("y", facts), Stage.ENGINE)
    [cdi] = [s for s in podman.steps if s.id == "engine.cdi"]
    assert cdi.argv == ("/usr/bin/nvidia-ctk", "cdi", "generate", "--output=/etc/cdi/nvidia.yaml")


def test_docker_keys_carry_the_published_fingerprints(scenario: Any) -> None:
    keys = {}
    for name in ("ubuntu-24.04-rtx4090-fresh", "rocky-9.6-docker-open-sb"):
        for s in plan_stage(*scenario(name), Stage.ENGINE).steps:
            if s.id == "engine.docker-key":
                assert s.download is not None
                keys[name] = s.download.fingerprint
    assert keys == {
        "ubuntu-24.04-rtx4090-fresh": "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88",
        "rocky-9.6-docker-open-sb": "060A 61C5 1B55 8A7F 742B 77AA C52F EB6B 621E 9F35",
    }


@pytest.mark.parametrize(
    "distro",
    [
        Distro("arch", "", "", (), "Arch Linux"),
        Distro("ubuntu", "20.04", "focal", ("debian",), "Ubuntu 20.04.6 LTS"),
        Distro("fedora", "39", "", (), "Fedora Linux 39"),
    ],
)
def test_unsupported_distros_get_no_plan(distro: Distro) -> None:
    facts = HostFacts(arch="x86_64", distro=distro)
    with pytest.raises(PlanError, match=r"^unsupported: .*; supported: Ubuntu 22\.04/24\.04"):
        plan_stage(facts, Profile(name="x"), Stage.DRIVER)


def test_unsupported_architecture(fixture_facts: Any) -> None:
    facts = replace(fixture_facts("ubuntu-24.04-rtx4090-fresh"), arch="ppc64le")
    with pytest.raises(PlanError, match="ppc64le"):
        plan_all(facts, Profile(name="x"))


def test_impossible_choices_are_refused(scenario: Any) -> None:
    facts, profile = scenario("debian-12-gtx1080")
    with pytest.raises(PlanError, match="older than Turing"):
        plan_stage(
            facts,
            replace(profile, driver=replace(profile.driver, flavour=DriverFlavour.OPEN)),
            Stage.DRIVER,
        )
    rhel = HostFacts(arch="x86_64", distro=Distro("rocky", "9.6"))
    distro_docker = Profile(
        name="x", engine=replace(Profile(name="x").engine, source=EngineSource.DISTRO)
    )
    with pytest.raises(PlanError, match="does not package Docker"):
        plan_stage(rhel, distro_docker, Stage.ENGINE)
    with pytest.raises(PlanError, match="no privileged plan"):
        plan_stage(facts, profile, Stage.IMAGE)


def test_secure_boot_unknown_on_efi_warns(scenario: Any) -> None:
    facts, profile = scenario("debian-12-gtx1080")
    unknown = replace(facts, secure_boot=SecureBoot(enabled=None, efi=True))
    assert any(
        "could not tell whether Secure Boot" in w
        for w in plan_stage(unknown, profile, Stage.DRIVER).warnings
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_plans_round_trip_through_json(name: str, scenario: Any) -> None:
    for plan in plan_all(*scenario(name)):
        text = plan_to_json(plan)
        assert plan_from_json(text) == plan


def test_plan_from_json_rejects_garbage_with_one_sentence() -> None:
    with pytest.raises(PlanError, match="not valid JSON"):
        plan_from_json("{")
    with pytest.raises(PlanError, match="not a dlenv plan"):
        plan_from_json('{"stage": "driver", "steps": [{"id": "x", "title": "t", "kind": "shell"}]}')
    assert plan_from_json('{"stage": "toolkit"}') == Plan(stage=Stage.TOOLKIT)


@pytest.mark.release_matrix
def test_no_gpu_plans_no_driver_and_says_why(name, facts, profile) -> None:  # type: ignore[no-untyped-def]
    """Past the prerequisites' "go on anyway", a host without a GPU gets no driver plan."""
    from dlenv_tui.plan.driver import NO_GPU

    driver = plan_stage(replace(facts, gpus=()), profile, Stage.DRIVER)
    assert driver.steps == () and not driver.satisfied
    assert driver.reasons == (NO_GPU,)


def test_dlenv_apply_says_there_is_no_gpu_and_records_no_driver(
    tmp_path,
    monkeypatch,
    capsys,
    no_gpu_facts_file,  # type: ignore[no-untyped-def]
) -> None:
    from dlenv_tui.cli import main
    from dlenv_tui.profiles import ProfileStore

    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    nogpu = no_gpu_facts_file
    assert main(["profiles", "new", "cpu", "--facts", str(nogpu)]) == 0
    assert main(["apply", "cpu", "--stage", "driver", "--facts", str(nogpu), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "== driver: No NVIDIA GPU was found" in out and "already satisfied" not in out
    assert "driver" not in ProfileStore().load("cpu").progress


def test_only_steps_that_verify_are_skippable(release_matrix: Any) -> None:
    """The planner says which failed steps a user may skip: the read-only checks after an install
    (nothing later depends on them), never an install, a repository or a file."""
    skippable: set[str] = set()
    for _name, facts, profile in release_matrix:
        try:
            plans = plan_all(facts, profile)
        except PlanError:
            continue
        for plan in plans:
            skippable |= {s.id for s in plan.steps if s.skippable}
    assert skippable == {"toolkit.verify", "engine.smoke-test"}
