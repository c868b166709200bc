"""`dlenv dockerfile|build|run|stop PROFILE`: the image and launch stages from the command line."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlenv_tui.model import EngineName

if TYPE_CHECKING:
    from dlenv_tui.engine import BuildProgress, EngineClient
    from dlenv_tui.image import RenderedImage
    from dlenv_tui.model import Profile


def register(sub: Any) -> None:
    engine_help = "use this engine instead of the profile's"

    p = sub.add_parser(
        "dockerfile",
        help="print the Dockerfile a profile builds",
        description=(
            "Print PROFILE's Dockerfile. With --output DIR, write the whole build context there "
            "(Dockerfile, entrypoint, sshd config, public keys, CA certificates) for `docker build DIR`."
        ),
    )
    p.add_argument("name", metavar="PROFILE")
    p.add_argument("--engine", choices=[e.value for e in EngineName], help=engine_help)
    p.add_argument(
        "--buildkit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use RUN --mount build mounts (default: on; off for Docker's classic builder)",
    )
    p.add_argument("--output", metavar="DIR", help="write the build context to DIR")
    p.set_defaults(func=run_dockerfile)

    p = sub.add_parser(
        "build",
        help="build a profile's image and record its tag and id in the profile",
        description="Build PROFILE's image with Docker or Podman, showing each step and the log.",
    )
    p.add_argument("name", metavar="PROFILE")
    p.add_argument("--engine", choices=[e.value for e in EngineName], help=engine_help)
    p.add_argument("--quiet", "-q", action="store_true", help="show steps only, not every log line")
    p.add_argument(
        "--upgrade",
        action="store_true",
        help="resolve the Python packages afresh instead of the lock, and show what changed",
    )
    p.set_defaults(func=run_build)

    p = sub.add_parser(
        "run",
        help="start (or replace) a profile's container and say how to connect",
        description=(
            "Start PROFILE's container with its GPUs, mounts and ports, then print how to "
            "connect. A stopped container of the profile is replaced; a running one only with "
            "--replace. The home inside the container and the SSH host keys live in named "
            "volumes that a relaunch keeps."
        ),
    )
    p.add_argument("name", metavar="PROFILE")
    p.add_argument("--engine", choices=[e.value for e in EngineName], help=engine_help)
    p.add_argument(
        "--wait",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="wait this long for JupyterLab to come up (0: don't wait)",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace the profile's container when it is running (its home volume stays)",
    )
    p.set_defaults(func=run_run)

    p = sub.add_parser(
        "info",
        help="show how to connect to a profile's running container, Jupyter URL included",
        description=(
            "Print the connection lines of PROFILE's running container again: the Jupyter URL "
            "with its token, ssh, exec and VS Code."
        ),
    )
    p.add_argument("name", metavar="PROFILE")
    p.add_argument("--engine", choices=[e.value for e in EngineName], help=engine_help)
    p.set_defaults(func=run_info)

    p = sub.add_parser(
        "stop",
        help="stop and remove a profile's container",
        description="Stop PROFILE's container and remove it (the image and mounted data stay).",
    )
    p.add_argument("name", metavar="PROFILE")
    p.add_argument("--engine", choices=[e.value for e in EngineName], help=engine_help)
    p.set_defaults(func=run_stop)


def _seconds(text: str) -> float:
    """--wait: a finite number of seconds, 0 or more."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def _load(name: str) -> Profile:
    from dlenv_tui.profiles import ProfileStore, validate_profile

    profile = ProfileStore().load(name)
    validate_profile(profile)
    return profile


def _engine(args: argparse.Namespace, profile: Profile) -> EngineName:
    if args.engine:
        return EngineName(args.engine)
    if profile.last_image and profile.last_image.engine in {e.value for e in EngineName}:
        # run/stop go where the image was built
        return EngineName(profile.last_image.engine)
    return profile.engine.engine


def _render(
    profile: Profile, engine: EngineName, buildkit: bool | None = None, upgrade: bool = False
) -> RenderedImage:
    from dlenv_tui.image import host_user, render_dockerfile

    # GPUs from the profile's host snapshot; the user is whoever runs this command now
    return render_dockerfile(
        profile, profile.host, engine, buildkit=buildkit, user=host_user(None), upgrade=upgrade
    )


