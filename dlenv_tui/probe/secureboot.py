"""Secure Boot state: ``mokutil --sb-state``, else the SecureBoot EFI variable, else "can't tell"."""

from __future__ import annotations

from dlenv_tui.model import SecureBoot
from dlenv_tui.probe.host import Host

EFI_DIR = "/sys/firmware/efi"
#: The global-variable GUID 8be4df61-…; the file is 4 bytes of attributes then the 1-byte value.
EFIVAR = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"


def parse_mokutil(text: str) -> bool | None:
    """``mokutil --sb-state`` output (stdout and stderr together) → enabled / disabled / None.

    Real outputs: ``SecureBoot enabled``, ``SecureBoot disabled`` (sometimes followed by
    ``SecureBoot validation is disabled in shim``), and on a BIOS box, on stderr,
    ``EFI variables are not supported on this system``.
    """
    for line in text.splitlines():
        words = line.strip().lower().split()
        if words[:1] == ["secureboot"] and len(words) == 2:
            if words[1] == "enabled":
                return True
            if words[1] == "disabled":
                return False
    return None


def parse_efivar(data: str) -> bool | None:
    """The SecureBoot variable's content as read (4 attribute bytes, then 0x00 or 0x01)."""
    if len(data) < 5:
        return None
    value = ord(data[-1])
    if value in (0, 1):
        return value == 1
    return None


def read_secure_boot(host: Host) -> SecureBoot:
    efi = host.exists(EFI_DIR)
    # Run by the path `which` found: it also searches the sbin directories a user's PATH may lack.
    mokutil = host.which("mokutil")
    result = host.run([mokutil, "--sb-state"]) if mokutil else None
    if result is not None:
        enabled = parse_mokutil(result.output)
        if enabled is not None:
            return SecureBoot(enabled=enabled, efi=True, source="mokutil")
        if "not supported" in result.output and not efi:
            return SecureBoot(enabled=None, efi=False, source="mokutil")
    if not efi:
        # A legacy-BIOS boot: no Secure Boot to speak of (the model's None, with efi=False).
        return SecureBoot(enabled=None, efi=False, source="none")
    # Booted through UEFI but mokutil is missing (or efivarfs unmounted in mokutil's view).
    var = host.read_text(EFIVAR)
    enabled = parse_efivar(var) if var is not None else None
    return SecureBoot(enabled=enabled, efi=True, source="efivar" if enabled is not None else "none")
