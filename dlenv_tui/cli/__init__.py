"""The `dlenv` command line: the wizard by default, scriptable subcommands for SSH sessions and CI.

Each subcommand lives in its own module here with ``register(subparsers)``; heavy imports (Textual,
the Docker SDK, NVML) happen inside the command functions so `dlenv check` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from dlenv_tui import __version__
from dlenv_tui.errors import DlenvError, UsageError

#: Subcommand modules under dlenv_tui.cli, in the order `dlenv --help` lists them.
COMMAND_MODULES = ("check", "profiles", "plan", "apply", "image", "doctor", "data")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one sentence and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"dlenv: {message} (see `{self.prog} --help`).\n")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every command that looks at the host accepts."""
    # SUPPRESS: a flag given before the subcommand must not be reset by the subparser's default;
    # main() fills in None for whichever was given nowhere.
    parser.add_argument(
        "--sysroot",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="probe files under DIR instead of / (tests, a mounted image)",
    )
    parser.add_argument(
        "--facts",
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="use recorded host facts (the JSON `dlenv check --json` prints) instead of probing",
    )


def build_parser(commands: Sequence[str] = COMMAND_MODULES) -> argparse.ArgumentParser:
    """The `dlenv` parser with the subcommands of ``commands`` (modules under dlenv_tui.cli)."""
    parser = _Parser(
        prog="dlenv",
        description=(
            "Set up an NVIDIA GPU host for deep-learning containers: driver, container toolkit, "
            "Docker or Podman, an image and a running container. Without a command, opens the wizard."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dlenv {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--demo",
        nargs="?",
        const="",
        metavar="SCENARIO",
        help="walk the wizard on a simulated host; nothing on this machine changes",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="probe for real but only show privileged steps, never run them",
    )
    add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in commands:
        module = importlib.import_module(f"dlenv_tui.cli.{name}")
        module.register(sub)
    return parser


def check_host_source(sysroot: str | None, facts_file: str | None) -> None:
    """UsageError unless --sysroot / --facts can be used: not both, and a sysroot that is a Linux
    file tree (a directory holding an os-release file), so nothing is planned for an empty host."""
    import os

    if sysroot and facts_file:
        raise UsageError("use either --sysroot or --facts, not both.")
    if sysroot is None:
        return
    if not os.path.isdir(sysroot):
        missing = "" if os.path.lexists(sysroot) else " (it does not exist)"
        raise UsageError(
            f"sysroot {sysroot!r} is not a directory{missing}; point --sysroot at the root of a "
            "Linux file tree."
        )
    if not any(
        os.path.lexists(os.path.join(sysroot, rel))
        for rel in ("etc/os-release", "usr/lib/os-release")
    ):
        raise UsageError(
            f"sysroot {sysroot!r} holds no etc/os-release or usr/lib/os-release; point --sysroot "
            "at the root of a Linux file tree."
        )


def _run_wizard(args: argparse.Namespace) -> int:
    if args.demo:
        from dlenv_tui.demo import load_scenario

        load_scenario(args.demo)  # a bad name is one sentence before anything starts
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "the wizard needs a terminal, and standard input or output is not one; run it in a "
            "terminal, or use a command such as `dlenv check` (see `dlenv --help`)."
        )
    from dlenv_tui.app import run_wizard

    return run_wizard(args)


def _commands_needed(argv: Sequence[str]) -> Sequence[str]:
    """The subcommand modules ``argv`` may need: none when it holds only long flags and no help
    (`dlenv`, `dlenv --dry-run`: the wizard), so its start does not import every subcommand."""
    for arg in argv:
        flag = arg.split("=", 1)[0]
        if not flag.startswith("--") or flag == "--" or "--help".startswith(flag):
            return COMMAND_MODULES  # a command, an option's value, or help (abbreviated too)
    return ()


def _demo_before_command(argv: Sequence[str]) -> list[str]:
    """`dlenv --demo check`: "check" is the command, not a scenario name (``--demo`` takes an
    optional value, which argparse would otherwise take the command for)."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--demo" and out[i + 1] in command_names():
            out[i] = "--demo="
    return out


def command_names() -> frozenset[str]:
    """The subcommand names (the first word after the global flags), as the parser knows them."""
    for action in build_parser(COMMAND_MODULES)._actions:
        if isinstance(action, argparse._SubParsersAction):
            return frozenset(action.choices)
    return frozenset()


def main(argv: Sequence[str] | None = None) -> int:
    argv = _demo_before_command(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser(_commands_needed(argv))
    args = parser.parse_args(argv)
    for name in ("sysroot", "facts"):
        if not hasattr(args, name):
            setattr(args, name, None)
    func = getattr(args, "func", None) or _run_wizard
    try:
        if func is not _run_wizard:
            from dlenv_tui.session import refusal

            command = " ".join(
                w for w in (args.command, getattr(args, "action", None)) if isinstance(w, str)
            )
            refused = refusal(command, demo=args.demo is not None, dry_run=bool(args.dry_run))
            if refused:
                raise UsageError(refused)
        return int(func(args) or 0)
    except DlenvError as exc:
        if args.debug:
            raise
        message = str(exc).strip()
        if "\n" not in message and not message.endswith((".", "?", "!")):
            message += "."  # one sentence, whoever raised it (a build failure adds its log below)
        print(f"dlenv: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("dlenv: interrupted.", file=sys.stderr)
        return 130
    except (
        Exception
    ) as exc:  # the last line of defence: one sentence, a traceback only with --debug
        if args.debug:
            raise
        print(
            f"dlenv: unexpected error: {exc.__class__.__name__}: {exc} "
            "(run again with --debug for the traceback).",
            file=sys.stderr,
        )
        return 1


__all__ = [
    "DlenvError",
    "UsageError",
    "add_common",
    "build_parser",
    "check_host_source",
    "main",
]
