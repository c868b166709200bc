"""`python -m dlenv_tui` runs the same CLI as `dlenv`."""

import sys

from dlenv_tui.cli import main

sys.exit(main())
