"""Repository reachability: endpoints from plans, and real requests to local servers (no internet)."""

from __future__ import annotations

import errno
import http.server
import json
import shutil
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlenv_tui.cli import main
from dlenv_tui.model import Check, DownloadSpec, FileSpec, Plan, Stage, Status, Step, StepKind
from dlenv_tui.probe import load_facts
from dlenv_tui.probe.reach import (
    FIX,
    check_reachable,
    describe_error,
    parse_apt_list,
    parse_deb822_sources,
    parse_repo_file,
    plan_endpoints,
    url_origin,
)
from dlenv_tui.profiles import ProfileStore, recommended_profile

NVIDIA_DEV = "https://developer.download.nvidia.com"
GITHUB_IO = "https://nvidia.github.io"
DOCKER = "https://download.docker.com"
#: The hosts the default image build uses (issue 13: check --network tests them too): the base
#: image's registry, its apt archives (and the nvidia/cuda base's CUDA repository, which a host
#: plan on Ubuntu names first), the pip index and PyTorch's index.
BUILD = (
    "https://registry-1.docker.io",
    "http://archive.ubuntu.com",
    "http://security.ubuntu.com",
    "https://pypi.org",
    "https://download.pytorch.org",
)

# --------------------------------------------------------------------------------------------
# Which origins


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://download.docker.com/linux/ubuntu/gpg", DOCKER),
        ("https://Download.Docker.COM:443/linux", DOCKER),
        ("https://mirror.lab:8443/x", "https://mirror.lab:8443"),
        ("http://archive.ubuntu.com/ubuntu", "http://archive.ubuntu.com"),
        ("https://user:secret@repo.lab/x", "https://repo.lab"),
        ("https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443"),
        ("https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH)", GITHUB_IO),
        ("ftp://ftp.lab/x", ""),
        ("file:///srv/repo", ""),
        ("https://", ""),
        ("https://host:notaport/", ""),
        ("", ""),
    ],
)
def test_url_origin(url: str, origin: str) -> None:
    assert url_origin(url) == origin


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        (
            "# Written by dlenv\n"
            "deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] https://nvidia.github.io/a/$(ARCH) /\n"
            "#deb [signed-by=/usr/share/keyrings/k.gpg] https://nvidia.github.io/experimental /\n",
            ["https://nvidia.github.io/a/$(ARCH)"],
        ),
        (
            "deb http://archive.ubuntu.com/ubuntu noble main  # the archive\n"
            "deb-src\thttps://src.lab/ubuntu noble main\n"
            "debx https://not.a.line/ x\n"
            "deb [broken\n",
            ["http://archive.ubuntu.com/ubuntu", "https://src.lab/ubuntu"],
        ),
        ("", []),
    ],
)
def test_parse_apt_list(text: str, urls: list[str]) -> None:
    assert parse_apt_list(text) == urls


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        (
            "# Written by dlenv: Docker CE\nTypes: deb\nURIs: https://download.docker.com/linux/ubuntu\n"
            "Suites: noble\nComponents: stable\nSigned-By: /etc/apt/keyrings/docker.asc\n",
            ["https://download.docker.com/linux/ubuntu"],
        ),
        (
            "Types: deb\nuris: https://a.lab/x https://b.lab/y\n  https://c.lab/z\nSuites: noble\n"
            "\n"
            "Enabled: no\nTypes: deb\nURIs: https://disabled.lab/\n"
            "\n"
            "# URIs: https://commented.lab/\nTypes: deb\nURIs: https://d.lab/\n",
            ["https://a.lab/x", "https://b.lab/y", "https://c.lab/z", "https://d.lab/"],
        ),
    ],
)
def test_parse_deb822_sources(text: str, urls: list[str]) -> None:
    assert parse_deb822_sources(text) == urls


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        (
            # the shape of nvidia-container-toolkit.repo
            "[nvidia-container-toolkit]\nname=nvidia-container-toolkit\n"
            "baseurl=https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch\n"
            "repo_gpgcheck=1\ngpgcheck=0\nenabled=1\n"
            "gpgkey=https://nvidia.github.io/libnvidia-container/gpgkey\n"
            "\n[nvidia-container-toolkit-experimental]\n"
            "baseurl=https://experimental.lab/rpm/$basearch\nenabled=0\n",
            [
                "https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch",
                "https://nvidia.github.io/libnvidia-container/gpgkey",
            ],
        ),
        (
            "[cuda]\nbaseurl=https://one.lab/a\n  https://two.lab/b\nmetalink=https://meta.lab/m?r=$releasever\n",
            ["https://one.lab/a", "https://two.lab/b", "https://meta.lab/m?r=$releasever"],
        ),
        ("baseurl=https://no.section.lab/\n", ["https://no.section.lab/"]),
    ],
)
def test_parse_repo_file(text: str, urls: list[str]) -> None:
    assert parse_repo_file(text) == urls


