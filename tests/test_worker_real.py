"""The root worker for real: apt-get installs, dpkg-lock waits, killed clients, rejections, sudo -S.

These change the host (a tiny Debian package, `hello` / `sl`, is installed and purged; a test user
is created and removed), so they need root; CI runs as root on Debian 12.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Iterator
from pathlib import Path

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


def test_real_install_then_second_run_skips_it(state: Path) -> None:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),))
    rec = Recorder()
    result = WorkerRunner().run(plan, rec)
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

    again = WorkerRunner().run(plan, Recorder())
    assert again.ok
    assert again.outcomes == {"install-hello": StepOutcome.SKIPPED}
    assert again.job != result.job


def test_failing_step_stops_the_plan_and_the_rerun_resumes_there(state: Path) -> None:
    marker = WRITE_DIR / f"dlenv-test-{secrets.token_hex(4)}.conf"
    write = Step(
        id="write",
        title="Write a config file",
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=str(marker), content="x = 1\n", mode=0o640),
    )
    missing = "dlenv-no-such-package-" + secrets.token_hex(3)
    broken = Plan(stage=Stage.TOOLKIT, steps=(install("hello"), install(missing, "second"), write))
    try:
        first = WorkerRunner().run(broken, Recorder())
        assert not first.ok
        assert first.failed_step == "second"
        assert first.exit_code == 100  # apt-get's own failure status
        assert any("Unable to locate package" in line for line in first.last_lines)
        assert first.outcomes == {"install-hello": StepOutcome.OK, "second": StepOutcome.FAILED}
        assert not marker.exists()  # nothing after the failed step ran

        rec = Recorder()
        rerun = WorkerRunner().run(broken, rec)
        assert rerun.outcomes["install-hello"] is StepOutcome.SKIPPED
        assert [e.step for e in rec.of(EventKind.STEP_STARTED)] == ["install-hello", "second"]
        assert rerun.failed_step == "second"
        assert not marker.exists()

        # The user fixes the failing step (here: a package that exists); the run resumes there.
        fixed = Plan(stage=Stage.TOOLKIT, steps=(install("hello"), install("sl", "second"), write))
        done = WorkerRunner().run(fixed, Recorder())
        assert done.ok
        assert done.outcomes == {
            "install-hello": StepOutcome.SKIPPED,
            "second": StepOutcome.OK,
            "write": StepOutcome.OK,
        }
        assert installed("sl")
        assert marker.read_text() == "x = 1\n"
        assert marker.stat().st_mode & 0o777 == 0o640
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
def test_worker_rejects_bad_plans_and_runs_nothing(state: Path, step: Step, expected: str) -> None:
    marker = WRITE_DIR / f"dlenv-test-{secrets.token_hex(4)}.conf"
    first = Step(
        id="first",
        title="A valid first step",
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=str(marker), content="ran\n"),
    )
    plan = Plan(stage=Stage.TOOLKIT, steps=(first, install("sl"), step))
    with pytest.raises(DlenvError) as info:
        WorkerRunner().run(plan, Recorder())
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
        start_worker(json.dumps(data))
    assert not installed("sl")
    assert not state.exists() or not list(state.glob("*.jsonl"))


def test_held_dpkg_lock_is_waited_for_visibly_then_reported(state: Path) -> None:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),))
    rec = Recorder()
    with dpkg_lock_held():
        start = time.monotonic()
        result = WorkerRunner(lock_timeout=2).run(plan, rec)
        assert time.monotonic() - start >= 2
    waits = rec.of(EventKind.WAITING)
    assert waits and DPKG_LOCK in waits[0].message
    assert not result.ok
    assert f"held {DPKG_LOCK} for more than 2 s" in result.message
    assert not installed("hello")


def test_one_job_per_host(state: Path) -> None:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),))
    with dpkg_lock_held():
        job = WorkerRunner(lock_timeout=30).start(plan)
        with pytest.raises(DlenvError, match=rf"Another dlenv job \({job}\) is running"):
            WorkerRunner().start(plan)
    result = follow_job(job, Recorder())
    assert result.ok
    assert installed("hello")


def _apply(*args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dlenv_tui", "apply", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A client in a terminal dies of SIGHUP; one started under nohup (or by a CI runner that
        # ignores it) would inherit SIG_IGN and shrug the test's hang-up off.
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        **kw,  # type: ignore[call-overload]
    )


def _profile_and_plan(tmp_path: Path, plan: Plan, name: str = "real") -> Path:
    ProfileStore().save(Profile(name=name))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(to_data(plan)))
    path.chmod(0o644)
    return path


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_killed_client_does_not_stop_the_job_and_a_new_client_reattaches(
    state: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),), profile="real")
    plan_file = _profile_and_plan(tmp_path, plan)
    with dpkg_lock_held():
        client = _apply("real", "--plan", str(plan_file), "--yes")
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

    again = _apply("real", "--plan", str(plan_file), "--yes")
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
    sudoers.write_text(f"{USER} ALL=(root) SETENV: {python} -I -m dlenv_tui.worker\n")
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
        }
    finally:
        sudoers.unlink(missing_ok=True)
        shutil.rmtree(f"/run/sudo/ts/{USER}", ignore_errors=True)
        Path(f"/run/sudo/ts/{USER}").unlink(missing_ok=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            _run("userdel", "-f", USER)
        shutil.rmtree(base, ignore_errors=True)


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


def _run_as_user(user: dict[str, str], stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": user["base"],
        "LC_ALL": "C",
        "DLENV_STATE_DIR": user["state"],
        "DLENV_CONFIG_DIR": user["config"],
    }
    return subprocess.run(
        [user["python"], "-m", "dlenv_tui", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=user["base"],
        user=int(user["uid"]),
        group=int(user["gid"]),
        extra_groups=[],
        timeout=240,
        start_new_session=True,
    )


def _files_under(*dirs: str) -> list[Path]:
    return [p for d in dirs for p in Path(d).rglob("*") if p.is_file()]


def _user_setup(user: dict[str, str]) -> Path:
    plan = Plan(stage=Stage.TOOLKIT, steps=(install("hello"),), profile="mine")
    profile = Path(user["config"]) / "profiles"
    profile.mkdir()
    ProfileStore(profile).save(Profile(name="mine"))
    for p in (profile, *profile.iterdir()):
        os.chown(p, int(user["uid"]), int(user["gid"]))
    plan_file = Path(user["base"]) / "plan.json"
    plan_file.write_text(json.dumps(to_data(plan)))
    plan_file.chmod(0o644)
    return plan_file


def test_sudo_password_path_for_real(sudo_user: dict[str, str]) -> None:
    user = sudo_user
    password = user["password"]
    plan_file = _user_setup(user)
    with PsWatcher() as ps:
        done = _run_as_user(
            user,
            password + "\n",
            "apply",
            "mine",
            "--plan",
            str(plan_file),
            "--yes",
            "--password-stdin",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[1/1] Install hello: ok" in done.stdout
    assert installed("hello")
    # The job ran as root for this user: its journal is readable by the user, and theirs.
    journals = list((Path(user["state"]) / "jobs").glob("*.jsonl"))
    assert len(journals) == 1
    assert journals[0].stat().st_gid == int(user["gid"])
    control = journals[0].with_name(journals[0].name.replace(".jsonl", ".control"))
    assert control.stat().st_uid == int(user["uid"])
    assert "seen" in control.read_text()
    # The password went to sudo's stdin only.
    assert any("dlenv_tui.worker" in snap for snap in ps.snapshots), "ps saw no worker"
    assert not any(password in snap for snap in ps.snapshots)
    assert password not in done.stdout + done.stderr
    written = _files_under(user["state"], user["config"])
    assert written
    for path in written:
        assert password.encode() not in path.read_bytes(), path
    profile = ProfileStore(Path(user["config"]) / "profiles").load("mine")
    assert profile.progress["toolkit"].state is StageState.DONE


def test_sudo_wrong_password_gives_the_clear_message(sudo_user: dict[str, str]) -> None:
    user = sudo_user
    wrong = "wrong-" + secrets.token_urlsafe(12)
    plan_file = _user_setup(user)
    with PsWatcher() as ps:
        done = _run_as_user(
            user,
            wrong + "\n",
            "apply",
            "mine",
            "--plan",
            str(plan_file),
            "--yes",
            "--password-stdin",
        )
    assert done.returncode == 1
    assert done.stderr.strip() == "dlenv: sudo rejected the password."
    assert not installed("hello")
    assert not (Path(user["state"]) / "jobs").exists()
    assert not any(wrong in snap for snap in ps.snapshots)
    for path in _files_under(user["state"], user["config"]):
        assert wrong.encode() not in path.read_bytes(), path
