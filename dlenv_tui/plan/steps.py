"""Building blocks for plans: step constructors that pair each change with its read-only check."""

from __future__ import annotations

from collections.abc import Sequence

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import DownloadSpec, FileSpec, PkgFamily, Step, StepKind
from dlenv_tui.plan import programs as p


class PlanError(DlenvError):
    """No plan can be made (unsupported distribution or architecture, impossible choice)."""


APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)


def run(
    id: str,
    title: str,
    argv: Sequence[str],
    *,
    check: Sequence[str] = (),
    needs_root: bool = True,
    note: str = "",
    env: tuple[tuple[str, str], ...] = (),
    timeout_s: int = 3600,
    skippable: bool = False,
) -> Step:
    """``skippable``: the step only verifies; a failure may be skipped (see ``Step.skippable``)."""
    return Step(
        id=id,
        title=title,
        kind=StepKind.RUN,
        argv=tuple(argv),
        needs_root=needs_root,
        check=tuple(check),
        note=note,
        env=env,
        timeout_s=timeout_s,
        skippable=skippable,
    )


def write(
    id: str, title: str, path: str, content: str, *, mode: int = 0o644, note: str = ""
) -> Step:
    """Write a whole file; done when the file already exists (the content is ours to own)."""
    return Step(
        id=id,
        title=title,
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=path, content=content, mode=mode),
        check=(p.TEST, "-f", path),
        note=note,
        timeout_s=60,
    )


def download(
    id: str,
    title: str,
    url: str,
    dest: str,
    *,
    fingerprint: str = "",
    dearmor: bool = False,
    mode: int = 0o644,
    note: str = "",
) -> Step:
    return Step(
        id=id,
        title=title,
        kind=StepKind.DOWNLOAD,
        download=DownloadSpec(
            url=url, dest=dest, mode=mode, fingerprint=fingerprint, dearmor=dearmor
        ),
        check=(p.TEST, "-s", dest),
        note=note,
        timeout_s=300,
    )


def reboot(id: str, title: str, check: Sequence[str], note: str) -> Step:
    return Step(
        id=id, title=title, kind=StepKind.REBOOT, needs_root=False, check=tuple(check), note=note
    )


# --------------------------------------------------------------------------------------------
# Packages


def installed_check(pm: PkgFamily, packages: Sequence[str]) -> tuple[str, ...]:
    """A read-only command that succeeds only when every package is installed."""
    if pm is PkgFamily.APT:
        # dpkg-query -W fails when any package is unknown to dpkg; note that a removed-but-not-
        # purged package ("rc") still counts, a limitation of exit-status-only checks
        return (p.DPKG_QUERY, "-W", "-f=${Status}\\n", *packages)
    return (p.RPM, "-q", *packages)


def install_argv(pm: PkgFamily, packages: Sequence[str]) -> tuple[str, ...]:
    if pm is PkgFamily.APT:
        return (p.APT_GET, "install", "-y", *packages)
    if pm is PkgFamily.DNF:
        return (p.DNF, "install", "-y", *packages)
    if pm is PkgFamily.ZYPPER:
        return (p.ZYPPER, "--non-interactive", "install", *packages)
    raise PlanError(f"dlenv cannot install packages with {pm.value}.")


def install(
    id: str,
    title: str,
    pm: PkgFamily,
    packages: Sequence[str],
    *,
    check: Sequence[str] = (),
    note: str = "",
) -> Step:
    """Install ``packages``; done when they are installed (or when ``check`` says so)."""
    return run(
        id,
        title,
        install_argv(pm, packages),
        check=check or installed_check(pm, packages),
        env=APT_ENV if pm is PkgFamily.APT else (),
        note=note,
    )


def refresh(id: str, pm: PkgFamily, *, until: Sequence[str], what: str) -> Step:
    """Refresh package metadata; needed only while the install it precedes has not happened.

    ``until`` is that install's check, so a re-run on a finished host skips the refresh too.
    """
    if pm is PkgFamily.APT:
        argv: tuple[str, ...] = (p.APT_GET, "update")
    elif pm is PkgFamily.DNF:
        argv = (p.DNF, "makecache")
    else:
        # a new repository's signing key is accepted here; the repository URL is https
        argv = (p.ZYPPER, "--non-interactive", "--gpg-auto-import-keys", "refresh")
    return run(
        id,
        f"Refresh package lists for {what}",
        argv,
        check=until,
        env=APT_ENV if pm is PkgFamily.APT else (),
        note=f"Reads the new {what} repository.",
        timeout_s=900,
    )


def systemd_active(unit: str) -> tuple[str, ...]:
    return (p.SYSTEMCTL, "is-active", "--quiet", unit)


def enable_now(id: str, title: str, units: Sequence[str], *, check_unit: str = "") -> Step:
    return run(
        id,
        title,
        (p.SYSTEMCTL, "enable", "--now", *units),
        check=systemd_active(check_unit or units[0]),
        timeout_s=300,
    )
