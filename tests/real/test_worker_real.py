"""The root worker for real: apt-get installs, dpkg-lock waits, killed clients, rejections, sudo -S.

These change the host (a tiny Debian package, `hello` / `sl`, is installed and purged; a test user
is created and removed), so they need root; CI runs as root on Debian 12.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dlenv_tui
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import WorkerRunner, find_unseen_job, follow_job
from dlenv_tui.execute import journal as jr
from dlenv_tui.execute.sudo import start_worker
from dlenv_tui.model import (
    DownloadSpec,
    Event,
    EventKind,
    FileSpec,
    Plan,
    Profile,
    Stage,
    StageState,
    Step,
    StepKind,
    StepOutcome,
    to_data,
)
from dlenv_tui.profiles import ProfileStore

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="needs root: real apt-get installs through the root worker and a test user "
        "(CI runs as root)",
    ),
]

#: The worker with the test planner (tests/real/worker_planner.py): real apt steps on hello / sl.
WORKER_ENTRY = Path(__file__).with_name("worker_planner.py")


def planner_worker(**kw: object) -> WorkerRunner:
    """A client for the worker started with the test planner, as root (no sudo)."""
    return WorkerRunner(command=[sys.executable, "-I", str(WORKER_ENTRY)], **kw)  # type: ignore[arg-type]


# Programs from the product's allowlist (dlenv_tui.plan.programs), used for what plans use them for.
APT_GET = "/usr/bin/apt-get"
DPKG_QUERY = "/usr/bin/dpkg-query"
TEST = "/usr/bin/test"
PACKAGES = ("hello", "sl")
APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
DPKG_LOCK = "/var/lib/dpkg/lock-frontend"
#: A directory plans write to (dlenv's own cache), for write_file steps.
WRITE_DIR = Path("/var/cache/dlenv")


def install(pkg: str, step_id: str | None = None) -> Step:
    return Step(
        id=step_id or f"install-{pkg}",
        title=f"Install {pkg}",
        argv=(APT_GET, "install", "-y", "--no-install-recommends", pkg),
        check=(DPKG_QUERY, "-W", pkg),
        env=APT_ENV,
    )


def installed(pkg: str) -> bool:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() == "install ok installed"


def purge() -> None:
    subprocess.run(
        ["apt-get", "purge", "-y", "-qq", *PACKAGES],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        check=False,
    )
    for pkg in PACKAGES:
        assert not installed(pkg)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind is kind]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private jobs directory and config directory; the test packages purged before and after."""
    monkeypatch.setenv("DLENV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    purge()
    yield tmp_path / "state" / "jobs"
    purge()


@contextlib.contextmanager
def dpkg_lock_held() -> Iterator[None]:
    """Hold dpkg's frontend lock the way apt does (fcntl), as another package manager would."""
    fd = os.open(DPKG_LOCK, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing drops the lock


# ---------------------------------------------------------------------------------------------


def test_real_install_then_second_run_skips_it(state: Path, worker_planner: Any) -> None:
    plan = worker_planner.planned("hello-1")
    rec = Recorder()
    result = planner_worker().run(plan, rec)
    assert result.ok, result
    assert result.outcomes == {"install-hello": StepOutcome.OK}
    assert installed("hello")
    lines = [e.line for e in rec.of(EventKind.OUTPUT)]
    assert any(line.startswith("Setting up hello") for line in lines)
    # The journal holds the same events, readable as JSON lines.
    journal = jr.journal_path(result.job)
    kinds = [json.loads(x)["kind"] for x in journal.read_text().splitlines()]
    assert kinds[0] == "job_started" and kinds[-1] == "job_finished"
    assert kinds.count("output") == len(lines)

    again = planner_worker().run(plan, Recorder())
    assert again.ok
    assert again.outcomes == {"install-hello": StepOutcome.SKIPPED}
    assert again.job != result.job


def test_failing_step_stops_the_plan_and_the_rerun_resumes_there(
    state: Path, worker_planner: Any
) -> None:
    tag = secrets.token_hex(4)
    marker = Path(worker_planner.marker_path(tag))
    missing = f"dlenv-no-such-package-{tag}"
    broken = worker_planner.planned(f"fail-{tag}")
    try:
        first = planner_worker().run(broken, Recorder())
        assert not first.ok
        assert first.failed_step == "second"
        assert first.exit_code == 100  # apt-get's own failure status
        assert any("Unable to locate package" in line for line in first.last_lines)
        assert first.outcomes == {"install-hello": StepOutcome.OK, "second": StepOutcome.FAILED}
        assert not marker.exists()  # nothing after the failed step ran
        assert missing in first.message or "exited with status 100" in first.message

        rec = Recorder()
        rerun = planner_worker().run(broken, rec)
        assert rerun.outcomes["install-hello"] is StepOutcome.SKIPPED
        assert [e.step for e in rec.of(EventKind.STEP_STARTED)] == ["install-hello", "second"]
        assert rerun.failed_step == "second"
        assert not marker.exists()

        # The user fixes the failing step (here: a package that exists); the run resumes there.
        fixed = worker_planner.planned(f"fixed-{tag}")
        done = planner_worker().run(fixed, Recorder())
        assert done.ok
        assert done.outcomes == {
            "install-hello": StepOutcome.SKIPPED,
            "second": StepOutcome.OK,
            "write": StepOutcome.OK,
        }
        assert installed("sl")
        assert marker.read_text() == "# dlenv test\n"
        assert marker.stat().st_mode & 0o777 == 0o644
    finally:
        marker.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (Step(id="bad", title="relative", argv=("apt-get", "install", "-y", "sl")), "absolute"),
        (Step(id="bad", title="shell", argv=("/bin/sh", "-c", "touch /x")), "may run"),
        (Step(id="bad", title="dotdot", argv=("/usr/bin/../bin/apt-get", "update")), "'..'"),
        (
            Step(
                id="bad",
                title="outside",
                kind=StepKind.WRITE_FILE,
                file=FileSpec(path="/etc/cron.d/dlenv-evil", content="* * * * * root id\n"),
            ),
            "outside the directories",
        ),
        (
            Step(
                id="bad",
                title="dotdot write",
                kind=StepKind.WRITE_FILE,
                file=FileSpec(path="/var/cache/dlenv/../../../etc/dlenv-evil", content="x"),
            ),
            "'..'",
        ),
        (
            Step(
                id="bad",
                title="http",
                kind=StepKind.DOWNLOAD,
                download=DownloadSpec(
                    url="http://example.com/key.asc", dest="/etc/apt/keyrings/evil.gpg"
                ),
            ),
            "https",
        ),
    ],
    ids=["relative", "not-allowlisted", "dotdot-program", "write-outside", "dotdot-write", "http"],
)
def test_worker_rejects_bad_plans_and_runs_nothing(
    state: Path, step: Step, expected: str, worker_planner: Any
) -> None:
    """A saved plan (root without sudo only) is checked by the policy before anything runs."""
    marker = Path(worker_planner.marker_path(secrets.token_hex(4)))
    first = Step(
        id="first",
        title="A valid first step",
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=str(marker), content="ran\n"),
    )
    plan = Plan(stage=Stage.TOOLKIT, steps=(first, install("sl"), step))
    with pytest.raises(DlenvError) as info:
        WorkerRunner(saved_plan=True).run(plan, Recorder())
    message = str(info.value)
    assert expected in message
    assert message.startswith("Step 'bad'")
    assert not marker.exists()
    assert not installed("sl")
    assert not list(state.glob("*.jsonl")) if state.exists() else True
    assert not Path("/etc/cron.d/dlenv-evil").exists()


