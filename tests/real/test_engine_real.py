"""Build, run, relaunch and stop generated images on real Docker and Podman (acceptance for issue 5).

The engines come from `scripts/ci-engines setup` (scripts/test runs it first); run standalone as root,
the session fixture starts them itself. Base images are made locally: no registry is reachable in CI.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.engine import (
    EngineClient,
    EngineError,
    connect,
    connection_help,
)
from dlenv_tui.image import ImageUser
from dlenv_tui.model import (
    EngineName,
    Mount,
    PortMap,
)

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]

CDI_SPEC = Path("/etc/cdi/dlenv-test.yaml")


def test_build_run_port_mount_owner_relaunch_stop(
    client: EngineClient,
    busybox: str,
    tmp_path: Path,
    small_profile: Any,
    free_port: Any,
    build: Any,
    get: Any,
) -> None:
    data = tmp_path / "data"
    work = tmp_path / "work"
    data.mkdir()
    work.mkdir()
    work.chmod(0o777)
    (data / "hello.txt").write_text("hello from the host")
    port = free_port()
    profile = small_profile(
        f"acc-{client.engine.value}",
        client.engine,
        busybox,
        ports=(PortMap(8080, port),),
        mounts=(Mount(str(data), "/data", read_only=True), Mount(str(work), "/work")),
        shm_size="64m",
    )
    profile, events = build(client, profile)

    # streamed progress: step i of n rising to n, with the log lines
    steps = [e.step for e in events if e.step]
    assert (
        steps == sorted(steps) and steps[-1] == events[-1].total >= 5
    )  # BuildKit counts FROM/RUN/COPY only
    assert any("setup-user.sh" in e.line for e in events)
    assert profile.last_image and profile.last_image.id.startswith("sha256:")
    assert profile.last_image.engine == client.engine.value

    # PID 1 ignores SIGTERM unless it traps it; without the trap each stop waits out the grace time
    script = (
        "trap 'exit 0' TERM; mkdir -p /tmp/www"
        " && { cat /data/hello.txt; if touch /data/x 2>/dev/null; then echo ' rw'; else echo ' ro'; fi;"
        " id -u; id -g; df -k /dev/shm | tail -1; } > /tmp/www/index.html"
        " && touch /work/made-in-container"
        " && { httpd -f -p 8080 -h /tmp/www & wait; }"
    )
    info = client.run(profile, command=["sh", "-c", script])
    page = get(f"http://127.0.0.1:{port}/").split("\n")
    assert page[0] == "hello from the host ro"  # mounted, and read-only where asked
    assert page[1:3] == ["1234", "1234"]  # the image's user, not root
    assert page[3].split()[1] == "65536"  # shm size in KiB
    made = work / "made-in-container"
    assert (made.stat().st_uid, made.stat().st_gid) == (1234, 1234)
    assert info.user == "1234:1234"

    attrs = client.client.containers.get(info.name).attrs
    bindings = attrs["HostConfig"]["PortBindings"]["8080/tcp"]
    assert bindings[0]["HostIp"] == "127.0.0.1"  # published on loopback only
    assert any(f"-L {port}:127.0.0.1:{port}" in line for line in connection_help(profile, info))

    # relaunch replaces the container of the same name
    again = client.run(profile, command=["sh", "-c", script])
    assert again.id != info.id
    names = [c.name for c in client.client.containers.list(all=True) if c.name == info.name]
    assert names == [info.name]
    with pytest.raises(Exception, match=r"(?i)no such|not found"):
        client.client.containers.get(info.id)
    assert get(f"http://127.0.0.1:{port}/").startswith("hello")

    # stop removes it
    assert client.stop(profile) is True
    assert client.status(profile) == "absent"
    assert client.stop(profile) is False


def test_running_as_root_when_asked(
    client: EngineClient, busybox: str, small_profile: Any, build: Any, wait_exit: Any
) -> None:
    profile = small_profile(
        f"root-{client.engine.value}", client.engine, busybox, as_root=True, ports=()
    )
    profile, _ = build(client, profile)
    info = client.run(profile, command=["id", "-u"])
    try:
        assert info.user == "0:0"
        assert wait_exit(client, profile).strip() == "0"
    finally:
        client.stop(profile)


def test_uid_taken_in_the_base_is_adopted(
    client: EngineClient, debian: str, small_profile: Any, build: Any, wait_exit: Any
) -> None:
    """Ubuntu 24.04 images ship ubuntu:1000:1000; the host user with 1000:1000 takes it over."""
    base = f"localhost/dlenv-test-ubuntu-like-{client.engine.value}:latest"
    _build_plain(
        client,
        base,
        f"FROM {debian}\nRUN groupadd -g 1000 ubuntu && useradd -m -u 1000 -g 1000 -s /bin/bash ubuntu\n",
    )
    profile = small_profile(f"taken-{client.engine.value}", client.engine, base, ports=())
    profile, _ = build(client, profile, user=ImageUser("alice", 1000, 1000))
    client.run(profile, command=["sh", "-c", "id; getent passwd 1000; ls -d /home/*"])
    try:
        out = wait_exit(client, profile)
    finally:
        client.stop(profile)
    assert "uid=1000(alice) gid=1000(alice)" in out
    assert "alice:x:1000:1000::/home/alice:/bin/bash" in out
    assert "ubuntu" not in out


def test_uid_taken_without_shadow_utils(
    client: EngineClient, busybox: str, small_profile: Any, build: Any, wait_exit: Any
) -> None:
    """A busybox-like base has no useradd: the script edits /etc/passwd and /etc/group itself."""
    base = f"localhost/dlenv-test-busybox-taken-{client.engine.value}:latest"
    _build_plain(
        client,
        base,
        f"FROM {busybox}\nRUN echo 'other:x:1234:1234::/home/other:/bin/sh' >> /etc/passwd"
        " && echo 'other:x:1234:' >> /etc/group\n",
    )
    profile = small_profile(f"taken-bb-{client.engine.value}", client.engine, base, ports=())
    profile, _ = build(client, profile)
    client.run(profile, command=["sh", "-c", "id; cat /etc/passwd; ls -ld /workspace"])
    try:
        out = wait_exit(client, profile)
    finally:
        client.stop(profile)
    assert "uid=1234(dev) gid=1234(dev)" in out
    assert "other:" not in out


def test_debian_stack_with_pip_ca_ssh_and_user(
    client: EngineClient,
    debian: str,
    small_profile: Any,
    free_port: Any,
    build: Any,
    ssh: Any,
    ssh_key: Path,
) -> None:
    """A real apt + venv + pip build through the TLS-intercepting proxy, then SSH in with a key."""
    key = ssh_key
    ssh_port = free_port()
    profile = dataclasses.replace(
        small_profile(
            f"deb-{client.engine.value}", client.engine, debian, ports=(PortMap(22, ssh_port),)
        ),
    )
    profile = dataclasses.replace(
        profile,
        image=dataclasses.replace(
            profile.image,
            extra_pip=("six",),
            ssh=True,
            tmux=True,
            ca_certs=tuple(sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))),
        ),
    )
    profile, events = build(client, profile, ssh_keys=key.with_suffix(".pub").read_text())
    assert any("pip install" in e.line and "six" in e.line for e in events)
    client.run(profile)
    try:
        out = ssh(
            key, ssh_port, "dev", "id -u; python -c 'import six; print(six.__version__)'; tmux -V"
        )
        assert out.returncode == 0, out.stderr
        lines = out.stdout.split()
        assert lines[0] == "1234"
        assert lines[1].count(".") == 2
        # never a password: the server does not even offer it
        refused = ssh(
            key, ssh_port, "dev", "true", extra=("-o", "PreferredAuthentications=password")
        )
        assert refused.returncode != 0
        assert "password" not in refused.stderr.split("(")[-1]
    finally:
        client.stop(profile)


def test_podman_gpu_request_reaches_the_container_through_cdi(
    busybox: str, small_profile: Any, build: Any, wait_exit: Any
) -> None:
    """No GPU here: a test CDI spec for nvidia.com/gpu stands in for `nvidia-ctk cdi generate`'s."""
    CDI_SPEC.parent.mkdir(parents=True, exist_ok=True)
    CDI_SPEC.write_text(
        'cdiVersion: "0.5.0"\n'
        "kind: nvidia.com/gpu\n"
        "devices:\n"
        "  - name: all\n"
        "    containerEdits:\n"
        "      env: [DLENV_TEST_GPU=all]\n"
        "      deviceNodes: [{path: /dev/nvidia-test, hostPath: /dev/null}]\n"
        '  - name: "0"\n'
        "    containerEdits:\n"
        "      env: [DLENV_TEST_GPU=0]\n"
    )
    try:
        with connect(EngineName.PODMAN, start_service=False) as client:
            # "1" is a count: the first GPU, CDI device "0"
            for gpus, expected in (("all", "all yes"), ("1", "0 no")):
                profile = small_profile("cdi", EngineName.PODMAN, busybox, ports=())
                profile = dataclasses.replace(
                    profile, run=dataclasses.replace(profile.run, gpus=gpus)
                )
                if profile.last_image is None:
                    profile, _ = build(client, profile)
                client.run(
                    profile,
                    command=[
                        "sh",
                        "-c",
                        "echo $DLENV_TEST_GPU $([ -c /dev/nvidia-test ] && echo yes || echo no)",
                    ],
                )
                try:
                    assert wait_exit(client, profile).strip() == expected
                finally:
                    client.stop(profile)
    finally:
        CDI_SPEC.unlink(missing_ok=True)


