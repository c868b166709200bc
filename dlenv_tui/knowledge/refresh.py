"""`dlenv data refresh`: fetch the nvidia/cuda tag list, the PyTorch wheel index and NVIDIA's CUDA
repository listings, validate, store.

The result goes to ``locations.knowledge_dir()/cuda.json`` (the user's data dir), never over the
shipped snapshot in ``assets/data``; compat lays it over the snapshot on its next load. A response
that is not what the service sends (malformed, truncated, empty) changes nothing: the error says
which one and that the old data stays in use.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlenv_tui.errors import DlenvError

HUB_TAGS_URL = "https://hub.docker.com/v2/repositories/nvidia/cuda/tags?page_size=100"
TORCH_INDEX_URL = "https://download.pytorch.org/whl/torch/"
TIMEOUT_S = 5.0
MAX_PAGES = 80
"""nvidia/cuda has a few thousand tags: 100 a page."""
SCHEMA = 1

_TAG = re.compile(r"^(\d+\.\d+\.\d+)-([a-z0-9-]+)-ubuntu(\d{2}\.\d{2})$")
# torch-2.14.0+cu126-cp312-cp312-manylinux_2_28_x86_64.whl
_WHEEL = re.compile(r"torch-(\d+\.\d+\.\d+)\+(cu\d{3})-")


class RefreshError(DlenvError):
    """A source could not be fetched or did not validate; nothing was written."""


@dataclass(frozen=True)
class Refreshed:
    """What a refresh stored."""

    path: Path
    tags: int
    torch_releases: int
    as_of: str
    repos: int = 0
    """NVIDIA CUDA repository directories (repo/arch) that exist."""


def _get_or_404(url: str, timeout: float) -> bytes | None:
    """The body, or None where the server answers 404 (a repository that does not exist)."""
    try:
        return _get(url, timeout)
    except _NotFound:
        return None


class _NotFound(RefreshError):
    pass


def _get(url: str, timeout: float) -> bytes:
    # urllib's default opener honours http_proxy / https_proxy / no_proxy from the environment
    req = urllib.request.Request(url, headers={"User-Agent": "dlenv data refresh"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body: bytes = resp.read()
            length = resp.headers.get("Content-Length")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise _NotFound(f"{url} answered 404") from None
        raise RefreshError(f"could not fetch {url} (HTTP {exc.code})") from None
    except http.client.IncompleteRead:
        raise RefreshError(f"the response from {url} was cut short") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise RefreshError(f"could not fetch {url} ({reason})") from None
    if length is not None and length.isdigit() and int(length) != len(body):
        raise RefreshError(f"the response from {url} was cut short")
    return body


def parse_hub_page(body: bytes, url: str) -> tuple[list[str], str]:
    """One page of Docker Hub's tag API → (tag names, next page URL or "")."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise RefreshError(f"the tag list from {url} is not valid JSON (truncated?)") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise RefreshError(f"the tag list from {url} has no results list")
    names = [r["name"] for r in results if isinstance(r, dict) and isinstance(r.get("name"), str)]
    nxt = data.get("next")
    return names, nxt if isinstance(nxt, str) else ""


def parse_torch_index(body: bytes) -> dict[str, list[str]]:
    """The PyTorch wheel index page → torch release → CUDA wheel tags (``cu126``...)."""
    text = body.decode("utf-8", "replace")
    found: dict[str, set[str]] = {}
    for release, cu in _WHEEL.findall(text):
        found.setdefault(release, set()).add(cu)
    return {r: sorted(c) for r, c in found.items()}


def images_from_tags(tags: list[str]) -> dict[str, dict[str, list[str]]]:
    """Tag names → Ubuntu release → CUDA x.y.z → flavours (the shape of cuda.json's ``images``)."""
    images: dict[str, dict[str, set[str]]] = {}
    for tag in tags:
        m = _TAG.match(tag)
        if m:
            version, flavour, ubuntu = m.groups()
            images.setdefault(ubuntu, {}).setdefault(version, set()).add(flavour)
    return {u: {v: sorted(f) for v, f in vs.items()} for u, vs in images.items()}


def fetch_tags(url: str = HUB_TAGS_URL, timeout: float = TIMEOUT_S) -> list[str]:
    tags: list[str] = []
    pages = 0
    while url and pages < MAX_PAGES:
        names, url = parse_hub_page(_get(url, timeout), url)
        tags += names
        pages += 1
    return tags


def fetch_nvidia_repos(url: str, timeout: float) -> dict[str, dict[str, Any]]:
    """NVIDIA's CUDA repositories for the releases dlenv supports (knowledge.repos)."""
    from dlenv_tui.knowledge import repos

    try:
        return repos.fetch_repos(
            lambda u: _get_or_404(u, timeout), repos.supported_repos(), base=url
        )
    except repos.ListingError as exc:
        raise RefreshError(str(exc)) from None


def _write(out: Path, data: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, out)


def refresh(
    out: Path,
    *,
    hub_url: str = "",
    torch_url: str = "",
    repos_url: str = "",
    repos_out: Path | None = None,
    timeout: float = TIMEOUT_S,
    today: datetime.date | None = None,
) -> Refreshed:
    """Fetch every source, validate it all, then write ``out`` (and ``repos_out``) atomically.

    A RefreshError from any source leaves both files as they were.
    """
    from dlenv_tui.knowledge import repos

    hub_url = hub_url or os.environ.get("DLENV_REFRESH_HUB_URL", "") or HUB_TAGS_URL
    torch_url = torch_url or os.environ.get("DLENV_REFRESH_TORCH_URL", "") or TORCH_INDEX_URL
    repos_url = repos_url or os.environ.get("DLENV_REFRESH_REPOS_URL", "") or repos.REPOS_URL
    tags = fetch_tags(hub_url, timeout)
    images = images_from_tags(tags)
    if sum(len(v) for v in images.values()) < 5:
        raise RefreshError(f"the tag list from {hub_url} holds no nvidia/cuda Ubuntu tags")
    torch = parse_torch_index(_get(torch_url, timeout))
    if not torch:
        raise RefreshError(f"the PyTorch index at {torch_url} lists no CUDA wheels")
    nvidia = fetch_nvidia_repos(repos_url, timeout)
    as_of = (today or datetime.date.today()).isoformat()
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "images_as_of": as_of,
        "images": images,
        "pytorch_observed": torch,
        "sources": {"images": hub_url, "pytorch": torch_url},
    }
    _write(out, data)
    _write(
        repos_out or out.with_name("nvidia_repos.json"),
        {"schema": SCHEMA, "as_of": as_of, "repos": nvidia, "source": repos_url},
    )
    return Refreshed(out, len(tags), len(torch), as_of, sum(r["exists"] for r in nvidia.values()))
