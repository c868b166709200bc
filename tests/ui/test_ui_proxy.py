"""The Image stage says which proxy variables this host has and passes them, if the user wants,
into the container as well as to the build (issue 13, deliverable 3)."""

from __future__ import annotations

import dataclasses
from typing import Any

from textual.widgets import Checkbox

HOST_PROXY = {
    "https_proxy": "http://alice:s3cret@proxy.corp:3128",
    "NO_PROXY": "localhost,.corp",
    "PATH": "/usr/bin",
}


def _text(screen: Any, id_: str) -> str:
    return " ".join(str(screen.query_one(f"#{id_}").render()).split())


async def test_the_proxy_for_the_container_is_chosen_on_the_image_stage_and_saved(
    demo_app: Any, walk_to_image: Any, walk_to_end: Any
) -> None:
    app, store, _, _ = demo_app("rocky-ready")
    app.ctx.deps = dataclasses.replace(app.ctx.deps, proxy_env=lambda: HOST_PROXY)
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_image(pilot)
        screen = app.screen
        said = _text(screen, "proxy-vars")
        assert "HTTPS_PROXY=http://***@proxy.corp:3128" in said
        assert "NO_PROXY=localhost,.corp" in said
        assert "s3cret" not in said and "alice" not in said  # a login is never shown
        box = screen.query_one("#run-proxy", Checkbox)
        assert not box.value  # off unless the user wants it
        box.value = True
        await pilot.pause()
        await walk_to_end(pilot)  # build, launch, summary: each stage saves the profile
    saved = store.load("gpu-dev")
    assert saved.run.proxy and saved.image.build_proxy


async def test_a_host_without_proxy_variables_is_told_so(demo_app: Any, walk_to_image: Any) -> None:
    """The demo's simulated host sets none, whatever this machine's environment holds."""
    app, _, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await walk_to_image(pilot)
        assert "This host sets no HTTP(S)_PROXY / NO_PROXY" in _text(app.screen, "proxy-vars")


def test_the_proxy_summary_hides_logins() -> None:
    from dlenv_tui.image import proxy_summary

    assert proxy_summary(
        {"http_proxy": "bob:p@ss@proxy:80", "HTTPS_PROXY": "https://proxy.corp:3128/"}
    ) == ("HTTP_PROXY=***@proxy:80", "HTTPS_PROXY=https://proxy.corp:3128/")
    assert proxy_summary({"PATH": "/bin"}) == ()
