"""`dlenv plan PROFILE`: the privileged stages as a bash script or as the JSON the root worker runs."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from dlenv_tui.cli import add_common
from dlenv_tui.errors import UsageError
from dlenv_tui.model import HostFacts, Profile, Stage


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="print what the driver / toolkit / engine stages would do, as a script or JSON",
        description=(
            "Plan the privileged stages of PROFILE for this host (or for recorded facts) and print "
            "them: a bash script that skips finished steps, or the JSON the root worker accepts."
        ),
    )
    parser.add_argument(
        "profile", metavar="PROFILE", help="a saved profile (`dlenv profiles list`)"
    )
    parser.add_argument(
        "--stage",
        choices=("driver", "toolkit", "engine"),
        help="plan one stage only (default: all three, in order)",
    )
    parser.add_argument(
        "--format",
        choices=("script", "json"),
        default="script",
        help="script: bash with set -euo pipefail (default); json: the plan(s) for the root worker",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE instead of standard output"
    )
    add_common(parser)
    parser.set_defaults(func=run)


def host_facts(args: argparse.Namespace, profile: Profile | None = None) -> HostFacts:
    """--facts FILE, else a probe of this host (or --sysroot), else the profile's own snapshot."""
    from dlenv_tui.cli import check_host_source

    facts_file = getattr(args, "facts", None)
    sysroot = getattr(args, "sysroot", None)
    check_host_source(sysroot, facts_file)
    if facts_file:
        from dlenv_tui.probe import load_facts

        return load_facts(Path(facts_file))
    try:
        from dlenv_tui.probe import LocalHost, probe_host
    except ImportError:
        if profile is not None and profile.host is not None:
            print(
                f"dlenv: planning for the host facts saved in profile {profile.name!r} "
                f"({profile.host.probed_at or 'undated'}).",
                file=sys.stderr,
            )
            return profile.host
        raise UsageError(
            "dlenv cannot probe this host here; pass recorded facts with --facts FILE."
        ) from None
    host = LocalHost(Path(sysroot)) if sysroot else None
    return probe_host(host)


def run(args: argparse.Namespace) -> int:
    from dlenv_tui.plan import plan_all, plan_stage, plan_to_json, plans_to_json, render_script
    from dlenv_tui.profiles import ProfileStore, validate_profile

    profile = ProfileStore().load(args.profile)
    validate_profile(profile)
    facts = host_facts(args, profile)
    if args.stage:
        plans: tuple[Any, ...] = (plan_stage(facts, profile, Stage(args.stage)),)
    else:
        plans = plan_all(facts, profile)
    if args.format == "json":
        text = plan_to_json(plans[0]) if args.stage else plans_to_json(plans)
    else:
        text = render_script(plans)
    if args.output:
        from dlenv_tui.fsutil import ReadError, refuse_symlink

        try:
            refuse_symlink(args.output, "-o")
            fd = os.open(
                args.output,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
            )
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
        except ReadError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}.") from None
    else:
        sys.stdout.write(text)
    return 0
