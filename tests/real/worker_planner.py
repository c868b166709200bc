"""A root worker with a test planner: real apt steps on Debian's tiny ``hello`` and ``sl`` packages.

The product's planner installs NVIDIA's driver and toolkit, which no CI machine can download, so
the real-install tests start the worker through this file instead (``python -I worker_planner.py``,
directly as root or through a sudo rule naming this file). Everything else is the product's: the
request, its digest check, the policy, the journal, the detached job. The plan depends only on the
request's profile name, so the client and the worker plan the same steps:

- ``hello-…``: install hello;
- ``fail-<hex>``: install hello, a package that does not exist, then write a marker file;
- ``fixed-<hex>``: install hello, sl, then write the marker file;
- ``brk-<hex>``: install the local test package ``dlenv-brk`` from a file apt reads (see tests).

A doctor request goes to the product's doctor over this host's own reads, on facts that say
nouveau holds the GPU (``doctor``): CI hosts have no GPU, so no driver breakage is there to
repair, and nouveau's fix, a modprobe.d blacklist, is one that is safe to run on them.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from dlenv_tui.model import FileSpec, Plan, Profile, Stage, Step, StepKind

APT_GET = "/usr/bin/apt-get"
DPKG_QUERY = "/usr/bin/dpkg-query"
APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
#: A directory plans write to (apt preferences), for the marker write_file step.
MARKER_DIR = "/etc/apt/preferences.d"


def install(pkg: str, step_id: str | None = None) -> Step:
    return Step(
        id=step_id or f"install-{pkg}",
        title=f"Install {pkg}",
        argv=(APT_GET, "install", "-y", "--no-install-recommends", pkg),
        check=(DPKG_QUERY, "-W", "-f=${Status}\\n", pkg),
        env=APT_ENV,
    )


def marker_path(tag: str) -> str:
    return f"{MARKER_DIR}/dlenv-test-{tag}"


def marker(tag: str) -> Step:
    return Step(
        id="write",
        title="Write a marker file",
        kind=StepKind.WRITE_FILE,
        file=FileSpec(path=marker_path(tag), content="# dlenv test\n", mode=0o644),
    )


def plan(facts: Any, profile: Profile, stage: Stage) -> Plan:
    kind, _, tag = profile.name.partition("-")
    if kind == "fail":
        steps: tuple[Step, ...] = (
            install("hello"),
            install(f"dlenv-no-such-package-{tag}", "second"),
            marker(tag),
        )
    elif kind == "fixed":
        steps = (install("hello"), install("sl", "second"), marker(tag))
    elif kind == "brk":
        steps = (install("dlenv-brk"),)
    else:
        steps = (install("hello"),)
    return Plan(stage=stage, steps=steps, profile=profile.name)


def planned(name: str, stage: Stage = Stage.TOOLKIT) -> Plan:
    """What the client shows: the same plan, carrying the inputs the worker plans from."""
    from dlenv_tui.plan.stages import plan_inputs

    profile = Profile(name=name)
    return dataclasses.replace(plan(None, profile, stage), inputs=plan_inputs(profile))


def doctor(facts: Any, profile: Profile | None) -> Any:
    """The product's doctor on this host, where /proc/modules is taken to list nouveau."""
    from dlenv_tui.doctor import examine
    from dlenv_tui.probe import LocalHost

    facts = dataclasses.replace(
        facts, driver=dataclasses.replace(facts.driver, nouveau_loaded=True)
    )
    return examine(LocalHost("/"), facts, profile)[1]


def main() -> int:
    from dlenv_tui.execute.worker import main as worker_main

    return worker_main(sys.argv[1:], planner=plan, doctor=doctor)


if __name__ == "__main__":
    sys.exit(main())
