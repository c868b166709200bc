"""`dlenv doctor`: diagnose the GPU container host, explain each finding and plan (or run) its fix."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from dlenv_tui.doctor import Finding
    from dlenv_tui.model import Check, HostFacts, Profile


def register(sub: Any) -> None:
    from dlenv_tui.cli import add_common

    parser = sub.add_parser(
        "doctor",
        help="diagnose this GPU container host and plan the repairs; exit status 1 on findings",
        description=(
            "Read the host (read-only) and look for the known ways a GPU container host breaks: "
            "driver/library mismatch, no module for the kernel, nouveau, Secure Boot, Fabric "
            "Manager, the engine's GPU setup, stale CDI specs, an outdated toolkit, and more. "
            "Each finding says what is wrong, the evidence read, why, and the fix as a plan. "
            "Exit status 0 healthy, 1 findings, 2 bad usage."
        ),
    )
    parser.add_argument(
        "--profile", metavar="NAME", help="also check this profile's image and container"
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument(
        "--fix", action="store_true", help="show the fixes' plans, confirm, and run them as root"
    )
    parser.add_argument(
        "--finding",
        metavar="ID",
        action="append",
        default=[],
        help="with --fix: repair only this finding (its id, e.g. engine.docker-runtime); repeatable",
    )
    parser.add_argument("--yes", "-y", action="store_true", help="with --fix: do not ask")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=argparse.SUPPRESS,
        help="with --fix: show what would run; change nothing",
    )
    parser.add_argument(
        "--bundle",
        metavar="FILE.tar.gz",
        help="write a redacted diagnostic bundle to attach to a bug report",
    )
    parser.add_argument(
        "--anonymize",
        action="store_true",
        help="with --bundle: replace user and host names too",
    )
    parser.add_argument(
        "--no-network",
        action="store_true",
        help="do not try to reach the package repositories the plans need",
    )
    parser.add_argument(
        "--no-image-check",
        action="store_true",
        help="with --profile: do not run the GPU check inside the profile's built image",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="with --fix: every output line"
    )
    parser.add_argument("--password-stdin", action="store_true", help=argparse.SUPPRESS)
    add_common(parser)
    parser.set_defaults(func=run)


def _validate(args: argparse.Namespace) -> None:
    from dlenv_tui.cli import check_host_source
    from dlenv_tui.errors import UsageError

    if args.anonymize and not args.bundle:
        raise UsageError("--anonymize only applies to a bundle; add --bundle FILE.tar.gz.")
    if args.bundle and not args.bundle.endswith((".tar.gz", ".tgz")):
        raise UsageError(f"the bundle {args.bundle!r} must be named FILE.tar.gz.")
    if args.finding and not args.fix:
        raise UsageError("--finding chooses what --fix repairs; add --fix.")
    if args.finding:
        from dlenv_tui.doctor.signatures import FIXES

        unknown = [x for x in args.finding if x not in FIXES]
        if unknown:
            raise UsageError(
                f"dlenv plans no fix for a finding {unknown[0]!r}; the ones it can fix are "
                + ", ".join(sorted(FIXES))
                + "."
            )
    if args.fix and args.json:
        raise UsageError("use --fix or --json, not both.")
    if args.fix and (args.sysroot or args.facts) and not getattr(args, "dry_run", False):
        raise UsageError(
            "--fix repairs this host; with --sysroot or --facts it only previews (add --dry-run)."
        )
    check_host_source(args.sysroot, args.facts)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    _validate(args)
    from dlenv_tui.cli.check import gather_facts
    from dlenv_tui.doctor import HostReads, examine
    from dlenv_tui.doctor.signatures import Inputs, diagnose
    from dlenv_tui.probe import LocalHost

    profile = None
    if args.profile:
        from dlenv_tui.profiles import ProfileStore

        profile = ProfileStore().load(args.profile)
    facts = gather_facts(args.sysroot, args.facts)
    real_host = not args.sysroot and not args.facts
    reach: tuple[Check, ...] = ()
    if real_host and not args.no_network:
        from dlenv_tui.cli.check import network_checks

        reach = tuple(c for c in network_checks(facts, args.profile) if c.id != "reach")
    image_lines: list[str] = []
    if profile is not None and real_host and not args.no_image_check:
        profile, image_lines = _image_check(profile, facts)
    if args.facts:
        reads = HostReads()
        findings = diagnose(Inputs(facts, reads, profile, reach))
    else:
        reads, findings = examine(LocalHost(args.sysroot or "/"), facts, profile, reach)
    notes = (*image_lines, *verdict_notes(facts, findings))
    if args.bundle:
        from dlenv_tui.doctor.bundle import write_bundle

        path = write_bundle(
            args.bundle,
            facts=facts,
            findings=findings,
            reads=reads,
            host=LocalHost(args.sysroot or "/") if not args.facts else None,
            anonymize=args.anonymize,
        )
        print(f"Wrote the diagnostic bundle {path} (redacted).", file=sys.stderr)
    if args.json:
        out.write(render_json(facts, findings, notes))
    else:
        out.write(render_text(facts, findings, notes))
    out.flush()
    if args.fix and findings:
        return _fix(args, findings, out)
    return 1 if findings else 0


def _image_check(profile: Profile, facts: HostFacts) -> tuple[Profile, list[str]]:
    """Run the in-image GPU check for the profile's last build; record it; say what it found."""
    from dataclasses import replace

    from dlenv_tui.doctor.gpucheck import record_gpu_check, run_gpu_check
    from dlenv_tui.engine import EngineError, connect

    built = profile.last_image
    if built is None or not built.tag:
        return profile, [f"In-image check: skipped, profile {profile.name!r} has no built image."]
    gpu = bool(facts.gpus) and facts.driver.loaded
    try:
        with connect(profile.engine.engine) as client:
            check = run_gpu_check(client, profile, gpu=gpu)
    except EngineError as exc:
        return profile, [f"In-image check: skipped, {str(exc).rstrip('.')}."]
    record_gpu_check(profile.name, check)
    profile = replace(profile, last_image=replace(built, gpu_check=check))
    head = f"In-image check of {built.tag}: {'ok' if check.ok else 'FAILED'}"
    detail = [f"torch {check.torch or '-'}, CUDA {check.cuda or '-'}, cuDNN {check.cudnn or '-'}"]
    return profile, [head, *(f"  {x}" for x in (*detail, *check.lines, f"GPU: {check.gpu}")), ""]


