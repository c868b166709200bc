"""Field validators for everything that flows into plans, Dockerfiles and `run`: each returns "" or one sentence.

Every ``*_error`` function is pure and returns an empty string when the value is fine, otherwise one
sentence saying what is wrong, so the UI can validate as the user types; ``ensure`` turns a sentence
into a ``ValidationError``. The rules are allow-lists: values end up in argv lists, Dockerfile lines
and file contents, so anything outside a small, boring alphabet is refused rather than escaped.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from dlenv_tui.errors import UsageError


class ValidationError(UsageError):
    """A profile field or command-line value that dlenv will not use; the message names it."""


def ensure(error: str, field: str = "") -> None:
    """Raise ``ValidationError`` when ``error`` is not empty, prefixed with the field name."""
    if error:
        raise ValidationError(f"{field}: {error}" if field else error)


def _bad_chars(value: str) -> str:
    """A sentence about control characters or whitespace-only text, or ""."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "it contains a newline or another control character."
    return ""


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


# --------------------------------------------------------------------------------------------
# Names

_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def profile_name_error(name: str) -> str:
    """Profile names become file names: letters, digits, ``.``, ``_``, ``-``; no leading dot; ≤ 64."""
    if not name:
        return "a profile name cannot be empty."
    if bad := _bad_chars(name):
        return f"profile name {_show(name)}: {bad}"
    if "/" in name or "\\" in name:
        return f"profile name {_show(name)} contains a path separator; use letters, digits, '.', '_' or '-'."
    if name.startswith("."):
        return f"profile name {_show(name)} starts with a dot; use a letter or digit first."
    if len(name) > 64:
        return "a profile name can be at most 64 characters long."
    if ".." in name:
        return f"profile name {_show(name)} contains '..'; use letters, digits, '.', '_' or '-'."
    if not _PROFILE_NAME.fullmatch(name):
        return f"profile name {_show(name)} may only hold letters, digits, '.', '_' and '-', starting with a letter or digit."
    return ""


_CONTAINER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def container_name_error(name: str) -> str:
    """Docker/Podman container names (``[a-zA-Z0-9][a-zA-Z0-9_.-]*``); empty means the default."""
    if not name:
        return ""
    if bad := _bad_chars(name):
        return f"container name {_show(name)}: {bad}"
    if ".." in name:
        return f"container name {_show(name)} contains '..'; use letters, digits, '_', '.' or '-'."
    if not _CONTAINER_NAME.fullmatch(name):
        return f"container name {_show(name)} may only hold letters, digits, '_', '.' and '-', starting with a letter or digit."
    return ""


# --------------------------------------------------------------------------------------------
# Images

# The reference grammar of distribution/reference, restricted to what a user types.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_IMAGE_REF = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII
)


def image_ref_error(ref: str, what: str = "image") -> str:
    """An image reference such as ``dlenv/work:latest`` or ``nvcr.io/nvidia/pytorch:25.01-py3``."""
    if not ref:
        return f"the {what} name cannot be empty."
    if bad := _bad_chars(ref):
        return f"{what} {_show(ref)}: {bad}"
    if len(ref) > 255:
        return f"the {what} name is longer than 255 characters."
    if ref.startswith("/") or ".." in ref:
        return f"{what} {_show(ref)} looks like a path; give an image name such as 'dlenv/work:latest'."
    if not _IMAGE_REF.fullmatch(ref):
        return (
            f"{what} {_show(ref)} is not a valid image name; use lower-case 'name[:tag]' such as "
            "'dlenv/work:latest'."
        )
    return ""


# --------------------------------------------------------------------------------------------
# Packages

_APT_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?", re.ASCII)


def apt_package_error(name: str) -> str:
    """A Debian package name, optionally ``=version``."""
    if bad := _bad_chars(name):
        return f"apt package {_show(name)}: {bad}"
    if not _APT_PACKAGE.fullmatch(name) or ".." in name:
        return (
            f"apt package {_show(name)} is not a package name; use lower-case letters, digits, "
            "'+', '-' and '.' (optionally '=version')."
        )
    return ""


