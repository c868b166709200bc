"""The doctor's signatures: pure functions of facts + host reads (+ profile) → a Finding or None.

Each signature is declared with ``@signature(id, status, fixes=STAGE)``; its check names the
evidence it read and the fix's steps (``Found``), and ``Signature`` builds every Finding and fix
plan the same way, so a fix is previewed and run through the root worker like any stage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dlenv_tui import compat
from dlenv_tui.doctor import evidence as ev
from dlenv_tui.doctor.evidence import HostReads, Read
from dlenv_tui.doctor.findings import Finding
from dlenv_tui.model import (
    Check,
    EngineName,
    HostFacts,
    PkgFamily,
    Plan,
    Profile,
    Stage,
    Status,
    Step,
)
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s

TOOLKIT_SAFE = (1, 17, 8)
"""Container Toolkit 1.17.8 fixed CVE-2025-23266 (a container escape through the createContainer hook)."""
SHM_MIN_BYTES = 1024**3
"""NVIDIA's PyTorch containers ask for ``--shm-size=1g`` at least: DataLoader workers pass batches
through /dev/shm, and Docker's default is 64 MiB."""
DEV_CHAR_RULE = "/etc/udev/rules.d/71-nvidia-dev-char.rules"
DEV_CHAR_RULE_TEXT = (
    "# Written by dlenv: /dev/char symlinks for the NVIDIA device nodes, so systemd keeps\n"
    "# containers' GPU access across `systemctl daemon-reload` (NVIDIA container toolkit docs).\n"
    'ACTION=="add", DEVPATH=="/bus/pci/drivers/nvidia", '
    'RUN+="/usr/bin/nvidia-ctk system create-dev-char-symlinks --create-all"\n'
)


@dataclass(frozen=True)
class Inputs:
    """What every signature may look at."""

    facts: HostFacts
    reads: HostReads
    profile: Profile | None = None
    reach: tuple[Check, ...] = ()
    """Rows of `dlenv check --network` for the repositories the plans need (empty: not asked)."""


@dataclass(frozen=True)
class Found:
    """What a signature's check found; ``signature`` turns it into the Finding and its fix plan."""

    title: str
    evidence: Sequence[Read]
    why: str
    steps: Sequence[Step] = ()
    """The fix's steps (a signature declared with ``fixes=STAGE``)."""
    warnings: Sequence[str] = ()
    manual: Sequence[str] = ()


@dataclass(frozen=True)
class Signature:
    """One known breakage: its stable id, how bad it is, the stage its fix belongs to (None: only
    by hand) and the check. Called on Inputs it gives the Finding, its fix planned the same way
    for every signature: the steps, the why as the plan's reason, the profile's plan inputs and
    the signature id, which is what the root worker re-derives the fix from."""

    id: str
    status: Status
    fixes: Stage | None
    check: Callable[[Inputs], Found | None]

    def __call__(self, inp: Inputs) -> Finding | None:
        found = self.check(inp)
        if found is None:
            return None
        fix = None
        if self.fixes is not None:
            from dlenv_tui.plan.stages import plan_inputs

            fix = Plan(
                stage=self.fixes,
                steps=tuple(found.steps),
                reasons=(found.why,),
                warnings=tuple(found.warnings),
                profile=inp.profile.name if inp.profile else "",
                distro=inp.facts.distro.id,
                inputs=plan_inputs(inp.profile) if inp.profile else None,
                finding=self.id,
            )
        else:
            assert not found.steps, f"{self.id} declares no fix stage"
        return Finding(
            id=self.id,
            title=found.title,
            status=self.status,
            evidence=tuple(found.evidence),
            why=found.why,
            fix=fix,
            manual=tuple(found.manual),
        )


def signature(
    id: str, status: Status, *, fixes: Stage | None = None
) -> Callable[[Callable[[Inputs], Found | None]], Signature]:
    """Declare a signature's check: ``@signature("driver.nouveau", Status.FAIL, fixes=Stage.DRIVER)``."""

    def wrap(check: Callable[[Inputs], Found | None]) -> Signature:
        return Signature(id=id, status=status, fixes=fixes, check=check)

    return wrap


def _install_run(inp: Inputs, id: str, title: str, packages: Sequence[str]) -> Step:
    """Install (or upgrade to the newest) ``packages`` with the host's package manager."""
    pm = inp.facts.pkg_family
    return s.run(
        id, title, s.install_argv(pm, packages), env=s.APT_ENV if pm is PkgFamily.APT else ()
    )


