"""The RHEL / Rocky / AlmaLinux / CentOS Stream driver plan: EPEL + NVIDIA's CUDA repository, DKMS modules."""

from __future__ import annotations

from dlenv_tui.model import PkgFamily
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.driver.common import DriverContext, dkms_module_step, enrol_key, headers_step

#: DKMS 3 (from EPEL) creates this key pair on its first signed build.
DKMS_CERT = "/var/lib/dkms/mok.pub"
VERSIONLOCK_LIST = "/etc/dnf/plugins/versionlock.list"


def plan(ctx: DriverContext) -> None:
    t = ctx.target
    n = t.major
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
    ctx.steps.append(
        s.run(
            "driver.epel",
            "Enable EPEL (for dkms)",
            (p.DNF, "install", "-y", *epel),
            check=s.installed_check(PkgFamily.DNF, ("epel-release",)),
            note="If dnf reports missing dependencies, also enable CodeReady Builder (CRB).",
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
        ctx.steps.append(
            s.run(
                "driver.install",
                f"Install the {ctx.flavour.value} NVIDIA driver (module stream {stream})",
                (p.DNF, "-y", "module", "install", f"nvidia-driver:{stream}"),
                check=s.installed_check(PkgFamily.DNF, (kmod,)),
                note="RHEL 8 and 9 ship NVIDIA's driver as dnf module streams.",
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