def test_worker_rejects_an_unknown_step_kind(state: Path) -> None:
    data = to_data(Plan(stage=Stage.TOOLKIT, steps=(install("sl"),)))
    data["steps"][0]["kind"] = "shell"
    with pytest.raises(DlenvError, match="is not one of run, write_file, download, reboot"):
        start_worker(json.dumps({"v": 1, "plan": data}))
    assert not installed("sl")
    assert not state.exists() or not list(state.glob("*.jsonl"))


def test_held_dpkg_lock_is_waited_for_visibly_then_reported(
    state: Path, worker_planner: Any
) -> None:
    plan = worker_planner.planned("hello-2")
    rec = Recorder()
    with dpkg_lock_held():
        start = time.monotonic()
        result = planner_worker(lock_timeout=2).run(plan, rec)
        assert time.monotonic() - start >= 2
    waits = rec.of(EventKind.WAITING)
    assert waits and DPKG_LOCK in waits[0].message
    assert not result.ok
    assert f"held {DPKG_LOCK} for more than 2 s" in result.message
    assert not installed("hello")


def test_one_job_per_host(state: Path, worker_planner: Any) -> None:
    plan = worker_planner.planned("hello-3")
    with dpkg_lock_held():
        job = planner_worker(lock_timeout=30).start(plan)
        with pytest.raises(DlenvError, match=rf"Another dlenv job \({job}\) is running"):
            planner_worker().start(plan)
    result = follow_job(job, Recorder())
    assert result.ok
    assert installed("hello")


@pytest.fixture
def apply_cli(dlenv_argv: list[str]) -> Callable[..., subprocess.Popen[str]]:
    """``apply_cli(*args)``: `dlenv apply ARGS` started as a client process of its own."""

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*dlenv_argv, "apply", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            # A client in a terminal dies of SIGHUP; one started under nohup (or by a CI runner that
            # ignores it) would inherit SIG_IGN and shrug the test's hang-up off.
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )

    return start


def _profile_and_plan(tmp_path: Path, plan: Plan, name: str = "real") -> Path:
    ProfileStore().save(Profile(name=name))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(to_data(plan)))
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_killed_client_does_not_stop_the_job_and_a_new_client_reattaches(
    state: Path, tmp_path: Path, sig: signal.Signals, apply_cli: Any
) -> None:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),), profile="real")
    plan_file = _profile_and_plan(tmp_path, plan)
    with dpkg_lock_held():
        client = apply_cli("real", "--plan", str(plan_file), "--yes")
        assert client.stdout is not None
        seen = []
        for line in client.stdout:
            seen.append(line)
            if "waiting:" in line:
                break
        assert any(DPKG_LOCK in line for line in seen), seen
        os.killpg(client.pid, sig)
        client.wait(timeout=10)
        job = jr.lock_holder()
        assert job, "the worker should still hold the host lock"
        assert ProfileStore().load("real").progress["toolkit"].state is StageState.RUNNING
    # Lock released: the orphaned job goes on by itself.
    deadline = time.monotonic() + 120
    while jr.lock_holder() == job and time.monotonic() < deadline:
        time.sleep(0.2)
    assert installed("hello")
    info = find_unseen_job()
    assert info is not None and info.job == job and not info.running

    again = apply_cli("real", "--plan", str(plan_file), "--yes")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out
    assert f"A dlenv job ({job}) finished while no dlenv was watching" in out
    assert "[1/1] Install hello: ok" in out
    assert "[1/1] Install hello: skipped" in out  # the new run: already done
    assert find_unseen_job() is None
    progress = ProfileStore().load("real").progress["toolkit"]
    assert progress.state is StageState.DONE
    assert progress.done_steps == ("install-hello",)


# ---------------------------------------------------------------------------------------------
# The sudo -S path, with a real unprivileged user


USER = "dlenvtest"


def _run(*argv: str, data: str | None = None) -> None:
    subprocess.run(list(argv), input=data, text=True, check=True, capture_output=True)


