"""Builds behind a TLS-intercepting proxy with its own CA, on real Docker and Podman (issue 13).

The test starts mitmproxy (PyPI) on 127.0.0.1 with a CA it makes in a temporary directory; the
build reaches Debian's archive (http) and PyPI (https, re-signed by that CA) only through it. With
the CA given as ``ca_certs`` the default stack's shape builds (apt, the user, a venv, uv, a few
small packages); without it the build fails with a sentence that names the option. Credentials in
the proxy and mirror URLs are then looked for in the image's history, config and files.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui.engine import EngineClient, EngineError
from dlenv_tui.image import ImageError, ImageUser, render_dockerfile
from dlenv_tui.model import EngineName, Profile

pytestmark = [pytest.mark.engine, pytest.mark.timeout(900)]

MITMDUMP = Path(sys.executable).parent / "mitmdump"
SECRET = "S3cretPw9"
PROXY_SECRET = "Pr0xyPw7"


@dataclasses.dataclass
class Proxy:
    url: str
    ca: Path
    log: Path


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]
) -> Iterator[Proxy]:
    if not MITMDUMP.exists():
        pytest.skip("mitmproxy is not installed (pip install mitmproxy)")
    conf = tmp_path_factory.mktemp("mitm")
    log = conf / "flows.log"
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                str(MITMDUMP),
                "--listen-host",
                "127.0.0.1",
                "--listen-port",
                str(port),
                "--set",
                f"confdir={conf}",
                # this machine's own egress is TLS-intercepted too: trust its CA upstream
                "--set",
                "ssl_verify_upstream_trusted_ca=/etc/ssl/certs/ca-certificates.crt",
                "--flow-detail",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        ca = conf / "mitmproxy-ca-cert.pem"
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                if ca.exists():
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
        else:
            pytest.fail(f"mitmdump did not start: {log.read_text()}")
        # the CA file next to a private key, as users often have it: only the certificate may travel
        bundle = conf / "corp-ca.pem"
        bundle.write_bytes((conf / "mitmproxy-ca.pem").read_bytes())
        assert b"PRIVATE KEY" in bundle.read_bytes()
        yield Proxy(f"http://dlenv:{PROXY_SECRET}@127.0.0.1:{port}", bundle, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def proxy_profile(small_profile: Callable[..., Profile]) -> Callable[..., Profile]:
    """``proxy_profile(engine, base, *, ca, mirror="")``: the default stack's shape, small."""

    def make(engine: EngineName, base: str, *, ca: Path | None, mirror: str = "") -> Profile:
        p = small_profile(f"proxy-{engine.value}", engine, base)
        return dataclasses.replace(
            p,
            image=dataclasses.replace(
                p.image,
                python_packages=("tqdm",),
                extra_pip=("six", "idna"),
                ssh=True,
                tmux=True,
                apt_mirror=mirror,
                ca_certs=(str(ca),) if ca else (),
            ),
        )

    return make


@pytest.fixture
def proxied_build(image_user: ImageUser) -> Callable[..., Profile]:
    """``proxied_build(client, profile, proxy)``: build only through the proxy."""

    def run(client: EngineClient, profile: Profile, proxy: Proxy) -> Profile:
        env = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost"}
        rendered = render_dockerfile(
            profile, engine=client.engine, user=image_user, ssh_keys="", proxy_env=env
        )
        assert rendered.network == "host"
        built = client.build(profile, rendered)
        return dataclasses.replace(profile, last_image=built)

    return run


def test_without_the_ca_the_build_fails_naming_the_option(
    client: EngineClient,
    debian: str,
    proxy: Proxy,
    proxied_build: Any,
    proxy_profile: Any,
) -> None:
    profile = proxy_profile(client.engine, debian, ca=None)
    with pytest.raises(EngineError) as exc:
        proxied_build(client, profile, proxy)
    first = str(exc.value).splitlines()[0]
    assert "ca_certs" in first and "TLS certificate was not trusted" in first, str(exc.value)
    # the whole failing command and the last lines of its output come with it
    assert "pip install" in str(exc.value) and "Last " in str(exc.value)


def test_with_the_ca_the_stack_builds_through_the_proxy_and_keeps_no_secret(
    client: EngineClient,
    debian: str,
    proxy: Proxy,
    proxied_build: Any,
    proxy_profile: Any,
    image_user: ImageUser,
    engine_cli: Any,
) -> None:
    if client.engine == EngineName.DOCKER:
        # the classic builder has no build mounts: such a URL is refused there with a sentence
        with pytest.raises(ImageError, match="Credentials in the apt mirror"):
            render_dockerfile(
                proxy_profile(
                    client.engine,
                    debian,
                    ca=proxy.ca,
                    mirror=f"http://u:{SECRET}@deb.debian.org/debian",
                ),
                engine=client.engine,
                user=image_user,
                ssh_keys="",
                buildkit=False,
            )
    # both engines: Podman's buildah and Docker's BuildKit (asked for through its API) bind-mount
    # the netrc into the RUN steps that need it
    mirror = f"http://dlenv:{SECRET}@deb.debian.org/debian"
    before = proxy.log.stat().st_size
    profile = proxied_build(
        client, proxy_profile(client.engine, debian, ca=proxy.ca, mirror=mirror), proxy
    )
    assert profile.last_image is not None
    flows = proxy.log.read_text()[before:]
    # apt (http) and PyPI (https, re-signed by the proxy's CA) both went through the proxy
    assert "deb.debian.org" in flows, flows[-2000:]
    assert "pypi.org" in flows or "files.pythonhosted.org" in flows, flows[-2000:]

    cli = engine_cli(client.engine)
    tag = profile.last_image.tag
    history = subprocess.run(
        [*cli, "history", "--no-trunc", tag], capture_output=True, text=True, check=True
    ).stdout
    inspect = subprocess.run(
        [*cli, "image", "inspect", tag], capture_output=True, text=True, check=True
    ).stdout
    assert "apt-mirror.sh" in history  # the history is really there to look at
    for secret in (SECRET, PROXY_SECRET):
        assert secret not in history
        assert secret not in inspect
    # every file of the image (and the CA directory holds the certificate, not the key)
    scan = subprocess.run(
        [
            *cli,
            "run",
            "--rm",
            "--user",
            "0",
            "--entrypoint",
            "sh",
            tag,
            "-c",
            f"grep -rl -e {SECRET} -e {PROXY_SECRET} "
            "/etc /usr /opt /home /root /var /workspace /run 2>/dev/null; "
            "grep -rl 'PRIVATE KEY' /usr/local/share/ca-certificates /etc/ssl/certs; "
            "python -c 'import six, idna, tqdm; print(\"imports ok\")'",
        ],
        capture_output=True,
        text=True,
    )
    assert scan.stdout.strip().splitlines() == ["imports ok"], scan.stdout + scan.stderr
