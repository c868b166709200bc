"""`dlenv check`: probe the host (or read recorded facts) and print the prerequisite table or JSON."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from dlenv_tui.model import Check, HostFacts

# Plain ANSI SGR codes: importing rich or Textual here would cost more than the whole probe.
_COLOURS = {"ok": "32", "warn": "33", "fail": "1;31", "skipped": "2"}
_LABELS = {"ok": "ok", "warn": "warn", "fail": "FAIL", "skipped": "skip"}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check this host's prerequisites; exit status 1 when one fails",
        description=(
            "Probe the host (read-only) and show every prerequisite: ok, warn, fail or skipped, "
            "what was found and what to do. Exit status 0 when nothing fails, 1 when a check "
            "fails, 2 on bad usage."
        ),
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"facts": ..., "checks": [...]}; the file `--facts` reads back',
    )
    # SUPPRESS, not None: `dlenv --sysroot DIR check` sets these on the top-level parser, and a
    # subparser default would overwrite that value.
    parser.add_argument(
        "--sysroot",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="probe files under DIR instead of / (tests, a mounted image)",
    )
    parser.add_argument(
        "--facts",
        metavar="FILE",
        default=argparse.SUPPRESS,
        help="check recorded host facts (the JSON `dlenv check --json` prints) instead of probing",
    )
    parser.add_argument(
        "--network",
        action="store_true",
        help=(
            "also try to reach the package repositories the plans download from (one HTTPS "
            "request each, 3 s timeout; honours https_proxy)"
        ),
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="with --network: the repositories of this profile's plans (default: the "
        "recommended setup for this host); implies --network",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dlenv_tui.checks import failed, run_checks

    facts = gather_facts(getattr(args, "sysroot", None), getattr(args, "facts", None))
    checks = run_checks(facts)
    if not getattr(args, "facts", None):
        from dlenv_tui.doctor.reboot import pending_reboot_check
        from dlenv_tui.probe import LocalHost

        reboot = pending_reboot_check(LocalHost(getattr(args, "sysroot", None) or "/"))
        if reboot is not None:
            checks += (reboot,)
    if args.network or args.profile:
        checks += network_checks(facts, args.profile)
    if args.json:
        sys.stdout.write(render_json(facts, checks))
    else:
        sys.stdout.write(render_table(facts, checks, colour=use_colour(sys.stdout)))
    sys.stdout.flush()
    return 1 if failed(checks) else 0


def gather_facts(sysroot: str | None, facts_file: str | None) -> HostFacts:
    """Recorded facts, or a probe of ``sysroot`` (default ``/``); UsageError on bad flags."""
    from dlenv_tui.cli import check_host_source

    check_host_source(sysroot, facts_file)
    if facts_file:
        from dlenv_tui.probe import load_facts

        return load_facts(facts_file)
    from dlenv_tui.probe import LocalHost, probe_host

    return probe_host(LocalHost(sysroot or "/"))


def network_checks(facts: HostFacts, profile_name: str | None) -> tuple[Check, ...]:
    """Reachability rows for the origins the plans of ``profile_name`` (or of the recommended
    profile for ``facts``) download from."""
    from dlenv_tui.model import Check, Status
    from dlenv_tui.plan import PlanError, plan_all
    from dlenv_tui.probe.reach import check_reachable, plan_endpoints
    from dlenv_tui.profiles import ProfileStore, recommended_profile

    if profile_name:
        profile = ProfileStore().load(profile_name)
    else:
        profile = recommended_profile("check", facts)
    from dlenv_tui.image import build_endpoints

    title = "Package repositories"
    try:
        endpoints = plan_endpoints(plan_all(facts, profile))
    except PlanError as exc:
        endpoints = ()
        if not build_endpoints(profile, facts):
            return (Check("reach", title, Status.SKIPPED, f"nothing to reach: no plan ({exc})"),)
    # and exactly the hosts the image build uses: registry, apt mirror, pip index, torch index
    from dlenv_tui.probe.reach import url_origin

    seen = set(endpoints)
    for url in build_endpoints(profile, facts):
        o = url_origin(url)
        if o and o not in seen:
            seen.add(o)
            endpoints = (*endpoints, o)
    if not endpoints:
        detail = "nothing to reach: the plans download nothing on this host"
        return (Check("reach", title, Status.SKIPPED, detail),)
    # the build trusts the profile's extra CAs (a TLS-intercepting proxy's): so does the check
    from dlenv_tui.image import ImageError, read_ca_files

    try:
        cas = read_ca_files(profile.image.ca_certs)
    except ImageError:
        cas = {}  # the build says so in one sentence; the check tries with the system's CAs
    if cas:
        return check_reachable(endpoints, cadata=b"".join(cas.values()).decode("ascii", "replace"))
    return check_reachable(endpoints)


def render_json(facts: HostFacts, checks: tuple[Check, ...]) -> str:
    import json

    from dlenv_tui.model import to_data

    data = {"facts": to_data(facts), "checks": [to_data(c) for c in checks]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def render_table(facts: HostFacts, checks: tuple[Check, ...], *, colour: bool = False) -> str:
    """The table: status, check, what was found and, on the line below, what to do."""
    label_w = max(len(v) for v in _LABELS.values())
    title_w = max((len(c.title) for c in checks), default=0)
    indent = " " * (2 + label_w + 2 + title_w + 2)
    width = _terminal_width() if colour else 0

    where = " · ".join(
        p for p in (facts.distro.name or facts.distro.id, facts.arch, facts.hostname) if p
    )
    lines = [
        f"dlenv check · {where}" + (f" · probed {facts.probed_at}" if facts.probed_at else ""),
        "",
    ]
    for c in checks:
        status = str(c.status)
        label = _LABELS.get(status, status).ljust(label_w)
        if colour:
            label = f"\x1b[{_COLOURS.get(status, '0')}m{label}\x1b[0m"
        head = f"  {label}  {c.title.ljust(title_w)}  "
        lines.extend(_wrapped(head, c.detail or "-", indent, width))
        if c.fix:
            lines.extend(_wrapped(indent + "→ ", c.fix, indent + "  ", width))
    counts = {s: sum(1 for c in checks if str(c.status) == s) for s in _LABELS}
    lines += [
        "",
        f"{len(checks)} checks: {counts['ok']} ok, {counts['warn']} to attend to, "
        f"{counts['fail']} failed, {counts['skipped']} skipped.",
    ]
    if counts["fail"]:
        lines.append("Fix the failed checks first; the wizard's stages handle the warnings.")
    return "\n".join(lines) + "\n"


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _wrapped(head: str, text: str, indent: str, width: int) -> list[str]:
    """``head + text``, wrapped under ``indent`` when a terminal of ``width`` columns is too narrow."""
    visible = len(indent)  # every head (status + title, or indent + arrow) ends at the indent
    if not width or visible + len(text) <= width or width - visible < 30:
        return [head + text]
    import textwrap

    body = textwrap.wrap(text, width - visible, break_on_hyphens=False) or [text]
    return [head + body[0], *(indent + line for line in body[1:])]