def test_podman_gpu_without_a_cdi_spec_is_one_sentence(
    busybox: str, small_profile: Any, build: Any
) -> None:
    with connect(EngineName.PODMAN, start_service=False) as client:
        profile = small_profile("nocdi", EngineName.PODMAN, busybox, ports=())
        profile, _ = build(client, profile)
        profile = dataclasses.replace(profile, run=dataclasses.replace(profile.run, gpus="7"))
        with pytest.raises(EngineError, match="CDI") as exc:
            client.run(profile)
        assert "\n" not in str(exc.value)
        assert client.status(profile) == "absent"


def test_docker_gpu_without_the_toolkit_is_one_sentence(
    busybox: str, small_profile: Any, build: Any
) -> None:
    with connect(EngineName.DOCKER, start_service=False) as client:
        profile = small_profile("nogpu", EngineName.DOCKER, busybox, ports=())
        profile, _ = build(client, profile)
        profile = dataclasses.replace(profile, run=dataclasses.replace(profile.run, gpus="all"))
        with pytest.raises(EngineError, match="NVIDIA Container Toolkit"):
            client.run(profile)
        assert client.status(profile) == "absent"


def test_missing_image_is_one_sentence(client: EngineClient, small_profile: Any) -> None:
    profile = small_profile("never-built", client.engine, "localhost/nothing:1")
    with pytest.raises(EngineError, match=r"does not exist .*dlenv build never-built"):
        client.run(profile)


