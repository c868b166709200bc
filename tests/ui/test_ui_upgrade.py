"""The Build screen's upgrade (issue 13, deliverable 2): a rebuild installs the lock's versions, an
upgrade resolves them afresh, records the new lock and shows what changed, version by version."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from dlenv_tui.model import BuiltImage, Profile
from dlenv_tui.widgets.footer import Footer


def _lab(facts: Any, clock: Callable[[], str]) -> Profile:
    """A built profile whose lock is older than what the demo's index serves: NumPy 2.2.6 and
    seaborn 0.13.0 were current when it was built."""
    from dlenv_tui.demo import demo_lock
    from dlenv_tui.profiles import recommended_profile
    from dlenv_tui.session import _render_offline

    profile = recommended_profile("lab", facts)
    fresh = demo_lock(profile, _render_offline(profile, facts))
    old = tuple(
        {"numpy": "numpy==2.2.6", "seaborn": "seaborn==0.13.0"}.get(line.split("==")[0], line)
        for line in fresh
    )
    built = BuiltImage(tag="dlenv/lab:latest", id="sha256:1", built_at=clock(), engine="docker")
    image = dataclasses.replace(profile.image, lock=old)
    return dataclasses.replace(
        profile, image=image, last_image=built, created_at=clock(), updated_at=clock()
    )


def _state(app: Any) -> str:
    return " ".join(str(app.screen.query_one("#build-state").render()).split())


async def test_upgrade_resolves_afresh_shows_each_change_and_records_the_new_lock(
    demo_app: Any,
    wait_for: Callable[..., Any],
    wait_for_start: Any,
    screen_name: Callable[[Any], str],
    clock: Callable[[], str],
) -> None:
    app, store, _, _ = demo_app("rocky-ready")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_start(pilot)
        lab = _lab(app.ctx.facts, clock)
        store.save(lab)
        app.screen.reload(select="lab")
        await pilot.pause()
        await pilot.press("b")  # rebuild from the profile list: the lock's versions again
        await wait_for(pilot, lambda: screen_name(app) == "BuildScreen", "the build screen")
        screen = app.screen
        await wait_for(pilot, lambda: screen.built is not None, "the rebuild")
        assert f"Same {len(lab.image.lock)} package versions as the lock" in _state(app)
        assert store.load("lab").image.lock == lab.image.lock
        footer = screen.query_one(Footer)
        assert any(item.description == "Upgrade" for item in footer.items)

        await pilot.press("g")  # upgrade
        await wait_for(pilot, lambda: "changed" in _state(app), "the upgrade")
        assert "2 package versions changed" in _state(app)
        log = list(screen.query_one("#log").lines)
        assert log[-3:] == [
            "Package versions changed (2):",
            "  numpy 2.2.6 -> 2.3.3",
            "  seaborn 0.13.0 -> 0.13.2",
        ], log[-5:]
        saved = store.load("lab")
        assert "numpy==2.3.3" in saved.image.lock and "seaborn==0.13.2" in saved.image.lock
        assert saved.last_image is not None and saved.last_image.lock == saved.image.lock
        assert not screen._stale()  # the new lock is what the next rebuild installs

        await pilot.press("g")  # again: the index has not moved since
        await wait_for(pilot, lambda: "Nothing changed" in _state(app), "the second upgrade")
        assert "the upgrade resolved the same" in _state(app)


def test_a_first_build_is_not_out_of_date_once_its_lock_is_recorded(
    store: Any, clock: Callable[[], str]
) -> None:
    """The lock a build records goes into the next render (COPY requirements.lock, -c): the build
    is stamped with that render's digest, so the Build screen does not call it out of date."""
    from dlenv_tui import operations
    from dlenv_tui.demo import DemoEngine, load_scenario
    from dlenv_tui.profiles import recommended_profile
    from dlenv_tui.session import _render_offline

    facts = load_scenario("rocky-ready").facts
    profile = recommended_profile("lab", facts)
    store.save(profile)

    def render(p: Profile) -> Any:
        return _render_offline(p, facts)

    ran = operations.build_image(
        profile,
        DemoEngine(delay=0),
        render(profile),
        lambda _p: None,
        store=store,
        now=clock,
        render=render,
    )
    recorded = store.load("lab")
    assert recorded.image.lock and ran.built.lock == recorded.image.lock
    assert not operations.build_is_stale(recorded, render(recorded))
