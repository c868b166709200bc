"""Placeholder for the `image` subcommand(s); replaced by the module that implements them."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    _ = argparse
