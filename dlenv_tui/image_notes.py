"""The notes about a profile's image that every front end shows alike: `dlenv build`, `dlenv run`
and `dlenv info`, the Image and the Launch screens (no Textual here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlenv_tui.image import RenderedImage

NO_SSH_KEY = (
    "SSH is on but no public key was found in ~/.ssh: add one to ~/.ssh/authorized_keys and "
    "build again to log in."
)
ROOT_NO_USER = "dlenv runs as root here, so the image has no separate user."


def image_notes(rendered: RenderedImage) -> tuple[str, ...]:
    """What the user must know about this image wherever it is shown: SSH without a public key,
    no separate user under root, where PyTorch comes from and why (``render_dockerfile`` sets
    them beside its other reasons, which `dlenv build` and `dlenv dockerfile` print in full)."""
    return rendered.notes


def ssh_has_no_key(rendered: RenderedImage) -> bool:
    """Whether the image runs sshd with no public key to log in with (an ``ssh`` line would fail)."""
    keys = rendered.files.get("authorized_keys")
    return keys is not None and not keys.strip()


def ssh_line_without_key(profile_name: str) -> str:
    """The Launch / `dlenv run` line where the ``ssh`` command would be, when it cannot work."""
    return (
        "SSH into the container: not yet, the image has no public key (none was in ~/.ssh); add "
        f"one to ~/.ssh/authorized_keys, then `dlenv build {profile_name}` and start it again."
    )
