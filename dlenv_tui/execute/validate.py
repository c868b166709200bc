"""The root worker's gate: a Plan is checked against what plans may do before anything runs.

The worker runs only plans it made itself, so this is the second line of defence: it catches the
planner's own mistakes. Programs are allow-listed with the arguments plans give them
(``execute.rules``), file writes by directory, name and content, paths are resolved without
following symlinks, modes carry no setuid/setgid/sticky or group/world write, and a step's
environment holds only the names (and values) plans use.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import Plan, Stage, Step, StepKind


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
    step_rules: Mapping[str, Callable[..., str]] | None = None
    """Program -> argument rule (``execute.rules``); None: no per-program rules (tests)."""
    check_rules: Mapping[str, Callable[..., str]] | None = None
    write_rules: tuple[tuple[str, object, Callable[[str], str] | None], ...] | None = None
    """(directory, name pattern, content rule): the files plans write; None: ``write_dirs`` only."""
    step_env: Mapping[str, frozenset[str]] | None = None
    """Environment names steps may set, with their allowed values; None: any name."""
    no_symlinks: bool = field(default=False)
    """Refuse a write whose path goes through a symlink on this host."""


def product_policy() -> Policy:
    """The allowlists the plan package declares: exactly the programs and directories plans use."""
    from dlenv_tui.execute import rules
    from dlenv_tui.plan import programs

    return Policy(
        programs=frozenset(programs.PROGRAMS),
        check_programs=frozenset(programs.CHECK_PROGRAMS),
        write_dirs=frozenset(programs.WRITE_DIRS),
        remove_files=frozenset(programs.REMOVE_FILES),
        rm_program=programs.RM,
        step_rules=rules.step_rules(),
        check_rules=rules.check_rules(),
        write_rules=rules.WRITE_RULES,
        step_env=rules.STEP_ENV,
        no_symlinks=True,
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


def _check_argv(
    argv: tuple[str, ...], what: str, step: Step, policy: Policy, plan: Plan | None = None
) -> None:
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
        if "\0" in arg or "\n" in arg:
            raise PlanRejected(f"Step {step.id!r}: an argument contains a control character.")
    table = policy.check_rules if what == "check" else policy.step_rules
    if table is not None:
        rule = table.get(program)
        if rule is None:
            raise PlanRejected(
                f"Step {step.id!r}: the {what} program {program!r} has no argument rule."
            )
        reason = rule(argv, plan or Plan(stage=Stage.DRIVER, steps=(step,)))
        if reason:
            raise PlanRejected(f"Step {step.id!r}: {reason}.")
    if what == "step" and program == policy.rm_program:
        for arg in argv[1:]:
            if not arg.startswith("-") and arg not in policy.remove_files:
                raise PlanRejected(f"Step {step.id!r}: removing {arg!r} is not something plans do.")


def _check_write(
    path: str, what: str, step: Step, policy: Policy, mode: int, content: str | None = None
) -> None:
    clean = _clean_path(path, what, step)
    if not _in_dirs(clean, policy.write_dirs):
        raise PlanRejected(
            f"Step {step.id!r}: {clean!r} is outside the directories the worker may write to."
        )
    if not 0 <= mode <= 0o7777:
        raise PlanRejected(f"Step {step.id!r}: file mode {mode:o} is not valid.")
    if mode & 0o7022:
        raise PlanRejected(
            f"Step {step.id!r}: mode {mode:04o} for {clean!r} has setuid, setgid, sticky or "
            "group/world write bits; plans write files 0644 or tighter."
        )
    if policy.write_rules is not None:
        directory, name = posixpath.split(clean)
        for rule_dir, pattern, content_rule in policy.write_rules:
            if directory == rule_dir and pattern.fullmatch(name):  # type: ignore[attr-defined]
                if content is not None and content_rule is not None:
                    reason = content_rule(content)
                    if reason:
                        raise PlanRejected(f"Step {step.id!r}: {clean!r}: {reason}.")
                break
        else:
            raise PlanRejected(f"Step {step.id!r}: {clean!r} is not a file plans write.")
    if policy.no_symlinks:
        _no_symlink_on_path(clean, step)


def _no_symlink_on_path(path: str, step: Step) -> None:
    """Every existing component of ``path``, itself included, is looked at without following it."""
    current = "/"
    for part in path.split("/")[1:]:
        current = posixpath.join(current, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise PlanRejected(
                f"Step {step.id!r}: cannot look at {current}: {exc.strerror}."
            ) from None
        if stat.S_ISLNK(st.st_mode):
            raise PlanRejected(
                f"Step {step.id!r}: {current} is a symlink; the worker does not write through one."
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
        for key, value in step.env:
            if not key or "=" in key or "\0" in key:
                raise PlanRejected(f"Step {step.id!r}: environment name {key!r} is not valid.")
            if policy.step_env is not None and value not in policy.step_env.get(key, ()):
                raise PlanRejected(
                    f"Step {step.id!r}: the environment variable {key}={value!r} is not one "
                    "plans set."
                )
        if step.check:
            _check_argv(step.check, "check", step, policy, plan)
        if step.kind is StepKind.RUN:
            _check_argv(step.argv, "step", step, policy, plan)
        elif step.kind is StepKind.WRITE_FILE:
            if step.file is None:
                raise PlanRejected(f"Step {step.id!r} writes a file but names none.")
            _check_write(step.file.path, "file", step, policy, step.file.mode, step.file.content)
        elif step.kind is StepKind.DOWNLOAD:
            if step.download is None:
                raise PlanRejected(f"Step {step.id!r} downloads but names no download.")
            if not step.download.url.lower().startswith("https://"):
                raise PlanRejected(
                    f"Step {step.id!r}: {step.download.url!r} is not an https URL; "
                    "the worker downloads only over https."
                )
            _check_write(
                step.download.dest, "download destination", step, policy, step.download.mode
            )
        elif step.kind is StepKind.REBOOT and step.argv:
            raise PlanRejected(f"Step {step.id!r}: a reboot step must not run a program.")
