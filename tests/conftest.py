"""Fixtures every layer shares: the committed fixture trees, recorded hosts, and async tests.

The layers: ``unit/`` (the headless core, fast), ``ui/`` (Pilot flows, snapshots, tmux) and
``real/`` (real engines, apt, root, the worker). Each layer's ``conftest.py`` holds its own
fixtures; no test module imports from another.
"""

from __future__ import annotations

import asyncio
import http.server
import inspect
import json
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dlenv_tui import compat
from dlenv_tui.model import HostFacts, from_data

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
SYSROOTS = FIXTURES / "sysroots"
"""Committed host trees for ``--sysroot`` (see ``fixtures/sysroots/README.md``)."""
FACTS = FIXTURES / "facts"
"""Recorded ``dlenv check --json`` outputs for ``--facts``."""

SYSROOT_NAMES = sorted(p.name for p in SYSROOTS.iterdir() if p.is_dir())
FACTS_NAMES = sorted(p.stem for p in FACTS.glob("*.json"))


@pytest.fixture(autouse=True)
def _no_registry_at_test_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pre-build checks (knowledge.verify) and the refresh ask a closed local port unless a
    test serves one: no network at test time, and the checks read as skipped."""
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", "http://127.0.0.1:9/whl")
    # the wizard's refresh offer probes the tag service the same way: a closed port, offline
    for var in ("DLENV_REFRESH_HUB_URL", "DLENV_REFRESH_TORCH_URL", "DLENV_REFRESH_REPOS_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Arguments that run a test over every recorded host, known when tests are collected:
    ``sysroot_name`` (every committed tree), ``doctor_sysroot_name`` (the doctor's trees) and ``recorded_host`` (every facts file, then every
    tree as ``tree:NAME``)."""
    if "sysroot_name" in metafunc.fixturenames:
        metafunc.parametrize("sysroot_name", SYSROOT_NAMES)
    if "doctor_sysroot_name" in metafunc.fixturenames:
        doctor = [name for name in SYSROOT_NAMES if name.startswith("doctor-")]
        metafunc.parametrize("doctor_sysroot_name", doctor)
    if "recorded_host" in metafunc.fixturenames:
        metafunc.parametrize("recorded_host", FACTS_NAMES + [f"tree:{t}" for t in SYSROOT_NAMES])


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """``async def`` tests run on a fresh event loop (no async plugin: Pilot needs nothing more)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout: where ``scripts/``, ``assets/`` and ``pyproject.toml`` are."""
    return TESTS.parent


@pytest.fixture(scope="session")
def dlenv_argv() -> list[str]:
    """The CLI as a subprocess test starts it: this interpreter running the package."""
    return [sys.executable, "-m", "dlenv_tui"]


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: sysroots, facts, knowledge responses, apt fixtures."""
    return FIXTURES


@pytest.fixture(scope="session")
def sysroot() -> Callable[[str], Path]:
    """``sysroot("ubuntu-24.04-rtx4090")`` → the path of that fixture host tree."""

    def find(name: str) -> Path:
        path = SYSROOTS / name
        assert path.is_dir(), f"no fixture sysroot {name!r} under {SYSROOTS}"
        return path

    return find


@pytest.fixture(scope="session")
def facts_file() -> Callable[[str], Path]:
    """``facts_file("arch-rtx4090")`` → the path of that recorded facts file."""

    def find(name: str) -> Path:
        path = FACTS / f"{name}.json"
        assert path.is_file(), f"no recorded facts {name!r} under {FACTS}"
        return path

    return find


@pytest.fixture(scope="session")
def fixture_facts(facts_file: Callable[[str], Path]) -> Callable[[str], HostFacts]:
    """``fixture_facts("debian-12-gtx1080")`` → the HostFacts of that recorded facts file."""

    def load(name: str) -> HostFacts:
        data: dict[str, Any] = json.loads(facts_file(name).read_text())
        return from_data(HostFacts, data["facts"])

    return load


@pytest.fixture
def no_gpu_facts_file(tmp_path: Path, facts_file: Callable[[str], Path]) -> Path:
    """The fresh Ubuntu 24.04 RTX 4090 facts with the GPU taken out, as a file under tmp_path."""
    data = json.loads(facts_file("ubuntu-24.04-rtx4090-fresh").read_text())
    data.get("facts", data)["gpus"] = []
    path = tmp_path / "nogpu.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="session")
def probed(sysroot: Callable[[str], Path]) -> Callable[[str], HostFacts]:
    """``probed("rocky-9-t4")`` → probe_host over that tree, without NVML."""
    from dlenv_tui.probe import LocalHost, probe_host

    def probe(name: str) -> HostFacts:
        return probe_host(LocalHost(sysroot(name)), nvml=False)

    return probe


async def _wait_for(pilot: Any, cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}; on {type(pilot.app.screen).__name__}")


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``await wait_for(pilot, cond, "what")``: poll ``cond`` between pauses, fail naming ``what``
    and the screen on time-out (workers are waited for, never slept on)."""
    return _wait_for


@pytest.fixture(scope="session")
def screen_name() -> Callable[[Any], str]:
    """``screen_name(app)`` → the class name of the screen on top."""
    return lambda app: type(app.screen).__name__


