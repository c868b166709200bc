"""Verify before acting: does the chosen nvidia/cuda tag exist, and does the torch index answer?

Before a build dlenv asks the registry for the base tag's manifest (a HEAD, as ``docker pull``
would, with Docker Hub's anonymous token) and the PyTorch index for its page. A tag that is gone
(NVIDIA deletes superseded patch releases) is reported with the newest patch release of the same
CUDA minor and flavour that does exist. Unreachable: the check is skipped and says so. Every
request has a timeout of a few seconds and honours http_proxy / https_proxy / no_proxy.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from dlenv_tui.errors import DlenvError

REGISTRY = "https://registry-1.docker.io"
TIMEOUT_S = 3.0
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )
)
_TAG = re.compile(r"^(?:docker\.io/)?nvidia/cuda:(\d+)\.(\d+)\.(\d+)-(.+)$")
_TORCH = re.compile(r"--extra-index-url (https?://download\.pytorch\.org/whl/\S+)")
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Check:
    """One verification: ``ok`` True (exists), False (missing) or None (skipped: unreachable)."""

    ok: bool | None
    message: str
    suggestion: str = ""
    """For a missing base tag: the newest existing patch release of the same minor and flavour."""


class _Unreachable(Exception):
    pass


def _registry() -> str:
    return os.environ.get("DLENV_VERIFY_REGISTRY", "") or REGISTRY


def _open(req: urllib.request.Request, timeout: float) -> int:
    """The HTTP status (any), or _Unreachable."""
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
        if status == 401:
            raise _Challenge(exc.headers.get("WWW-Authenticate", "")) from None
        return status
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Unreachable(str(getattr(exc, "reason", exc))) from None


class _Challenge(Exception):
    def __init__(self, header: str) -> None:
        super().__init__(header)
        self.header = header


def _token(challenge: str, timeout: float) -> str:
    """Docker Hub's anonymous pull token from a ``Bearer realm=…,service=…,scope=…`` challenge."""
    if not challenge.lower().startswith("bearer "):
        raise _Unreachable("the registry asks for a login")
    params = dict(_CHALLENGE.findall(challenge))
    realm = params.pop("realm", "")
    if not realm.startswith(("https://", "http://")):
        raise _Unreachable("the registry's login challenge has no realm")
    url = f"{realm}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = json.loads(resp.read(65536))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Unreachable(str(getattr(exc, "reason", exc))) from None
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise _Unreachable("the registry's token service sent no token")
    return token


def manifest_exists(repo: str, tag: str, *, timeout: float = TIMEOUT_S) -> bool:
    """HEAD /v2/<repo>/manifests/<tag>: True on 200, False on 404; _Unreachable otherwise."""
    url = f"{_registry().rstrip('/')}/v2/{repo}/manifests/{urllib.parse.quote(tag)}"
    headers = {"Accept": MANIFEST_TYPES, "User-Agent": "dlenv verify"}
    for _attempt in range(2):
        req = urllib.request.Request(url, method="HEAD", headers=headers)
        try:
            status = _open(req, timeout)
        except _Challenge as ch:
            headers["Authorization"] = f"Bearer {_token(ch.header, timeout)}"
            continue
        if status == 200:
            return True
        if status == 404:
            return False
        raise _Unreachable(f"HTTP {status}")
    raise _Unreachable("the registry refused the token")


def _candidates(major: int, minor: int, patch: int, rest: str, known: Sequence[str]) -> list[str]:
    """Other patch releases of ``major.minor`` with the same flavour suffix, newest first."""
    found: set[tuple[int, str]] = set()
    for tag in known:
        m = _TAG.match(tag if ":" in tag else f"nvidia/cuda:{tag}")
        if m and (int(m[1]), int(m[2])) == (major, minor) and m[4] == rest and int(m[3]) != patch:
            found.add((int(m[3]), f"nvidia/cuda:{m[1]}.{m[2]}.{m[3]}-{rest}"))
    # NVIDIA also publishes patch releases dlenv's data may not list yet: one above the newest
    top = max([patch, *(p for p, _ in found)])
    found.add((top + 1, f"nvidia/cuda:{major}.{minor}.{top + 1}-{rest}"))
    return [t for _p, t in sorted(found, reverse=True)]


