"""The help screen (F1 / ?): what each stage does and the keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# dlenv

Takes this host from a bare OS to a running deep-learning container. Nothing privileged runs
before you have seen the plan (every command and file) and confirmed it.

## Keys

| Key | Does |
|---|---|
| **Ctrl+N** / Enter | next: confirm this stage, apply its plan |
| **Esc** | back to the previous stage (or the profile list) |
| **s** | skip a stage that is already satisfied |
| **Tab** / Shift+Tab | move between fields |
| **Ctrl+P** | command palette: rebuild, relaunch, stop, theme |
| **F1** / **?** | this help |
| **Ctrl+Q** | quit (the profile is saved after every stage) |

## Stages

1. **Prereq** — what the probe found, each row ok / warn / fail with what to do.
2. **Driver** — open kernel modules for Turing and newer, the proprietary 580 branch for
   Maxwell/Pascal/Volta; Secure Boot needs a signed module or a key enrolled at the console.
3. **Toolkit** — the NVIDIA Container Toolkit lets containers use the GPU.
4. **Engine** — Docker or Podman, connected to the GPU, with a smoke test.
5. **Image** — CUDA, cuDNN, Ubuntu, Python stack, JupyterLab, SSH, mirrors, CA certificates;
   this host's proxy variables for the build and, if you want, the container; Dockerfile preview.
6. **Build** — builds the image with a live log. **r** rebuilds with the exact package versions
   of the last build (the lock); **g** upgrades: the packages resolve afresh, the new versions
   become the lock and the screen lists what changed, old -> new.
7. **Launch** — GPUs, shared memory, mounts, ports; how to connect. **Ctrl+R** on a container
   that is already running asks first: **r** replaces it (what was installed outside your home
   and the mounts is lost), **Esc** keeps it and shows how to connect to it.

Profiles live in `~/.config/dlenv/profiles/`; `dlenv --demo` keeps its own in a temporary
directory and changes nothing on this machine.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="help"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
