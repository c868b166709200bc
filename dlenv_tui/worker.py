"""`python -m dlenv_tui.worker`: the root worker that runs a validated plan into a job journal."""

from __future__ import annotations

import sys

from dlenv_tui.execute.worker import main

if __name__ == "__main__":
    sys.exit(main())
