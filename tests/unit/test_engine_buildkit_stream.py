"""Build progress read into steps and whole lines: Docker's BuildKit (protobuf ``StatusResponse``
messages in ``moby.buildkit.trace`` chunks) and the classic endpoint Podman answers both send a
step's output as it comes, so a line may arrive in pieces; the failure must still show it whole."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from dlenv_tui.engine.build import _buildkit_events, _classic_events
from dlenv_tui.image import RenderedImage


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(no: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(no << 3) + _varint(value)
    return _varint(no << 3 | 2) + _varint(len(value)) + value


def _vertex(digest: bytes, name: str, *, cached: bool = False) -> bytes:
    # control.proto Vertex: digest = 1, name = 3, cached = 4, started = 5 (a Timestamp)
    body = _field(1, digest) + _field(3, name.encode()) + _field(5, _field(1, 1700000000))
    if cached:
        body += _field(4, 1)
    return _field(1, body)


def _log(digest: bytes, msg: bytes) -> bytes:
    # VertexLog: vertex = 1, stream = 3, msg = 4; StatusResponse.logs = 3
    return _field(3, _field(1, digest) + _field(3, 1) + _field(4, msg))


def _trace(message: bytes) -> dict[str, Any]:
    return {"id": "moby.buildkit.trace", "aux": base64.b64encode(message).decode()}


class _Api:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def _url(self, path: str) -> str:
        return path

    def _post(self, *_a: object, **_k: object) -> object:
        return object()

    def _raise_for_status(self, _response: object) -> None:
        pass

    def _stream_helper(self, _response: object, decode: bool) -> Iterator[dict[str, Any]]:
        yield from self.chunks


class _Client:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.api = _Api(chunks)


def _read_buildkit(chunks: list[dict[str, Any]]) -> list[Any]:
    """What the BuildKit reader makes of these stream chunks."""
    return list(_buildkit_events(_Client(chunks), RenderedImage("FROM x\n"), "t"))  # type: ignore[arg-type]


def _read_classic(chunks: list[dict[str, Any]]) -> list[Any]:
    """What the classic (Podman) reader makes of these stream chunks."""
    client = type("C", (), {"api": _ClassicApi(chunks)})()
    return list(_classic_events(client, RenderedImage("FROM x\n"), "t"))  # type: ignore[arg-type]


def test_a_line_sent_in_pieces_is_one_line_and_the_step_marks_stay() -> None:
    step3, step4 = b"sha256:3", b"sha256:4"
    chunks = [
        _trace(_vertex(step3, "[3/7] RUN python3 -m venv /opt/venv", cached=True)),
        _trace(_vertex(step4, "[stage-0 4/7] RUN uv pip install no-such-pkg")),
        _trace(_log(step4, b"Using Python 3.11.2 environment at: /opt/venv\nerror:")),
        _trace(_log(step4, b" No solution found when resolving dependencies\n  cause")),
        _trace(_log(step4, b": no-such-pkg was not found\n")),
        _trace(_log(step4, b"last words without a newline")),
        {"error": "process did not complete successfully: exit code: 1"},
    ]
    events = _read_buildkit(chunks)
    steps = [(e.step, e.total, e.command, e.cached) for e in events if e.step]
    assert steps == [
        (3, 7, "RUN python3 -m venv /opt/venv", True),
        (4, 7, "RUN uv pip install no-such-pkg", False),
    ]
    lines = [line for e in events if not e.step and e.error is None for line in e.line.splitlines()]
    assert lines == [
        "Using Python 3.11.2 environment at: /opt/venv",
        "error: No solution found when resolving dependencies",
        "  cause: no-such-pkg was not found",
        "last words without a newline",
    ]
    assert events[-1].error == "process did not complete successfully: exit code: 1"


def test_output_of_an_earlier_step_does_not_land_in_the_current_one() -> None:
    a, b = b"sha256:a", b"sha256:b"
    chunks = [
        _trace(_vertex(a, "[1/2] RUN echo one")),
        _trace(_log(a, b"half of one")),
        _trace(_vertex(b, "[2/2] RUN echo two")),
        _trace(_log(a, b" and its end\n")),  # a late piece of step 1: not step 2's output
        _trace(_log(b, b"two\n")),
    ]
    events = _read_buildkit(chunks)
    seen = [(e.step, e.line) for e in events]
    assert seen == [
        (1, "[1/2] RUN echo one"),
        (0, "half of one"),
        (2, "[2/2] RUN echo two"),
        (0, "two"),
    ]


class _ClassicApi:
    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self.chunks = chunks

    def build(self, **_kw: object) -> Iterator[dict[str, Any]]:
        yield from self.chunks


def test_podmans_classic_stream_in_pieces_gives_whole_lines() -> None:
    # as Podman 4.3 sent a failed apt step (seen with two builds on one apt cache)
    chunks: list[dict[str, Any]] = [
        {"stream": "STEP 4/10: RUN apt-get update\n"},
        {"stream": "Reading package lists..."},
        {"stream": "\n"},
        {"stream": "E"},
        {"stream": ": "},
        {
            "stream": "Could not get lock /var/lib/apt/lists/lock. It is held by process 0\nE: Unable"
        },
        {"stream": " to lock directory /var/lib/apt/lists/"},
        {"error": 'building at STEP "RUN apt-get update": exit status 100'},
    ]
    events = _read_classic(chunks)
    assert [(e.step, e.total, e.command) for e in events if e.step] == [
        (4, 10, "RUN apt-get update")
    ]
    assert [e.line for e in events if not e.step and e.error is None] == [
        "Reading package lists...",
        "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 0",
        "E: Unable to lock directory /var/lib/apt/lists/",
    ]
    assert events[-1].error == 'building at STEP "RUN apt-get update": exit status 100'


def test_a_character_split_across_pieces_and_a_steps_last_line_beside_the_next_start() -> None:
    a, b, internal = b"sha256:a", b"sha256:b", b"sha256:i"
    bar = "━━ 17.6/17.6 MB".encode()
    chunks = [
        _trace(_field(1, _field(1, internal) + _field(3, b"[internal] load metadata"))),
        _trace(_log(internal, b"no newline from an internal vertex")),
        _trace(_vertex(a, "[1/2] RUN pip install uv")),
        _trace(_log(a, bar[:4])),  # the second "━" cut after its first byte
        # one message: step 1's rest, then step 2 starts and writes
        _trace(_log(a, bar[4:] + b"\n") + _vertex(b, "[2/2] RUN true") + _log(b, b"two\n")),
    ]
    events = _read_buildkit(chunks)
    seen = [(e.step, e.line) for e in events]
    assert seen == [
        (1, "[1/2] RUN pip install uv"),
        (0, "━━ 17.6/17.6 MB"),
        (2, "[2/2] RUN true"),
        (0, "two"),
        (0, "no newline from an internal vertex"),  # flushed at the end, not lost
    ]


def test_a_step_mark_after_output_without_a_newline_is_still_a_step() -> None:
    chunks: list[dict[str, Any]] = [
        {"stream": "STEP 2/3: RUN printf done\n"},
        {"stream": "done"},
        {"stream": "STEP 3/3: RUN false\n"},
        {"error": "exit status 1"},
    ]
    events = _read_classic(chunks)
    assert [(e.step, e.line) for e in events if e.error is None] == [
        (2, "STEP 2/3: RUN printf done"),
        (0, "done"),
        (3, "STEP 3/3: RUN false"),
    ]