def check_base(base: str, known: Sequence[str] = (), *, timeout: float = TIMEOUT_S) -> Check | None:
    """Whether the nvidia/cuda ``base`` tag exists; None for a base that is not nvidia/cuda."""
    m = _TAG.match(base)
    if not m:
        return None
    name = base.removeprefix("docker.io/")
    tag = name.split(":", 1)[1]
    try:
        if manifest_exists("nvidia/cuda", tag, timeout=timeout):
            return Check(True, f"The base image {name} exists on the registry.")
        for other in _candidates(int(m[1]), int(m[2]), int(m[3]), m[4], known)[:3]:
            if manifest_exists("nvidia/cuda", other.split(":", 1)[1], timeout=timeout):
                return Check(
                    False,
                    f"The base image {name} is not on the registry (NVIDIA deletes superseded "
                    f"patch releases); {other} is the newest release of it that exists.",
                    suggestion=other,
                )
    except _Unreachable as exc:
        return Check(
            None, f"The registry did not answer ({exc}): the check that {name} exists was skipped."
        )
    return Check(
        False, f"The base image {name} is not on the registry, nor a newer patch release of it."
    )


def torch_index_url(dockerfile: str) -> str:
    """The PyTorch index a rendered Dockerfile installs torch from; "" when none."""
    m = _TORCH.search(dockerfile)
    return m.group(1) if m else ""


def check_torch_index(url: str, *, timeout: float = TIMEOUT_S) -> Check | None:
    """Whether the PyTorch wheel index at ``url`` answers; None when there is no index."""
    if not url:
        return None
    probe = os.environ.get("DLENV_VERIFY_TORCH_BASE", "")
    if probe:  # tests: the same path on a local server
        url = probe.rstrip("/") + "/" + url.split("/whl/", 1)[-1]
    target = url.rstrip("/") + "/torch/"
    req = urllib.request.Request(target, method="HEAD", headers={"User-Agent": "dlenv verify"})
    try:
        status = _open(req, timeout)
    except _Challenge:
        status = 401
    except _Unreachable as exc:
        return Check(
            None, f"The PyTorch index did not answer ({exc}): the check of {url} was skipped."
        )
    if status == 200:
        return Check(True, f"The PyTorch index {url} answers.")
    return Check(
        False, f"The PyTorch index {url} answered HTTP {status}: it has no torch wheels there."
    )


def before_build(base: str, dockerfile: str, known: Sequence[str] = ()) -> tuple[Check, ...]:
    """Both checks for a rendered image, in order; those that do not apply are left out."""
    checks = (check_base(base, known), check_torch_index(torch_index_url(dockerfile)))
    return tuple(c for c in checks if c is not None)


def known_tags() -> tuple[str, ...]:
    """Every nvidia/cuda Ubuntu tag in dlenv's data (the snapshot, or the refreshed list)."""
    from dlenv_tui.compat.images import _images

    return tuple(
        f"nvidia/cuda:{'.'.join(map(str, v))}-{flavour}-ubuntu{ubuntu}"
        for ubuntu, versions in _images().items()
        for v, flavours in versions.items()
        for flavour in flavours
    )


class VerifyError(DlenvError):
    """The chosen base tag or torch index does not exist: the build does not start."""


@dataclass(frozen=True)
class Report:
    """What the build path shows before building; ``stop`` set when the build must not start."""

    lines: tuple[str, ...]
    stop: str = ""
    suggestion: str = ""
    """With a stop for a lost tag: the newest existing patch release, to use instead."""
    reason: str = ""
    """With a suggestion: the stop's sentence without the CLI command that applies it."""


def report_before_build(base: str, dockerfile: str, profile: str) -> Report:
    """The call sites' one call: the checks' sentences, and a stop with the offer for a lost tag."""
    checks = before_build(base, dockerfile, known_tags())
    lines = tuple(c.message for c in checks)
    for c in checks:
        if c.ok is False and c.suggestion:
            return Report(
                lines,
                f"{c.message} Use it with: dlenv profiles set {profile} "
                f"image.base_override={c.suggestion}",
                c.suggestion,
                c.message,
            )
        if c.ok is False:
            return Report(lines, c.message)
    return Report(lines)