def _notes(profile: Profile, engine: EngineName) -> tuple[tuple[str, ...], bool]:
    """The image's notes (as the Image and Launch screens show them) and whether an ``ssh`` line
    can log in, from what today's settings render; nothing when they no longer render."""
    from dlenv_tui.errors import DlenvError
    from dlenv_tui.image_notes import image_notes, ssh_has_no_key

    try:
        rendered = _render(profile, engine)
    except DlenvError:
        return (), True
    return image_notes(rendered), not ssh_has_no_key(rendered)


def _connect(engine: EngineName) -> EngineClient:
    from dlenv_tui.engine import connect

    return connect(engine)


def run_dockerfile(args: argparse.Namespace) -> int:
    profile = _load(args.name)
    engine = EngineName(args.engine) if args.engine else profile.engine.engine
    rendered = _render(profile, engine, args.buildkit)
    if args.output:
        out = Path(args.output)
        _write_context(out, {"Dockerfile": rendered.dockerfile.encode(), **rendered.files})
        _print_reasons(rendered, "# ")
        print(f"Wrote the build context to {out}: {engine.value} build -t {rendered.tag} {out}")
    else:
        _print_reasons(rendered, "# ")
        sys.stdout.write(rendered.dockerfile)
    return 0


_STEP_MARK = re.compile(r"^(?:CACHED )?\[\s*\d+/\d+\]\s*|^\s*(?:Step|STEP) \d+/\d+\s?:\s*")


def _print_reasons(rendered: RenderedImage, prefix: str) -> None:
    for reason in rendered.reasons:
        print(f"{prefix}{reason}", file=sys.stderr)


def _write_context(out: Path, files: dict[str, bytes]) -> None:
    """The build context under ``out``; one sentence (exit status 2) when ``out`` cannot hold it."""
    from dlenv_tui.errors import UsageError
    from dlenv_tui.fsutil import ReadError, refuse_symlink
    from dlenv_tui.image import SECRETS_DIR

    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} is a file; name a directory for the build context.")
    try:
        refuse_symlink(out, "--output")
        for name in files:
            refuse_symlink(out / name, "--output")
    except ReadError as exc:
        raise UsageError(str(exc)) from None
    try:
        for name, data in files.items():
            path = out / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.startswith(SECRETS_DIR + "/"):
                # mirror logins: the file stays readable for the build's non-root user (a bind
                # mount), the folder keeps every other user of this host out
                (out / SECRETS_DIR).chmod(0o700)
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
            )
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            if name.endswith(".sh"):
                path.chmod(0o755)
            elif name == "authorized_keys":
                path.chmod(0o600)
    except OSError as exc:
        where = exc.filename or out
        raise UsageError(
            f"cannot write the build context to {out} ({where}: {exc.strerror or exc}); "
            "name a directory you can write to."
        ) from None


def run_build(args: argparse.Namespace) -> int:
    profile = _load(args.name)
    engine = EngineName(args.engine) if args.engine else profile.engine.engine
    rendered = _render(profile, engine, upgrade=args.upgrade)
    if args.dry_run:
        _print_reasons(rendered, "dlenv: ")
        print(
            f"Would build {rendered.tag} with {engine.value} and record it in profile "
            f"{profile.name} (dry run: nothing was built or recorded)."
        )
        # the dry run's engine, as in the wizard: the Dockerfile's own steps, nothing invented
        from dlenv_tui.session import DRY_RUN, seams_for

        dry = seams_for(DRY_RUN).make_engine(engine)
        dry.build(profile, rendered, None if args.quiet else (lambda p: print(f"  {p.line}")))
        return 0
    from dlenv_tui.knowledge.verify import VerifyError, report_before_build

    verified = report_before_build(rendered.base, rendered.dockerfile, profile.name)
    if verified.stop:  # a lost tag: one sentence with the newest existing patch release
        raise VerifyError(verified.stop)
    print("".join(f"dlenv: {line}\n" for line in verified.lines), end="")
    last_step = [0]

    def show(p: BuildProgress) -> None:
        if p.step != last_step[0]:
            last_step[0] = p.step
            # one form for every engine: "[4/7] RUN …" (BuildKit, buildah and the classic
            # builder each mark the step their own way)
            command = _STEP_MARK.sub("", p.line, count=1)
            cached = " (cached)" if p.cached or p.line.startswith("CACHED ") else ""
            print(f"[{p.step}/{p.total}] {command}{cached}", flush=True)
        elif not args.quiet:
            print(f"      {p.line}", flush=True)

    from dlenv_tui import operations
    from dlenv_tui.doctor.gpucheck import after_build
    from dlenv_tui.profiles import ProfileStore
    from dlenv_tui.session import utc_now

    with _connect(engine) as client:
        # after connecting: an engine that does not answer is one line, not the notes and a line
        _print_reasons(rendered, "dlenv: ")
        ran = operations.build_image(
            profile,
            client,
            rendered,
            show,
            store=ProfileStore(),
            now=utc_now,
            check=lambda p: after_build(client, p),
            # stamped as the next `dlenv build` renders it: with the lock this build recorded
            render=lambda p: _render(p, engine),
        )
    built, profile = ran.built, ran.profile
    if built.gpu_check is not None:
        check = built.gpu_check
        print(f"In-image GPU check: {'ok' if check.ok else 'FAILED'}; {check.gpu}")
    if ran.record_error:
        print(f"dlenv: could not record the build in the profile: {ran.record_error}")
    report = ran.lock_report(upgrade=args.upgrade)
    if report is not None:
        print(report.heading)
        for change in report.changes:
            print(f"  {change}")
    print(
        f"Built {built.tag} ({built.id[:19]}) with {engine.value}; recorded in profile {profile.name}."
    )
    return 0