_PIP_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_PIP_VERSION = r"(?:===|==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!]+"
_PIP_REQUIREMENT = re.compile(
    rf"{_PIP_NAME}(?:\[{_PIP_NAME}(?:,{_PIP_NAME})*\])?(?:{_PIP_VERSION}(?:,{_PIP_VERSION})*)?",
    re.ASCII,
)


def pip_requirement_error(req: str) -> str:
    """A PyPI requirement such as ``torch``, ``polars[gpu]`` or ``numpy>=2,<3``, or a git
    repository ``git+https://host/repo.git@ref`` (optionally ``name@git+https://…``); no other
    URLs, no options."""
    if bad := _bad_chars(req):
        return f"pip package {_show(req)}: {bad}"
    if req.startswith("-"):
        return f"pip package {_show(req)} looks like an option; give a package name."
    name, at, rest = req.partition("@")
    if "git+" in req:
        url = rest if at and re.fullmatch(_PIP_NAME, name, re.ASCII) else req
        if not url.startswith("git+https://"):
            return (
                f"pip package {_show(req)}: dlenv takes git repositories as "
                "'git+https://host/repo.git@ref' (no ssh, http or spaces)."
            )
        if err := https_url_error(url.removeprefix("git+"), "git repository"):
            return f"pip package {_show(req)}: {err}"
        if urlsplit(url.removeprefix("git+")).username is not None:
            return (
                f"pip package {_show(req)} holds a login, which would stay in the image's "
                "history; use a repository that needs none."
            )
        return ""
    if not _PIP_REQUIREMENT.fullmatch(req) or ".." in req:
        return (
            f"pip package {_show(req)} is not a requirement dlenv accepts; use 'name', "
            "'name[extra]', 'name>=1.0' or 'git+https://host/repo.git@ref' without spaces."
        )
    return ""


def is_git_requirement(req: str) -> bool:
    """Whether a requirement ``pip_requirement_error`` accepts is a git repository (the image
    then needs git to fetch it)."""
    return "git+https://" in req


# --------------------------------------------------------------------------------------------
# Paths, URLs, network


def abs_path_error(path: str, what: str = "path") -> str:
    """An absolute path without ``..``, control characters, ``:`` or ``,`` (volume syntax separators)."""
    if not path:
        return f"the {what} cannot be empty."
    if bad := _bad_chars(path):
        return f"{what} {_show(path)}: {bad}"
    if not path.startswith("/"):
        return f"{what} {_show(path)} must be an absolute path (starting with '/')."
    if any(part == ".." for part in path.split("/")):
        return f"{what} {_show(path)} contains '..'; give the path without it."
    if ":" in path or "," in path:
        return (
            f"{what} {_show(path)} contains ':' or ',', which container mount syntax cannot carry."
        )
    if len(path) > 4096:
        return f"the {what} is longer than 4096 characters."
    return ""


def mount_source_error(path: str) -> str:
    """A mount source on the host: an absolute path, or ``~`` / ``~/…`` (the user's home, as a
    shell would expand it; ``expand_home`` turns it into the absolute path that is stored)."""
    if path == "~" or path.startswith("~/"):
        err = abs_path_error("/" + path[2:], "mount source")
        return err.replace(_show("/" + path[2:]), _show(path)) if err else ""
    if path.startswith("~"):
        return (
            f"mount source {_show(path)}: dlenv expands '~' and '~/…' only; give ~/path or an "
            "absolute path."
        )
    return abs_path_error(path, "mount source")


def expand_home(path: str, home: str) -> str:
    """``~`` and ``~/x`` → ``home`` and ``home/x``; anything else as written."""
    if path == "~":
        return home
    if path.startswith("~/"):
        return home.rstrip("/") + "/" + path[2:]
    return path


def container_path_error(path: str) -> str:
    """A mount target inside the container: an absolute path that is not ``/`` itself."""
    if err := abs_path_error(path, "container path"):
        return err
    if path.rstrip("/") == "":
        return "the container path cannot be '/'; mount somewhere below it such as '/workspace'."
    return ""


# no query strings or fragments: "?", "&" and "#" mean something to shells and Dockerfiles
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/@+=%-]+", re.ASCII)


