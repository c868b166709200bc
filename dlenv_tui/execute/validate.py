"""The root worker's gate: a Plan is checked against what plans may do before anything runs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import Plan, Step, StepKind


class PlanRejected(DlenvError):
    """The worker refused a plan; the message is one sentence naming the step and the reason."""

    exit_code = 2


@dataclass(frozen=True)
class Policy:
    """What the worker lets a plan do: the programs it may run and where it may write."""

    programs: frozenset[str]
    """Absolute paths of the programs steps may run."""
    check_programs: frozenset[str]
    """Absolute paths of the programs a step's read-only check may run."""
    write_dirs: frozenset[str]
    """Directories file writes and downloads land in (the file's parent must be one exactly)."""
    remove_files: frozenset[str] = frozenset()
    """The only paths an ``rm`` step may name."""
    rm_program: str = "/usr/bin/rm"


def product_policy() -> Policy:
    """The allowlists the plan package declares: exactly the programs and directories plans use."""
    from dlenv_tui.plan import programs

    return Policy(
        programs=frozenset(programs.PROGRAMS),
        check_programs=frozenset(programs.CHECK_PROGRAMS),
        write_dirs=frozenset(programs.WRITE_DIRS),
        remove_files=frozenset(programs.REMOVE_FILES),
        rm_program=programs.RM,
    )


def _clean_path(path: str, what: str, step: Step) -> str:
    if not path:
        raise PlanRejected(f"Step {step.id!r}: the {what} path is empty.")
    if "\0" in path or "\n" in path:
        raise PlanRejected(f"Step {step.id!r}: the {what} path contains a control character.")
    if not path.startswith("/"):
        raise PlanRejected(f"Step {step.id!r}: the {what} path {path!r} is not absolute.")
    if ".." in path.split("/"):
        raise PlanRejected(f"Step {step.id!r}: the {what} path {path!r} contains '..'.")
    return posixpath.normpath(path)


def _in_dirs(path: str, dirs: Iterable[str]) -> bool:
    parent = posixpath.dirname(path)
    return any(parent == posixpath.normpath(d) for d in dirs)


def _check_argv(argv: tuple[str, ...], what: str, step: Step, policy: Policy) -> None:
    if not argv:
        raise PlanRejected(f"Step {step.id!r}: the {what} has no program to run.")
    program = argv[0]
    if not program.startswith("/"):
        raise PlanRejected(
            f"Step {step.id!r}: the {what} program {program!r} is not an absolute path."
        )
    if ".." in program.split("/"):
        raise PlanRejected(f"Step {step.id!r}: the {what} program {program!r} contains '..'.")
    allowed = policy.check_programs if what == "check" else policy.programs
    if program not in allowed:
        raise PlanRejected(
            f"Step {step.id!r}: the {what} program {program!r} is not one the worker may run."
        )
    for arg in argv:
        if "\0" in arg:
            raise PlanRejected(f"Step {step.id!r}: an argument contains a NUL byte.")
    if what == "step" and program == policy.rm_program:
        for arg in argv[1:]:
            if not arg.startswith("-") and arg not in policy.remove_files:
                raise PlanRejected(f"Step {step.id!r}: removing {arg!r} is not something plans do.")


def _check_write(path: str, what: str, step: Step, policy: Policy) -> None:
    clean = _clean_path(path, what, step)
    if not _in_dirs(clean, policy.write_dirs):
        raise PlanRejected(
            f"Step {step.id!r}: {clean!r} is outside the directories the worker may write to."
        )


def validate_plan(plan: Plan, policy: Policy) -> None:
    """Raise PlanRejected (one sentence) when any step of ``plan`` breaks ``policy``."""
    seen: set[str] = set()
    for step in plan.steps:
        if not isinstance(step.kind, StepKind):
            raise PlanRejected(f"Step {step.id!r} has an unknown kind {step.kind!r}.")
        if not step.id or step.id in seen:
            raise PlanRejected(f"Step id {step.id!r} is empty or used twice.")
        seen.add(step.id)
        if step.timeout_s <= 0:
            raise PlanRejected(f"Step {step.id!r}: the timeout must be positive.")
        for key, _value in step.env:
            if not key or "=" in key or "\0" in key:
                raise PlanRejected(f"Step {step.id!r}: environment name {key!r} is not valid.")
        if step.check:
            _check_argv(step.check, "check", step, policy)
        if step.kind is StepKind.RUN:
            _check_argv(step.argv, "step", step, policy)
        elif step.kind is StepKind.WRITE_FILE:
            if step.file is None:
                raise PlanRejected(f"Step {step.id!r} writes a file but names none.")
            _check_write(step.file.path, "file", step, policy)
            if not 0 <= step.file.mode <= 0o7777:
                raise PlanRejected(f"Step {step.id!r}: file mode {step.file.mode:o} is not valid.")
        elif step.kind is StepKind.DOWNLOAD:
            if step.download is None:
                raise PlanRejected(f"Step {step.id!r} downloads but names no download.")
            if not step.download.url.lower().startswith("https://"):
                raise PlanRejected(
                    f"Step {step.id!r}: {step.download.url!r} is not an https URL; "
                    "the worker downloads only over https."
                )
            _check_write(step.download.dest, "download destination", step, policy)
        elif step.kind is StepKind.REBOOT and step.argv:
            raise PlanRejected(f"Step {step.id!r}: a reboot step must not run a program.")
