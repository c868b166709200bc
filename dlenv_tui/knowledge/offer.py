"""The wizard's refresh offer: dlenv's data is older than 60 days and the network answers.

Pure pieces (age from an injected clock, the sentence) and one short network probe, which the
app runs off the event loop; never in --demo.
"""

from __future__ import annotations

import datetime
import os
import urllib.error
import urllib.request

STALE_DAYS = 60
PROBE_TIMEOUT_S = 2.0


def data_as_of() -> str:
    """The date of the image tag data decisions use: the refreshed file's, else the snapshot's."""
    from dlenv_tui.compat._base import _cuda_data

    return str(_cuda_data().get("images_as_of", ""))


def age_days(now_iso: str, as_of: str) -> int | None:
    """Whole days from ``as_of`` (YYYY-MM-DD) to ``now_iso`` (ISO 8601); None if unreadable."""
    try:
        now = datetime.date.fromisoformat(now_iso[:10])
        then = datetime.date.fromisoformat(as_of[:10])
    except ValueError:
        return None
    return (now - then).days


def stale(now_iso: str, as_of: str) -> int | None:
    """The data's age in days when it is older than STALE_DAYS, else None."""
    days = age_days(now_iso, as_of)
    return days if days is not None and days > STALE_DAYS else None


def reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the tag service answers at all (any HTTP status counts), proxies honoured."""
    from dlenv_tui.knowledge.refresh import HUB_TAGS_URL

    url = os.environ.get("DLENV_REFRESH_HUB_URL", "") or HUB_TAGS_URL
    req = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "dlenv"})
    try:
        with urllib.request.urlopen(req, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def sentence(days: int, as_of: str) -> str:
    return (
        f"dlenv's image and driver data is from {as_of} ({days} days old). Press Ctrl+R to "
        "refresh it now (a few seconds), or carry on."
    )


def check(now_iso: str) -> tuple[int, str] | None:
    """(age, as-of) when the refresh should be offered: stale data and a network that answers."""
    as_of = data_as_of()
    days = stale(now_iso, as_of)
    if days is None or not reachable():
        return None
    return days, as_of