def https_url_error(url: str, what: str = "URL") -> str:
    """An https URL (mirrors, package indexes) in a plain alphabet; empty means "not set"."""
    if not url:
        return ""
    if bad := _bad_chars(url):
        return f"{what} {_show(url)}: {bad}"
    if not _URL_CHARS.fullmatch(url):
        return f"{what} {_show(url)} contains characters dlenv does not accept in a URL (spaces, quotes, '$', ';' ...)."
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{what} {_show(url)} must be an https:// URL with a host name."
    return ""


def mirror_url_error(url: str, what: str = "URL") -> str:
    """An http or https URL (apt verifies signatures itself; an http pip index is the user's
    explicit choice); empty means "not set". A login in it (``user:pw@``, %-encoded) goes into a
    netrc-style file, which a space, a quote or a control character would break."""
    if not url:
        return ""
    if err := _login_error(url, what):
        return err
    if url.startswith("http://"):
        err = https_url_error("https://" + url.removeprefix("http://"), what)
        return err.replace("https://" + url.removeprefix("http://"), url) if err else ""
    err = https_url_error(url, what)
    return (
        err.replace("must be an https:// URL", "must be an http:// or https:// URL") if err else ""
    )


def _login_error(url: str, what: str) -> str:
    from urllib.parse import unquote

    try:
        parts = urlsplit(url)
        login = "".join(unquote(p) for p in (parts.username, parts.password) if p)
    except ValueError:
        return ""
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 or c in "\"'" for c in login):
        host = parts.hostname or "its host"
        return (
            f"the login in the {what} URL for {host} holds a space, a quote or a control "
            "character (after %-decoding), which the credentials file cannot carry; use a "
            "login without them."
        )
    return ""


def torch_index_error(url: str) -> str:
    """``pip`` (torch from the pip index), empty (PyTorch's own index) or an http(s) URL."""
    return "" if url == "pip" else mirror_url_error(url, "torch index")


def env_var_error(item: str, secret: bool = False) -> str:
    """``KEY=VALUE`` (run.env) or ``NAME`` / ``NAME=VAR`` / ``NAME=@/path`` (run.secrets)."""
    import re

    key, sep, value = item.partition("=")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{_show(key)} is not an environment variable name (letters, digits, '_')."
    if secret:
        if sep and not value.startswith("@") and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            return f"secret {_show(item)}: give NAME, NAME=HOST_VARIABLE or NAME=@/path/to/file."
        if sep and value.startswith("@"):
            return abs_path_error(value[1:], "secret file")
        return ""
    if not sep:
        return f"{_show(item)} is not KEY=VALUE."
    if "\n" in value or "\x00" in value:
        return f"the value of {key} holds a line break or NUL."
    return ""


def port_error(port: int, what: str = "port") -> str:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return f"{what} {port!r} must be a whole number from 1 to 65535."
    return ""


def host_ip_error(ip: str) -> str:
    """The address a published port binds to (``127.0.0.1`` by default)."""
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return f"host address {_show(ip)} is not an IP address such as 127.0.0.1 or 0.0.0.0."
    return ""


# Docker and Podman read sizes with go-units' RAMInBytes: a number, then k/m/g/t in either case,
# an optional "i" and "b" ("16g", "16gb", "16GiB", "1.5g"); a bare "b" means bytes.
_SHM = re.compile(r"([0-9]+(?:\.[0-9]+)?)(?:([kmgt])i?b?|b)?", re.ASCII | re.IGNORECASE)
_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def size_bytes(size: str) -> int | None:
    """``8g`` / ``16gb`` / ``512M`` / ``1.5g`` / ``1024`` → bytes (binary units, as Docker reads
    them); None when ``size`` is not a size."""
    m = _SHM.fullmatch(size)
    if not m:
        return None
    return int(float(m.group(1)) * _UNIT[(m.group(2) or "").lower()])