def test_missing_base_image_fails_the_build_in_one_sentence(
    client: EngineClient, small_profile: Any, build: Any
) -> None:
    profile = small_profile("nobase", client.engine, "localhost/dlenv-no-such-base:1")
    with pytest.raises(EngineError, match=r"not available locally|build failed") as exc:
        build(client, profile)
    # one sentence naming the base first; then (Podman) the FROM step and its last output lines
    first, *rest = str(exc.value).splitlines()
    assert "localhost/dlenv-no-such-base:1" in first and first.endswith("."), first
    assert all(line.startswith(("Step ", "Last ", "  ")) for line in rest), rest


def test_name_taken_by_a_foreign_container(
    client: EngineClient, busybox: str, small_profile: Any, build: Any, get: Any
) -> None:
    profile = small_profile(f"foreign-{client.engine.value}", client.engine, busybox, ports=())
    profile, _ = build(client, profile)
    name = f"dlenv-{profile.name}"
    client.client.containers.create(busybox, ["true"], name=name)
    try:
        with pytest.raises(EngineError, match="is taken"):
            client.run(profile)
        with pytest.raises(EngineError, match="is taken"):
            client.stop(profile)
    finally:
        client.client.containers.get(name).remove(force=True)


def test_port_in_use(client: EngineClient, busybox: str, small_profile: Any, build: Any) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        profile = small_profile(
            f"port-{client.engine.value}", client.engine, busybox, ports=(PortMap(8080, port),)
        )
        profile, _ = build(client, profile)
        with pytest.raises(EngineError, match=f"Port {port} .* already in use"):
            client.run(profile)


def test_engine_down_is_one_sentence(tmp_path: Path) -> None:
    missing = str(tmp_path / "no.sock")
    for engine in EngineName:
        with pytest.raises(EngineError, match="is not answering on") as exc:
            connect(engine, start_service=False, sockets=[missing])
        assert "\n" not in str(exc.value)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)
def test_socket_permission_denied_is_one_sentence(engines_up: None, repo_root: Path) -> None:
    code = (
        "from dlenv_tui.engine import connect, EngineError\n"
        "from dlenv_tui.model import EngineName\n"
        "try:\n    connect(EngineName.DOCKER, start_service=False)\n"
        "except EngineError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=repo_root,
        env={**os.environ, "PYTHONPATH": str(repo_root), "DOCKER_HOST": ""},
    )
    assert out.stdout.startswith("Permission denied on /var/run/docker.sock"), (
        out.stdout + out.stderr
    )


def test_podman_service_started_when_no_socket_answers(engines_up: None, tmp_path: Path) -> None:
    sock = tmp_path / "podman.sock"
    client = connect(EngineName.PODMAN, sockets=[str(sock)])
    service = client.service
    try:
        assert service is not None and service.poll() is None
        assert client.client.version()["Version"]
    finally:
        client.close()
    assert service.poll() is not None  # stopped with the client


def _build_plain(client: EngineClient, tag: str, dockerfile: str) -> None:
    import io

    client.client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)


@pytest.mark.slow
def test_jupyterlab_starts_with_the_generated_token(
    debian: str, tmp_path: Path, small_profile: Any, free_port: Any, build: Any, get: Any
) -> None:
    """The whole launch path: JupyterLab in the venv, the token dlenv passed, the URL it reports."""
    port = free_port()
    profile = small_profile("jupyter", EngineName.PODMAN, debian, ports=(PortMap(8888, port),))
    profile = dataclasses.replace(
        profile,
        image=dataclasses.replace(
            profile.image,
            jupyter=True,
            ca_certs=tuple(sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))),
        ),
    )
    with connect(EngineName.PODMAN, start_service=False) as client:
        profile, _ = build(client, profile)
        info = client.run(profile)
        try:
            assert len(info.jupyter_token) == 48
            url = client.wait_for_jupyter(profile, info, timeout=90)
            assert url == f"http://127.0.0.1:{port}/lab?token={info.jupyter_token}"
            assert "<title>JupyterLab</title>" in get(url)
            # without the token the API refuses
            with pytest.raises(urllib.error.HTTPError, match="403"):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents", timeout=5)
            help_lines = connection_help(profile, info)
            assert help_lines[0] == f"JupyterLab: {url}"
        finally:
            client.stop(profile)
