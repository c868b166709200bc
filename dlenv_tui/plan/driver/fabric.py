"""NVIDIA Fabric Manager (and NVLSM) on NVSwitch boards: installed at the driver's version, enabled."""

from __future__ import annotations

from dlenv_tui import compat
from dlenv_tui.model import HostFacts, PkgFamily, Step
from dlenv_tui.plan import programs as p
from dlenv_tui.plan import steps as s
from dlenv_tui.plan.distros import Target

SERVICE = "nvidia-fabricmanager"
NVLSM_SERVICE = "nvlsm"


def packages(target: Target, branch: str, *, archive: bool, version: str = "") -> tuple[str, ...]:
    """Fabric Manager's package for the route the driver comes from; () where none is packaged.

    - Ubuntu's archive (ubuntu-drivers): ``nvidia-fabricmanager-<BR>`` (packages.ubuntu.com).
    - NVIDIA's CUDA apt repository: ``nvidia-fabricmanager-<BR>`` up to 580; from 590 on the name
      is unversioned and the branch's pinning package holds it (NVIDIA Driver Installation Guide,
      "Ubuntu 590 and later packages").
    - NVIDIA's CUDA rpm repository (RHEL family): ``nvidia-fabric-manager``, or
      ``nvidia-fabric-manager-<VERSION>`` to match a driver that is already loaded.
    """
    if target.pm is PkgFamily.APT:
        if archive:
            return (f"nvidia-fabricmanager-{branch}",) if branch else ()
        if branch and int(branch) <= 580:
            return (f"nvidia-fabricmanager-{branch}",)
        return ("nvidia-fabricmanager",)
    if target.family == "rhel":
        return (f"nvidia-fabric-manager-{version}",) if version else ("nvidia-fabric-manager",)
    return ()


def steps(
    facts: HostFacts,
    target: Target,
    branch: str,
    *,
    archive: bool,
    start_now: bool,
    reasons: list[str],
    warnings: list[str],
) -> list[Step]:
    """Install and enable Fabric Manager when the host is an NVSwitch board; [] otherwise.

    ``start_now``: the driver that Fabric Manager must match is loaded already (no reboot
    follows), so the service is started as well as enabled. Before the reboot it could only fail
    its version check against the old module, so it is enabled and starts at the next boot.
    """
    advice = compat.fabric_manager_advice(facts.gpus, facts.nvswitches)
    if not advice.needed:
        return []
    reasons.append(advice.reason)
    loaded = facts.driver.version if start_now else ""
    if start_now and not branch and loaded:
        branch = loaded.split(".")[0]
    pkgs = packages(target, branch, archive=archive, version=loaded)
    if not pkgs and archive:
        warnings.append(
            "ubuntu-drivers chooses the driver branch itself, so dlenv cannot name the matching "
            "Fabric Manager: after the install, run apt-get install nvidia-fabricmanager-<BRANCH> "
            "for the branch it chose (or pin a branch in the profile), or CUDA will not initialise "
            "on this NVSwitch board."
        )
        return []
    if not pkgs:
        warnings.append(
            f"Fabric Manager is not packaged where this plan installs the driver from ({target.key}); "
            "install NVIDIA's nvidia-fabricmanager at exactly the driver's version yourself, or "
            "CUDA will not initialise on this NVSwitch board."
        )
        return []
    if advice.nvlsm:
        pkgs = (*pkgs, "nvlsm")
    out = [
        s.install(
            "driver.fabricmanager",
            "Install NVIDIA Fabric Manager" + (" and NVLSM" if advice.nvlsm else ""),
            target.pm,
            pkgs,
            note="Fabric Manager must be the driver's exact version, or it refuses to start.",
        )
    ]
    enable: tuple[str, ...] = (p.SYSTEMCTL, "enable", *(("--now",) if start_now else ()), SERVICE)
    out.append(
        s.run(
            "driver.fabricmanager-enable",
            "Enable the Fabric Manager service" + (" and start it" if start_now else ""),
            enable,
            check=(p.SYSTEMCTL, "is-active" if start_now else "is-enabled", "--quiet", SERVICE),
            note="It has to run at every boot before CUDA programs can use the GPUs.",
        )
    )
    return out
