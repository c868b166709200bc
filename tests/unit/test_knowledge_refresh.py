"""`dlenv data refresh` against a local HTTP server serving the recorded-format responses: the new
data is used by later decisions; a malformed or truncated response changes nothing."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dlenv_tui import compat
from dlenv_tui.cli import main
from dlenv_tui.knowledge.refresh import RefreshError, refresh
from dlenv_tui.locations import knowledge_file
from dlenv_tui.model import ImageVariant


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(fixtures_dir: Path) -> Iterator[str]:
    recorded = fixtures_dir / "knowledge"
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    page1 = (recorded / "hub-page1.json").read_bytes().replace(b'"NEXT"', f'"{base}/hub2"'.encode())
    _Handler.routes = {
        "/hub": page1,
        "/hub2": (recorded / "hub-page2.json").read_bytes(),
        "/truncated": (recorded / "hub-truncated.json").read_bytes(),
        "/malformed": (recorded / "hub-malformed.json").read_bytes(),
        "/torch/": (recorded / "torch-index.html").read_bytes(),
        "/empty-torch/": b"<html><body></body></html>",
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DLENV_DATA_DIR", str(tmp_path / "data"))
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    compat.reload_data()
    yield tmp_path / "data"
    compat.reload_data()


def _tag_13_2() -> str:
    return compat.image_tag("13.2", ImageVariant.RUNTIME, True, "24.04").value


def test_refresh_updates_the_decisions_and_says_as_of_when(server: str) -> None:
    assert _tag_13_2() == "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04"
    done = refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    assert done.tags == 745 and done.torch_releases == 4
    compat.reload_data()
    decision = compat.image_tag("13.2", ImageVariant.RUNTIME, True, "24.04")
    assert decision.value == "nvidia/cuda:13.2.2-cudnn-runtime-ubuntu24.04"
    assert any(f"image tags as of {done.as_of}" in r for r in decision.reasons)


def test_the_cli_prints_one_sentence(
    server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}/hub")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    assert main(["data", "refresh"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "image tags as of" in out


@pytest.mark.parametrize("path", ["/truncated", "/malformed", "/missing"])
def test_a_broken_tag_list_changes_nothing(
    server: str, path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a good refresh first, so there is data that must stay
    refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/torch/")
    before = knowledge_file().read_bytes()
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", f"{server}{path}")
    monkeypatch.setenv("DLENV_REFRESH_TORCH_URL", f"{server}/torch/")
    assert main(["data", "refresh"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlenv: ") and err.count("\n") == 0 and "unchanged" in err
    assert "Traceback" not in err
    assert knowledge_file().read_bytes() == before


def test_an_index_without_wheels_is_refused(server: str) -> None:
    with pytest.raises(RefreshError, match="lists no CUDA wheels"):
        refresh(knowledge_file(), hub_url=f"{server}/hub", torch_url=f"{server}/empty-torch/")
    assert not knowledge_file().exists()


def test_a_corrupt_stored_file_leaves_the_snapshot_in_use(data_dir: Path) -> None:
    knowledge_file().parent.mkdir(parents=True)
    knowledge_file().write_text('{"schema": 1, "images": ')
    compat.reload_data()
    assert _tag_13_2() == "nvidia/cuda:13.2.1-cudnn-runtime-ubuntu24.04"


def test_unreachable_host_is_one_sentence(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLENV_REFRESH_HUB_URL", "http://127.0.0.1:9/hub")
    assert main(["data", "refresh", "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "could not fetch" in err and "unchanged" in err
