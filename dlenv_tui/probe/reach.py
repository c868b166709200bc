"""Repository reachability: the origins a set of plans downloads from, and one HEAD request to each."""

from __future__ import annotations

import configparser
import errno
import http.client
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from dlenv_tui.model import Check, Plan, Status, StepKind

FIX = "check the proxy or firewall; the plan downloads from here"
_URL = re.compile(r"https?://[^\s\"'<>]+")


# --------------------------------------------------------------------------------------------
# Which origins the plans need (pure)


def plan_endpoints(plans: Iterable[Plan]) -> tuple[str, ...]:
    """Unique ``scheme://host[:port]`` origins the plans contact, in the order they first appear.

    Sources: every download step's URL, URLs in the argv of run steps (``dnf install https://…``,
    ``zypper addrepo https://…``) and the repositories named in files the plans write: apt one-line
    ``.list`` and deb822 ``.sources`` files, dnf/zypper ``.repo`` files (``baseurl``, ``mirrorlist``,
    ``metalink``, ``gpgkey``). Commented-out lines and disabled repositories are left out.
    """
    seen: dict[str, None] = {}
    for plan in plans:
        for step in plan.steps:
            urls: list[str] = []
            if step.download is not None:
                urls.append(step.download.url)
            if step.kind is StepKind.RUN:
                urls.extend(arg for arg in step.argv if _URL.fullmatch(arg))
            if step.file is not None:
                urls.extend(repo_file_urls(step.file.path, step.file.content))
            for url in urls:
                origin = url_origin(url)
                if origin:
                    seen.setdefault(origin)
    return tuple(seen)


