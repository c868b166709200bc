"""Building an image through the engine's API: streamed steps, and a failure a user can act on."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

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
            stream = self.client.api.build(
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
            for chunk in stream:
                if "error" in chunk or "errorDetail" in chunk:
                    message = chunk.get("error") or chunk["errorDetail"].get("message", "")
                    raise EngineError(
                        _build_failure(message, step, total, last, rendered.base, command)
                    )
                text = chunk.get("stream") or chunk.get("status") or ""
                for line in str(text).splitlines():
                    if not line.strip():
                        continue
                    m = _STEP.match(line)
                    if m:
                        step, total = int(m.group(1)), int(m.group(2))
                        command = line[m.end() :].strip()
                        last = []
                    else:
                        last = [*last[-(FAILURE_LINES - 1) :], line]
                    report(BuildProgress(step, total, line, cached=bool(_CACHED.search(line))))
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
            lock=self.read_lock(tag) if FREEZE_PATH in rendered.dockerfile else (),
        )

    def read_lock(self, image: str) -> tuple[str, ...]:
        """The ``name==version`` lines the build recorded in the image (`uv pip freeze`)."""
        import docker.errors

        try:
            out = self.client.containers.run(
                image, entrypoint=["cat", FREEZE_PATH], user="0", remove=True, network_mode="none"
            )
        except docker.errors.DockerException as exc:
            raise EngineError(
                f"The build finished but its package lock could not be read: {_api_text(exc)}."
            ) from None
        text = bytes(out).decode(errors="replace")
        return tuple(line.strip() for line in text.splitlines() if "==" in line)


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
    text = " ".join(message.split())
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
        return f"The image build failed: the base image {base} is not available locally and cannot be pulled: {text[:200]}."
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
        out.append(f"Step {step}/{total}: {command}")
    if last:
        out.append(f"Last {len(last)} lines of its output:")
        out += [f"  {line}" for line in last[-FAILURE_LINES:]]
    return "\n".join(out)


def lock_changes(old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    """What an upgrade changed, package by package: ``numpy 2.3.1 -> 2.3.4``, ``+ x 1.0``, ``- y 2``."""

    def versions(lock: tuple[str, ...]) -> dict[str, str]:
        out = {}
        for line in lock:
            name, _, version = line.partition("==")
            out[name.strip().lower()] = version.strip()
        return out

    a, b = versions(old), versions(new)
    lines = [f"{n} {a[n]} -> {b[n]}" for n in sorted(a.keys() & b.keys()) if a[n] != b[n]]
    lines += [f"+ {n} {b[n]}" for n in sorted(b.keys() - a.keys())]
    lines += [f"- {n} {a[n]}" for n in sorted(a.keys() - b.keys())]
    return lines