def verdict_notes(facts: HostFacts, findings: tuple[Finding, ...]) -> tuple[str, ...]:
    """Lines that frame the verdict: what could not be diagnosed on this host."""
    notes = []
    if not facts.gpus:
        notes.append(
            "No NVIDIA GPU was found on this host: the driver and GPU signatures do not apply."
        )
    elif not facts.driver.loaded and not findings:
        notes.append(
            "The NVIDIA driver is not loaded and no known breakage explains it: install it with "
            "the wizard's driver stage (`dlenv apply PROFILE --stage driver`)."
        )
    return tuple(notes)


def render_json(facts: HostFacts, findings: tuple[Finding, ...], notes: tuple[str, ...]) -> str:
    import json

    from dlenv_tui.model import to_data

    data = {
        "healthy": not findings,
        "findings": [to_data(f) for f in findings],
        "notes": list(notes),
        "facts": to_data(facts),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_text(facts: HostFacts, findings: tuple[Finding, ...], notes: tuple[str, ...]) -> str:
    from dlenv_tui.execute.runners import describe_step

    where = " · ".join(
        x for x in (facts.distro.name or facts.distro.id, facts.kernel, facts.hostname) if x
    )
    lines = [f"dlenv doctor · {where}", ""]
    for i, f in enumerate(findings, start=1):
        label = "FAIL" if f.status.value == "fail" else "warn"
        lines.append(f"{i}. [{label}] {f.title}")
        lines.append("   evidence:")
        for read in f.evidence:
            body = read.text.strip().splitlines() or ["-"]
            lines.append(f"     {read.source}: {body[0]}")
            lines.extend(f"       {more}" for more in body[1:])
        lines.append(f"   why: {f.why}")
        if f.fix is not None and f.fix.steps:
            count = len(f.fix.steps)
            lines.append(
                f"   fix ({count} step{'s' if count != 1 else ''}, `dlenv doctor --fix` runs it):"
            )
            for n, step in enumerate(f.fix.steps, start=1):
                lines.append(f"     {n}. {step.title}")
                lines.extend(f"        {d}" for d in describe_step(step))
            lines.extend(f"     WARNING: {w}" for w in f.fix.warnings)
        for m in f.manual:
            lines.append(f"   by hand: {m}")
        lines.append("")
    lines.extend(notes)
    if findings:
        fixable = sum(1 for f in findings if f.fix is not None and f.fix.steps)
        lines.append(
            f"{len(findings)} finding{'s' if len(findings) != 1 else ''}; "
            f"{fixable} with a planned fix (`dlenv doctor --fix`)."
        )
    else:
        lines.append("Healthy: none of the known breakages of a GPU container host was found.")
    return "\n".join(lines) + "\n"


def _fix(args: argparse.Namespace, findings: tuple[Finding, ...], out: TextIO) -> int:
    from dlenv_tui.cli.apply import _confirm, _report_failure, _run_plan, show_plan

    chosen = set(args.finding)
    plans = [
        f.fix
        for f in findings
        if f.fix is not None and f.fix.steps and (not chosen or f.id in chosen)
    ]
    if chosen and not plans:
        print("None of the chosen findings is on this host.", file=out)
        return 1
    if not plans:
        print("No finding has a fix dlenv can run; see the steps by hand above.", file=out)
        return 1
    print("\n== the fixes", file=out)
    for plan in plans:
        show_plan(plan, out)
    from dlenv_tui import session

    mode = session.DRY_RUN if getattr(args, "dry_run", False) else session.REAL
    # Each fix goes to the root worker as a doctor request (its finding's id, the profile's
    # choices, its digest): the worker diagnoses the host itself and runs only the fix shown.
    steps = sum(len(plan.steps) for plan in plans)
    if not args.yes and mode.changes_host and not _confirm(steps, out):
        print("Nothing was run.", file=out)
        return 1
    from dlenv_tui.operations import JobState

    seams = session.seams_for(mode)
    for plan in plans:
        # a repair belongs to no profile: nothing is recorded
        ran = _run_plan(args, plan, out, seams, None, "")
        if ran.state is JobState.FAILED:
            _report_failure(ran.result, out)
            return 1
        if ran.state is JobState.NEEDS_REBOOT:
            print(ran.result.message, file=out)
            return 1
    if mode.would:
        print("Dry run: nothing was changed.", file=out)
        return 1  # the findings are still there
    print("Fixes applied; run `dlenv doctor` again to confirm.", file=out)
    return 0
