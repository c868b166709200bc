"""A pip index that needs a login, started by the test: the build succeeds with the credentials in
the profile's URL, and they are in neither the image's history, its config, nor any of its files.

The index (PEP 503, basic auth, 401 without it) serves uv's wheel (fetched from PyPI once) and a
tiny wheel made here; the build reaches it on the host's network.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.server
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dlenv_tui.engine import EngineClient
from dlenv_tui.image import ImageUser, render_dockerfile
from dlenv_tui.model import EngineName, Profile

pytestmark = [pytest.mark.engine, pytest.mark.slow, pytest.mark.timeout(900)]

LOGIN = "dlenvidx"
SECRET = "IdxS3cret4u"
PACKAGE = "dlenv-auth-probe"


def _wheel(directory: Path) -> Path:
    """A pure-Python wheel with one module, ``dlenv_auth_probe``."""
    name = "dlenv_auth_probe-1.0-py3-none-any.whl"
    dist = "dlenv_auth_probe-1.0.dist-info"
    files = {
        "dlenv_auth_probe.py": b"OK = 'auth index ok'\n",
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: dlenv-auth-probe\nVersion: 1.0\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    out = directory / name
    with zipfile.ZipFile(out, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return out


@dataclasses.dataclass
class Index:
    url: str
    """Without credentials."""
    hits: list[tuple[str, int]]


@pytest.fixture(scope="module")
def index(
    tmp_path_factory: pytest.TempPathFactory, free_port: Callable[[], int]
) -> Iterator[Index]:
    root = tmp_path_factory.mktemp("auth-index")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(root), "uv"],
        check=True,
        capture_output=True,
    )
    _wheel(root)
    wheels = {p.name: p for p in root.glob("*.whl")}
    expected = "Basic " + base64.b64encode(f"{LOGIN}:{SECRET}".encode()).decode()
    hits: list[tuple[str, int]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, head: bool) -> None:
            if self.headers.get("Authorization") != expected:
                hits.append((self.path, 401))
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="dlenv"')
                self.end_headers()
                return
            parts = [p for p in self.path.split("/") if p]
            body: bytes | None = None
            ctype = "text/html"
            if len(parts) == 2 and parts[0] == "simple":
                project = parts[1]
                links = [
                    f'<a href="/files/{n}">{n}</a>'
                    for n in wheels
                    if n.split("-")[0].replace("_", "-").lower() == project
                ]
                body = (
                    ("<html><body>" + "".join(links) + "</body></html>").encode() if links else None
                )
            elif len(parts) == 2 and parts[0] == "files" and parts[1] in wheels:
                body, ctype = wheels[parts[1]].read_bytes(), "application/octet-stream"
            hits.append((self.path, 200 if body is not None else 404))
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Index(f"http://127.0.0.1:{port}/simple", hits)
    finally:
        server.shutdown()


def test_a_pip_index_with_a_login_builds_and_leaves_no_credential(
    client: EngineClient,
    debian: str,
    index: Index,
    small_profile: Callable[..., Profile],
    image_user: ImageUser,
    engine_cli: Callable[[EngineName], list[str]],
) -> None:
    p = small_profile(f"authidx-{client.engine.value}", client.engine, debian)
    url = index.url.replace("http://", f"http://{LOGIN}:{SECRET}@")
    profile = dataclasses.replace(
        p, image=dataclasses.replace(p.image, extra_pip=(PACKAGE,), pip_index=url)
    )
    rendered = render_dockerfile(profile, engine=client.engine, user=image_user, ssh_keys="")
    assert SECRET not in rendered.dockerfile
    # the index listens on the host's loopback: the build shares the host's network
    rendered = dataclasses.replace(rendered, network="host")
    before = len(index.hits)
    built = client.build(profile, rendered)
    hits = index.hits[before:]
    # the login was needed and given: files came only with it
    assert any(path.startswith("/files/dlenv_auth_probe") and code == 200 for path, code in hits)
    cli = engine_cli(client.engine)
    history = subprocess.run(
        [*cli, "history", "--no-trunc", built.tag], capture_output=True, text=True, check=True
    ).stdout
    inspect = subprocess.run(
        [*cli, "image", "inspect", built.tag], capture_output=True, text=True, check=True
    ).stdout
    assert "127.0.0.1" in history  # the clean index URL is there; its login is not
    assert SECRET not in history and SECRET not in inspect and LOGIN not in inspect
    scan = subprocess.run(
        [
            *cli,
            "run",
            "--rm",
            "--user",
            "0",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            built.tag,
            "-c",
            f"grep -rl -e {SECRET} /etc /usr /opt /home /root /var /workspace /run /tmp "
            "2>/dev/null; python -c 'import dlenv_auth_probe as m; print(m.OK)'",
        ],
        capture_output=True,
        text=True,
    )
    assert scan.stdout.strip() == "auth index ok", scan.stdout + scan.stderr
    subprocess.run([*cli, "rmi", "-f", built.tag], capture_output=True)
