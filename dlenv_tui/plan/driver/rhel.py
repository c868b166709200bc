"""The RHEL / Rocky / AlmaLinux / CentOS Stream driver plan: EPEL + NVIDIA's CUDA repository, DKMS modules."""

from __future__ import annotations

from dlenv_tui.model import PkgFamily, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target
from dlenv_tui.plan.driver.common import (
    DriverContext,
    check_nvidia_repo,
    dkms_module_step,
    enrol_key,
    headers_step,
)

#: DKMS 3 (from EPEL) creates this key pair on its first signed build.
DKMS_CERT = "/var/lib/dkms/mok.pub"
VERSIONLOCK_LIST = "/etc/dnf/plugins/versionlock.list"
YUM_REPOS_DIR = "/etc/yum.repos.d"


def plan(ctx: DriverContext) -> None:
    t = ctx.target
    n = t.major
    check_nvidia_repo(ctx)
    ctx.reasons.append(
        f"The driver comes from NVIDIA's CUDA repository for rhel{n}; DKMS (from EPEL) builds the "
        f"{ctx.flavour.value} module."
    )
    if t.id == "rhel":
        epel: tuple[str, ...] = (
            f"https://dl.fedoraproject.org/pub/epel/epel-release-latest-{n}.noarch.rpm",
        )
    else:
        epel = ("epel-release",)
    ctx.steps.append(crb_step(t))
    ctx.steps.append(
        s.run(
            "driver.epel",
            "Enable EPEL (for dkms)",
            (p.DNF, "install", "-y", *epel),
            check=s.installed_check(PkgFamily.DNF, ("epel-release",)),
            note="EPEL's packages may depend on CodeReady Builder, enabled just before.",
        )
    )
    repo = f"cuda-rhel{n}.repo"
    ctx.steps.append(
        s.download(
            "driver.cuda-repo",
            "Add NVIDIA's CUDA repository",
            f"https://developer.download.nvidia.com/compute/cuda/repos/rhel{n}/{t.cuda_arch}/{repo}",
            f"/etc/yum.repos.d/{repo}",
            note="dnf imports the repository's signing key on first use.",
        )
    )
    k = ctx.facts.kernel
    headers_step(ctx, (f"kernel-devel-{k}", f"kernel-headers-{k}"))
    if n <= 9:
        if ctx.is_open:
            stream = f"{ctx.branch}-open" if ctx.branch else "open-dkms"
            kmod = "kmod-nvidia-open-dkms"
        else:
            stream = f"{ctx.branch}-dkms" if ctx.branch else "latest-dkms"
            kmod = "kmod-nvidia-latest-dkms"
        # NVIDIA Driver Installation Guide (580-620), "Kernel Modules" table: enable the stream,
        # then install the unversioned driver package the stream resolves
        ctx.steps.append(
            s.run(
                "driver.module-stream",
                f"Enable the NVIDIA driver module stream {stream}",
                (p.DNF, "-y", "module", "enable", f"nvidia-driver:{stream}"),
                check=s.installed_check(PkgFamily.DNF, (kmod,)),
                note="RHEL 8 and 9 ship NVIDIA's driver as dnf module streams; the stream holds the branch.",
            )
        )
        name = "nvidia-open" if ctx.is_open else "cuda-drivers"
        ctx.steps.append(
            s.install(
                "driver.install",
                f"Install the {ctx.flavour.value} NVIDIA driver ({name} from stream {stream})",
                PkgFamily.DNF,
                (name,),
                check=s.installed_check(PkgFamily.DNF, (name, kmod)),
            )
        )
    else:
        name = "nvidia-open" if ctx.is_open else "cuda-drivers"
        if ctx.branch:
            ctx.reasons.append(f"dnf's versionlock keeps the driver on the {ctx.branch} branch.")
            ctx.steps.append(
                s.install(
                    "driver.versionlock-plugin",
                    "Install dnf's versionlock plugin",
                    PkgFamily.DNF,
                    ("python3-dnf-plugin-versionlock",),
                )
            )
            ctx.steps.append(
                s.run(
                    "driver.versionlock",
                    f"Lock NVIDIA packages to branch {ctx.branch}",
                    (p.DNF, "versionlock", "add", f"*nvidia*{ctx.branch}*"),
                    check=(p.GREP, "-qs", f"nvidia.*{ctx.branch}", VERSIONLOCK_LIST),
                )
            )
        ctx.steps.append(
            s.install(
                "driver.install",
                f"Install the {ctx.flavour.value} NVIDIA driver",
                PkgFamily.DNF,
                (name,),
            )
        )
    dkms_module_step(ctx)
    if ctx.secure_boot:
        ctx.reasons.append(
            "Secure Boot is on: DKMS signs the module with its key, which must be enrolled."
        )
        enrol_key(ctx, DKMS_CERT)


def crb_step(t: Target) -> Step:
    """CodeReady Builder (CRB; PowerTools on 8), which EPEL's packages may depend on.

    EPEL's own instructions enable it together with EPEL: subscription-manager on RHEL, the
    ``crb`` / ``powertools`` repository id on the rebuilds; enabling it again changes nothing.
    """
    if t.id == "rhel":
        arch = "aarch64" if t.arch == "aarch64" else "x86_64"
        repo = f"codeready-builder-for-rhel-{t.major}-{arch}-rpms"
        argv: tuple[str, ...] = (p.SUBSCRIPTION_MANAGER, "repos", "--enable", repo)
    else:
        repo = "powertools" if t.major == 8 else "crb"
        argv = (p.DNF, "config-manager", "--set-enabled", repo)
    # done once a .repo file has the section with enabled=1 (grep -z reads each file whole)
    pattern = rf"\[{repo}\][^\[]*\nenabled\s*=\s*1"
    return s.run(
        "driver.crb",
        "Enable CodeReady Builder (CRB), which EPEL packages need",
        argv,
        check=(p.GREP, "-rqszP", pattern, YUM_REPOS_DIR),
        note="EPEL packages such as dkms may need packages from CRB.",
    )
