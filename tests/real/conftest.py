"""Real-layer fixtures: Docker and rootful Podman up (started by ``scripts/ci-engines`` or here,
as root), local base images, a client per engine, and the small profiles, builds and probes the
engine tests share."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dlenv_tui.engine import BuildProgress, EngineClient, EngineError, connect
from dlenv_tui.image import ImageUser, render_dockerfile
from dlenv_tui.model import EngineChoice, EngineName, ImageOptions, Profile, RunOptions

CI_ENGINES = Path(__file__).resolve().parents[2] / "scripts" / "ci-engines"
"""Installs, starts and stops the engines, and makes the local base images (no registry in CI)."""
BUSYBOX = "localhost/dlenv-test-busybox:latest"
DEBIAN = "localhost/dlenv-test-debian:bookworm"
USER = ImageUser("dev", 1234, 1234)
ENGINES = list(EngineName)


def _answers(engine: EngineName) -> bool:
    try:
        connect(engine, start_service=False).close()
    except EngineError:
        return False
    return True


@pytest.fixture(scope="session")
def engines_up() -> None:
    """Both engines answer: already started by scripts/ci-engines, or started here (root only)."""
    if all(_answers(e) for e in ENGINES):
        return
    if os.geteuid() != 0:
        pytest.skip("the engines are not running and starting dockerd / rootful podman needs root")
    out = subprocess.run([str(CI_ENGINES), "setup"], capture_output=True, text=True)
    if out.returncode != 0 or not all(_answers(e) for e in ENGINES):
        pytest.fail(
            f"scripts/ci-engines setup could not start the engines:\n{out.stdout}{out.stderr}"
        )


def _has_image(engine: EngineName, ref: str) -> bool:
    import docker.errors

    with connect(engine, start_service=False) as client:
        try:
            client.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return False
    return True


def _base(kind: str, ref: str) -> str:
    if not all(_has_image(e, ref) for e in ENGINES):
        subprocess.run([str(CI_ENGINES), kind, ref], check=True, capture_output=True)
    return ref


@pytest.fixture(scope="session")
def busybox(engines_up: None) -> str:
    return _base("base-busybox", BUSYBOX)


@pytest.fixture(scope="session")
def debian(engines_up: None) -> str:
    """A Debian userland image (the rootfs tarball is cached under /var/cache/dlenv-test)."""
    return _base("base-debian", DEBIAN)


@pytest.fixture(params=ENGINES, ids=lambda e: e.value)
def client(request: pytest.FixtureRequest, engines_up: None) -> Iterator[EngineClient]:
    with connect(request.param, start_service=False) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _small_profile(
    name: str, engine: EngineName, base: str, prefix: str = "dlenv-test", **run: object
) -> Profile:
    """A profile whose image is ``base`` plus dlenv's layers and nothing slow (no pip, no
    JupyterLab, no SSH), tagged ``localhost/{prefix}-{name}:latest``, without GPUs."""
    return Profile(
        name=name,
        engine=EngineChoice(engine=engine),
        image=ImageOptions(
            base_override=base,
            python_packages=(),
            jupyter=False,
            ssh=False,
            tmux=False,
            tag=f"localhost/{prefix}-{name}:latest",
        ),
        run=RunOptions(gpus="none", **run),  # type: ignore[arg-type]
    )


def _build(
    client: EngineClient, profile: Profile, **kw: object
) -> tuple[Profile, list[BuildProgress]]:
    kw.setdefault("user", USER)
    kw.setdefault("ssh_keys", "")
    rendered = render_dockerfile(profile, engine=client.engine, **kw)  # type: ignore[arg-type]
    events: list[BuildProgress] = []
    built = client.build(profile, rendered, events.append)
    return dataclasses.replace(profile, last_image=built), events


def _get(url: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _wait_exit(client: EngineClient, profile: Profile, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (
        client.status(profile) in ("running", "created", "configured")
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    return client.logs(profile)


def _ssh(
    key: Path, port: int, user: str, command: str, extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    argv = [
        "ssh", "-i", str(key), "-p", str(port), "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
        *extra, f"{user}@127.0.0.1", command,
    ]  # fmt: skip
    deadline = time.monotonic() + 20
    while True:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        # sshd needs a moment after the container starts (host key generation)
        if out.returncode != 255 or time.monotonic() > deadline or extra:
            return out
        time.sleep(0.5)


@pytest.fixture(scope="session")
def busybox_ref() -> str:
    """The local busybox base image's tag, for rendering (the ``busybox`` fixture builds it)."""
    return BUSYBOX


@pytest.fixture(scope="session")
def engine_cli() -> Callable[[EngineName], list[str]]:
    """``engine_cli(engine)`` → the engine's command line (``docker history``, ``podman inspect``)."""

    def cli(engine: EngineName) -> list[str]:
        if engine == EngineName.PODMAN:
            return ["podman"]
        docker = "/usr/bin/docker"
        return [docker] if Path(docker).exists() else [shutil.which("docker") or "docker"]

    return cli


@pytest.fixture(scope="session")
def image_user() -> ImageUser:
    """The user the engine tests' images get (as if ``sudo dlenv`` by UID/GID 1234)."""
    return USER


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """``free_port()`` → a TCP port on 127.0.0.1 that nothing listens on now."""
    return _free_port


@pytest.fixture(scope="session")
def small_profile() -> Callable[..., Profile]:
    """``small_profile(name, engine, base, prefix="dlenv-test", **run)``: see ``_small_profile``."""
    return _small_profile


@pytest.fixture(scope="session")
def build() -> Callable[..., tuple[Profile, list[BuildProgress]]]:
    """``build(client, profile, **render)`` → the profile with its built image, and the progress."""
    return _build


@pytest.fixture(scope="session")
def get() -> Callable[..., str]:
    """``get(url, timeout=15)`` → the body, retrying while the server starts."""
    return _get


@pytest.fixture(scope="session")
def wait_exit() -> Callable[..., str]:
    """``wait_exit(client, profile, timeout=30)`` → the logs once the container stopped."""
    return _wait_exit


@pytest.fixture(scope="session")
def ssh() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``ssh(key, port, user, command, extra=())``: ssh into 127.0.0.1, retrying while sshd starts."""
    return _ssh


@pytest.fixture
def ssh_key(tmp_path: Path) -> Path:
    """A fresh ed25519 key pair without a passphrase: the private key's path (``.pub`` beside)."""
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


@pytest.fixture(scope="session")
def worker_planner() -> ModuleType:
    """``worker_planner.py`` beside these tests, the root worker's test planner (real apt steps
    on ``hello`` / ``sl``), imported for the plans it makes (the worker runs it as a program)."""
    path = Path(__file__).with_name("worker_planner.py")
    spec = importlib.util.spec_from_file_location("worker_planner", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def handmade_wheel() -> ModuleType:
    """``handmade_wheel.py`` beside these tests: ``write_wheel(dir, name, version, files)`` makes a
    wheel without a network, and the file itself is a PEP 517 backend a test repository can use."""
    path = Path(__file__).with_name("handmade_wheel.py")
    spec = importlib.util.spec_from_file_location("handmade_wheel", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
