"""Building an image through the engine's API: streamed steps, and a failure a user can act on."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dlenv_tui import lockfile
from dlenv_tui.engine.types import BuildProgress, EngineError
from dlenv_tui.image import FREEZE_PATH, RenderedImage, default_tag
from dlenv_tui.model import BuiltImage, EngineName, Profile

if TYPE_CHECKING:
    import docker

_STEP = re.compile(r"^\s*(?:Step|STEP) (\d+)/(\d+)\s?:")


#: How many lines of a failed step's output a failure shows.
FAILURE_LINES = 20


_EXIT = re.compile(r"(?:non-zero code|exit status|exit code):? (\d+)")


_TLS_FAILURES = (
    "certificate verify failed",
    "certificate verification failed",
    "unknownissuer",
    "invalid peer certificate",
    "self-signed certificate",
    "self signed certificate",
    "unable to get local issuer",
)


_CACHED = re.compile(r"(?:--->|-->) Using cache")


class BuildMixin:
    """`EngineClient.build`."""

    engine: EngineName
    client: docker.DockerClient

    def build(
        self,
        profile: Profile,
        rendered: RenderedImage,
        on_progress: Callable[[BuildProgress], None] | None = None,
    ) -> BuiltImage:
        """Build the rendered image, streaming step i of n and every log line to ``on_progress``."""
        import docker.errors

        tag = rendered.tag or default_tag(profile)
        total = _count_steps(rendered.dockerfile)
        step = 0
        command = ""
        last: list[str] = []
        report = on_progress or (lambda _p: None)
        try:
            if self.engine is EngineName.DOCKER and rendered.buildkit:
                events: Iterator[_Event] = _buildkit_events(self.client, rendered, tag)
            else:
                events = _classic_events(self.client, rendered, tag)
            for event in events:
                if event.error is not None:
                    raise EngineError(
                        _build_failure(event.error, step, total, last, rendered.base, command)
                    )
                if event.step:
                    step, total = event.step, event.total or total
                    command = event.command
                    last = []
                    report(BuildProgress(step, total, event.line, cached=event.cached))
                    continue
                for line in event.line.splitlines():
                    if not line.strip():
                        continue
                    last = [*last[-(FAILURE_LINES - 1) :], line]
                    report(BuildProgress(step, total, line, cached=event.cached))
        except docker.errors.APIError as exc:
            raise EngineError(
                _build_failure(_api_text(exc), step, total, last, rendered.base, command)
            ) from None
        try:
            image = self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            raise EngineError(
                f"The build finished but {tag} is missing; see the log above."
            ) from None
        return BuiltImage(
            tag=tag,
            id=str(image.id),
            built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            engine=self.engine.value,
            lock=(
                self.read_lock(tag, (*profile.image.python_packages, *profile.image.extra_pip))
                if FREEZE_PATH in rendered.dockerfile
                else ()
            ),
        )

    def read_lock(self, image: str, requirements: Sequence[str] = ()) -> tuple[str, ...]:
        """The lock the build recorded in the image (`uv pip freeze`): ``name==version`` lines and
        direct references (``name @ git+…@<commit>``), a git one with the requirement of
        ``requirements`` it came from (``lockfile.from_freeze``)."""
        import io
        import tarfile

        import docker.errors

        # copied out of a created, never started container: a run and its attach stream can hang
        # on Podman 4.3 when the process exits before the attach (seen in CI)
        container = None
        try:
            container = self.client.containers.create(
                image, entrypoint=["true"], user="0", network_mode="none"
            )
            stream, _ = container.get_archive(FREEZE_PATH)
            data = b"".join(stream)
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                member = tar.next()
                handle = tar.extractfile(member) if member is not None else None
                out = handle.read(16 << 20) if handle is not None else b""
        except (docker.errors.DockerException, tarfile.TarError) as exc:
            raise EngineError(
                f"The build finished but its package lock could not be read: {_api_text(exc)}."
            ) from None
        finally:
            if container is not None:
                with contextlib.suppress(docker.errors.DockerException):
                    container.remove(force=True)
        return lockfile.from_freeze(out.decode(errors="replace"), requirements)


@dataclass(frozen=True)
class _Event:
    """One thing a build stream said: a step starting, some output, or the failure."""

    line: str = ""
    step: int = 0
    total: int = 0
    command: str = ""
    cached: bool = False
    error: str | None = None


def _classic_events(
    client: docker.DockerClient, rendered: RenderedImage, tag: str
) -> Iterator[_Event]:
    """The SDK's build endpoint: Docker's classic builder, or Podman's buildah behind it."""
    stream = client.api.build(
        fileobj=io.BytesIO(rendered.context_tar()),
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
        decode=True,
        # proxy variables are predefined build arguments: RUN steps see them, the image's
        # config and history do not
        buildargs=dict(rendered.build_args) or None,
        network_mode=rendered.network or None,
    )

    def events(text: str) -> Iterator[_Event]:
        for line in text.splitlines():
            m = _STEP.match(line)
            if m:
                yield _Event(line, int(m.group(1)), int(m.group(2)), line[m.end() :].strip())
            elif line.strip():
                yield _Event(line, cached=bool(_CACHED.search(line)))

    pending = ""
    """The output after the last newline: Podman streams a step's output as it comes, so one
    line may arrive in pieces ("E", ": ", "Unable to lock …")."""
    for chunk in stream:
        if "error" in chunk or "errorDetail" in chunk:
            yield from events(pending)
            yield _Event(error=chunk.get("error") or chunk["errorDetail"].get("message", ""))
            return
        if chunk.get("stream"):
            text = str(chunk["stream"])
            if pending and _STEP.match(text):  # a step mark always starts its own line
                yield from events(pending)
                pending = ""
            whole, _newline, pending = (pending + text).rpartition("\n")
            yield from events(whole)
        elif chunk.get("status"):  # a pull's progress: one message each
            yield from events(str(chunk["status"]))
    yield from events(pending)