@given(st.text())
def test_parsers_never_crash(text: str) -> None:
    for parse in (parse_apt_list, parse_deb822_sources, parse_repo_file):
        assert all(isinstance(u, str) for u in parse(text))
    assert isinstance(url_origin(text), str)


def test_plan_endpoints_reads_downloads_argv_and_repo_files() -> None:
    plan = Plan(
        stage=Stage.TOOLKIT,
        steps=(
            Step("a", "key", kind=StepKind.DOWNLOAD, download=DownloadSpec(f"{DOCKER}/gpg", "/k")),
            Step("b", "rpm", argv=("dnf", "install", "-y", "https://rpm.lab/x.rpm", "pkg")),
            Step("c", "shell text is not a URL", argv=("echo", "see https://docs.lab/")),
            Step(
                "d",
                "list",
                kind=StepKind.WRITE_FILE,
                file=FileSpec("/etc/apt/sources.list.d/x.list", "deb https://apt.lab/ x main\n"),
            ),
            Step(
                "e",
                "repo",
                kind=StepKind.WRITE_FILE,
                file=FileSpec("/etc/yum.repos.d/x.repo", "[x]\nbaseurl=https://rpm.lab/el9\n"),
            ),
            Step(
                "f",
                "other",
                kind=StepKind.WRITE_FILE,
                file=FileSpec("/etc/docker/daemon.json", '{"url": "https://no.lab"}'),
            ),
        ),
    )
    assert plan_endpoints([plan]) == (DOCKER, "https://rpm.lab", "https://apt.lab")


@pytest.mark.parametrize(
    ("facts", "engine", "origins"),
    [
        ("ubuntu-24.04-rtx4090-fresh", None, (NVIDIA_DEV, GITHUB_IO, DOCKER)),
        ("ubuntu-24.04-rtx4090-fresh", "podman", (NVIDIA_DEV, GITHUB_IO)),
        ("debian-12-gtx1080", None, (NVIDIA_DEV, GITHUB_IO, DOCKER)),
        ("ubuntu-22.04-l4-secureboot", None, (GITHUB_IO, DOCKER)),
        ("fedora-43-a100-secureboot", None, ("https://mirrors.rpmfusion.org", GITHUB_IO)),
        ("opensuse-leap-15.6-rtx4090", None, ("https://download.nvidia.com", GITHUB_IO)),
        ("rocky-9-l4-installed", None, ()),
    ],
)
def test_plan_endpoints_for_fixture_hosts(
    facts: str,
    engine: str | None,
    origins: tuple[str, ...],
    facts_file: Callable[[str], Path],
) -> None:
    from dlenv_tui.model import EngineName
    from dlenv_tui.plan import plan_all

    host = load_facts(facts_file(facts))
    profile = recommended_profile("p", host, engine=EngineName(engine) if engine else None)
    assert plan_endpoints(plan_all(host, profile)) == origins


