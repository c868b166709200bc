"""`python -m dlenv_tui.probe [--sysroot DIR]`: this host's facts as JSON on standard output.

The wizard probes through this program rather than in one of its own threads: importing the probe
and NVML and running a dozen version queries then happen in another process (another core), not
under the UI's GIL right after its first paint; and a driver call that hangs (a GPU fallen off the
bus) can be given up on with a timeout instead of pinning a thread in the UI for good. On failure it
prints one sentence on standard error and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dlenv_tui.model import to_data
from dlenv_tui.probe import LocalHost, probe_host


def main(argv: list[str]) -> int:
    sysroot = None
    if argv[:1] == ["--sysroot"] and len(argv) == 2:
        sysroot = argv[1]
    elif argv:
        print("usage: python -m dlenv_tui.probe [--sysroot DIR]", file=sys.stderr)
        return 2
    try:
        facts = probe_host(LocalHost(Path(sysroot)) if sysroot else None)
    except Exception as exc:
        print(f"{exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        sys.stdout.write(json.dumps(to_data(facts)))
        sys.stdout.flush()
    except OSError:  # the reader went away (the wizard quit): nobody is left to tell
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