#: ``[ 3/12] RUN …``, ``[stage-1 3/5] COPY …``: a step of the Dockerfile (``[internal] …`` is not)
_VERTEX_NAME = re.compile(r"^\[(?:[^\]]*\s)?\s*(\d+)/(\d+)\]\s+(.*)$", re.DOTALL)


def _buildkit_events(
    client: docker.DockerClient, rendered: RenderedImage, tag: str
) -> Iterator[_Event]:
    """Docker's BuildKit through the same endpoint (``version=2``): cache and bind mounts, no
    session needed for a tar context. Its progress comes as protobuf ``StatusResponse`` messages."""
    api: Any = client.api  # the SDK's build() has no `version`: its own request helpers
    params: dict[str, str] = {"t": tag, "version": "2", "rm": "1", "forcerm": "1"}
    if rendered.build_args:
        params["buildargs"] = json.dumps(dict(rendered.build_args))
    if rendered.network:
        params["networkmode"] = rendered.network
    response = api._post(
        api._url("/build"),
        params=params,
        data=rendered.context_tar(),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=None,
    )
    api._raise_for_status(response)
    names: dict[bytes, str] = {}
    started: set[bytes] = set()
    current = b""
    partial: dict[bytes, bytes] = {}
    """Per vertex, the output after its last newline: BuildKit sends the bytes as they come, so
    one line (or one UTF-8 character) may arrive in pieces (``error:`` then the message)."""

    def shown(digest: bytes) -> bool:
        # the current step's output, or a vertex that is no step ([internal] …); an earlier
        # step's late pieces are not the current step's
        return digest == current or digest not in started

    def take(digest: bytes, msg: bytes) -> Iterator[_Event]:
        whole, newline, rest = (partial.pop(digest, b"") + msg).rpartition(b"\n")
        if rest:
            partial[digest] = rest
        if newline and shown(digest):
            yield _Event(whole.decode(errors="replace"))

    def flush(*digests: bytes) -> Iterator[_Event]:
        for digest in digests or tuple(partial):
            rest = partial.pop(digest, b"").decode(errors="replace")
            if rest.strip() and shown(digest):
                yield _Event(rest)

    for chunk in api._stream_helper(response, decode=True):
        if "error" in chunk or "errorDetail" in chunk:
            yield from flush()
            yield _Event(error=chunk.get("error") or chunk["errorDetail"].get("message", ""))
            return
        if chunk.get("id") != "moby.buildkit.trace":
            text = str(chunk.get("stream") or "")
            if text.strip():
                yield _Event(text)
            continue
        try:
            vertexes, logs = _status(base64.b64decode(chunk.get("aux") or ""))
        except (ValueError, IndexError):
            continue  # a progress message this reader does not understand: the build goes on
        starting = {
            digest
            for digest, name, cached, began in vertexes
            if _VERTEX_NAME.match(name) and digest not in started and (began or cached)
        }
        # one message may carry a step's last output and the next step's start: that output first
        for digest, msg in logs:
            if digest not in starting:
                yield from take(digest, msg)
        for digest, name, cached, _began in vertexes:
            names.setdefault(digest, name)
            m = _VERTEX_NAME.match(name)
            if digest not in starting or digest in started or not m:
                continue
            yield from flush(current)
            started.add(digest)
            current = digest
            prefix = "CACHED " if cached else ""
            yield _Event(
                f"{prefix}[{m.group(1)}/{m.group(2)}] {m.group(3)}",
                int(m.group(1)),
                int(m.group(2)),
                m.group(3).strip(),
                cached,
            )
        for digest, msg in logs:
            if digest in starting:
                yield from take(digest, msg)
    yield from flush()


