"""Operations the wizard and the CLI share, over the engine and image APIs (no Textual).

A thin layer for now: what a build records and whether a recorded build is out of date.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.image import RenderedImage
    from dlenv_tui.model import BuiltImage, Profile


def context_digest(rendered: RenderedImage) -> str:
    """sha256 over the Dockerfile and every build-context file, in name order."""
    h = hashlib.sha256()
    h.update(b"Dockerfile\0" + rendered.dockerfile.encode("utf-8") + b"\0")
    for name in sorted(rendered.files):
        h.update(name.encode("utf-8") + b"\0" + rendered.files[name] + b"\0")
    return "sha256:" + h.hexdigest()


def stamp_build(built: BuiltImage, rendered: RenderedImage) -> BuiltImage:
    """``built`` with the digest of what it was built from, so a later change is noticed."""
    return replace(built, context_digest=context_digest(rendered))


def build_is_stale(profile: Profile, rendered: RenderedImage) -> bool:
    """Whether ``profile``'s last build came from another Dockerfile or context than ``rendered``
    (False when there is no build, or it recorded no digest: then nothing is known)."""
    last = profile.last_image
    if last is None or not last.tag or not last.context_digest:
        return False
    return last.context_digest != context_digest(rendered)
