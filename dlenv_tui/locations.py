"""Where dlenv finds its assets and keeps its files; the one seam tests patch for paths.

Nothing here touches the disk on import or creates directories: callers create what they write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def assets_dir() -> Path:
    """The ``assets/`` tree: inside the installed wheel, or at the top of a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_assets"
    if packaged.is_dir():
        return packaged
    return here.parent / "assets"


def asset(*parts: str) -> Path:
    return assets_dir().joinpath(*parts)


@dataclass(frozen=True)
class InvokingUser:
    """The user behind `sudo dlenv …`: whose profiles, keys and files these are."""

    name: str
    uid: int
    gid: int
    home: Path


def invoking_user() -> InvokingUser | None:
    """Under sudo (root, with a non-root ``SUDO_UID``): the user who ran sudo, from the password
    database (not from ``$HOME``, which sudo sets to /root); None otherwise."""
    uid = os.environ.get("SUDO_UID", "")
    if os.geteuid() != 0 or not uid.isdigit() or int(uid) == 0:
        return None
    import pwd

    try:
        entry = pwd.getpwuid(int(uid))
    except KeyError:
        return None
    gid = os.environ.get("SUDO_GID", "")
    return InvokingUser(
        entry.pw_name, entry.pw_uid, int(gid) if gid.isdigit() else entry.pw_gid, Path(entry.pw_dir)
    )


def config_dir() -> Path:
    """``$DLENV_CONFIG_DIR`` or platformdirs' user config dir for dlenv (e.g. ~/.config/dlenv);
    under sudo the invoking user's (~USER/.config/dlenv), not root's."""
    override = os.environ.get("DLENV_CONFIG_DIR")
    if override:
        return Path(override)
    user = invoking_user()
    if user is not None:
        return user.home / ".config" / "dlenv"
    from platformdirs import user_config_path

    return user_config_path("dlenv")


def screenshots_dir() -> Path:
    """Where the palette's Screenshot saves: ``$DLENV_DATA_DIR`` or the user data dir / screenshots."""
    override = os.environ.get("DLENV_DATA_DIR")
    if override:
        return Path(override) / "screenshots"
    from platformdirs import user_data_path

    return user_data_path("dlenv") / "screenshots"


def cache_dir() -> Path:
    """``$DLENV_CACHE_DIR`` or platformdirs' user cache dir for dlenv (e.g. ~/.cache/dlenv)."""
    override = os.environ.get("DLENV_CACHE_DIR")
    if override:
        return Path(override)
    from platformdirs import user_cache_path

    return user_cache_path("dlenv")


def data_dir() -> Path:
    """``$DLENV_DATA_DIR`` or platformdirs' user data dir for dlenv (e.g. ~/.local/share/dlenv)."""
    override = os.environ.get("DLENV_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path("dlenv")


def knowledge_file() -> Path:
    """Where `dlenv data refresh` stores fetched tags and wheels (over the shipped snapshot)."""
    return data_dir() / "knowledge" / "cuda.json"


def repos_file() -> Path:
    """Where `dlenv data refresh` stores NVIDIA's repository metadata (beside knowledge_file)."""
    return data_dir() / "knowledge" / "nvidia_repos.json"


def profiles_dir() -> Path:
    return config_dir() / "profiles"


#: The root worker's jobs directory: fixed, root-owned, the same for every user of the host.
SYSTEM_JOBS_DIR = Path("/var/lib/dlenv/jobs")


def under_sudo() -> bool:
    """Whether this process got its privileges from someone else (sudo, or a setuid start).

    Then every variable the invoking user could set is theirs, not root's: nothing in the
    environment may choose a path root writes to.
    """
    return "SUDO_UID" in os.environ or os.getuid() != os.geteuid()


def home_dir() -> str:
    """The home of the user dlenv works for: the invoking user's under sudo, else this process's
    (what ``~`` in a mount source means)."""
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user and "SUDO_UID" in os.environ:
        import pwd

        try:
            return pwd.getpwnam(sudo_user).pw_dir
        except KeyError:
            pass
    return str(Path.home())


def jobs_dir() -> Path:
    """Where the root worker keeps job journals and the host lock.

    /var/lib/dlenv/jobs, which survives reboots and is shared by every user of the host, so one
    job at a time per host holds. ``$DLENV_STATE_DIR`` moves it (tests) only for a process that is
    root by itself: the worker started by root directly inherits it; through sudo it is ignored,
    and an ordinary user's client ignores it too, so client and worker always agree.
    """
    override = os.environ.get("DLENV_STATE_DIR")
    if override and os.geteuid() == 0 and not under_sudo():
        return Path(override) / "jobs"
    return SYSTEM_JOBS_DIR