def _version(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return ()


def _has_gpu(inp: Inputs) -> bool:
    return bool(inp.facts.gpus)


def loaded_version(inp: Inputs) -> tuple[str, Read | None]:
    """The loaded kernel module's version and where it was read."""
    r = inp.reads
    if r.sys_module_version:
        return r.sys_module_version, Read(ev.SYS_MODULE_VERSION, r.sys_module_version)
    if r.proc_version:
        from dlenv_tui.probe.driver import parse_nvidia_version

        version, _ = parse_nvidia_version(r.proc_version)
        if version:
            line = r.proc_version.splitlines()[0]
            return version, Read(ev.PROC_VERSION, line)
    return "", None


def userspace_versions(inp: Inputs) -> tuple[frozenset[str], tuple[Read, ...]]:
    """The user-space driver's version(s): libnvidia-ml file names, else the package database."""
    r = inp.reads
    libs = {ev.lib_version(path): path for path in r.nvml_libs}
    if libs:
        reads = tuple(Read(path, f"user-space library {v}") for v, path in sorted(libs.items()))
        return frozenset(libs), reads
    if r.packages:
        text = "\n".join(f"{name} {version}" for name, version in r.packages)
        return frozenset(v for _, v in r.packages), (Read(r.package_source, text),)
    return frozenset(), ()


def _reboot(check_version: str = "") -> Step:
    check = (
        (p.GREP, "-qs", check_version, ev.PROC_VERSION)
        if check_version
        else (p.TEST, "-e", ev.PROC_VERSION)
    )
    return s.reboot(
        "doctor.reboot",
        "Reboot to load the installed NVIDIA kernel module",
        check,
        note="The running kernel keeps the old module until it is unloaded; a reboot does it.",
    )


# --------------------------------------------------------------------------------------------
# The kernel module


@signature("driver.version-mismatch", Status.FAIL, fixes=Stage.DRIVER)
def version_mismatch(inp: Inputs) -> Found | None:
    loaded, where = loaded_version(inp)
    user, user_reads = userspace_versions(inp)
    if not loaded or not user or loaded in user or where is None:
        return None
    newest = max(user, key=_version)
    log = tuple(ln for ln in inp.reads.kernel_log or () if "API mismatch" in ln or "mismatch" in ln)
    reads = (where, *user_reads)
    if log:
        reads += (Read(inp.reads.kernel_log_source, "\n".join(log[-3:])),)
    why = (
        f"The kernel still runs NVIDIA module {loaded}, but the libraries were upgraded to "
        f"{newest} (an unattended or manual package upgrade); NVML and CUDA refuse a module of "
        "another version, so nvidia-smi and every GPU container fail until the new module loads."
    )
    return Found(
        title="Driver/library version mismatch: a reboot (or reloading the module) is needed",
        evidence=reads,
        why=why,
        steps=[_reboot(newest)],
        manual=(
            "Without a reboot: stop every GPU process and container, then "
            "`sudo modprobe -r nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia`.",
        ),
    )


def _headers_package(facts: HostFacts) -> str:
    if facts.pkg_family is PkgFamily.APT:
        return f"linux-headers-{facts.kernel}"
    if facts.pkg_family is PkgFamily.DNF:
        return f"kernel-devel-{facts.kernel}"
    return "kernel-default-devel"


@signature("driver.no-module-for-kernel", Status.FAIL, fixes=Stage.DRIVER)
def missing_module(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if f.driver.loaded or not _has_gpu(inp) or not f.kernel or r.modules_dep is None:
        return None
    if ev.has_nvidia_module(r.modules_dep):
        return None
    user, user_reads = userspace_versions(inp)
    if not user:
        return None  # no driver installed at all: the driver stage's job, not a breakage
    reads = [
        Read("/proc/sys/kernel/osrelease", f.kernel),
        Read(r.modules_dep_path, r.modules_dep or "no nvidia.ko listed"),
        *user_reads,
    ]
    if r.dkms_status is not None:
        reads.append(Read("dkms status", r.dkms_status.strip() or "(nothing)"))
    why = (
        f"The kernel was updated to {f.kernel} and the NVIDIA module was not built for it "
        "(DKMS/akmods needs the new kernel's headers, or the prebuilt module package for it is "
        "missing), so nothing loads the driver at boot."
    )
    steps: list[Step] = []
    pm = f.pkg_family
    if f.kernel_headers is False and pm is not PkgFamily.OTHER:
        header = _headers_package(f)
        steps.append(s.install("doctor.kernel-headers", f"Install {header}", pm, (header,)))
    if r.dkms_status is not None:
        steps.append(
            s.run(
                "doctor.rebuild-module",
                f"Build the NVIDIA module for kernel {f.kernel} (DKMS)",
                (p.DKMS, "autoinstall", "-k", f.kernel),
                timeout_s=1800,
            )
        )
    elif pm is PkgFamily.DNF:
        steps.append(
            s.run(
                "doctor.rebuild-module",
                f"Build the NVIDIA module for kernel {f.kernel} (akmods)",
                (p.AKMODS, "--force", "--kernels", f.kernel),
                timeout_s=1800,
            )
        )
    elif pm is PkgFamily.ZYPPER:
        kmps = [n for n, _ in r.packages or () if "kmp" in n] or [
            "nvidia-open-driver-G07-signed-kmp-default"
        ]
        steps.append(
            s.run(
                "doctor.rebuild-module",
                "Install the NVIDIA kernel module package for the running kernel",
                (p.ZYPPER, "--non-interactive", "install", *kmps),
            )
        )
    elif pm is PkgFamily.APT:
        steps.append(
            s.run(
                "doctor.rebuild-module",
                f"Install the prebuilt NVIDIA module for kernel {f.kernel}",
                (p.UBUNTU_DRIVERS, "install", "--gpgpu"),
                env=s.APT_ENV,
            )
        )
    steps.append(
        s.run(
            "doctor.load-module",
            "Load the NVIDIA kernel module",
            (p.MODPROBE, "nvidia"),
            check=(p.TEST, "-e", ev.PROC_VERSION),
            timeout_s=120,
        )
    )
    return Found(
        title=f"No NVIDIA kernel module for the running kernel {f.kernel}",
        evidence=tuple(reads),
        why=why,
        steps=steps,
    )


@signature("driver.nouveau", Status.FAIL, fixes=Stage.DRIVER)
def nouveau_loaded(inp: Inputs) -> Found | None:
    f = inp.facts
    bound = [g.pci_address for g in f.gpus if g.bound_driver == "nouveau"]
    if not (f.driver.nouveau_loaded or bound):
        return None
    from dlenv_tui.plan.driver.common import NOUVEAU_BLACKLIST, NOUVEAU_CONF

    reads = [Read("/proc/modules", "nouveau is loaded")] if f.driver.nouveau_loaded else []
    reads += [Read(f"/sys/bus/pci/devices/{a}/uevent", "DRIVER=nouveau") for a in bound]
    why = (
        "The open-source nouveau driver claimed the GPU at boot; the NVIDIA module cannot load "
        "while it holds the device, and nouveau has no CUDA."
    )
    steps = [
        s.write(
            "doctor.blacklist-nouveau",
            "Blacklist the nouveau driver",
            NOUVEAU_BLACKLIST,
            NOUVEAU_CONF,
        ),
    ]
    if inp.reads.initramfs == "":
        # a VM started straight from a kernel: the blacklist is read from the root file system
        reads.append(
            Read("/boot", f"no initramfs for kernel {f.kernel}: the host boots without one")
        )
    else:
        initramfs = (
            (p.UPDATE_INITRAMFS, "-u") if f.pkg_family is PkgFamily.APT else (p.DRACUT, "--force")
        )
        steps.append(
            s.run(
                "doctor.initramfs",
                "Rebuild the initramfs without nouveau",
                initramfs,
                timeout_s=900,
            )
        )
    steps.append(_reboot())
    return Found(
        title="The nouveau driver is loaded and holds the GPU",
        evidence=tuple(reads),
        why=why,
        steps=steps,
    )


_KEY_REJECTED = re.compile(
    r"Key was rejected by service|unsigned module loading is restricted|Loading of unsigned module"
)


@signature("driver.secure-boot-unsigned", Status.FAIL, fixes=Stage.DRIVER)
def secure_boot_unsigned(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if f.secure_boot.enabled is not True or f.driver.loaded:
        return None
    rejected = [ln for ln in r.kernel_log or () if _KEY_REJECTED.search(ln)]
    unenrolled = [t for t in r.mok_test if "is not enrolled" in t.text]
    module_built = r.modules_dep is not None and ev.has_nvidia_module(r.modules_dep)
    if not rejected and not (unenrolled and module_built):
        return None
    reads = [Read("mokutil --sb-state", "SecureBoot enabled")]
    if rejected:
        reads.append(Read(r.kernel_log_source, "\n".join(rejected[-3:])))
    reads += unenrolled
    why = (
        "Secure Boot only loads modules signed by an enrolled key; the NVIDIA module was signed "
        "with a local key (DKMS/akmods) that the firmware does not know yet, so the kernel "
        "rejects it."
    )
    from dlenv_tui.plan.driver.common import ENROL_WARNING

    steps: list[Step] = []
    for t in unenrolled:
        cert = t.source.rsplit(" ", 1)[-1]
        steps.append(
            s.run(
                f"doctor.mok-import-{len(steps) + 1}",
                "Queue the module signing key for Secure Boot enrolment",
                (p.MOKUTIL, "--import", cert, "--root-pw"),
                check=(p.MOKUTIL, "--test-key", cert),
                timeout_s=600,
            )
        )
    steps.append(_reboot())
    return Found(
        title="Secure Boot rejects the NVIDIA module: its signing key is not enrolled",
        evidence=tuple(reads),
        why=why,
        steps=steps,
        warnings=(ENROL_WARNING,),
        manual=()
        if unenrolled
        else ("Enrol the key the module was signed with (mokutil --import CERT), then reboot.",),
    )


@signature("driver.fabric-manager", Status.FAIL, fixes=Stage.DRIVER)
def fabric_manager(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if not r.nvswitches or not f.driver.loaded:
        return None
    loaded, _ = loaded_version(inp)
    loaded = loaded or f.driver.version
    active = (r.fm_active or "").strip()
    fm_version = ev.parse_fm_version(r.fm_version or "")
    if active == "active" and fm_version == loaded:
        return None
    reads = [
        Read(
            ev.PCI_DEVICES,
            f"{len(r.nvswitches)} NVSwitch bridges (class 0x068000): " + ", ".join(r.nvswitches),
        ),
        Read("systemctl is-active nvidia-fabricmanager", active or "(no such unit)"),
    ]
    if r.fm_version is not None:
        reads.append(Read("nv-fabricmanager --version", r.fm_version.strip()))
    if active == "active":
        what = f"Fabric Manager {fm_version or '(unknown version)'} runs with driver {loaded}"
    else:
        what = "Fabric Manager is not running"
    why = (
        'On an NVSwitch system the GPUs stay uninitialised (CUDA error 802, "system not yet '
        "initialized\") until nvidia-fabricmanager of exactly the driver's version runs."
    )
    branch = loaded.split(".")[0]
    steps: list[Step] = []
    pm = f.pkg_family
    if pm is PkgFamily.APT:
        pkgs: tuple[str, ...] = (f"nvidia-fabricmanager-{branch}",)
    elif pm is PkgFamily.DNF:
        pkgs = (f"nvidia-fabric-manager-{loaded}",)
    else:
        pkgs = (f"nvidia-fabric-manager-{loaded}",)
    if pm is not PkgFamily.OTHER:
        steps.append(
            _install_run(
                inp, "doctor.fabric-manager-install", f"Install Fabric Manager {loaded}", pkgs
            )
        )
    steps.append(
        s.run(
            "doctor.fabric-manager-start",
            "Enable and start nvidia-fabricmanager",
            (p.SYSTEMCTL, "enable", "--now", "nvidia-fabricmanager"),
            check=s.systemd_active("nvidia-fabricmanager"),
            timeout_s=300,
        )
    )
    return Found(
        title=f"NVSwitch system: {what}, so CUDA cannot use the GPUs",
        evidence=tuple(reads),
        why=why,
        steps=steps,
    )


# --------------------------------------------------------------------------------------------
# Toolkit and engine


def _engine(inp: Inputs) -> EngineName | None:
    f = inp.facts
    if inp.profile is not None:
        return inp.profile.engine.engine
    if f.docker.present:
        return EngineName.DOCKER
    if f.podman.present:
        return EngineName.PODMAN
    return None


@signature("engine.docker-runtime", Status.FAIL, fixes=Stage.ENGINE)
def docker_runtime(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if _engine(inp) is not EngineName.DOCKER or not f.docker.present or not f.nvidia_ctk.present:
        return None
    if not f.driver.loaded:
        return None
    parsed = ev.daemon_json_runtimes(r.daemon_json or "")
    if parsed is not None and parsed[1]:
        return None
    text = "(no such file)" if r.daemon_json is None else r.daemon_json.strip() or "(empty)"
    why = (
        "Docker only reaches GPUs through the NVIDIA runtime registered in daemon.json; without "
        'it `docker run --gpus` fails with: could not select device driver "" with '
        "capabilities: [[gpu]]."
    )
    from dlenv_tui.plan.engine.gpu import docker_steps

    steps = docker_steps(f, [], [])
    return Found(
        title="Docker is not configured for the NVIDIA runtime",
        evidence=(Read(ev.DAEMON_JSON, text),),
        why=why,
        steps=steps,
    )


def _cdi_generate(path: str, check_version: str = "") -> Step:
    return s.run(
        "doctor.cdi-generate",
        "Generate the CDI spec for the loaded driver",
        (p.NVIDIA_CTK, "cdi", "generate", f"--output={path}"),
        check=(p.GREP, "-qs", check_version, path) if check_version else (p.TEST, "-s", path),
        timeout_s=120,
    )


def _cdi_refresh(path: str, version: str) -> Step:
    if path == ev.CDI_SPECS[0]:
        return _cdi_generate(path, version)
    # /var/run/cdi/nvidia.yaml is nvidia-cdi-refresh's: let its unit write it again
    return s.run(
        "doctor.cdi-generate",
        "Regenerate the CDI spec (nvidia-cdi-refresh)",
        (p.SYSTEMCTL, "restart", "nvidia-cdi-refresh.service"),
        check=(p.GREP, "-qs", version, path),
        timeout_s=120,
    )


@signature("engine.no-cdi-spec", Status.FAIL, fixes=Stage.ENGINE)
def podman_cdi_missing(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if _engine(inp) is not EngineName.PODMAN or not f.podman.present or not f.nvidia_ctk.present:
        return None
    if not f.driver.loaded or r.cdi_specs:
        return None
    why = (
        "Podman finds GPUs only through a CDI spec; without one `--device nvidia.com/gpu=all` "
        "fails with: unresolvable CDI devices nvidia.com/gpu=all."
    )
    return Found(
        title="No CDI spec for Podman: containers cannot ask for the GPUs",
        evidence=tuple(Read(path, "(no such file)") for path in ev.CDI_SPECS),
        why=why,
        steps=[_cdi_generate(ev.CDI_SPECS[0])],
    )


@signature("engine.stale-cdi-spec", Status.FAIL, fixes=Stage.ENGINE)
def stale_cdi(inp: Inputs) -> Found | None:
    loaded, where = loaded_version(inp)
    if not loaded or where is None:
        return None
    for spec in inp.reads.cdi_specs:
        versions = ev.cdi_driver_versions(spec.text)
        if not versions or loaded in versions:
            continue
        libs = [ln.strip() for ln in spec.text.splitlines() if "libnvidia-ml.so." in ln][:2]
        why = (
            f"The CDI spec was generated for driver {', '.join(sorted(versions))} and mounts "
            f"its libraries, which the upgrade to {loaded} removed; containers fail to start "
            "(a missing mount source) until the spec is generated again."
        )
        return Found(
            title=f"The CDI spec {spec.source} is for another driver than the loaded {loaded}",
            evidence=(where, Read(spec.source, "\n".join(libs) or ", ".join(sorted(versions)))),
            why=why,
            steps=[_cdi_refresh(spec.source, loaded)],
        )
    return None


def _restart_engine(inp: Inputs, step_id: str) -> list[Step]:
    f = inp.facts
    if not f.systemd:
        return []
    if f.docker.present:
        return [s.run(step_id, "Restart Docker", (p.SYSTEMCTL, "restart", "docker"), timeout_s=300)]
    return []


@signature("toolkit.outdated", Status.WARN, fixes=Stage.TOOLKIT)
def toolkit_outdated(inp: Inputs) -> Found | None:
    ctk = inp.facts.nvidia_ctk
    version = _version(ctk.version)
    if not ctk.present or not version or version >= TOOLKIT_SAFE:
        return None
    why = (
        "NVIDIA Container Toolkit 1.17.8 fixed CVE-2025-23266 (a malicious image could escape "
        "the container through the createContainer hook and run as root on the host)."
    )
    pkgs = ("nvidia-container-toolkit", "nvidia-container-toolkit-base")
    steps: list[Step] = []
    if inp.facts.pkg_family is not PkgFamily.OTHER:
        steps.append(
            _install_run(
                inp, "doctor.toolkit-upgrade", "Upgrade the NVIDIA Container Toolkit", pkgs
            )
        )
    steps += _restart_engine(inp, "doctor.toolkit-restart-engine")
    return Found(
        title=f"NVIDIA Container Toolkit {ctk.version} is older than its security fixes (1.17.8)",
        evidence=(
            Read("nvidia-ctk --version", f"NVIDIA Container Toolkit CLI version {ctk.version}"),
        ),
        why=why,
        steps=steps,
    )


@signature("engine.cgroup-nvml-loss", Status.WARN, fixes=Stage.ENGINE)
def cgroup_nvml_loss(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    if not f.docker.present or not f.driver.loaded or r.docker_cgroup_driver != "systemd":
        return None
    parsed = ev.daemon_json_runtimes(r.daemon_json or "")
    if parsed is None or not parsed[1]:
        return None  # not the legacy runtime: docker_runtime reports that
    if r.dev_char is None or any(n.startswith("195:") for n in r.dev_char):
        return None
    why = (
        "With the systemd cgroup driver, `systemctl daemon-reload` rewrites the containers' "
        "device cgroups from the unit files and drops the GPU device nodes the NVIDIA runtime "
        'added; running containers then report "Failed to initialize NVML: Unknown Error". The '
        "/dev/char symlinks let systemd find those nodes again (or use CDI)."
    )
    steps = [
        s.run(
            "doctor.dev-char-symlinks",
            "Create /dev/char symlinks for the NVIDIA device nodes",
            (p.NVIDIA_CTK, "system", "create-dev-char-symlinks", "--create-all"),
            check=(p.TEST, "-e", "/dev/char/195:255"),
            timeout_s=60,
        ),
        s.write(
            "doctor.dev-char-rule",
            "Recreate the symlinks whenever the driver loads (udev rule)",
            DEV_CHAR_RULE,
            DEV_CHAR_RULE_TEXT,
        ),
    ]
    return Found(
        title="Containers lose the GPU after `systemctl daemon-reload` (NVML: Unknown Error)",
        evidence=(
            Read("docker info --format {{.CgroupDriver}}", "systemd"),
            Read(ev.DAEMON_JSON, 'runtimes: "nvidia" (the legacy runtime, not CDI)'),
            Read(ev.DEV_CHAR, "no 195:* entries for the NVIDIA device nodes"),
        ),
        why=why,
        steps=steps,
    )


@signature("engine.docker-group-session", Status.WARN)
def docker_group_session(inp: Inputs) -> Found | None:
    f, r = inp.facts, inp.reads
    user = f.user
    if user.is_root or not user.name or r.etc_group is None or r.session_id is None:
        return None
    from dlenv_tui.probe.user import parse_id

    parsed = parse_id(r.session_id)
    if parsed is None or "docker" in parsed[3]:
        return None
    for line in r.etc_group.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0] == "docker" and user.name in fields[3].split(","):
            why = (
                "Group membership is read at login: the user was added to the docker group after "
                "this session started, so the Docker socket still refuses it (permission denied)."
            )
            return Found(
                title=f"{user.name} is in the docker group, but this session does not have it yet",
                evidence=(Read("/etc/group", line), Read("id", r.session_id)),
                why=why,
                manual=("Log out and back in (or run `newgrp docker` in this shell).",),
            )
    return None


# --------------------------------------------------------------------------------------------
# The profile's image and container


@signature("image.cuda-too-new", Status.FAIL)
def profile_cuda_too_new(inp: Inputs) -> Found | None:
    prof, f = inp.profile, inp.facts
    if prof is None or not prof.image.cuda or not f.driver.version:
        return None
    limit = compat.max_cuda_for_driver(f.driver.version).value
    if not limit or _version(prof.image.cuda) <= _version(limit):
        return None
    why = (
        f"CUDA {prof.image.cuda} needs a newer driver than {f.driver.version}, which runs CUDA up "
        f'to {limit}; in the container CUDA reports "forward compatibility was attempted on non '
        'supported HW" or "driver version is insufficient".'
    )
    return Found(
        title=f"Profile {prof.name!r} uses CUDA {prof.image.cuda}, newer than driver {f.driver.version} allows",
        evidence=(
            Read(f"profile {prof.name}", f"image.cuda = {prof.image.cuda}"),
            Read(ev.PROC_VERSION, f"driver {f.driver.version} (CUDA up to {limit})"),
        ),
        why=why,
        manual=(
            f"Choose CUDA {limit} or older in the Image stage and rebuild (`dlenv build {prof.name}`), "
            f"or upgrade the driver: `dlenv apply {prof.name} --stage driver` with a newer branch.",
        ),
    )


def _arch_ok(cc: str, arch_list: tuple[str, ...]) -> bool:
    """Whether torch's arch list runs compute capability ``cc``: a cubin ``sm_XY`` of the same
    major and a minor at most the GPU's (binary compatible), or a PTX ``compute_XY`` at most the
    GPU's (JIT-compiled by the driver)."""
    try:
        major, minor = (int(x) for x in cc.split(".")[:2])
    except ValueError:
        return True  # unknown: no claim
    for arch in arch_list:
        kind, _, digits = arch.partition("_")
        digits = digits.rstrip("af")
        if not digits.isdigit() or len(digits) < 2:
            continue
        a_major, a_minor = int(digits[:-1]), int(digits[-1])
        if kind == "sm" and a_major == major and a_minor <= minor:
            return True
        if kind == "compute" and (a_major, a_minor) <= (major, minor):
            return True
    return False


@signature("image.torch-no-kernels", Status.FAIL)
def torch_no_kernels(inp: Inputs) -> Found | None:
    prof, f = inp.profile, inp.facts
    check = prof.last_image.gpu_check if prof and prof.last_image else None
    if prof is None or check is None or not check.arch_list:
        return None
    bad = [
        g
        for g in f.gpus
        if g.compute_capability and not _arch_ok(g.compute_capability, check.arch_list)
    ]
    if not bad:
        return None
    g = bad[0]
    why = (
        f"The torch in the image was built for {' '.join(check.arch_list)}; the {g.name or 'GPU'} "
        f'is sm_{g.compute_capability.replace(".", "")}, so every kernel launch fails with "no '
        'kernel image is available for execution on the device".'
    )
    return Found(
        title=f"The image's torch has no kernels for the {g.name or g.pci_address} (compute capability {g.compute_capability})",
        evidence=(
            Read(
                f"profile {prof.name}: in-image check",
                "torch.cuda.get_arch_list() = " + " ".join(check.arch_list),
            ),
            Read("GPU", f"{g.pci_address} {g.name} compute capability {g.compute_capability}"),
        ),
        why=why,
        manual=(
            f"Rebuild with a newer CUDA (and so a newer PyTorch wheel index): the Image stage, then `dlenv build {prof.name}`.",
        ),
    )


@signature("image.gpu-check-failed", Status.FAIL)
def gpu_check_failed(inp: Inputs) -> Found | None:
    prof = inp.profile
    check = prof.last_image.gpu_check if prof and prof.last_image else None
    if prof is None or check is None or check.ok:
        return None
    if torch_no_kernels(inp) is not None:
        return None  # that signature explains it better
    bad = [ln for ln in check.lines if "FAILED" in ln or "failed" in ln or "False" in ln]
    why = (
        "The check ran inside the built image and something a training script needs did not "
        "work there: a package that does not import, or a GPU the container cannot use."
    )
    return Found(
        title=f"The in-image check of profile {prof.name!r} failed",
        evidence=(
            Read(
                f"profile {prof.name}: in-image check",
                "\n".join(bad or check.lines or (check.gpu,)),
            ),
        ),
        why=why,
        manual=(
            f"Fix the image's packages in the Image stage and rebuild (`dlenv build {prof.name}`).",
        ),
    )


@signature("launch.small-shm", Status.WARN)
def small_shm(inp: Inputs) -> Found | None:
    small = [c for c in inp.reads.shm if c.shm_bytes < SHM_MIN_BYTES]
    if not small:
        return None
    c = small[0]
    mib = c.shm_bytes // (1024 * 1024)
    why = (
        "PyTorch's DataLoader workers hand batches over through /dev/shm; with "
        f'{mib} MiB they die with "bus error" or "insufficient shared memory (shm)".'
    )
    name = inp.profile.name if inp.profile else "PROFILE"
    return Found(
        title=f"Container {c.name} has only {mib} MiB of /dev/shm (1 GiB at least is advised)",
        evidence=(Read(c.source, str(c.shm_bytes)),),
        why=why,
        manual=(
            f"Set shm size to 8g or more in the Launch stage, then relaunch (`dlenv run {name}`).",
        ),
    )


def _rootless_podman(inp: Inputs) -> bool:
    f = inp.facts
    if not f.podman.present or _engine(inp) is not EngineName.PODMAN:
        return False
    return not f.user.is_root or bool(inp.profile and inp.profile.engine.rootless)


@signature("engine.podman-no-cgroups", Status.WARN, fixes=Stage.TOOLKIT)
def podman_no_cgroups(inp: Inputs) -> Found | None:
    r = inp.reads
    if not _rootless_podman(inp) or r.ctk_config is None or r.cdi_specs:
        return None
    if re.search(r"^\s*no-cgroups\s*=\s*true", r.ctk_config, re.MULTILINE):
        return None
    line = next((ln.strip() for ln in r.ctk_config.splitlines() if "no-cgroups" in ln), "(not set)")
    why = (
        "Rootless Podman may not change device cgroups; the NVIDIA hook tries to unless "
        "no-cgroups = true, and the container fails to start (or use CDI instead)."
    )
    steps = [
        s.run(
            "doctor.no-cgroups",
            "Set no-cgroups = true for rootless containers",
            (p.NVIDIA_CTK, "config", "--in-place", "--set", "nvidia-container-cli.no-cgroups"),
            check=(p.GREP, "-qE", r"^\s*no-cgroups\s*=\s*true", ev.CTK_CONFIG),
            timeout_s=60,
        )
    ]
    return Found(
        title="Rootless Podman: the NVIDIA hook is not set to no-cgroups",
        evidence=(Read(ev.CTK_CONFIG, line),),
        why=why,
        steps=steps,
    )


@signature("engine.podman-keep-id", Status.WARN)
def podman_keep_id(inp: Inputs) -> Found | None:
    prof = inp.profile
    if prof is None or not _rootless_podman(inp) or not prof.run.mounts or prof.run.as_root:
        return None
    why = (
        "Rootless Podman maps the container's user to a subordinate UID, so bind-mounted files "
        "show up owned by another UID (or nobody) and the container user cannot write them; "
        "--userns=keep-id maps the host user onto the same UID inside."
    )
    return Found(
        title="Rootless Podman: bind mounts without keep-id are owned by another UID",
        evidence=(
            Read(
                f"profile {prof.name}",
                f"engine = podman, {len(prof.run.mounts)} mounts, user {inp.facts.user.name}",
            ),
        ),
        why=why,
        manual=("Run the container with --userns=keep-id (podman run), or run Podman rootful.",),
    )


@signature("engine.selinux-devices", Status.FAIL, fixes=Stage.ENGINE)
def selinux_devices(inp: Inputs) -> Found | None:
    r = inp.reads
    if r.selinux_enforce != "1" or not _has_gpu(inp):
        return None
    if r.selinux_container_use_devices is None or r.selinux_container_use_devices.startswith("1"):
        return None
    why = (
        "SELinux in enforcing mode keeps containers (container_t) away from device nodes unless "
        "the container_use_devices boolean is on; the GPU then fails with permission denied."
    )
    steps = [
        s.run(
            "doctor.selinux-devices",
            "Allow containers to use devices (container_use_devices)",
            (p.SETSEBOOL, "-P", "container_use_devices", "on"),
            check=(p.GREP, "-qs", "^1", ev.SELINUX_BOOL),
            timeout_s=300,
        )
    ]
    return Found(
        title="SELinux is enforcing without the container device policy",
        evidence=(
            Read(ev.SELINUX_ENFORCE, "1"),
            Read(ev.SELINUX_BOOL, r.selinux_container_use_devices),
        ),
        why=why,
        steps=steps,
        manual=("Or run GPU containers with --security-opt=label=disable.",),
    )


@signature("network.unreachable", Status.WARN)
def repositories_unreachable(inp: Inputs) -> Found | None:
    bad = [c for c in inp.reach if c.status in (Status.WARN, Status.FAIL)]
    if not bad:
        return None
    why = (
        "The plans download packages from these repositories; without them the driver, toolkit "
        "or engine cannot be installed or repaired."
    )
    return Found(
        title=f"{len(bad)} package repositor{'y' if len(bad) == 1 else 'ies'} the plans need cannot be reached",
        evidence=tuple(Read(f"HEAD https://{c.title}/", c.detail) for c in bad),
        why=why,
        manual=tuple(dict.fromkeys(c.fix for c in bad if c.fix))
        or ("Set https_proxy, or use a mirror reachable from this host.",),
    )


SIGNATURES: tuple[Signature, ...] = (
    version_mismatch,
    missing_module,
    nouveau_loaded,
    secure_boot_unsigned,
    fabric_manager,
    docker_runtime,
    podman_cdi_missing,
    stale_cdi,
    toolkit_outdated,
    cgroup_nvml_loss,
    docker_group_session,
    profile_cuda_too_new,
    torch_no_kernels,
    gpu_check_failed,
    small_shm,
    podman_no_cgroups,
    podman_keep_id,
    selinux_devices,
    repositories_unreachable,
)


#: The signatures whose fix dlenv plans, and the stage each fix belongs to: the ids a doctor
#: request to the root worker may name.
FIXES: dict[str, Stage] = {sig.id: sig.fixes for sig in SIGNATURES if sig.fixes is not None}


def diagnose(inp: Inputs) -> tuple[Finding, ...]:
    """Every finding on this host, most fundamental first."""
    return tuple(f for sig in SIGNATURES if (f := sig(inp)) is not None)
