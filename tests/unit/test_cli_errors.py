"""Every CLI command on bad input and unexpected host states, run as a user runs it (subprocesses).

Each case must end with the right exit status (2 bad usage or input, 1 a failed check or step), one
line on stderr starting with ``dlenv:``, no traceback, and nothing half-written: the profiles
directory holds the same bytes afterwards and no temporary file. The cases run in parallel once per
module (about 200 short processes); the tests then look at their results.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dlenv_tui.probe import load_facts
from dlenv_tui.profiles import ProfileStore, recommended_profile

#: ``{fixtures}`` stands for tests/fixtures, filled in like ``{tmp}`` when a case runs.
UBUNTU = "{fixtures}/facts/ubuntu-24.04-rtx4090-fresh.json"
ARCH = "{fixtures}/facts/arch-rtx4090.json"
_SCRIPT = Path(sys.executable).parent / "dlenv"
#: The installed console script when there is one (the venv), else the module.
DLENV = [str(_SCRIPT)] if _SCRIPT.exists() else None
#: ``command=MODULE``: the package run by this interpreter (the ``dlenv_argv`` fixture).
MODULE = ("{module}",)

#: Runs the CLI with a few engine / CLI internals changed: argv[1] is a Python statement.
PATCHED = [
    sys.executable,
    "-c",
    "import sys\nexec(sys.argv[1])\nfrom dlenv_tui.cli import main\nsys.exit(main(sys.argv[2:]))\n",
]


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    message: str
    """A piece of the one stderr line (``{tmp}`` stands for the module's temporary directory)."""
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    """The program to run instead of ``DLENV`` (``MODULE`` or ``PATCHED`` + code)."""


def _cases() -> list[Case]:
    cases: list[Case] = []

    def add(
        id: str,
        argv: Sequence[str],
        code: int,
        message: str,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] = (),
    ) -> None:
        cases.append(Case(id, tuple(argv), code, message, dict(env or {}), tuple(command)))

    # --- usage: commands, flags, arguments, choices
    add("unknown-command", ["bogus"], 2, "invalid choice: 'bogus'", command=MODULE)
    add("unknown-flag", ["--bogus"], 2, "unrecognized arguments: --bogus")
    add("unknown-subcommand-flag", ["check", "--bogus"], 2, "unrecognized arguments: --bogus")
    add("profiles-no-action", ["profiles"], 2, "required: ACTION")
    add("profiles-bad-action", ["profiles", "frob"], 2, "invalid choice: 'frob'")
    for sub in ("show", "rm", "new"):
        add(f"profiles-{sub}-no-name", ["profiles", sub], 2, "required: NAME")
    for cmd in ("plan", "apply", "dockerfile", "build", "run", "stop"):
        add(f"{cmd}-no-profile", [cmd], 2, "the following arguments are required")
    add("plan-stage-bogus", ["plan", "good", "--stage", "bogus"], 2, "--stage: invalid choice")
    add("apply-stage-bogus", ["apply", "good", "--stage", "bogus"], 2, "--stage: invalid choice")
    add("plan-format-bogus", ["plan", "good", "--format", "bogus"], 2, "--format: invalid choice")
    new = ["profiles", "new", "fresh", "--facts", UBUNTU]
    add("new-cuda-unusable", [*new, "--cuda", "99.9"], 2, "CUDA 99.9 cannot run")
    add("new-cuda-abc", [*new, "--cuda", "abc"], 2, "CUDA version 'abc' must look like '12.8'")
    add("new-engine-lxc", [*new, "--engine", "lxc"], 2, "--engine: invalid choice: 'lxc'")
    add("new-existing", ["profiles", "new", "good", "--facts", UBUNTU], 2, "already exists")
    add("new-over-corrupt", ["profiles", "new", "corrupt", "--facts", UBUNTU], 2, "already exists")
    add("run-wait-negative", ["run", "good", "--wait", "-1"], 2, "'-1' is not a number of seconds")
    add("run-wait-nan", ["run", "good", "--wait", "nan"], 2, "'nan' is not a number of seconds")
    add("plan-output-dir", ["plan", "good", "--facts", UBUNTU, "-o", "{tmp}"], 2, "cannot write")
    add(
        "dockerfile-output-file",
        ["dockerfile", "good", "--output", "{tmp}/a-file"],
        2,
        "is a file; name a directory",
    )
    add(
        "dockerfile-output-unwritable",
        ["dockerfile", "good", "--output", "{tmp}/a-file/ctx"],
        2,
        "cannot write the build context",
    )
    add("demo-bogus", ["--demo", "bogus-scenario"], 2, "no demo scenario 'bogus-scenario'")
    add("wizard-no-terminal", [], 2, "the wizard needs a terminal")
    add("demo-no-terminal", ["--demo", "ubuntu-4090"], 2, "the wizard needs a terminal")
    add("check-profile-bad-name", ["check", "--profile", "../x", "--facts", UBUNTU], 2, "../x")

    # --- profile names: every command that takes one
    names = {
        "dotdot": ("../x", "path separator"),
        "hidden": (".hidden", "starts with a dot"),
        "slash": ("a/b", "path separator"),
        "empty": ("", "cannot be empty"),
        "long": ("a" * 300, "at most 64 characters"),
        "semicolon": ("a;rm -rf ~", "may only hold"),
        "subshell": ("$(id)", "may only hold"),
        "backtick": ("x`id`", "may only hold"),
        "space": ("a b", "may only hold"),
        "newline": ("a\nb", "control character"),
    }
    takes_name = {
        "show": ["profiles", "show"],
        "rm": ["profiles", "rm"],
        "new": ["profiles", "new"],
        "plan": ["plan"],
        "apply": ["apply"],
        "dockerfile": ["dockerfile"],
        "build": ["build"],
        "run": ["run"],
        "stop": ["stop"],
    }
    for key, (name, message) in names.items():
        for cmd, argv in takes_name.items():
            if key in ("dotdot", "empty", "long", "semicolon") or cmd in ("show", "new"):
                extra = ["--facts", UBUNTU] if cmd == "new" else []
                add(f"name-{key}-{cmd}", [*argv, name, *extra], 2, message)

    # --- a profile that does not exist, and profile files that cannot be used
    for cmd, argv in takes_name.items():
        if cmd != "new":
            add(f"missing-profile-{cmd}", [*argv, "nope"], 2, "No profile named 'nope'")
    broken = {
        "corrupt": "is not valid TOML",
        "newer": "written by a newer dlenv (schema 99",
        "wrongtype": "run.shm_size: expected text, got 5",
        "noschema": "has no valid 'schema' number",
        "binary": "is not UTF-8 text",
        "dir": "is a directory, not a file",
    }
    for name, message in broken.items():
        for cmd, argv in takes_name.items():
            # every command reads a corrupt file; the other kinds through the three readers
            if cmd not in ("new", "rm") and (name == "corrupt" or cmd in ("show", "plan", "build")):
                extra = ["--facts", UBUNTU] if cmd in ("plan", "apply") else []
                if cmd == "apply":
                    extra.append("--dry-run")
                add(f"broken-{name}-{cmd}", [*argv, name, *extra], 2, message)
    add("rm-directory", ["profiles", "rm", "dir"], 2, "is a directory, not a profile")

    # --- --facts files
    facts_files = {
        "missing": ("{tmp}/no-such.json", "does not exist"),
        "directory": ("{tmp}", "Is a directory"),
        "not-json": ("{tmp}/not-json.json", "is not valid JSON (line 1, column 1)"),
        "list": ("{tmp}/list.json", "expected a table, got list"),
        "facts-list": ("{tmp}/facts-list.json", "its 'facts' entry is not a JSON object"),
        "wrong-type": ("{tmp}/wrong-type.json", "facts.arch: expected text, got 5"),
        "binary": ("{tmp}/junk.bin", "it is not UTF-8 text"),
    }
    users = {
        "check": ["check"],
        "plan": ["plan", "good"],
        "new": ["profiles", "new", "fromfacts"],
        "apply": ["apply", "good", "--yes", "--dry-run"],
        "show": ["profiles", "show", "good"],
    }
    for key, (path, message) in facts_files.items():
        for cmd, argv in users.items():
            if cmd in ("check", "plan") or key in ("missing", "binary"):
                add(f"facts-{key}-{cmd}", [*argv, "--facts", path], 2, message)
    add("facts-before-command", ["--facts", "{tmp}/list.json", "check"], 2, "does not hold host")

    # --- --sysroot directories
    sysroots = {
        "missing": ("{tmp}/no-such-dir", "(it does not exist)"),
        "file": ("{tmp}/a-file", "is not a directory;"),
        "empty": ("{tmp}/empty-dir", "holds no etc/os-release"),
    }
    for key, (path, message) in sysroots.items():
        for cmd, argv in users.items():
            add(f"sysroot-{key}-{cmd}", [*argv, "--sysroot", path], 2, message)
    tree = "{fixtures}/sysroots/ubuntu-24.04-rtx4090"
    add("sysroot-and-facts", ["plan", "good", "--sysroot", tree, "--facts", UBUNTU], 2, "not both")

    # --- hosts dlenv cannot plan for: a failed check, exit status 1
    arch = ["apply", "archp", "--yes", "--dry-run"]
    add("apply-arch-facts", [*arch, "--facts", ARCH], 1, "unsupported: Arch Linux; supported:")
    add(
        "plan-arch-sysroot",
        ["plan", "archp", "--sysroot", "{fixtures}/sysroots/arch-rtx4090"],
        1,
        "unsupported: Arch Linux; supported:",
    )

    # --- the config directory blocked by a file (chmod does not stop root)
    new_n = ["profiles", "new", "n", "--facts", UBUNTU]
    cfg_file = {"DLENV_CONFIG_DIR": "{tmp}/a-file"}
    cfg_blocked = {"DLENV_CONFIG_DIR": "{tmp}/blocked-config"}
    add("config-is-file-new", new_n, 1, "{tmp}/a-file is a file, not a directory", env=cfg_file)
    add("config-is-file-list", ["profiles", "list"], 1, "is a file, not a directory", env=cfg_file)
    add("config-is-file-rm", ["profiles", "rm", "n"], 1, "is a file, not a directory", env=cfg_file)
    add("profiles-is-file-new", new_n, 1, "blocked-config/profiles is a file", env=cfg_blocked)
    add(
        "config-parent-is-file",
        new_n,
        1,
        "{tmp}/a-file is a file, not a directory",
        env={"DLENV_CONFIG_DIR": "{tmp}/a-file/sub"},
    )

    # --- no engine answers
    no_docker = {"DOCKER_HOST": "unix://{tmp}/no-docker.sock"}
    for cmd in ("build", "run", "stop"):
        add(f"no-docker-{cmd}", [cmd, "good"], 1, "Docker is not answering on", env=no_docker)
    # Podman: no socket answers, so dlenv starts `podman system service`, which fails at once
    podman_env = {
        "CONTAINER_HOST": "unix://{tmp}/no-podman.sock",
        "XDG_RUNTIME_DIR": "{tmp}/xdg",
    }
    root_socket = (
        "import dlenv_tui.engine.connection as e; e.PODMAN_ROOT_SOCKET = '{tmp}/xdg/podman.sock'"
    )
    for cmd in ("build", "run", "stop"):
        add(
            f"podman-service-dies-{cmd}",
            [cmd, "good", "--engine", "podman"],
            1,
            "`podman system service` did not open {tmp}/xdg/",
            env={**podman_env, "PATH": "{tmp}/bin-podman-fails"},
            command=(*PATCHED, root_socket),
        )
    add(
        "podman-not-installed",
        ["stop", "good", "--engine", "podman"],
        1,
        "Podman is not installed",
        env={**podman_env, "PATH": "{tmp}/bin-empty"},
        command=(*PATCHED, root_socket),
    )
    add(
        "podman-no-socket-to-try",
        ["stop", "good", "--engine", "podman"],
        1,
        "found no Podman socket to try",
        env={"CONTAINER_HOST": "", "XDG_RUNTIME_DIR": "", "PATH": "{tmp}/bin-empty"},
        command=(*PATCHED, "import os; os.geteuid = lambda: 1000"),
    )

    # --- an unexpected error: one sentence that points at --debug
    boom = (
        "import dlenv_tui.cli.profiles as p\n"
        "def boom(args): raise RuntimeError('boom')\n"
        "p.run_list = boom"
    )
    add(
        "unexpected-error",
        ["profiles", "list"],
        1,
        "unexpected error: RuntimeError: boom (run again with --debug",
        command=(*PATCHED, boom),
    )
    return cases