def url_origin(url: str) -> str:
    """``https://Host:443/path`` → ``https://host``; "" for anything but an http(s) URL with a host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def repo_file_urls(path: str, content: str) -> list[str]:
    """The repository URLs in a package-manager source file, by its name; [] for other files."""
    if path.endswith(".list"):
        return parse_apt_list(content)
    if path.endswith(".sources"):
        return parse_deb822_sources(content)
    if path.endswith(".repo"):
        return parse_repo_file(content)
    return []


def parse_apt_list(text: str) -> list[str]:
    """URIs of one-line apt sources.

    ``deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /``
    """
    urls = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith(("deb ", "deb-src ", "deb\t", "deb-src\t")):
            continue
        rest = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""
        if rest.startswith("["):
            end = rest.find("]")
            rest = rest[end + 1 :].strip() if end >= 0 else ""
        if rest:
            urls.append(rest.split()[0])
    return urls


def parse_deb822_sources(text: str) -> list[str]:
    """``URIs:`` of every enabled stanza of a deb822 ``.sources`` file.

    ``Types: deb`` / ``URIs: https://download.docker.com/linux/ubuntu`` / ``Suites: noble`` / …
    """
    urls: list[str] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for raw in stanza.splitlines():
            if raw.lstrip().startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and key:
                fields[key] += " " + raw.strip()
            elif ":" in raw:
                key, value = raw.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        urls.extend(fields.get("uris", "").split())
    return urls


def parse_repo_file(text: str) -> list[str]:
    """URLs of every enabled section of a dnf/yum/zypper ``.repo`` (INI) file.

    ``[nvidia-container-toolkit]`` / ``baseurl=https://nvidia.github.io/libnvidia-container/stable/rpm/$basearch`` / …
    """
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return _URL.findall(text)
    urls: list[str] = []
    for name in parser.sections():
        section = parser[name]
        if section.get("enabled", "1").strip() in ("0", "false", "no"):
            continue
        for key in ("baseurl", "mirrorlist", "metalink", "gpgkey"):
            urls.extend(_URL.findall(section.get(key, "")))
    return urls


# --------------------------------------------------------------------------------------------
# Asking each origin once


def check_reachable(
    urls: Sequence[str],
    timeout: float = 3.0,
    max_workers: int = 8,
    *,
    cafile: str | None = None,
    cadata: str | None = None,
) -> tuple[Check, ...]:
    """One row per origin of ``urls`` (in their order): ok with the round-trip time, or warn with
    why it could not be reached.

    Each origin gets one connection (TLS for https) and a ``HEAD /`` through urllib, so
    ``https_proxy`` / ``HTTPS_PROXY`` / ``no_proxy`` apply as for other tools; certificates are
    checked against the system CA bundle, or ``cafile``, and ``cadata`` besides (PEM: the extra CAs
    an image build trusts). Any HTTP answer, even 404, counts as
    reachable: the server (or the proxy's tunnel to it) answered. Requests run in up to
    ``max_workers`` daemon threads, and the call returns after about ``timeout`` seconds per round
    of workers at the latest (a name lookup the resolver sits on is reported as no answer).
    """
    origins = list(dict.fromkeys(o for o in (url_origin(u) for u in urls) if o))
    if not origins:
        return ()
    context = ssl.create_default_context(cafile=cafile)
    if cadata:
        context.load_verify_locations(cadata=cadata)
    results: dict[str, Check] = {}
    lock = threading.Lock()
    queue = list(origins)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                origin = queue.pop(0)
            row = _probe(origin, timeout, context)
            with lock:
                results[origin] = row

    workers = max(1, min(max_workers, len(origins)))
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    rounds = -(-len(origins) // workers)
    deadline = time.monotonic() + timeout * rounds + 1.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return tuple(
            results.get(o) or _row(o, None, f"no answer within {timeout:g} s", _proxy_for(o))
            for o in origins
        )


def _probe(origin: str, timeout: float, context: ssl.SSLContext) -> Check:
    proxy = _proxy_for(origin)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(),
        urllib.request.HTTPSHandler(context=context),
        _NoRedirect(),
    )
    request = urllib.request.Request(
        origin + "/", method="HEAD", headers={"User-Agent": "dlenv-reachability-check"}
    )
    start = time.monotonic()
    try:
        with opener.open(request, timeout=timeout):
            pass
    except urllib.error.HTTPError:
        pass  # the server answered: reachable
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        return _row(origin, None, describe_error(exc, timeout, proxy), proxy)
    return _row(origin, time.monotonic() - start, "", proxy)


def _row(origin: str, seconds: float | None, reason: str, proxy: str) -> Check:
    host = urlsplit(origin).netloc
    via = f" through the proxy {proxy}" if proxy else ""
    if seconds is not None:
        return Check(
            id=f"reach.{host}",
            title=host,
            status=Status.OK,
            detail=f"reachable in {seconds * 1000:.0f} ms{via}",
        )
    return Check(
        id=f"reach.{host}",
        title=host,
        status=Status.WARN,
        detail=f"could not connect{via}: {reason}",
        fix=FIX,
    )


def _proxy_for(origin: str) -> str:
    """The proxy urllib will use for ``origin`` (from the environment), "" when none."""
    parts = urlsplit(origin)
    proxy = urllib.request.getproxies().get(parts.scheme, "")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return ""
    # Never echo credentials a proxy URL may carry.
    p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return p.hostname + (f":{p.port}" if p.port else "") if p.hostname else "(set)"


def describe_error(exc: BaseException, timeout: float = 3.0, proxy: str = "") -> str:
    """A failed request in plain words: which of DNS, TCP, TLS or the proxy stood in the way."""
    reason: object = getattr(exc, "reason", exc)
    if isinstance(reason, socket.gaierror):
        if proxy:
            return "the proxy's name does not resolve (DNS)"
        return "the name does not resolve (DNS)"
    if isinstance(reason, ssl.SSLCertVerificationError):
        detail = reason.verify_message or "verification failed"
        return (
            f"its TLS certificate is not trusted ({detail}); a proxy that inspects TLS needs "
            "its CA certificate installed"
        )
    if isinstance(reason, ssl.SSLError):
        return f"the TLS handshake failed ({reason.reason or reason})"
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "the connection was refused" + (" by the proxy" if proxy else "")
    if isinstance(reason, ConnectionResetError):
        return "the connection was reset"
    if isinstance(reason, OSError):
        if reason.errno == errno.ENETUNREACH:
            return "the network is unreachable (no route)"
        if reason.errno == errno.EHOSTUNREACH:
            return "the host is unreachable (no route)"
        text = str(reason)
        if text.startswith("Tunnel connection failed"):
            return f"the proxy refused to connect to it ({text.split(':', 1)[1].strip()})"
        return reason.strerror or text
    return str(reason)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: report it as such rather than following it with a GET."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
