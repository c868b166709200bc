"""Verify before acting: before a build dlenv asks the registry whether the chosen nvidia/cuda tag
exists (a manifest HEAD with Docker Hub's anonymous token) and the PyTorch index whether it answers.
A local server stands in for both, answering like Docker Hub: 401 with a Bearer challenge, a token
from the realm, then 200 or 404. The tags it holds are the recorded tag listing of
tests/fixtures/knowledge (hub-page1/2.json) less the ones a test deletes."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlenv_tui.cli import main
from dlenv_tui.knowledge import verify
from dlenv_tui.model import ImageOptions, Profile
from dlenv_tui.profiles import ProfileStore


class _Registry(http.server.BaseHTTPRequestHandler):
    tags: set[str] = set()
    indexes: set[str] = {"cu126", "cu128", "cu130"}
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


@pytest.fixture
def tags(fixtures_dir: Path) -> set[str]:
    """The nvidia/cuda tags of the recorded Docker Hub pages."""
    return {
        r["name"]
        for page in ("hub-page1.json", "hub-page2.json")
        for r in json.loads((fixtures_dir / "knowledge" / page).read_text())["results"]
    }


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch, tags: set[str]) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    _Registry.tags = set(tags)
    _Registry.heads = []
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", base)
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", f"{base}/whl")
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_an_existing_tag_passes_with_the_token_flow(registry: str, tags: set[str]) -> None:
    assert "13.2.2-cudnn-runtime-ubuntu24.04" in tags
    check = verify.check_base("nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04")
    assert check is not None and check.ok is True
    # first HEAD without a token (401), then with it
    assert _Registry.heads.count("/v2/nvidia/cuda/manifests/13.2.2-cudnn-runtime-ubuntu24.04") == 2


def test_a_deleted_tag_offers_the_newest_existing_patch_release(registry: str) -> None:
    # NVIDIA deletes superseded patch tags: 13.2.1 is gone, 13.2.2 is there
    _Registry.tags.discard("13.2.1-cudnn-runtime-ubuntu24.04")
    known = [
        "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04",
        "nvidia/cuda:13.2.0-cudnn-runtime-ubuntu24.04",
    ]
    check = verify.check_base("nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04", known)
    assert check is not None and check.ok is False
    assert check.suggestion == "nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04"
    assert "is not on the registry" in check.message and check.message.count(". ") == 0


def test_the_torch_index_is_checked(registry: str) -> None:
    ok = verify.check_torch_index("https://download.pytorch.org/whl/cu126")
    gone = verify.check_torch_index("https://download.pytorch.org/whl/cu125")
    assert ok is not None and ok.ok is True
    assert gone is not None and gone.ok is False and "HTTP 404" in gone.message


def test_offline_the_checks_say_they_were_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DLENV_VERIFY_REGISTRY", "http://127.0.0.1:9")
    monkeypatch.setenv("DLENV_VERIFY_TORCH_BASE", "http://127.0.0.1:9/whl")
    df = "RUN uv pip install --extra-index-url https://download.pytorch.org/whl/cu126 torch\n"
    report = verify.report_before_build("nvidia/cuda:12.8.1-runtime-ubuntu24.04", df, "p")
    assert not report.stop
    assert len(report.lines) == 2 and all("was skipped" in line for line in report.lines)


def test_a_base_that_is_not_nvidia_cuda_is_not_checked() -> None:
    assert verify.check_base("localhost/my-base:1") is None


def test_cli_build_stops_before_the_engine_with_the_offer(
    registry: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    ProfileStore().save(Profile(name="full", image=ImageOptions(cuda="13.2", ssh=False)))
    assert main(["dockerfile", "full"]) == 0
    base = next(
        line.split()[1] for line in capsys.readouterr().out.splitlines() if line.startswith("FROM ")
    )
    _Registry.tags.discard(base.split(":", 1)[1])
    # no engine is needed: the check stops the build before dlenv connects to one
    assert main(["build", "full"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not on the registry" in err
    assert "dlenv profiles set full image.base_override=nvidia/cuda:" in err
