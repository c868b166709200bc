"""``Footer``: Textual's footer, recomposed only when the keys it would show have changed."""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """Textual's ``Footer`` rebuilds all its keys on every binding refresh (a screen push, each focus
    move: three before a new screen's footer settles); this one skips a rebuild that would show the
    same keys, so a screen is complete sooner. Everything else is Textual's."""

    _shown: object = None
    """What the keys were last composed from."""

    def _composed_from(self) -> object:
        """Everything ``Footer.compose`` reads that can change while it is mounted."""
        return (
            self._bindings_ready,
            self.show_command_palette,
            self.combine_groups,
            tuple(
                (binding, enabled, tooltip)
                for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
            ),
        )

    async def recompose(self) -> None:
        if self.is_attached:
            shown = self._composed_from()
            if shown == self._shown:
                return
            self._shown = shown
        await super().recompose()
