"""Absolute paths of every program a plan runs, and the directories plans write to: the worker's allow-lists."""

from __future__ import annotations

# Absolute paths: the root worker runs argv without a shell or PATH lookup. These are the
# usr-merged locations every supported distribution release uses.
APT_GET = "/usr/bin/apt-get"
APT_MARK = "/usr/bin/apt-mark"
DPKG = "/usr/bin/dpkg"
DPKG_QUERY = "/usr/bin/dpkg-query"
DNF = "/usr/bin/dnf"
RPM = "/usr/bin/rpm"
ZYPPER = "/usr/bin/zypper"
SYSTEMCTL = "/usr/bin/systemctl"
TEST = "/usr/bin/test"
GREP = "/usr/bin/grep"
RM = "/usr/bin/rm"
GETENT = "/usr/bin/getent"
GROUPADD = "/usr/sbin/groupadd"
USERMOD = "/usr/sbin/usermod"
UPDATE_INITRAMFS = "/usr/sbin/update-initramfs"
DRACUT = "/usr/bin/dracut"
UBUNTU_DRIVERS = "/usr/bin/ubuntu-drivers"
UPDATE_SECUREBOOT_POLICY = "/usr/sbin/update-secureboot-policy"
MOKUTIL = "/usr/bin/mokutil"
KMODGENCA = "/usr/sbin/kmodgenca"
DKMS = "/usr/sbin/dkms"
NVIDIA_CTK = "/usr/bin/nvidia-ctk"
NVIDIA_SMI = "/usr/bin/nvidia-smi"
MODINFO = "/usr/sbin/modinfo"
DOCKER = "/usr/bin/docker"
MODPROBE = "/usr/sbin/modprobe"
AKMODS = "/usr/sbin/akmods"
SETSEBOOL = "/usr/sbin/setsebool"
SUBSCRIPTION_MANAGER = "/usr/sbin/subscription-manager"
PODMAN = "/usr/bin/podman"

#: Every program a plan step may run (argv[0]); the worker refuses anything else.
PROGRAMS: frozenset[str] = frozenset(
    {
        APT_GET,
        APT_MARK,
        DPKG,
        DNF,
        RPM,
        ZYPPER,
        SYSTEMCTL,
        RM,
        GROUPADD,
        USERMOD,
        UPDATE_INITRAMFS,
        DRACUT,
        UBUNTU_DRIVERS,
        UPDATE_SECUREBOOT_POLICY,
        MOKUTIL,
        KMODGENCA,
        DKMS,
        NVIDIA_CTK,
        DOCKER,
        PODMAN,
        MODPROBE,
        AKMODS,
        SETSEBOOL,
        SUBSCRIPTION_MANAGER,
    }
)

#: Programs a step's read-only ``check`` may run.
CHECK_PROGRAMS: frozenset[str] = frozenset(
    {DPKG_QUERY, RPM, SYSTEMCTL, TEST, GREP, GETENT, MOKUTIL, NVIDIA_CTK, NVIDIA_SMI, MODINFO}
)

#: Directories that write_file and download steps write into (the file's parent must be one of
#: these exactly); the worker refuses any other destination.
WRITE_DIRS: frozenset[str] = frozenset(
    {
        "/etc/apt/keyrings",
        "/etc/apt/sources.list.d",
        "/usr/share/keyrings",
        "/etc/yum.repos.d",
        "/etc/pki/rpm-gpg",
        "/etc/zypp/repos.d",
        "/etc/modprobe.d",
        "/etc/apt/preferences.d",
        "/etc/apt/apt.conf.d",
        "/etc/udev/rules.d",
        "/var/cache/dlenv",
        "/etc/rpm",
    }
)

#: Files a step may delete (a conflicting OCI hook that breaks CDI).
REMOVE_FILES: frozenset[str] = frozenset({"/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"})