# --------------------------------------------------------------------------------------------
# Real requests to local servers


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "no_proxy",
        "NO_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost made by the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-addext",
         "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return d / "cert.pem", d / "key.pem"


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[str] = []

    def do_HEAD(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(self.status)
        if self.status in (301, 302):
            self.send_header("Location", "https://elsewhere.invalid/")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that rejects our certificate aborts the handshake: expected here


@pytest.fixture(scope="module")
def server(cert: tuple[Path, Path]) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1; yields its origin."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("status", [200, 301, 404, 405])
def test_any_http_answer_is_reachable(
    server: str, cert: tuple[Path, Path], status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_Handler, "status", status)
    _Handler.seen.clear()
    (row,) = check_reachable([server + "/some/path"], cafile=str(cert[0]))
    assert row.status is Status.OK, row
    assert row.title == server.removeprefix("https://")
    assert row.detail.startswith("reachable in ") and row.detail.endswith(" ms")
    assert row.fix == ""
    assert _Handler.seen == ["HEAD /"]  # one request to the origin; a redirect is not followed


def test_mixed_rows_keep_the_order_and_merge_origins(server: str, cert: tuple[Path, Path]) -> None:
    closed = f"https://127.0.0.1:{_closed_port()}"
    rows = check_reachable(
        [server + "/a", "https://nonexistent.invalid/x", closed, server + "/b"], cafile=str(cert[0])
    )
    assert [(r.title, r.status) for r in rows] == [
        (server.removeprefix("https://"), Status.OK),
        ("nonexistent.invalid", Status.WARN),
        (closed.removeprefix("https://"), Status.WARN),
    ]
    assert rows[1].detail == "could not connect: the name does not resolve (DNS)"
    assert rows[2].detail == "could not connect: the connection was refused"
    assert rows[1].fix == rows[2].fix == FIX
    assert all(r.id == f"reach.{r.title}" for r in rows)


def test_untrusted_certificate(server: str) -> None:
    (row,) = check_reachable([server])  # the system CA bundle does not know our test CA
    assert row.status is Status.WARN
    assert row.detail.startswith("could not connect: its TLS certificate is not trusted (")
    assert "self-signed" in row.detail or "self signed" in row.detail


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:  # listens, never accepts: the TLS handshake gets no answer
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        (row,) = check_reachable([f"https://127.0.0.1:{port}"], timeout=0.5)
    assert (row.status, row.detail) == (Status.WARN, "could not connect: no answer within 0.5 s")


def test_proxy_from_the_environment_is_used(
    server: str, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv("https_proxy", f"http://user:pw@127.0.0.1:{port}")
    (row,) = check_reachable(["https://repo.example.invalid/"])
    assert row.detail == (
        f"could not connect through the proxy 127.0.0.1:{port}: the connection was refused by the proxy"
    )
    assert "pw" not in row.detail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    (direct,) = check_reachable([server], cafile=str(cert[0]))
    assert direct.status is Status.OK
    assert "proxy" not in direct.detail


def test_requests_go_through_a_connect_proxy(
    server: str, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    class Tunnel(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            seen.append(line)
            host, port = line.split()[1].rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pipe = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                pipe.start()
                _pump(self.request, upstream)
                pipe.join(5)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel) as proxy:
        proxy.daemon_threads = True
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        port = proxy.server_address[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        (row,) = check_reachable([server], cafile=str(cert[0]))
        proxy.shutdown()
    assert row.status is Status.OK, row
    assert row.detail.endswith(f" ms through the proxy 127.0.0.1:{port}")
    assert [line.rsplit(" ", 1)[0] for line in seen] == [
        f"CONNECT {server.removeprefix('https://')}"
    ]


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def test_nothing_to_check() -> None:
    assert check_reachable([]) == ()
    assert check_reachable(["ftp://x/"]) == ()


@pytest.mark.parametrize(
    ("exc", "proxy", "words"),
    [
        (
            urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
            "",
            "the name does not resolve (DNS)",
        ),
        (
            urllib.error.URLError(socket.gaierror(-2, "x")),
            "p:3128",
            "the proxy's name does not resolve (DNS)",
        ),
        (
            urllib.error.URLError(OSError(errno.ENETUNREACH, "Network is unreachable")),
            "",
            "the network is unreachable (no route)",
        ),
        (
            urllib.error.URLError(OSError(errno.EHOSTUNREACH, "No route to host")),
            "",
            "the host is unreachable (no route)",
        ),
        (
            urllib.error.URLError(OSError("Tunnel connection failed: 403 Forbidden")),
            "p:3128",
            "the proxy refused to connect to it (403 Forbidden)",
        ),
        (
            urllib.error.URLError(ConnectionResetError(errno.ECONNRESET, "reset")),
            "",
            "the connection was reset",
        ),
        (urllib.error.URLError(TimeoutError("timed out")), "", "no answer within 3 s"),
    ],
)
def test_describe_error(exc: BaseException, proxy: str, words: str) -> None:
    assert describe_error(exc, 3.0, proxy) == words


# --------------------------------------------------------------------------------------------
# dlenv check --network


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, ...]]:
    """Stands in for check_reachable: records the origins and answers one warn row each."""
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path))
    calls: list[tuple[str, ...]] = []

    def fake(
        urls: Sequence[str], timeout: float = 3.0, max_workers: int = 8, **kw: object
    ) -> tuple[Check, ...]:
        calls.append(tuple(urls))
        return tuple(
            Check(f"reach.{u}", u, Status.WARN, "could not connect: test", FIX) for u in urls
        )

    monkeypatch.setattr("dlenv_tui.probe.reach.check_reachable", fake)
    return calls


