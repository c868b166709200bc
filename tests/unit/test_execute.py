"""Runners, plan validation, file steps, journals and following: everything that needs no root."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import (
    DemoRunner,
    DryRunRunner,
    JobBusy,
    PlanRejected,
    Policy,
    SubprocessRunner,
    files,
    find_unseen_job,
    follow_job,
    pkglock,
    product_policy,
    validate_plan,
)
from dlenv_tui.execute import journal as jr
from dlenv_tui.execute.request import encode_saved_plan, parse_request
from dlenv_tui.execute.runners import run_streamed
from dlenv_tui.execute.sudo import PROMPT, launch_argv, worker_command
from dlenv_tui.execute.worker import prepare_job, run_job
from dlenv_tui.model import (
    DataError,
    DownloadSpec,
    Event,
    EventKind,
    FileSpec,
    Plan,
    Stage,
    Step,
    StepKind,
    StepOutcome,
)

# Outside the product: SubprocessRunner itself runs whatever it is given (the worker validates
# first), so these tests may use ordinary programs without touching the allowlist.
SH = "/bin/sh"


def _plan(*steps: Step) -> Plan:
    return Plan(stage=Stage.TOOLKIT, steps=steps)


def _sh(step_id: str, script: str, **kw: object) -> Step:
    return Step(id=step_id, title=f"run {step_id}", argv=(SH, "-c", script), **kw)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def kinds(self) -> list[EventKind]:
        return [e.kind for e in self.events]

    def lines(self, step: str) -> list[str]:
        return [e.line for e in self.events if e.kind is EventKind.OUTPUT and e.step == step]


# ---------------------------------------------------------------------------------------------
# SubprocessRunner


def test_subprocess_runner_streams_lines_with_lc_all_c() -> None:
    rec = Recorder()
    result = SubprocessRunner().run(
        _plan(_sh("a", 'echo one; echo two >&2; printf "no-newline"; echo "LC=$LC_ALL"')), rec
    )
    assert result.ok
    assert rec.lines("a") == ["one", "two", "no-newlineLC=C"]
    assert result.outcomes == {"a": StepOutcome.OK}
    assert rec.kinds()[0] is EventKind.JOB_STARTED
    assert rec.kinds()[-1] is EventKind.JOB_FINISHED


def test_no_shell_argument_is_passed_verbatim() -> None:
    rec = Recorder()
    step = Step(id="a", title="echo", argv=("/bin/echo", "$(id)", "; rm -rf /", "*"))
    assert SubprocessRunner().run(_plan(step), rec).ok
    assert rec.lines("a") == ["$(id) ; rm -rf / *"]


def test_failing_step_stops_the_plan_with_exit_code_and_last_lines() -> None:
    rec = Recorder()
    plan = _plan(
        _sh("a", "echo first"),
        _sh("b", "for i in $(seq 1 30); do echo line $i; done; exit 7"),
        _sh("c", "echo never"),
    )
    result = SubprocessRunner().run(plan, rec)
    assert not result.ok
    assert result.failed_step == "b"
    assert result.exit_code == 7
    assert result.last_lines[-1] == "line 30"
    assert len(result.last_lines) == 20
    assert "c" not in result.outcomes
    assert not rec.lines("c")
    assert result.outcomes == {"a": StepOutcome.OK, "b": StepOutcome.FAILED}
    assert "exited with status 7" in result.message


def test_check_that_passes_skips_the_step() -> None:
    rec = Recorder()
    plan = _plan(
        _sh("a", "echo ran", check=("/bin/true",)),
        _sh("b", "echo ran", check=("/bin/false",)),
    )
    result = SubprocessRunner().run(plan, rec)
    assert result.outcomes == {"a": StepOutcome.SKIPPED, "b": StepOutcome.OK}
    assert rec.lines("a") == []
    assert rec.lines("b") == ["ran"]


def test_timeout_kills_the_step_and_its_children() -> None:
    rec = Recorder()
    start = time.monotonic()
    result = SubprocessRunner().run(_plan(_sh("a", "sleep 30 & sleep 30", timeout_s=1)), rec)
    assert time.monotonic() - start < 15
    assert not result.ok
    assert result.exit_code is None
    assert "did not finish in 1 s" in result.message


def test_cancel_interrupts_a_running_step_and_stops_the_plan() -> None:
    rec = Recorder()
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    result = SubprocessRunner().run(_plan(_sh("a", "sleep 30"), _sh("b", "echo no")), rec, cancel)
    assert result.outcomes["a"] is StepOutcome.CANCELLED
    assert "b" not in result.outcomes
    assert not result.ok


def test_step_that_leaves_a_daemon_holding_the_pipe_still_finishes() -> None:
    start = time.monotonic()
    result = SubprocessRunner().run(_plan(_sh("a", "(sleep 20 &) ; echo started")), Recorder())
    assert result.ok
    assert time.monotonic() - start < 10


def test_missing_program_fails_with_127() -> None:
    step = Step(id="a", title="missing", argv=("/nonexistent/program",))
    result = SubprocessRunner().run(_plan(step), Recorder())
    assert result.exit_code == 127
    assert not result.ok


def test_carriage_return_progress_keeps_the_last_state() -> None:
    lines: list[str] = []
    ran = run_streamed(
        [SH, "-c", r'printf "10%%\r50%%\r100%%\r\ndone\r\n"'], {"PATH": "/bin"}, 10, lines.append
    )
    assert ran.exit_code == 0
    assert lines == ["100%", "done"]


def test_reboot_step_stops_the_plan_without_failing(tmp_path: Path) -> None:
    plan = _plan(
        Step(id="r", title="Reboot into the new driver", kind=StepKind.REBOOT),
        _sh("after", "echo no"),
    )
    result = SubprocessRunner().run(plan, Recorder())
    assert result.ok
    assert result.outcomes == {"r": StepOutcome.REBOOT}
    assert "Reboot" in result.message


def test_write_file_step_is_atomic_with_mode_and_skips_when_equal(tmp_path: Path) -> None:
    target = tmp_path / "etc" / "thing.conf"
    step = Step(
        id="w",
        title="write",
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=str(target), content="a=1\n", mode=0o600),
    )
    assert SubprocessRunner().run(_plan(step), Recorder()).outcomes["w"] is StepOutcome.OK
    assert target.read_text() == "a=1\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["thing.conf"]  # no temp file left
    again = SubprocessRunner().run(_plan(step), Recorder())
    assert again.outcomes["w"] is StepOutcome.SKIPPED


def test_download_verifies_sha256_before_writing(tmp_path: Path) -> None:
    body = b"deb https://example.invalid stable main\n"
    dest = tmp_path / "x.list"

    def fetch(url: str, timeout: float) -> bytes:
        assert url == "https://example.invalid/x.list"
        return body

    good = DownloadSpec(
        url="https://example.invalid/x.list",
        dest=str(dest),
        sha256=hashlib.sha256(body).hexdigest(),
    )
    step = Step(id="d", title="download", kind=StepKind.DOWNLOAD, download=good)
    assert SubprocessRunner(fetch=fetch).run(_plan(step), Recorder()).ok
    assert dest.read_bytes() == body
    dest.unlink()
    bad = DownloadSpec(url=good.url, dest=str(dest), sha256="0" * 64)
    result = SubprocessRunner(fetch=fetch).run(
        _plan(Step(id="d", title="download", kind=StepKind.DOWNLOAD, download=bad)), Recorder()
    )
    assert not result.ok
    assert "sha256" in result.message
    assert not dest.exists()


def test_https_fetch_refuses_plain_http() -> None:
    with pytest.raises(DlenvError, match="not an https URL"):
        files.https_fetch("http://example.invalid/key", 1.0)


# ---------------------------------------------------------------------------------------------
# Dry run and demo


def test_dry_run_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    rec = Recorder()
    result = DryRunRunner().run(_plan(_sh("a", f"touch {marker}")), rec)
    assert result.ok
    assert not marker.exists()
    assert any("would run:" in line and str(marker) in line for line in rec.lines("a"))
    assert result.outcomes == {}  # nothing may be recorded as done
    finished = [e for e in rec.events if e.kind is EventKind.STEP_FINISHED]
    assert [e.outcome for e in finished] == [None]


def test_demo_runner_is_plausible_and_instant_at_speed_zero() -> None:
    plan = _plan(
        Step(
            id="i",
            title="Install the toolkit",
            argv=("/usr/bin/apt-get", "install", "-y", "nvidia-container-toolkit"),
        ),
        Step(id="d", title="Already there", argv=("/usr/bin/dnf", "install", "-y", "podman")),
    )
    rec = Recorder()
    start = time.monotonic()
    result = DemoRunner(speed=0, done=("d",)).run(plan, rec)
    assert time.monotonic() - start < 0.5
    assert result.ok
    assert result.outcomes == {"i": StepOutcome.OK, "d": StepOutcome.SKIPPED}
    assert "Setting up nvidia-container-toolkit ..." in rec.lines("i")


def test_demo_runner_takes_time_at_normal_speed() -> None:
    plan = _plan(Step(id="i", title="x", argv=("/usr/bin/apt-get", "update")))
    start = time.monotonic()
    DemoRunner(speed=10).run(plan, Recorder())
    assert time.monotonic() - start > 0.05


# ---------------------------------------------------------------------------------------------
# Validation (the product's allowlists, from the plan package)


APT = "/usr/bin/apt-get"
OK_STEP = Step(id="ok", title="ok", argv=(APT, "install", "-y", "hello"))


def _rejected(*steps: Step) -> str:
    with pytest.raises(PlanRejected) as info:
        validate_plan(_plan(*steps), product_policy())
    message = str(info.value)
    assert message.endswith(".")
    assert "\n" not in message
    return message


def test_valid_plan_passes() -> None:
    validate_plan(
        _plan(
            OK_STEP,
            Step(
                id="w",
                title="w",
                kind=StepKind.WRITE_FILE,
                file=FileSpec(
                    "/etc/apt/sources.list.d/x.list",
                    "deb [signed-by=/usr/share/keyrings/x.gpg] https://example.org/ /\n",
                ),
            ),
        ),
        product_policy(),
    )


def test_relative_program_is_rejected() -> None:
    assert "not an absolute path" in _rejected(Step(id="a", title="a", argv=("apt-get", "x")))


def test_program_outside_the_allowlist_is_rejected() -> None:
    assert "not one the worker may run" in _rejected(
        Step(id="a", title="a", argv=("/bin/sh", "-c", "id"))
    )


def test_check_program_outside_the_allowlist_is_rejected() -> None:
    step = Step(id="a", title="a", argv=(APT, "update"), check=("/bin/sh", "-c", "true"))
    assert "check program" in _rejected(step)


def test_dotdot_paths_are_rejected() -> None:
    assert "'..'" in _rejected(Step(id="a", title="a", argv=("/usr/bin/../bin/sh",)))
    write = Step(
        id="w",
        title="w",
        kind=StepKind.WRITE_FILE,
        file=FileSpec("/etc/apt/sources.list.d/../../passwd", "x"),
    )
    assert "'..'" in _rejected(write)


def test_write_outside_allowed_dirs_is_rejected() -> None:
    for path in ("/etc/passwd", "/etc/apt/sources.list.d/sub/x.list", "/tmp/x", "relative/x"):
        write = Step(id="w", title="w", kind=StepKind.WRITE_FILE, file=FileSpec(path, "x"))
        message = _rejected(write)
        assert "outside the directories" in message or "not absolute" in message


def test_plain_http_download_is_rejected() -> None:
    step = Step(
        id="d",
        title="d",
        kind=StepKind.DOWNLOAD,
        download=DownloadSpec(url="http://example.com/k.asc", dest="/etc/apt/keyrings/k.gpg"),
    )
    assert "https" in _rejected(step)


def test_rm_only_of_the_files_plans_remove() -> None:
    assert "removing" in _rejected(Step(id="r", title="r", argv=("/usr/bin/rm", "-f", "/etc/x")))


def test_duplicate_step_ids_are_rejected() -> None:
    assert "used twice" in _rejected(OK_STEP, OK_STEP)


def test_unknown_step_kind_is_rejected_when_parsing() -> None:
    data = json.loads(encode_saved_plan(_plan(OK_STEP)))
    data["plan"]["steps"][0]["kind"] = "shell"
    with pytest.raises(DlenvError, match="not one of"):
        parse_request(json.dumps(data).encode())
    with pytest.raises(DlenvError, match="not valid JSON"):
        parse_request(b"{not json")


@given(st.text(min_size=1, max_size=40))
def test_validation_never_allows_a_program_outside_the_allowlist(program: str) -> None:
    policy = product_policy()
    step = Step(id="a", title="a", argv=(program,))
    if program not in policy.programs:
        with pytest.raises(PlanRejected):
            validate_plan(_plan(step), policy)


@given(st.text(alphabet="/abc.d", min_size=1, max_size=30))
def test_validation_writes_only_directly_inside_allowed_dirs(path: str) -> None:
    policy = Policy(
        programs=frozenset(), check_programs=frozenset(), write_dirs=frozenset({"/etc/apt"})
    )
    step = Step(id="w", title="w", kind=StepKind.WRITE_FILE, file=FileSpec(path, "x"))
    try:
        validate_plan(_plan(step), policy)
    except PlanRejected:
        return
    assert ".." not in path.split("/")
    assert os.path.dirname(os.path.normpath(path)) == "/etc/apt"


# ---------------------------------------------------------------------------------------------
# Package-manager locks


def test_locks_for_knows_the_package_managers() -> None:
    assert "/var/lib/dpkg/lock-frontend" in pkglock.locks_for(["/usr/bin/apt-get"])[0]
    assert "/var/lib/rpm/.rpm.lock" in pkglock.locks_for(["/usr/bin/dnf"])[0]
    assert "/run/zypp.pid" in pkglock.locks_for(["/usr/bin/zypper"])[1]
    assert pkglock.locks_for(["/usr/bin/systemctl"]) == ((), ())


def test_fcntl_lock_held_by_another_process_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.touch()
    assert not pkglock.fcntl_lock_held(str(path))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time\n"
            f"fd=os.open({str(path)!r}, os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(30)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert pkglock.fcntl_lock_held(str(path))
    finally:
        holder.kill()
        holder.wait()
    assert not pkglock.fcntl_lock_held(str(path))


def test_pid_lock_counts_only_live_processes(tmp_path: Path) -> None:
    pidfile = tmp_path / "zypp.pid"
    sleeper = subprocess.Popen(["/bin/sleep", "30"])
    try:
        pidfile.write_text(f"{sleeper.pid}\n")
        assert pkglock.pid_lock_held(str(pidfile))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not pkglock.pid_lock_held(str(pidfile))
    pidfile.write_text("garbage")
    assert not pkglock.pid_lock_held(str(pidfile))


# ---------------------------------------------------------------------------------------------
# Journal, host lock, follow, unseen jobs (in-process worker logic, this user's own files)


def _owner() -> jr.Owner:
    return jr.Owner(os.getuid(), os.getgid())


def test_job_journal_is_followed_to_the_end(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    plan = _plan(_sh("a", "for i in 1 2 3; do echo $i; sleep 0.2; done"), _sh("b", "exit 3"))
    job, lock, journal = prepare_job(plan, jobs, _owner())
    assert jr.lock_holder(jobs) == job

    def work() -> None:
        run_job(plan, job, journal, jobs)
        journal.close()
        lock.release()

    thread = threading.Thread(target=work)
    thread.start()
    rec = Recorder()
    result = follow_job(job, rec, jobs=jobs, poll=0.02)
    thread.join()
    assert rec.lines("a") == ["1", "2", "3"]
    assert not result.ok
    assert result.failed_step == "b"
    assert result.exit_code == 3
    assert jr.lock_holder(jobs) == ""
    # Every line of the journal is one event, as JSON.
    lines = jr.journal_path(job, jobs).read_text().splitlines()
    assert [json.loads(x)["kind"] for x in lines][-1] == "job_finished"
    assert jr.journal_path(job, jobs).stat().st_mode & 0o777 == 0o600
    # Following marked it seen: nothing left to reattach to.
    assert find_unseen_job(jobs) is None


def test_unseen_finished_job_is_offered_once(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    plan = _plan(_sh("a", "echo hi"))
    job, lock, journal = prepare_job(plan, jobs, _owner())
    run_job(plan, job, journal, jobs)
    journal.close()
    lock.release()
    info = find_unseen_job(jobs)
    assert info is not None and info.job == job and not info.running
    assert info.id == job
    assert info.plan == plan
    result = follow_job(job, Recorder(), jobs=jobs)
    assert result.ok
    assert find_unseen_job(jobs) is None


def test_second_job_on_the_host_gets_a_clear_message(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    plan = _plan(_sh("a", "true"))
    job, lock, journal = prepare_job(plan, jobs, _owner())
    try:
        info = find_unseen_job(jobs)
        assert info is not None and info.running and info.job == job
        with pytest.raises(JobBusy, match=f"Another dlenv job \\({job}\\) is running"):
            prepare_job(plan, jobs, _owner())
    finally:
        journal.close()
        lock.release()


def test_worker_that_died_is_reported_as_interrupted(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    plan = _plan(_sh("a", "true"))
    job, lock, journal = prepare_job(plan, jobs, _owner())
    journal.write(Event(kind=EventKind.JOB_STARTED, job=job))
    journal.close()
    lock.release()  # as if the worker was killed: no job_finished
    result = follow_job(job, Recorder(), jobs=jobs)
    assert not result.ok
    assert "stopped without finishing" in result.message


def test_cancel_from_the_client_stops_the_worker_before_the_next_step(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    plan = _plan(_sh("a", "sleep 1; echo a-done"), _sh("b", "echo b"))
    job, lock, journal = prepare_job(plan, jobs, _owner())
    thread = threading.Thread(target=run_job, args=(plan, job, journal, jobs))
    thread.start()
    cancel = threading.Event()
    cancel.set()
    rec = Recorder()
    result = follow_job(job, rec, cancel, jobs=jobs)
    thread.join()
    journal.close()
    lock.release()
    # The running step was not cut off; the next one never started.
    assert "a-done" in rec.lines("a")
    assert result.outcomes == {"a": StepOutcome.OK}
    assert not result.ok
    assert "Cancelled" in result.message


# ---------------------------------------------------------------------------------------------
# sudo command lines


def test_password_never_reaches_the_sudo_command_line() -> None:
    argv = launch_argv("password", worker_command("/opt/py/bin/python"))
    assert argv[:4] == ["sudo", "-S", "-p", PROMPT]
    assert argv[-4:] == ["/opt/py/bin/python", "-I", "-m", "dlenv_tui.worker"]
    assert launch_argv("nopasswd", ["/x"])[:2] == ["sudo", "-n"]
    assert launch_argv("root", ["/x"]) == ["/x"]
    with pytest.raises(DlenvError, match="sudo is not installed"):
        launch_argv("none", ["/x"])


def test_lock_file_probe_does_not_block_a_worker(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jr.ensure_jobs_dir(jobs)
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            jr.lock_holder(jobs)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(20):
            lock = jr.HostLock(jobs)
            lock.acquire("x")
            lock.release()
    finally:
        stop.set()
        prober.join()
    fd = os.open(jobs / jr.LOCK_NAME, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    os.close(fd)


@given(
    st.builds(
        Event,
        kind=st.sampled_from(list(EventKind)),
        job=st.text(max_size=20),
        step=st.text(max_size=20),
        index=st.integers(0, 1000),
        total=st.integers(0, 1000),
        line=st.text(max_size=200),
        outcome=st.none() | st.sampled_from(list(StepOutcome)),
        exit_code=st.none() | st.integers(-255, 255),
        duration_s=st.none() | st.floats(0, 1e6),
        message=st.text(max_size=100),
        time=st.floats(0, 2e9),
    )
)
def test_journal_lines_round_trip(event: Event) -> None:
    raw = jr.encode_event(event)
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert jr.decode_event(raw) == event


def test_foreign_journal_lines_are_refused() -> None:
    for raw in (b"{}", b"[1]", b'{"kind": "nope"}', b'{"kind": "output", "line": 3}', b"{"):
        with pytest.raises(DataError):
            jr.decode_event(raw)


# ---------------------------------------------------------------------------------------------
# Jobs belong to their user; demo files cannot be redirected


def test_root_never_consumes_another_users_unseen_job(tmp_path: Path) -> None:
    """A finished, unseen job of uid 4242: root's dlenv neither offers it nor marks it seen."""
    if os.geteuid() != 0:
        pytest.skip("needs root to give a journal to another uid")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    job = "20260101T000000Z-0000beef"
    for suffix, text in ((".jsonl", '{"kind":"job_finished","outcome":"ok"}\n'), (".control", "")):
        path = jobs / f"{job}{suffix}"
        path.write_text(text)
        os.chown(path, 4242, 4242)
        path.chmod(0o600)
    assert find_unseen_job(jobs) is None
    assert (jobs / f"{job}.control").read_text() == ""  # not marked seen


def test_demo_profiles_live_in_a_private_dir_and_a_planted_link_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlenv_tui.demo import demo_profiles_dir

    monkeypatch.setenv("DLENV_CACHE_DIR", str(tmp_path / "cache"))
    first = demo_profiles_dir("ubuntu-4090")
    assert first == tmp_path / "cache" / "demo" / "ubuntu-4090" / "profiles"
    assert first.stat().st_mode & 0o777 == 0o700
    # Someone replaces the scenario's directory with a link to real profiles.
    real = tmp_path / "real-profiles"
    real.mkdir()
    (real / "keep.toml").write_text("schema = 1\n")
    target = tmp_path / "cache" / "demo" / "fedora-a100"
    target.symlink_to(real)
    other = demo_profiles_dir("fedora-a100")
    assert real not in other.parents and other != real / "profiles"
    assert not (real / "profiles").exists()
    assert (real / "keep.toml").read_text() == "schema = 1\n"
