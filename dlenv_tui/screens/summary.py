"""Summary: what this profile set up, where it is saved and how to get back to it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.markup import escape
from textual.widgets import Static

from dlenv_tui.screens.base import StageResult, StageScreen
from dlenv_tui.stages import LABELS as STAGE_LABELS


class SummaryScreen(StageScreen):
    KEY = "summary"
    TITLE_TEXT = "Summary"
    BINDINGS = [
        # the last stage: Next leads back to the profile list, so say so
        Binding("ctrl+n", "next", "Profiles", priority=True),
        Binding("enter", "next", "Profiles", show=False),
        Binding("q", "quit_wizard", "Quit", show=False),  # ^q Quit is in the footer already
    ]

    def compose_body(self) -> ComposeResult:
        p = self.profile
        facts = self.facts
        lines = []
        for key, label in STAGE_LABELS[1:5]:
            prog = p.progress.get(key)
            state = prog.state.value if prog is not None else "pending"
            if prog is not None:
                state = self.ctx.mode.say(state, f"would be {state} (dry run)")
            detail = f" — {prog.detail}" if prog is not None and prog.detail else ""
            lines.append(f"  {label:<8} {escape(state)}{escape(detail)}")
        img = p.last_image
        lines.append(
            f"  {'Build':<8} "
            + (
                escape(self.ctx.mode.say(f"{img.tag} ({img.engine})", f"would build {img.tag}"))
                if img is not None and img.tag
                else "not built"
            )
        )
        launch = p.progress.get("launch")
        lines.append(
            f"  {'Launch':<8} "
            + (
                escape(self.ctx.mode.say(launch.state.value, f"would be {launch.state.value}"))
                if launch is not None
                else "pending"
            )
            + f" as {escape(p.run.name or 'dlenv-' + p.name)}"
        )
        host = ""
        if facts is not None:
            host = f"Host: {escape(facts.hostname)} · {escape(facts.distro.name)} · driver {escape(facts.driver.version or 'none')}\n"
        o = p.image
        stack = ", ".join(o.python_packages) or "none"
        where = self.ctx.mode.store_note
        yield Static(
            f"[b]{escape(p.name)}[/b] is saved in {where}.\n{host}\n[b]Stages[/b]\n"
            + "\n".join(lines)
            + f"\n\n[b]Image[/b]  CUDA {escape(o.cuda)} {escape(o.variant.value)}{' + cuDNN' if o.cudnn else ''}, Ubuntu {escape(o.ubuntu)}",
            classes="summary",
        )
        # its own widget, so a long package list wraps under itself rather than at the left edge
        yield Static(f"Python: {escape(stack)}", classes="summary summary-detail")
        yield Static(
            f"[b]Run[/b]    GPUs {escape(p.run.gpus)}, shm {escape(p.run.shm_size)}, "
            + ", ".join(f"{pm.host_ip}:{pm.host}→{pm.container}" for pm in p.run.ports)
            + "\n\nLater: [b]dlenv[/b] → pick the profile → [b]b[/b] rebuilds, [b]l[/b] relaunches. "
            f"Scripted: [b]dlenv run {escape(p.name)}[/b], [b]dlenv stop {escape(p.name)}[/b].",
            classes="summary",
        )

    def action_quit_wizard(self) -> None:
        self.dismiss(StageResult("quit", self.profile))
