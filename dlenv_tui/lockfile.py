"""The Python package lock a build records (`uv pip freeze`) and how a rebuild installs it again.

A lock line is ``name==version`` or a direct reference ``name @ url`` (a git package:
``name @ git+https://host/repo.git@<commit>``). A git line that one of the profile's requirements
asked for carries that requirement as a comment (``  # dlenv: git+https://host/repo.git@main``),
so a rebuild can tell whether the user changed it since: the commit is kept only while the
requirement reads the same.

A rebuild passes the ``==`` lines to uv as constraints (a changed requirement that conflicts is an
error, `--upgrade` resolves afresh) and the direct references as overrides: uv refuses a
constraint ``name @ git+…@<commit>`` beside the requirement ``name @ git+…@main`` once that
branch moved on ("conflicting URLs"), while an override replaces the requirement.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

ASKED = "  # dlenv: "
"""Between a git lock line and the requirement it was resolved from."""

_DIRECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*@\s*(\S+)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")


def from_freeze(text: str, requirements: Sequence[str] = ()) -> tuple[str, ...]:
    """The lock from `uv pip freeze`'s output: its ``==`` lines and direct references (editable
    installs and comments stay out); a git reference that one of ``requirements`` asked for
    (the same repository) carries it after ``ASKED``."""
    asked = {_repository(_url(r)): r for r in requirements if _is_git(_url(r))}
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        direct = _DIRECT.match(line)
        if direct is None:
            if "==" in line:
                out.append(line)
            continue
        url = direct.group(2)
        req = asked.get(_repository(url)) if _is_git(url) else None
        out.append(f"{line}{ASKED}{req}" if req else line)
    return tuple(out)


def split(
    lock: Sequence[str], requirements: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """(constraints, overrides, names resolved afresh) for a rebuild that installs ``lock``.

    A git line whose requirement changed since the lock (another ref, or the repository is now
    asked for directly) or is no longer asked for stays out: it resolves afresh."""
    now = {_repository(_url(r)): r for r in requirements if _is_git(_url(r))}
    constraints: list[str] = []
    overrides: list[str] = []
    afresh: list[str] = []
    for line in lock:
        body, _, asked = line.partition(ASKED)
        body, asked = body.strip(), asked.strip()
        direct = _DIRECT.match(body)
        if direct is None:
            if body:
                constraints.append(body)
            continue
        name, url = direct.groups()
        if _is_git(url):
            current = now.get(_repository(url))
            if (asked or current) and asked != current:
                if current:
                    afresh.append(name)
                continue
        overrides.append(body)
    return tuple(constraints), tuple(overrides), afresh


def versions(lock: Sequence[str]) -> dict[str, str]:
    """Package name (lower case) -> its version, or the commit (12 digits) of a git reference, or
    the URL of another direct reference."""
    out: dict[str, str] = {}
    for line in lock:
        body = line.partition(ASKED)[0].strip()
        direct = _DIRECT.match(body)
        if direct is not None:
            name, url = direct.groups()
            ref = url.partition("#")[0].rpartition("@")[2] if _is_git(url) else ""
            out[name.lower()] = ref[:12] if _SHA.match(ref) else url
            continue
        name, eq, version = body.partition("==")
        if eq:
            out[name.strip().lower()] = version.strip()
    return out


def _url(requirement: str) -> str:
    """The URL of a requirement ``name @ url``, ``name@url`` or a bare ``git+…`` URL; "" for none."""
    direct = _DIRECT.match(requirement.strip())
    if direct is not None:
        return direct.group(2)
    return requirement.strip() if requirement.strip().startswith("git+") else ""


def _is_git(url: str) -> bool:
    return url.startswith("git+")


def _repository(url: str) -> str:
    """A git URL less its ref (``@main``, ``@<commit>``) and any fragment but its subdirectory:
    the same repository whichever commit a line names."""
    base, _, fragment = url.partition("#")
    scheme, sep, rest = base.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in path:
        path = path.rpartition("@")[0]
    path = path.rstrip("/").removesuffix(".git")
    sub = next((p for p in fragment.split("&") if p.startswith("subdirectory=")), "")
    return f"{scheme}{sep}{host}{slash}{path}" + (f"#{sub}" if sub else "")
