"""`dlenv data refresh`: fetch current nvidia/cuda tags and PyTorch wheels into the user's data dir."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "data",
        help="refresh dlenv's knowledge (nvidia/cuda tags, PyTorch wheels) from the network",
        description=(
            "Fetch the nvidia/cuda tag list (Docker Hub's tag API), the PyTorch wheel index and "
            "NVIDIA's CUDA repository listings (driver branches, toolkits per distribution), "
            "validate them and store them in the user's data dir, over the snapshot dlenv ships. "
            "A broken response changes nothing. Proxies come from http_proxy / https_proxy."
        ),
    )
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    refresh = actions.add_parser("refresh", help="fetch, validate and store the current data")
    refresh.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="seconds per request (default 5)"
    )
    refresh.set_defaults(func=run_refresh)


def run_refresh(args: argparse.Namespace) -> int:
    from dlenv_tui.knowledge.refresh import RefreshError, refresh
    from dlenv_tui.locations import knowledge_file

    if not 0 < args.timeout <= 120:
        from dlenv_tui.errors import UsageError

        raise UsageError("--timeout must be between 0 and 120 seconds")
    try:
        done = refresh(knowledge_file(), timeout=args.timeout)
    except RefreshError as exc:
        raise RefreshError(f"{exc}; the data in use is unchanged") from None
    print(
        f"dlenv: stored {done.tags} nvidia/cuda tags, {done.torch_releases} PyTorch releases and "
        f"{done.repos} NVIDIA repositories in {done.path.parent}; decisions now use image tags as of "
        f"{done.as_of} (and NVIDIA's repository listings of that day)."
    )
    return 0