# --------------------------------------------------------------------------------------------
# dlenv data refresh against recorded responses (unit and UI tests both use it)


class _KnowledgeHandler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}
    cut: dict[str, int] = {}
    """path → bytes actually sent of a body whose Content-Length promises all of it."""

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: self.cut.get(self.path, len(body))])

    def log_message(self, *args: object) -> None:
        pass


def _repo_routes(repos: Path, prefix: str, **override: bytes) -> dict[str, bytes]:
    routes = {
        f"{prefix}/": (repos / "root.html").read_bytes(),
        f"{prefix}/debian12/x86_64/": (repos / "debian12-x86_64.html").read_bytes(),
        f"{prefix}/debian13/x86_64/": (repos / "debian13-x86_64.html").read_bytes(),
        f"{prefix}/rhel9/x86_64/": (repos / "rhel9-x86_64.html").read_bytes(),
    }
    routes.update({f"{prefix}{k}": v for k, v in override.items()})
    return routes


@pytest.fixture
def server(fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local HTTP server with the recorded responses of ``dlenv data refresh``'s sources
    (Docker Hub's tag pages, the torch index, NVIDIA's repository listings); its base URL."""
    recorded = fixtures_dir / "knowledge"
    repos = recorded / "nvidia-repos"
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KnowledgeHandler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    page1 = (recorded / "hub-page1.json").read_bytes().replace(b'"NEXT"', f'"{base}/hub2"'.encode())
    _KnowledgeHandler.routes = {
        "/hub": page1,
        "/hub2": (recorded / "hub-page2.json").read_bytes(),
        "/truncated": (recorded / "hub-truncated.json").read_bytes(),
        "/malformed": (recorded / "hub-malformed.json").read_bytes(),
        "/torch/": (recorded / "torch-index.html").read_bytes(),
        "/empty-torch/": b"<html><body></body></html>",
        **_repo_routes(repos, "/repos"),
        **_repo_routes(
            repos,
            "/repos-malformed",
            **{"/debian13/x86_64/": (repos / "malformed.html").read_bytes()},
        ),
        **_repo_routes(repos, "/repos-truncated"),
    }
    _KnowledgeHandler.cut = {"/repos-truncated/debian13/x86_64/": 200}
    monkeypatch.setenv("DLENV_REFRESH_REPOS_URL", f"{base}/repos/")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private DLENV_DATA_DIR, no proxy, and the compat tables reloaded around the test."""
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    compat.reload_data()
    yield tmp_path / "data"
    compat.reload_data()


class _Registry(http.server.BaseHTTPRequestHandler):
    """Docker Hub's manifest HEAD (401 + Bearer challenge, a token from the realm, then 200/404)
    and PyTorch's index pages (``/whl/<variant>/torch/``), for the checks before a build."""

    tags: set[str] = set()
    indexes: set[str] = set()
    heads: list[str] = []

    def do_GET(self) -> None:
        if self.path.startswith("/token?"):
            body = json.dumps({"token": "anon"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.end_headers()

    def do_HEAD(self) -> None:
        self.heads.append(self.path)
        if self.path.startswith("/v2/nvidia/cuda/manifests/"):
            if self.headers.get("Authorization") != "Bearer anon":
                host = self.headers["Host"]
                self.send_response(401)
                self.send_header(
                    "WWW-Authenticate",
                    f'Bearer realm="http://{host}/token",service="registry.docker.io",'
                    'scope="repository:nvidia/cuda:pull"',
                )
                self.end_headers()
                return
            tag = self.path.rsplit("/", 1)[1]
            self.send_response(200 if tag in self.tags else 404)
            self.end_headers()
            return
        parts = self.path.strip("/").split("/")  # whl/cu126/torch
        ok = len(parts) == 3 and parts[0] == "whl" and parts[1] in self.indexes
        self.send_response(200 if ok else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class RegistryServer:
    """The running fake registry: its base URL, the tags it holds (a test may delete some) and
    the HEAD paths it was asked for."""

    base: str
    tags: set[str]
    heads: list[str]


@pytest.fixture
def tags(fixtures_dir: Path) -> set[str]:
    """The nvidia/cuda tags of the recorded Docker Hub pages."""
    return {
        r["name"]
        for page in ("hub-page1.json", "hub-page2.json")
        for r in json.loads((fixtures_dir / "knowledge" / page).read_text())["results"]
    }


@pytest.fixture
def registry(
    monkeypatch: pytest.MonkeyPatch, tags: set[str], fixtures_dir: Path
) -> Iterator[RegistryServer]:
    """A local registry holding the recorded tags, and the torch indexes of the recorded PyTorch
    index page (cu118 … cu132); the checks before a build (DLENV_VERIFY_REGISTRY /
    DLENV_VERIFY_TORCH_BASE) ask it."""
    import re

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    page = (fixtures_dir / "knowledge" / "torch-index.html").read_text()
    _Registry.indexes = set(re.findall(r'href="/whl/([a-z0-9]+)/torch-', page))
    _Registry.tags = set(tags)
    _Registry.heads = []
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", base)
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", f"{base}/whl")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield RegistryServer(base, _Registry.tags, _Registry.heads)
    httpd.shutdown()
    httpd.server_close()
