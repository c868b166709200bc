"""File writes and downloads the worker performs itself: atomic, with their mode, verified."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from dlenv_tui import fsutil
from dlenv_tui.errors import DlenvError
from dlenv_tui.model import DownloadSpec, FileSpec

#: Keys and repository files are small; anything bigger is not what a plan asked for.
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024

Fetcher = Callable[[str, float], bytes]


class FileStepError(DlenvError):
    """A file write or download failed; the message is one sentence."""


def same_file(path: str, data: bytes, mode: int) -> bool:
    """Whether ``path`` already holds exactly ``data`` with ``mode`` (the step is done)."""
    try:
        st = os.stat(path)
        if (st.st_mode & 0o7777) != mode:
            return False
        return Path(path).read_bytes() == data
    except OSError:
        return False


def write_atomic(path: str, data: bytes, mode: int) -> None:
    """Create the parent directory if needed, then write ``path`` atomically with ``mode``."""
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fsutil.write_atomic(path, data, mode)


def write_file(spec: FileSpec) -> bool:
    """Write ``spec``; return False when the file was already exactly so (nothing changed)."""
    data = spec.content.encode()
    if same_file(spec.path, data, spec.mode):
        return False
    try:
        write_atomic(spec.path, data, spec.mode)
    except OSError as exc:
        raise FileStepError(f"Could not write {spec.path}: {exc.strerror or exc}.") from exc
    return True


def https_fetch(url: str, timeout: float) -> bytes:
    """GET ``url`` over https (certificates verified), at most MAX_DOWNLOAD_BYTES."""
    if not url.lower().startswith("https://"):
        raise FileStepError(f"{url} is not an https URL.")
    import urllib.request  # here, not at the top: only downloads need http/ssl/email

    request = urllib.request.Request(url, headers={"User-Agent": "dlenv"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data: bytes = response.read(MAX_DOWNLOAD_BYTES + 1)
    except OSError as exc:
        raise FileStepError(f"Could not download {url}: {exc}.") from exc
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise FileStepError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MiB.")
    return data


def _gpg(args: list[str], data: bytes, home: str) -> bytes:
    try:
        proc = subprocess.run(
            ["gpg", "--batch", "--no-tty", "--homedir", home, *args],
            input=data,
            capture_output=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        )
    except FileNotFoundError as exc:
        raise FileStepError("gpg is needed to check a signing key but is not installed.") from exc
    if proc.returncode != 0:
        raise FileStepError(f"gpg could not read the key: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def key_fingerprints(data: bytes) -> set[str]:
    """OpenPGP fingerprints of every key (and subkey) in ``data``, upper-case without spaces."""
    with tempfile.TemporaryDirectory(prefix="dlenv-gpg-") as home:
        out = _gpg(["--with-colons", "--show-keys", "--fixed-list-mode"], data, home)
    # "fpr:::::::::0123ABCD…:" — the tenth field is the fingerprint.
    return {
        line.split(":")[9].upper()
        for line in out.decode(errors="replace").splitlines()
        if line.startswith("fpr:") and len(line.split(":")) > 9
    }


def download(spec: DownloadSpec, timeout: float, fetch: Fetcher = https_fetch) -> bool:
    """Fetch, verify and write ``spec.dest``; return False when it already held the result."""
    data = fetch(spec.url, timeout)
    if spec.sha256:
        digest = hashlib.sha256(data).hexdigest()
        if digest != spec.sha256.lower():
            raise FileStepError(
                f"{spec.url} has sha256 {digest}, not the expected {spec.sha256.lower()}."
            )
    if spec.fingerprint:
        want = spec.fingerprint.replace(" ", "").upper()
        found = key_fingerprints(data)
        if want not in found:
            raise FileStepError(
                f"The key from {spec.url} does not have fingerprint {want} "
                f"(it has {', '.join(sorted(found)) or 'no key'})."
            )
    if spec.dearmor:
        with tempfile.TemporaryDirectory(prefix="dlenv-gpg-") as home:
            data = _gpg(["--dearmor"], data, home)
    if same_file(spec.dest, data, spec.mode):
        return False
    try:
        write_atomic(spec.dest, data, spec.mode)
    except OSError as exc:
        raise FileStepError(f"Could not write {spec.dest}: {exc.strerror or exc}.") from exc
    return True
