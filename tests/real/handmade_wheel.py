"""Wheels made by hand, for installs without a network: ``write_wheel`` writes one, and as a
PEP 517 build backend (``backend-path = ["."]``, no build requirements) this file builds the
project beside it (``[project]`` name and version, the package folder of that name)."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path
from typing import Any


def write_wheel(directory: Path | str, name: str, version: str, files: dict[str, str]) -> str:
    """``NAME-VERSION-py3-none-any.whl`` in ``directory`` holding ``files`` (path -> text), with
    its METADATA, WHEEL and RECORD: the file name."""
    dist = f"{name}-{version}.dist-info"
    content = {p: d.encode() for p, d in files.items()}
    content[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    content[f"{dist}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: handmade\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )

    def digest(data: bytes) -> str:
        raw = hashlib.sha256(data).digest()
        return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    record = "".join(f"{p},{digest(d)},{len(d)}\n" for p, d in content.items())
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(Path(directory) / filename, "w") as whl:
        for path, data in content.items():
            whl.writestr(path, data)
        whl.writestr(f"{dist}/RECORD", record + f"{dist}/RECORD,,\n")
    return filename


def build_wheel(
    wheel_directory: str, config_settings: Any = None, metadata_directory: Any = None
) -> str:
    pyproject = Path("pyproject.toml").read_text()  # no tomllib before Python 3.11
    name, version = (re.search(rf'^{k} = "(.+)"$', pyproject, re.M)[1] for k in ("name", "version"))  # type: ignore[index]
    files = {p.as_posix(): p.read_text() for p in sorted(Path(name).rglob("*.py"))}
    return write_wheel(wheel_directory, name, version, files)
