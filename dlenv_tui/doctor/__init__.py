"""`dlenv doctor`: diagnose a GPU container host from its facts and raw reads, and plan the repairs."""

from __future__ import annotations

from collections.abc import Sequence

from dlenv_tui.doctor.evidence import HostReads, Read, read_host
from dlenv_tui.doctor.findings import Finding
from dlenv_tui.doctor.signatures import SIGNATURES, Inputs, diagnose
from dlenv_tui.model import Check, HostFacts, Profile
from dlenv_tui.probe.host import Host


def examine(
    host: Host,
    facts: HostFacts,
    profile: Profile | None = None,
    reach: Sequence[Check] = (),
) -> tuple[HostReads, tuple[Finding, ...]]:
    """Read ``host`` (read-only) and diagnose it; the reads come back for the bundle."""
    containers: list[tuple[str, str]] = []
    if profile is not None:
        name = profile.run.name or f"dlenv-{profile.name}"
        containers.append((profile.engine.engine.value, name))
    reads = read_host(host, facts.kernel, containers)
    return reads, diagnose(Inputs(facts, reads, profile, tuple(reach)))


__all__ = [
    "SIGNATURES",
    "Finding",
    "HostReads",
    "Inputs",
    "Read",
    "diagnose",
    "examine",
    "read_host",
]
