"""The mode a run of dlenv is in (real, dry run, demo) and the seams chosen once for it.

The wizard (``app.make_app``) and the CLI (``cli``) both ask this module, so a dry run behaves the
same everywhere: it writes to a throw-away copy of the profiles, and every result it shows says what
*would* happen. No Textual here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from dlenv_tui.profiles import ProfileStore

ModeName = Literal["real", "dry-run", "demo"]


class Mode(NamedTuple):
    """How results are worded and where profiles are kept; chosen once at start-up."""

    name: ModeName = "real"
    store_note: str = "your profiles directory"
    """Where the profile is saved, for the Summary."""

    @property
    def would(self) -> bool:
        """A dry run: nothing is changed, results say "would"."""
        return self.name == "dry-run"

    def say(self, done: str, would: str) -> str:
        """``done`` ("Built X") in a real run or the demo, ``would`` ("Would build X") in a dry run."""
        return would if self.would else done


REAL = Mode()
DRY_RUN = Mode(
    "dry-run",
    "a throw-away copy of your profiles (dry run: your real profiles are untouched)",
)
DEMO = Mode("demo", "a temporary demo directory (your real profiles are untouched)")


def dry_run_store(real: Path | None = None) -> ProfileStore:
    """A throw-away store for a dry run: a copy of the real profiles in a fresh temporary directory.

    Reads see the user's profiles as they are; whatever the dry run records (progress, a simulated
    build) lands in the copy and is gone with it.
    """
    import shutil
    import tempfile

    from dlenv_tui import locations
    from dlenv_tui.profiles import ProfileStore

    source = real if real is not None else locations.profiles_dir()
    copy = Path(tempfile.mkdtemp(prefix="dlenv-dry-run-")) / "profiles"
    copy.mkdir(mode=0o700)
    try:
        files = [p for p in source.iterdir() if p.suffix == ".toml" and p.is_file()]
    except OSError:  # no profiles yet (or unreadable: the real store reports that when listing)
        files = []
    for path in files:
        try:
            shutil.copy2(path, copy / path.name)
        except OSError:
            continue
    return ProfileStore(copy)


#: Subcommands that honour a dry run: they change nothing, or say what they would do.
DRY_RUN_COMMANDS = frozenset(
    {
        "check",
        "plan",
        "apply",
        "build",
        "run",
        "stop",
        "dockerfile",
        "export",
        "doctor",
        "profiles list",
        "profiles show",
    }
)
#: Subcommands that work on a demo scenario's simulated host (none yet: each would read or change
#: this host or its real profiles, so --demo is refused with them).
DEMO_COMMANDS: frozenset[str] = frozenset()


def refusal(command: str, *, demo: bool, dry_run: bool) -> str:
    """One sentence when ``command`` ("check", "profiles new") cannot honour --demo / --dry-run;
    "" when it can."""
    if demo and command not in DEMO_COMMANDS:
        return (
            f"--demo works only with the wizard, not with `dlenv {command}` (that would read or "
            "change this host); run `dlenv --demo` for the simulated wizard, or drop --demo."
        )
    if dry_run and command not in DRY_RUN_COMMANDS:
        return (
            f"--dry-run does not work with `dlenv {command}` (it would change your real "
            "profiles); drop --dry-run."
        )
    return ""