CASES = _cases()
DEBUG_BOOM = Case(
    "unexpected-error-debug",
    ("--debug", "profiles", "list"),
    1,
    "RuntimeError: boom",
    command=CASES[-1].command,
)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass(frozen=True)
class World:
    tmp: Path
    profiles: Path
    results: dict[str, Result]
    before: dict[str, str]
    after: dict[str, str]
    blocked_before: str
    blocked_after: str


def _snapshot(directory: Path) -> dict[str, str]:
    """Every entry under ``directory``: a file's sha256, or "dir"."""
    out = {}
    for path in sorted(directory.rglob("*")):
        rel = str(path.relative_to(directory))
        out[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _prepare(tmp: Path, fixtures: Path) -> Path:
    """A config directory with two good profiles and broken files; junk inputs beside it."""
    config = tmp / "config"
    store = ProfileStore(config / "profiles")
    for name, facts in (("good", UBUNTU), ("archp", ARCH)):
        facts_file = facts.replace("{fixtures}", str(fixtures))
        store.save(recommended_profile(name, load_facts(facts_file)))
    profiles = store.directory
    good = (profiles / "good.toml").read_text()
    assert 'shm_size = "' in good
    (profiles / "corrupt.toml").write_text('schema = 1\nname = "x\n')
    (profiles / "newer.toml").write_text(good.replace("schema = 1\n", "schema = 99\n", 1))
    (profiles / "noschema.toml").write_text(good.replace("schema = 1\n", 'schema = "one"\n', 1))
    wrong = "\n".join(
        "shm_size = 5" if line.startswith("shm_size = ") else line for line in good.splitlines()
    )
    (profiles / "wrongtype.toml").write_text(wrong + "\n")
    (profiles / "binary.toml").write_bytes(b"\xff\xfe\x00\x01junk\x80")
    (profiles / "dir.toml").mkdir()

    (tmp / "a-file").write_text("not a directory\n")
    (tmp / "empty-dir").mkdir()
    (tmp / "blocked-config").mkdir()
    (tmp / "blocked-config" / "profiles").write_text("in the way\n")
    (tmp / "not-json.json").write_text("not json\n")
    (tmp / "list.json").write_text("[1, 2]\n")
    (tmp / "facts-list.json").write_text('{"facts": [1, 2]}\n')
    (tmp / "wrong-type.json").write_text('{"arch": 5}\n')
    (tmp / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (tmp / "xdg").mkdir()
    (tmp / "bin-empty").mkdir()
    fails = tmp / "bin-podman-fails"
    fails.mkdir()
    (fails / "podman").write_text("#!/bin/sh\nexit 125\n")
    (fails / "podman").chmod(0o755)
    return config


@dataclass(frozen=True)
class Where:
    """What a case's command line is filled in with."""

    fixtures: Path
    repo: Path
    module: list[str]


def _run(case: Case, tmp: Path, config: Path, where: Where) -> Result:
    def fill(text: str) -> str:
        return text.replace("{tmp}", str(tmp)).replace("{fixtures}", str(where.fixtures))

    env = {**os.environ, "NO_COLOR": "1", "DLENV_CONFIG_DIR": str(config)}
    env["DLENV_STATE_DIR"] = str(tmp / "state")
    for key in ("DOCKER_HOST", "CONTAINER_HOST"):
        env.pop(key, None)
    env.update({k: fill(v) for k, v in case.env.items()})
    if case.command == MODULE:
        command = where.module
    elif case.command:
        command = [fill(c) for c in case.command]
    else:
        command = DLENV or where.module
    start = time.monotonic()
    proc = subprocess.run(
        [*command, *(fill(a) for a in case.argv)],
        capture_output=True,
        text=True,
        cwd=where.repo,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    fixtures_dir: Path,
    repo_root: Path,
    dlenv_argv: list[str],
) -> World:
    where = Where(fixtures_dir, repo_root, dlenv_argv)
    tmp = tmp_path_factory.mktemp("cli-errors")
    config = _prepare(tmp, fixtures_dir)
    profiles = config / "profiles"
    before = _snapshot(profiles)
    blocked_before = (tmp / "blocked-config" / "profiles").read_text()
    cases = [*CASES, DEBUG_BOOM]
    with ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 2) * 2)) as pool:
        done = pool.map(lambda c: (c.id, _run(c, tmp, config, where)), cases)
        results = dict(done)
    return World(
        tmp,
        profiles,
        results,
        before,
        _snapshot(profiles),
        blocked_before,
        (tmp / "blocked-config" / "profiles").read_text(),
    )


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_sentence(world: World, case: Case) -> None:
    result = world.results[case.id]
    err = result.stderr
    assert "Traceback" not in err and "Traceback" not in result.stdout
    assert result.code == case.code, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dlenv: "), err
    assert case.message.replace("{tmp}", str(world.tmp)) in lines[0]
    assert lines[0].rstrip().endswith((".", ")")), err  # a whole sentence
    assert result.seconds < 30


def test_nothing_is_half_written(world: World) -> None:
    """Not one profile file changed, none was added or removed, no temporary file was left."""
    assert world.after == world.before
    assert not [p for p in world.profiles.rglob("*") if "dlenv-tmp" in p.name]
    assert world.blocked_after == world.blocked_before
    assert not (world.tmp / "a-file" / "ctx").exists()
    assert not list((world.tmp / "empty-dir").iterdir())


def test_no_engine_is_reported_fast(world: World) -> None:
    for case in CASES:
        if case.id.startswith(("no-docker-", "podman-")):
            assert world.results[case.id].seconds < 10, case.id


def test_debug_shows_the_traceback(world: World) -> None:
    result = world.results[DEBUG_BOOM.id]
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().endswith("RuntimeError: boom")