def _status(data: bytes) -> tuple[list[tuple[bytes, str, bool, bool]], list[tuple[bytes, bytes]]]:
    """(digest, name, cached, started) of each vertex and (vertex, bytes) of each log in a
    BuildKit ``StatusResponse`` (control.proto: vertexes = 1, logs = 3)."""
    vertexes = []
    logs = []
    for field_no, value in _fields(data):
        if field_no == 1 and isinstance(value, bytes):
            v = dict(_fields(value))
            digest, name = v.get(1, b""), v.get(3, b"")
            assert isinstance(digest, bytes) and isinstance(name, bytes)
            vertexes.append((digest, name.decode(errors="replace"), bool(v.get(4)), 5 in v))
        elif field_no == 3 and isinstance(value, bytes):
            log = dict(_fields(value))
            digest, msg = log.get(1, b""), log.get(4, b"")
            assert isinstance(digest, bytes) and isinstance(msg, bytes)
            logs.append((digest, msg))
    return vertexes, logs


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message: varints and length-delimited."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        wire = key & 7
        if wire == 0:
            value, i = _varint(data, i)
            yield key >> 3, value
        elif wire == 2:
            size, i = _varint(data, i)
            yield key >> 3, data[i : i + size]
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"protobuf wire type {wire}")


def _varint(data: bytes, i: int) -> tuple[int, int]:
    out = shift = 0
    while True:
        b = data[i]
        i += 1
        out |= (b & 0x7F) << shift
        if not b & 0x80:
            return out, i
        shift += 7


def _count_steps(dockerfile: str) -> int:
    """Instructions in the Dockerfile: the total before the engine reports its own."""
    count = 0
    continued = False
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            count += 1
        continued = stripped.endswith("\\")
    return count


def _api_text(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)


def _build_failure(
    message: str, step: int, total: int, last: list[str], base: str, command: str = ""
) -> str:
    """One sentence, then the failing step's whole command, its exit status and its last lines."""
    text = _printable(" ".join(message.split()))
    low = text.lower()
    if (
        base
        and (command.upper().startswith("FROM ") or step <= 1)
        and any(
            s in low
            for s in (
                "pull access denied",
                "manifest unknown",
                "repository does not exist",
                "no such host",
                "initializing source",
                "failed to resolve",
                "not found: manifest",
                "connection refused",
                "dial tcp",
            )
        )
    ):
        # whole: a resolve error names the registry and the lookup that failed at its very end
        sentence = (
            f"The image build failed: the base image {base} is not available locally and "
            f"cannot be pulled: {text.rstrip('.')}."
        )
    else:
        where = f" at step {step} of {total}" if step else ""
        status = _EXIT.search(text)
        sentence = f"The image build failed{where}"
        sentence += f" with exit status {status.group(1)}." if status else f": {text.rstrip('.')}."
    log = "\n".join(last).lower()
    if any(s in log or s in low for s in _TLS_FAILURES):
        sentence += (
            " A server's TLS certificate was not trusted: behind a proxy or mirror that re-signs "
            "HTTPS, add its CA certificate with the image option ca_certs "
            "(Image stage: CA certificates; `dlenv profiles set PROFILE ca_certs=PATH`)."
        )
    out = [sentence]
    if command:
        out.append(f"Step {step}/{total}: {_printable(command)}")
    shown = [_printable(line) for line in last[-FAILURE_LINES:]]
    if shown:
        out.append(
            "Last line of its output:"
            if len(shown) == 1
            else f"Last {len(shown)} lines of its output:"
        )
        out += [f"  {line}" for line in shown]
    return "\n".join(out)


_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]")


def _printable(line: str) -> str:
    """A build output line without terminal escapes and control bytes (colours, bells, NULs
    from a binary that printed), which would garble or drive the user's terminal."""
    return _CONTROL.sub("", line)


def lock_changes(old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    """What an upgrade changed, package by package: ``numpy 2.3.1 -> 2.3.4``, ``+ x 1.0``, ``- y 2``;
    a git package by its commit: ``pkg 0a1b2c3d4e5f -> 5f4e3d2c1b0a``."""
    a, b = lockfile.versions(old), lockfile.versions(new)
    lines = [f"{n} {a[n]} -> {b[n]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    lines += [f"+ {n} {b[n]}" for n in sorted(b.keys() - a.keys())]
    lines += [f"- {n} {a[n]}" for n in sorted(a.keys() - b.keys())]
    return lines