def test_check_network_uses_the_recommended_plans(
    recorded: list[tuple[str, ...]],
    capsys: pytest.CaptureFixture[str],
    facts_file: Callable[[str], Path],
) -> None:
    code = main(
        ["check", "--facts", str(facts_file("ubuntu-24.04-rtx4090-fresh")), "--network", "--json"]
    )
    assert code == 0  # unreachable repositories warn, they do not fail
    assert recorded == [(NVIDIA_DEV, GITHUB_IO, DOCKER, *BUILD)]
    rows = json.loads(capsys.readouterr().out)["checks"]
    assert [r["title"] for r in rows[-8:]] == [NVIDIA_DEV, GITHUB_IO, DOCKER, *BUILD]


def test_check_profile_uses_that_profiles_plans(
    recorded: list[tuple[str, ...]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    facts_file: Callable[[str], Path],
) -> None:
    from dlenv_tui.model import EngineName

    host = load_facts(facts_file("ubuntu-24.04-rtx4090-fresh"))
    ProfileStore(tmp_path / "profiles").save(
        recommended_profile("lab", host, engine=EngineName.PODMAN)
    )
    facts = str(facts_file("ubuntu-24.04-rtx4090-fresh"))
    assert main(["check", "--facts", facts, "--profile", "lab"]) == 0
    assert recorded == [(NVIDIA_DEV, GITHUB_IO, *BUILD)]
    assert "could not connect: test" in capsys.readouterr().out


def test_check_network_without_a_plan(
    recorded: list[tuple[str, ...]],
    capsys: pytest.CaptureFixture[str],
    sysroot: Callable[[str], Path],
) -> None:
    assert main(["check", "--sysroot", str(sysroot("arch-rtx4090")), "--network"]) == 1
    # no host plan on Arch, but the image build still needs its hosts
    assert recorded == [(*BUILD[:3], NVIDIA_DEV, *BUILD[3:])]
    assert "nothing to reach" not in capsys.readouterr().out


def test_check_network_when_everything_is_installed(
    recorded: list[tuple[str, ...]],
    capsys: pytest.CaptureFixture[str],
    facts_file: Callable[[str], Path],
) -> None:
    assert main(["check", "--facts", str(facts_file("rocky-9-l4-installed")), "--network"]) == 0
    # the host plans download nothing; only the image build's hosts are left to try
    assert recorded == [(*BUILD[:3], NVIDIA_DEV, *BUILD[3:])]


def test_check_stays_offline_by_default(facts_file: Callable[[str], Path]) -> None:
    code = (
        "import sys\nfrom dlenv_tui.cli import main\n"
        f"main(['check', '--facts', {str(facts_file('ubuntu-24.04-rtx4090-fresh'))!r}])\n"
        "print('dlenv_tui.probe.reach' in sys.modules, 'urllib.request' in sys.modules, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stderr.strip() == "False False"


def test_reach_is_headless() -> None:
    code = "import sys, dlenv_tui.probe.reach; print('textual' in sys.modules or 'docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_check_network_trusts_the_profiles_ca_certs_as_the_build_does(
    server: str,
    cert: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    facts_file: Callable[[str], Path],
) -> None:
    """A pip index behind a TLS-intercepting proxy's CA (the profile's ``ca_certs``): the build
    trusts it, so `check --network` must too, not report the index unreachable."""
    from dlenv_tui.cli.check import network_checks
    from dlenv_tui.model import ImageOptions, Profile

    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr("dlenv_tui.probe.reach.plan_endpoints", lambda plans: ())
    image = ImageOptions(
        base_override="localhost/base:1",
        python_packages=("numpy",),
        jupyter=False,
        pip_index=server + "/simple",
        ca_certs=(str(cert[0]),),
    )
    ProfileStore(tmp_path / "profiles").save(Profile(name="corp", image=image))
    host = load_facts(facts_file("ubuntu-24.04-rtx4090-fresh"))
    (row,) = network_checks(host, "corp")
    assert row.title == server.removeprefix("https://")
    assert row.status is Status.OK, row.detail