def shm_size_error(size: str) -> str:
    """``--shm-size``: a number with an optional unit, e.g. ``8g`` or ``16gb`` (as Docker reads it)."""
    n = size_bytes(size)
    if n is None:
        return (
            f"shm size {_show(size)} must be a number with an optional unit k, m, g or t "
            "(such as '8g' or '16gb')."
        )
    if n < 1:
        return f"shm size {_show(size)} is zero; give a size such as '8g'."
    if n > 1 << 40:
        return f"shm size {_show(size)} is larger than 1 TiB."
    return ""


_GPU_ITEM = re.compile(r"[0-9]{1,3}|GPU-[0-9a-fA-F-]{8,64}|MIG-[0-9a-zA-Z/-]{4,80}", re.ASCII)
_GPU_COUNT = re.compile(r"[1-9][0-9]{0,2}", re.ASCII)
GPUS_HELP = "'all', 'none', a count such as '2', or devices such as 'device=0' or '0,1'"
"""The GPU selection grammar in words, for messages and the Launch screen."""


def gpu_devices(spec: str) -> tuple[str, ...] | None:
    """The indices / UUIDs of a device list (``device=0``, ``0,``, ``0,1``, ``GPU-…``), else None.

    A bare number is a count, as in ``docker run --gpus 2``; ``device=`` or a comma makes it a list,
    so the first GPU alone is ``device=0`` or ``0,``.
    """
    body = spec.removeprefix("device=")
    if body == spec and "," not in spec and not spec.startswith(("GPU-", "MIG-")):
        return None  # a bare number is a count (or nothing valid)
    items = body.removesuffix(",").split(",")
    if all(_GPU_ITEM.fullmatch(i) for i in items):
        return tuple(items)
    return None


def gpus_error(spec: str) -> str:
    """``all``, ``none``, a count ≥ 1 (``2``), or a device list (``device=0``, ``0,``, ``0,1``, UUIDs).

    ``0`` alone is refused: Docker reads it as a count of zero GPUs, while a user typing it nearly
    always means the first GPU, so the message names both ways of saying what they mean.
    """
    if spec in ("all", "none") or _GPU_COUNT.fullmatch(spec) or gpu_devices(spec):
        return ""
    if re.fullmatch(r"0+", spec, re.ASCII):
        return (
            f"GPU selection {_show(spec)} would mean zero GPUs: write 'device=0' (or '0,') "
            "for GPU 0, or 'none' for no GPU."
        )
    return f"GPU selection {_show(spec)} must be {GPUS_HELP}."


RESTART_POLICIES = ("no", "unless-stopped", "always", "on-failure")


def restart_policy_error(policy: str) -> str:
    if policy not in RESTART_POLICIES:
        return f"restart policy {_show(policy)} must be one of {', '.join(RESTART_POLICIES)}."
    return ""


# --------------------------------------------------------------------------------------------
# Versions


def cuda_version_error(cuda: str) -> str:
    """``X.Y`` or empty (newest the GPUs and driver allow)."""
    if cuda and not re.fullmatch(r"[0-9]{1,2}\.[0-9]{1,2}", cuda, re.ASCII):
        return f"CUDA version {_show(cuda)} must look like '12.8'."
    return ""


def ubuntu_release_error(release: str) -> str:
    if not re.fullmatch(r"[0-9]{2}\.[0-9]{2}", release, re.ASCII):
        return f"Ubuntu release {_show(release)} must look like '24.04'."
    return ""


def driver_branch_error(branch: str) -> str:
    """A driver branch such as ``580``; empty means the distro's current one."""
    if branch and not re.fullmatch(r"[0-9]{3}", branch, re.ASCII):
        return f"driver branch {_show(branch)} must be three digits such as '580'."
    return ""


DRIVER_SOURCES = ("auto", "distro", "cuda-repo")


def driver_source_error(source: str) -> str:
    if source not in DRIVER_SOURCES:
        return f"driver source {_show(source)} must be one of {', '.join(DRIVER_SOURCES)}."
    return ""


def unix_user_error(name: str) -> str:
    """A login name as ``useradd`` accepts it by default, less the trailing ``$`` of Samba
    machine accounts: the image's user name goes into a RUN line."""
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", name, re.ASCII):
        return f"user name {_show(name)} is not a login name dlenv accepts."
    return ""