@pytest.fixture
def sudo_user(state: Path) -> Iterator[dict[str, str]]:
    """A user with a password whose sudoers entry allows only the dlenv worker, password required.

    /root is not readable by other users here, so the user gets its own small venv built from the
    system Python that sees this checkout and the project's installed dependencies.
    """
    if shutil.which("sudo") is None or shutil.which("useradd") is None:
        pytest.fail("sudo and useradd are needed (scripts/test installs sudo)")
    password = "pw-" + secrets.token_urlsafe(18)
    with contextlib.suppress(subprocess.CalledProcessError):
        _run("userdel", "-f", USER)
    _run("useradd", "--no-create-home", "--shell", "/bin/sh", USER)
    _run("chpasswd", data=f"{USER}:{password}\n")
    uid = int(subprocess.check_output(["id", "-u", USER], text=True))
    gid = int(subprocess.check_output(["id", "-g", USER], text=True))
    base = Path(tempfile.mkdtemp(prefix="dlenv-sudo-test-"))
    base.chmod(0o755)
    venv = base / "venv"
    # The distribution's Python: the test user can run it wherever this checkout's venv points.
    _run("/usr/bin/python3", "-m", "venv", "--without-pip", str(venv))
    site = next((venv / "lib").glob("python3*/site-packages"))
    # Copies, not paths into the checkout: a checkout under /root (mode 700) or a venv whose
    # interpreter lives there is out of the test user's reach, and CI may put it anywhere.
    repo = Path(dlenv_tui.__file__).resolve().parent.parent
    src = base / "src"
    shutil.copytree(
        repo / "dlenv_tui", src / "dlenv_tui", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(repo / "assets", src / "assets")
    shutil.copy(WORKER_ENTRY, src / "worker_planner.py")
    deps = base / "deps"
    shutil.copytree(
        sysconfig.get_paths()["purelib"],
        deps,
        ignore=shutil.ignore_patterns(
            "__pycache__",
            "mypy*",
            "*mypyc*",
            "pip",
            "setuptools",
            "hypothesis",
            "ruff*",
            "_dlenv*",
            "__editable__*",
            "*.pth",
        ),
    )
    (site / "dlenv_test_paths.pth").write_text(
        f"{src}\nimport site; site.addsitedir({str(deps)!r})\n"
    )
    python = str(venv / "bin" / "python")
    sudoers = Path("/etc/sudoers.d/dlenv-test")
    # SETENV on purpose: sudo then lets the user pass variables (DLENV_STATE_DIR=…) through,
    # and the worker must ignore them itself.
    sudoers.write_text(
        f"{USER} ALL=(root) SETENV: {python} -I -m dlenv_tui.worker, "
        f"{python} -I {src}/worker_planner.py\n"
    )
    sudoers.chmod(0o440)
    _run("visudo", "-cf", str(sudoers))
    state_dir = base / "state"
    state_dir.mkdir(mode=0o755)
    config = base / "config"
    config.mkdir()
    os.chown(config, uid, gid)
    try:
        yield {
            "password": password,
            "python": python,
            "uid": str(uid),
            "gid": str(gid),
            "base": str(base),
            "state": str(state_dir),
            "config": str(config),
            "src": str(src),
            "user": USER,
        }
    finally:
        sudoers.unlink(missing_ok=True)
        shutil.rmtree(f"/run/sudo/ts/{USER}", ignore_errors=True)
        Path(f"/run/sudo/ts/{USER}").unlink(missing_ok=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("userdel", "-f", USER)
        shutil.rmtree(base, ignore_errors=True)
        for journal in jr.SYSTEM_JOBS.glob("*.jsonl"):
            if journal.stat().st_uid == uid:
                for suffix in (".jsonl", ".plan.json", ".control"):
                    journal.with_name(journal.name.replace(".jsonl", suffix)).unlink(
                        missing_ok=True
                    )


class PsWatcher:
    """Captures `ps` output (every process's full command line) while a run goes on."""

    def __init__(self) -> None:
        self.snapshots: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["ps", "-eo", "pid,user,args", "ww"], capture_output=True)
            self.snapshots.append(out.stdout.decode(errors="replace"))
            time.sleep(0.05)

    def __enter__(self) -> PsWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _run_as_user(
    user: dict[str, str], stdin: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` as the test user, in a clean environment of its own."""
    base_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": user["base"],
        "LC_ALL": "C",
        "DLENV_STATE_DIR": user["state"],
        "DLENV_CONFIG_DIR": user["config"],
    }
    return subprocess.run(
        [user["python"], *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**base_env, **(env or {})},
        cwd=user["base"],
        user=int(user["uid"]),
        group=int(user["gid"]),
        extra_groups=[],
        timeout=240,
        start_new_session=True,
    )


def _files_under(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in Path(d).rglob("*") if p.is_file()]


#: As the test user: run the worker with the test planner through `sudo -S` (password on stdin).
PLANNER_CLIENT = """
import sys, json
import worker_planner
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import WorkerRunner
password = sys.stdin.readline().rstrip("\\n")
src = sys.argv[1]
runner = WorkerRunner(password, command=[sys.executable, "-I", src + "/worker_planner.py"])
try:
    result = runner.run(worker_planner.planned(sys.argv[2]), lambda e: None)
except DlenvError as exc:
    print("ERROR", exc)
    sys.exit(1)
print(json.dumps({"job": result.job, "ok": result.ok,
                  "outcomes": {k: v.value for k, v in result.outcomes.items()}}))
"""


def _user_jobs(user: dict[str, str]) -> list[Path]:
    return [p for p in jr.SYSTEM_JOBS.glob("*.jsonl") if p.stat().st_uid == int(user["uid"])]


def test_sudo_password_path_for_real(sudo_user: dict[str, str]) -> None:
    user = sudo_user
    password = user["password"]
    with PsWatcher() as ps:
        done = _run_as_user(user, password + "\n", "-c", PLANNER_CLIENT, user["src"], "hello-sudo")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["outcomes"] == {"install-hello": "ok"}
    assert installed("hello")
    # The job ran as root for this user, in the fixed jobs directory (the user's DLENV_STATE_DIR
    # is not the worker's business): its journal belongs to the user and nobody else reads it.
    journal = jr.SYSTEM_JOBS / f"{result['job']}.jsonl"
    st = journal.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (int(user["uid"]), 0o600)
    assert not (Path(user["state"]) / "jobs").exists()
    control = journal.with_name(journal.name.replace(".jsonl", ".control"))
    assert control.stat().st_uid == int(user["uid"])
    assert "seen" in control.read_text()
    # The password went to sudo's stdin only.
    assert any("worker_planner" in snap for snap in ps.snapshots), "ps saw no worker"
    assert not any(password in snap for snap in ps.snapshots)
    assert password not in done.stdout + done.stderr
    for path in [*_files_under(user["state"], user["config"]), journal, control]:
        assert password.encode() not in path.read_bytes(), path


def test_sudo_wrong_password_gives_the_clear_message(sudo_user: dict[str, str]) -> None:
    user = sudo_user
    wrong = "wrong-" + secrets.token_urlsafe(12)
    with PsWatcher() as ps:
        done = _run_as_user(user, wrong + "\n", "-c", PLANNER_CLIENT, user["src"], "hello-sudo")
    assert done.returncode == 1
    assert done.stdout.strip() == "ERROR sudo rejected the password"
    assert not installed("hello")
    assert not _user_jobs(user)
    assert not any(wrong in snap for snap in ps.snapshots)
    for path in _files_under(user["state"], user["config"]):
        assert wrong.encode() not in path.read_bytes(), path


RETRY_CLIENT = """
import sys, json
import worker_planner
from dlenv_tui import operations
from dlenv_tui.execute import WorkerRunner, WrongPassword
lines = [line.rstrip("\\n") for line in sys.stdin]
asked = []
def password(attempt):
    asked.append(attempt)
    return lines[attempt] if attempt < len(lines) else None
src = sys.argv[1]
def runner(pw):
    return WorkerRunner(pw, command=[sys.executable, "-I", src + "/worker_planner.py"])
try:
    ran = operations.apply_stage(worker_planner.planned(sys.argv[2]), runner, lambda e: None,
                                 store=None, profile="", password=password)
except WrongPassword as exc:
    print(json.dumps({"asked": asked, "error": str(exc)}))
    sys.exit(1)
print(json.dumps({"asked": asked, "state": ran.state.value}))
"""


def test_a_password_sudo_rejects_is_asked_for_again_then_the_stage_runs(
    sudo_user: dict[str, str],
) -> None:
    """The operations layer's retry, through the real sudo: the rejection is a ``WrongPassword``
    (a type, not a sentence to match), the next password is asked for and the job runs."""
    user = sudo_user
    wrong = "wrong-" + secrets.token_urlsafe(12)
    stdin = f"{wrong}\n{user['password']}\n"
    done = _run_as_user(user, stdin, "-c", RETRY_CLIENT, user["src"], "hello-retry")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"asked": [0, 1], "state": "done"}
    assert installed("hello")


def test_when_every_password_is_rejected_the_caller_gets_wrong_password(
    sudo_user: dict[str, str],
) -> None:
    user = sudo_user
    wrong = "wrong-" + secrets.token_urlsafe(12)
    done = _run_as_user(user, wrong + "\n", "-c", RETRY_CLIENT, user["src"], "hello-retry")
    assert done.returncode == 1, done.stdout + done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    # attempt 1 has no second password: the loop gives up instead of reusing the rejected one
    assert answer == {"asked": [0, 1], "error": "sudo rejected the password"}
    assert not installed("hello")
    assert not _user_jobs(user)


def test_sudo_user_applies_a_real_stage_the_worker_planned_itself(
    sudo_user: dict[str, str],
) -> None:
    """`dlenv apply` through sudo with the product's planner: the worker probes and plans the
    engine stage itself, its digest matches what was shown, and its steps run for this user."""
    user = sudo_user
    profiles = Path(user["config"]) / "profiles"
    profiles.mkdir()
    store = ProfileStore(profiles)
    base = store_profile = Profile(name="mine")
    store_profile = dataclasses.replace(
        base, engine=dataclasses.replace(base.engine, docker_group=True)
    )
    store.save(store_profile)
    for path in (profiles, *profiles.iterdir()):
        os.chown(path, int(user["uid"]), int(user["gid"]))
    subprocess.run(["groupadd", "-f", "docker"], check=True)
    done = _run_as_user(
        user,
        user["password"] + "\n",
        "-m",
        "dlenv_tui",
        "apply",
        "mine",
        "--stage",
        "engine",
        "--yes",
        "--password-stdin",
    )
    out = done.stdout + done.stderr
    assert "started; it goes on if this terminal closes" in out, out
    assert f"Add {USER} to the docker group: ok" in out, out
    groups = subprocess.run(["id", "-nG", USER], capture_output=True, text=True).stdout.split()
    assert "docker" in groups
    jobs = _user_jobs(user)
    assert len(jobs) == 1 and jobs[0].stat().st_mode & 0o777 == 0o600
    assert "Traceback" not in out


# ---------------------------------------------------------------------------------------------
# The boundary, tried as an attacker would: a user whose sudo rule allows only the worker


#: As the test user: hand one raw line to the product's worker through sudo, print its answer.
RAW_CLIENT = """
import sys
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute.sudo import start_worker
password = sys.stdin.readline().rstrip("\\n")
line = open(sys.argv[1], "rb").read()
try:
    print("JOB", start_worker(line, password=password, mode="password"))
except DlenvError as exc:
    print("ERROR", exc)
"""


def _hostile_plan(*steps: Step) -> Plan:
    return Plan(stage=Stage.TOOLKIT, steps=steps, profile="mine")


def _attack_plans(tag: str, user: str) -> dict[str, Plan]:
    pwned = f"/tmp/dlenv-pwned-{tag}"
    return {
        "apt option injection": _hostile_plan(
            Step(
                id="a",
                title="update",
                argv=(APT_GET, "-o", f"APT::Update::Pre-Invoke::=/usr/bin/touch {pwned}", "update"),
            )
        ),
        "usermod on uid 0": _hostile_plan(
            Step(id="a", title="u", argv=("/usr/sbin/usermod", "-o", "-u", "0", user))
        ),
        "engine mounts /": _hostile_plan(
            Step(
                id="a",
                title="d",
                argv=(
                    "/usr/bin/docker",
                    "run",
                    "--rm",
                    "-v",
                    "/:/host",
                    "busybox",
                    "chroot",
                    "/host",
                    "/usr/bin/touch",
                    pwned,
                ),
            )
        ),
        "modprobe install hook": _hostile_plan(
            Step(
                id="a",
                title="w",
                kind=StepKind.WRITE_FILE,
                file=FileSpec(
                    f"/etc/modprobe.d/dlenv-{tag}.conf", f"install nvidia /usr/bin/touch {pwned}\n"
                ),
            )
        ),
    }


def _user_line(user: dict[str, str], line: bytes, env: dict[str, str] | None = None) -> str:
    path = Path(user["base"]) / f"line-{secrets.token_hex(3)}"
    path.write_bytes(line)
    path.chmod(0o644)
    done = _run_as_user(user, user["password"] + "\n", "-c", RAW_CLIENT, str(path), env=env)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout.strip()


def test_sudo_user_cannot_hand_the_worker_a_plan(sudo_user: dict[str, str]) -> None:
    user = sudo_user
    tag = secrets.token_hex(4)
    uid_before = subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout
    for name, plan in _attack_plans(tag, USER).items():
        answer = _user_line(user, json.dumps({"v": 1, "plan": to_data(plan)}).encode())
        assert answer.startswith("ERROR A saved plan runs only for root without sudo"), (
            name,
            answer,
        )
    # Checked on the host, not only in the answer: nothing ran.
    assert not Path(f"/tmp/dlenv-pwned-{tag}").exists()
    assert not Path(f"/etc/modprobe.d/dlenv-{tag}.conf").exists()
    assert subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout == uid_before
    assert not _user_jobs(user)


def test_sudo_user_cannot_get_a_plan_the_planner_did_not_make(sudo_user: dict[str, str]) -> None:
    """A request whose digest is that of a hostile plan: the worker plans the stage itself and
    refuses because its own plan is not the one the digest names."""
    from dlenv_tui.execute.request import plan_digest
    from dlenv_tui.model import PlanInputs

    user = sudo_user
    tag = secrets.token_hex(4)
    hostile = _attack_plans(tag, USER)["usermod on uid 0"]
    inputs = PlanInputs(profile="mine")
    line = json.dumps(
        {"v": 1, "stage": "engine", "inputs": to_data(inputs), "digest": plan_digest(hostile)}
    )
    answer = _user_line(user, line.encode())
    assert answer == "ERROR The host changed since the plan was shown: review it again."
    assert subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout.strip() != "0"
    assert not _user_jobs(user)


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 3000 + b"]" * 3000,
        b'{"v": 1, "stage": "engine", "inputs": {"profile": "x\\u0000y"}, "digest": "'
        + b"0" * 64
        + b'"}',
        b'{"v": 1, "stage": "engine", "inputs": {"profile": "\\udc80"}, "digest": "'
        + b"0" * 64
        + b'"}',
        b'{"v": 1, "stage": "prereq", "inputs": {"profile": "x"}, "digest": "' + b"0" * 64 + b'"}',
        b'{"v": 1, "stage": "engine", "inputs": {"profile": "../../etc"}, "digest": "'
        + b"0" * 64
        + b'"}',
        b'{"v": 1, "stage": "driver", "inputs": {"profile": "x", "driver": {"branch": "580; id"}}, "digest": "'
        + b"0" * 64
        + b'"}',
        b"\xff\xfe not utf-8",
        b"not json at all",
        b'{"v": 1, "stage": "engine", "inputs": {"profile": "x"}, "digest": "'
        + b"0" * 64
        + b'", "argv": ["/bin/sh"]}',
    ],
    ids=["deep", "nul", "surrogate", "stage", "name", "branch", "utf8", "json", "extra-field"],
)
def test_sudo_user_bad_requests_are_one_sentence(sudo_user: dict[str, str], line: bytes) -> None:
    answer = _user_line(sudo_user, line)
    assert answer.startswith("ERROR "), answer
    assert answer.count("\n") == 0 and answer.endswith("."), answer
    assert not _user_jobs(sudo_user)


def test_sudo_user_huge_request_is_refused_without_reading_it_all(
    sudo_user: dict[str, str],
) -> None:
    answer = _user_line(sudo_user, b'{"v": 1, "pad": "' + b"x" * (50 * 2**20) + b'"}')
    assert answer.startswith("ERROR The request is larger than"), answer


def test_sudo_user_state_dir_and_lock_do_not_steer_root(sudo_user: dict[str, str]) -> None:
    """DLENV_STATE_DIR passed through sudo (its rule has SETENV) is ignored, and the host lock
    is root's alone: the user can neither open it nor hold it."""
    user = sudo_user
    evil = Path(tempfile.mkdtemp(prefix="dlenv-evil-state-"))
    evil.chmod(0o777)
    jr.ensure_jobs_dir(jr.SYSTEM_JOBS)
    (jr.SYSTEM_JOBS / jr.LOCK_NAME).touch(mode=0o600)
    try:
        # A request the worker refuses still shows which directory it would have used: none.
        code = (
            "import os, fcntl\n"
            f"try:\n fd = os.open({str(jr.SYSTEM_JOBS / jr.LOCK_NAME)!r}, os.O_RDONLY)\n"
            " fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)\n print('HELD')\n"
            "except PermissionError:\n print('DENIED')\n"
        )
        held = _run_as_user(user, "", "-c", code)
        assert held.stdout.strip() == "DENIED", held.stdout + held.stderr
        lock = (jr.SYSTEM_JOBS / jr.LOCK_NAME).stat()
        assert (lock.st_uid, lock.st_mode & 0o777) == (0, 0o600)
        # The worker run with the user's DLENV_STATE_DIR: sudo passes it (SETENV), the worker
        # drops it and plans/journals under /var/lib/dlenv/jobs only.
        sudo = [
            "sudo",
            "-S",
            "-p",
            "",
            f"DLENV_STATE_DIR={evil}",
            user["python"],
            "-I",
            f"{user['src']}/worker_planner.py",
        ]
        script = f"""
import subprocess, sys
import worker_planner
from dlenv_tui.execute.request import encode_request
line = encode_request(worker_planner.planned("hello-env"))
p = subprocess.run({sudo!r}, input=sys.stdin.readline() + line + "\\n",
                   capture_output=True, text=True)
print(p.stdout)
"""
        done = _run_as_user(user, user["password"] + "\n", "-c", script)
        assert "DLENV-WORKER JOB" in done.stdout, done.stdout + done.stderr
        job = done.stdout.split("DLENV-WORKER JOB", 1)[1].split()[0]
        assert (jr.SYSTEM_JOBS / f"{job}.jsonl").exists()
        assert list(evil.iterdir()) == []
        follow_job(job, Recorder(), jobs=jr.SYSTEM_JOBS)
        assert installed("hello")
    finally:
        shutil.rmtree(evil, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The second line of defence: saved plans as root (no sudo) still meet the policy


def test_root_saved_plans_meet_the_policy_and_change_nothing(state: Path) -> None:
    tag = secrets.token_hex(4)
    victim_user = "nobody"
    uid_before = subprocess.run(["id", "-u", victim_user], capture_output=True, text=True).stdout
    plans = _attack_plans(tag, victim_user)
    pwned = Path(f"/tmp/dlenv-pwned-{tag}")
    evil_deb = Path(f"/tmp/dlenv-evil-{tag}.deb")
    plans["local .deb"] = _hostile_plan(
        Step(id="a", title="i", argv=("/usr/bin/dpkg", "-i", str(evil_deb)))
    )
    plans["systemctl link"] = _hostile_plan(
        Step(id="a", title="l", argv=("/usr/bin/systemctl", "link", f"/tmp/evil-{tag}.service"))
    )
    plans["step environment"] = _hostile_plan(
        Step(id="a", title="u", argv=(APT_GET, "update"), env=(("LD_PRELOAD", "/tmp/x.so"),))
    )
    plans["APT_CONFIG"] = _hostile_plan(
        Step(id="a", title="u", argv=(APT_GET, "update"), env=(("APT_CONFIG", "/tmp/evil.conf"),))
    )
    plans["setuid mode"] = _hostile_plan(
        Step(
            id="a",
            title="w",
            kind=StepKind.WRITE_FILE,
            file=FileSpec(f"/var/cache/dlenv/evil-{tag}.deb", "x", mode=0o4755),
        )
    )
    plans["daemon.json"] = _hostile_plan(
        Step(
            id="a",
            title="w",
            kind=StepKind.WRITE_FILE,
            file=FileSpec("/etc/docker/daemon.json", '{"authorization-plugins": []}'),
        )
    )
    plans["check that writes"] = _hostile_plan(
        Step(
            id="a",
            title="c",
            argv=(APT_GET, "update"),
            check=("/usr/bin/systemctl", "link", f"/tmp/evil-{tag}.service"),
        )
    )
    daemon_before = (
        Path("/etc/docker/daemon.json").read_bytes()
        if Path("/etc/docker/daemon.json").exists()
        else None
    )
    for name, plan in plans.items():
        with pytest.raises(DlenvError) as info:
            WorkerRunner(saved_plan=True).run(plan, Recorder())
        message = str(info.value)
        assert message.startswith("Step 'a'") and message.endswith("."), (name, message)
    assert not pwned.exists()
    assert not Path(f"/etc/modprobe.d/dlenv-{tag}.conf").exists()
    assert not Path(f"/var/cache/dlenv/evil-{tag}.deb").exists()
    assert not Path(f"/etc/systemd/system/evil-{tag}.service").exists()
    assert (
        subprocess.run(["id", "-u", victim_user], capture_output=True, text=True).stdout
        == uid_before
    )
    after = (
        Path("/etc/docker/daemon.json").read_bytes()
        if Path("/etc/docker/daemon.json").exists()
        else None
    )
    assert after == daemon_before
    assert not state.exists() or not list(state.glob("*.jsonl"))


def test_symlinks_in_the_jobs_dir_leave_their_targets_alone(
    state: Path, tmp_path: Path, worker_planner: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    state.mkdir(parents=True)
    (state / jr.LOCK_NAME).symlink_to(victim)
    with pytest.raises(DlenvError, match="symlink"):
        planner_worker().run(worker_planner.planned("hello-link"), Recorder())
    assert victim.read_text() == "precious\n"
    assert victim.stat().st_mode & 0o7777 == 0o644
    assert not installed("hello")
    # The jobs directory itself a symlink to somewhere root must not write.
    (state / jr.LOCK_NAME).unlink()
    state.rmdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    state.symlink_to(target)
    with pytest.raises(DlenvError, match="symlink"):
        planner_worker().run(worker_planner.planned("hello-link"), Recorder())
    assert list(target.iterdir()) == []
    assert not installed("hello")


def test_a_write_through_a_planted_symlink_is_refused(
    state: Path, tmp_path: Path, worker_planner: Any
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = Path(worker_planner.marker_path(secrets.token_hex(4)))
    link.symlink_to(victim)
    try:
        plan = Plan(stage=Stage.TOOLKIT, steps=(worker_planner.marker(link.name.split("-")[-1]),))
        with pytest.raises(DlenvError, match="is a symlink"):
            WorkerRunner(saved_plan=True).run(plan, Recorder())
        assert victim.read_text() == "precious\n"
    finally:
        link.unlink()


# ---------------------------------------------------------------------------------------------
# Done means done: a package left half-configured is repaired, not called installed


BRK = "dlenv-brk"
BRK_ONCE = Path("/var/lib/dlenv-brk-failed-once")


def _build_brk(tmp_path: Path) -> Path:
    """A tiny package whose postinst fails the first time it runs (as an OOM kill would leave it)."""
    root = tmp_path / "brk"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {BRK}\nVersion: 1.0\nArchitecture: all\nMaintainer: dlenv tests <t@example>\n"
        "Description: dlenv test package whose postinst fails once\n"
    )
    postinst = root / "DEBIAN" / "postinst"
    postinst.write_text(
        f"#!/bin/sh\nif [ ! -e {BRK_ONCE} ]; then touch {BRK_ONCE}; echo 'postinst cut off'; exit 1; fi\n"
        "exit 0\n"
    )
    postinst.chmod(0o755)
    deb = tmp_path / f"{BRK}.deb"
    subprocess.run(["dpkg-deb", "-b", str(root), str(deb)], check=True, capture_output=True)
    return deb


def _dpkg_status(pkg: str) -> str:
    return subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
    ).stdout.strip()


def test_half_configured_package_is_repaired_not_called_done(
    state: Path, tmp_path: Path, worker_planner: Any
) -> None:
    BRK_ONCE.unlink(missing_ok=True)
    deb = _build_brk(tmp_path)
    try:
        first = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
        assert first.returncode != 0
        assert _dpkg_status(BRK) == "install ok half-configured"
        # dpkg-query exits 0 here: an exit status alone would call this step done.
        assert subprocess.run(["dpkg-query", "-W", BRK], capture_output=True).returncode == 0
        rec = Recorder()
        result = planner_worker().run(worker_planner.planned("brk-1"), rec)
        assert result.ok, result
        started = [e.step for e in rec.of(EventKind.STEP_STARTED)]
        assert started == ["install-dlenv-brk", "install-dlenv-brk.repair"]  # repair inside it
        finished = {e.step: e for e in rec.of(EventKind.STEP_FINISHED)}
        repair = finished["install-dlenv-brk.repair"]
        assert repair.outcome is StepOutcome.OK
        assert "interrupted install was found and finished" in repair.message
        assert "dpkg --configure -a" in repair.message
        assert any(BRK in e.line for e in rec.of(EventKind.OUTPUT) if e.step.endswith(".repair"))
        # Repaired, then verified: the package is installed, so the step itself is skipped.
        assert result.outcomes["install-dlenv-brk"] is StepOutcome.SKIPPED
        assert _dpkg_status(BRK) == "install ok installed"
        audit = subprocess.run(["dpkg", "--audit"], capture_output=True, text=True)
        assert audit.stdout.strip() == ""
    finally:
        subprocess.run(["dpkg", "--purge", BRK], capture_output=True)
        BRK_ONCE.unlink(missing_ok=True)


def test_a_repair_that_fails_stops_the_plan_and_says_why(
    state: Path, tmp_path: Path, worker_planner: Any
) -> None:
    """A postinst that keeps failing: the repair step fails, nothing is called done."""
    deb = _build_brk(tmp_path)
    BRK_ONCE.unlink(missing_ok=True)
    try:
        subprocess.run(["dpkg", "-i", str(deb)], capture_output=True)
        BRK_ONCE.unlink()  # the next configure fails again
        result = planner_worker().run(worker_planner.planned("brk-2"), Recorder())
        assert not result.ok
        assert result.failed_step == "install-dlenv-brk"
        assert "could not be finished" in result.message
        assert result.outcomes.get("install-dlenv-brk.repair") is StepOutcome.FAILED
        assert _dpkg_status(BRK) == "install ok half-configured"
    finally:
        BRK_ONCE.touch()
        subprocess.run(["dpkg", "--configure", "-a"], capture_output=True)
        subprocess.run(["dpkg", "--purge", BRK], capture_output=True)
        BRK_ONCE.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# `dlenv doctor --fix` through sudo: the worker diagnoses the host itself (tests/worker_planner.py
# takes /proc/modules to list nouveau; the rest of the diagnosis, the fix, its digest, the policy
# and the run are the product's, on this host for real)

NOUVEAU_CONF_PATH = Path("/etc/modprobe.d/blacklist-nouveau.conf")

#: As the test user: diagnose this host as the seam worker will, run the nouveau fix through sudo.
DOCTOR_CLIENT = """
import sys, json
import worker_planner
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import WorkerRunner
from dlenv_tui.probe import probe_host
password = sys.stdin.readline().rstrip("\\n")
src = sys.argv[1]
found = {f.id: f for f in worker_planner.doctor(probe_host(), None)}
fix = found["driver.nouveau"].fix
runner = WorkerRunner(password, command=[sys.executable, "-I", src + "/worker_planner.py"])
try:
    result = runner.run(fix, lambda e: None)
except DlenvError as exc:
    print("ERROR", exc)
    sys.exit(1)
print(json.dumps({"job": result.job, "ok": result.ok, "steps": [s.id for s in fix.steps],
                  "outcomes": {k: v.value for k, v in result.outcomes.items()}}))
"""

#: As the test user: one raw line to the worker named by argv[2] ("seam" or "product").
DOCTOR_RAW_CLIENT = """
import sys
from dlenv_tui.errors import DlenvError
from dlenv_tui.execute.sudo import start_worker
password = sys.stdin.readline().rstrip("\\n")
line = open(sys.argv[1], "rb").read()
command = None
if sys.argv[2] == "seam":
    command = [sys.executable, "-I", sys.argv[3] + "/worker_planner.py"]
try:
    print("JOB", start_worker(line, password=password, mode="password", command=command))
except DlenvError as exc:
    print("ERROR", exc)
"""


@pytest.fixture
def nouveau_free_host(sudo_user: dict[str, str]) -> Iterator[dict[str, str]]:
    """The sudo user, on a host where the nouveau fix is only the blacklist file (no initramfs to
    rebuild, no blacklist of its own); the file is removed afterwards."""
    from dlenv_tui.doctor.evidence import read_host
    from dlenv_tui.probe import LocalHost, probe_host

    if NOUVEAU_CONF_PATH.exists():
        pytest.skip(f"{NOUVEAU_CONF_PATH} is this host's own; the test would overwrite it")
    if read_host(LocalHost("/"), probe_host().kernel).initramfs != "":
        pytest.skip("this host boots with an initramfs, which the nouveau fix would rebuild")
    try:
        yield sudo_user
    finally:
        NOUVEAU_CONF_PATH.unlink(missing_ok=True)


def _doctor_line(user: dict[str, str], line: bytes, worker: str) -> str:
    path = Path(user["base"]) / f"line-{secrets.token_hex(3)}"
    path.write_bytes(line)
    path.chmod(0o644)
    done = _run_as_user(
        user, user["password"] + "\n", "-c", DOCTOR_RAW_CLIENT, str(path), worker, user["src"]
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.stdout.strip()


def _nouveau_fix(worker_planner: Any) -> Plan:
    from dlenv_tui.probe import probe_host

    found = {f.id: f for f in worker_planner.doctor(probe_host(), None)}
    fix = found["driver.nouveau"].fix
    assert fix is not None
    return fix


def test_sudo_user_runs_a_doctor_fix_the_worker_diagnosed_itself(
    nouveau_free_host: dict[str, str],
) -> None:
    from dlenv_tui.plan.driver.common import NOUVEAU_CONF

    user = nouveau_free_host
    uid_before = subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout
    done = _run_as_user(user, user["password"] + "\n", "-c", DOCTOR_CLIENT, user["src"])
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # This host boots without an initramfs: the fix is the blacklist, then the reboot it needs.
    assert result["steps"] == ["doctor.blacklist-nouveau", "doctor.reboot"]
    assert result["ok"]
    assert result["outcomes"] == {"doctor.blacklist-nouveau": "ok", "doctor.reboot": "reboot"}
    # On the host: root wrote exactly the blacklist, 0644, and nothing else changed for the user.
    st = NOUVEAU_CONF_PATH.lstat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o644)
    assert NOUVEAU_CONF_PATH.read_text() == NOUVEAU_CONF
    assert subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout == uid_before
    (journal,) = _user_jobs(user)
    assert journal.stat().st_mode & 0o777 == 0o600
    kinds = [json.loads(x)["kind"] for x in journal.read_text().splitlines()]
    assert kinds[0] == "job_started" and kinds[-1] == "job_finished"
    # The job's plan copy is the doctor's fix, named by its finding.
    copy = json.loads(journal.with_name(journal.name.replace(".jsonl", ".plan.json")).read_text())
    assert copy["finding"] == "driver.nouveau"


def test_sudo_user_tampered_or_stale_doctor_requests_change_nothing(
    nouveau_free_host: dict[str, str], worker_planner: Any
) -> None:
    from dlenv_tui.execute.request import encode_request, plan_digest

    user = nouveau_free_host
    tag = secrets.token_hex(4)
    uid_before = subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout
    fix = _nouveau_fix(worker_planner)
    good = json.loads(encode_request(fix))
    hostile = _attack_plans(tag, USER)
    answers = {}
    # the digest of a plan the doctor did not make, under the finding's id
    answers["usermod digest"] = _doctor_line(
        user,
        json.dumps({**good, "digest": plan_digest(hostile["usermod on uid 0"])}).encode(),
        "seam",
    )
    # the fix shown for another host (one with an initramfs to rebuild)
    other = dataclasses.replace(
        fix,
        steps=(
            fix.steps[0],
            Step(id="doctor.initramfs", title="i", argv=("/usr/sbin/update-initramfs", "-u")),
            *fix.steps[1:],
        ),
    )
    answers["other host"] = _doctor_line(
        user, json.dumps({**good, "digest": plan_digest(other)}).encode(), "seam"
    )
    # steps smuggled beside the id, and a finding that is not on this host
    answers["extra plan"] = _doctor_line(
        user,
        json.dumps({**good, "plan": to_data(hostile["modprobe install hook"])}).encode(),
        "seam",
    )
    answers["not here"] = _doctor_line(
        user, json.dumps({**good, "doctor": "engine.docker-runtime"}).encode(), "seam"
    )
    # the product's worker diagnoses the real host, where nouveau is not loaded: the very request
    # the seam worker runs is refused there
    answers["product worker"] = _doctor_line(user, json.dumps(good).encode(), "product")
    assert answers == {
        "usermod digest": "ERROR The host changed since the plan was shown: review it again.",
        "other host": "ERROR The host changed since the plan was shown: review it again.",
        "extra plan": "ERROR The request has unknown field 'plan'; nothing ran.",
        "not here": "ERROR The worker does not find engine.docker-runtime on this host now: "
        "run `dlenv doctor` again.",
        "product worker": "ERROR The worker does not find driver.nouveau on this host now: "
        "run `dlenv doctor` again.",
    }
    # Checked on the host: nothing ran.
    assert not NOUVEAU_CONF_PATH.exists()
    assert not Path(f"/etc/modprobe.d/dlenv-{tag}.conf").exists()
    assert not Path(f"/tmp/dlenv-pwned-{tag}").exists()
    assert subprocess.run(["id", "-u", USER], capture_output=True, text=True).stdout == uid_before
    assert not _user_jobs(user)