def run_run(args: argparse.Namespace) -> int:
    from dlenv_tui.engine import connection_help, container_name
    from dlenv_tui.engine.help import sudo_prefix
    from dlenv_tui.profiles import ProfileStore

    profile = _load(args.name)
    engine = _engine(args, profile)
    if args.dry_run:
        print(
            f"Would start {container_name(profile)} from {profile.last_image.tag if profile.last_image else 'its image (not built yet)'} "
            f"with {engine.value}, replacing one of the same name (dry run: nothing was started)."
        )
        return 0
    from dlenv_tui import operations

    with _connect(engine) as client:
        started = operations.launch(profile, client, store=ProfileStore(), replace=args.replace)
        info = started.info
        print(f"Started {info.name} from {info.image} with {engine.value} (user {info.user}).")
        if info.jupyter_token and args.wait > 0:
            print("Waiting for JupyterLab…", flush=True)
            if not client.wait_for_jupyter(profile, info, timeout=args.wait):
                print(
                    f"dlenv: JupyterLab did not report in {args.wait:.0f} s; "
                    f"see `{sudo_prefix()}{engine.value} logs {info.name}`.",
                    file=sys.stderr,
                )
    if started.record_error:
        print(f"dlenv: could not record the launch in the profile: {started.record_error}")
    notes, ssh_key = _notes(profile, engine)
    for note in notes:
        print(f"dlenv: {note}", file=sys.stderr)
    for line in connection_help(profile, info, ssh_key=ssh_key):
        print(line)
    return 0


def run_stop(args: argparse.Namespace) -> int:
    from dlenv_tui.engine import container_name

    profile = _load(args.name)
    engine = _engine(args, profile)
    name = container_name(profile)
    if args.dry_run:
        print(f"Would stop and remove {name} with {engine.value} (dry run: nothing was stopped).")
        return 0
    from dlenv_tui import operations

    with _connect(engine) as client:
        stopped = operations.stop(profile, client)
    print(f"Stopped and removed {name}." if stopped else f"{name} is not running; nothing to stop.")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from dlenv_tui.engine import connection_help, container_name
    from dlenv_tui.engine.help import sudo_prefix

    profile = _load(args.name)
    engine = _engine(args, profile)
    with _connect(engine) as client:
        info = client.info(profile)
        status = client.status(profile)
    if info is None:
        print(
            f"{container_name(profile)} does not exist; start it with "
            f"`{sudo_prefix()}dlenv run {profile.name}`.",
            file=sys.stderr,
        )
        return 1
    print(f"{info.name} ({status}) from {info.image} with {engine.value} (user {info.user}).")
    notes, ssh_key = _notes(profile, engine)
    for note in notes:
        print(f"dlenv: {note}", file=sys.stderr)
    for line in connection_help(profile, info, ssh_key=ssh_key):
        print(line)
    return 0 if status == "running" else 1
