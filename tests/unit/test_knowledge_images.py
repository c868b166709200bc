"""Audit finding F5: the tag table has every flavour of the newest patch of each CUDA minor, and a
superseded patch tag is never chosen."""

from __future__ import annotations

import json

import pytest

from dlenv_tui import compat
from dlenv_tui.locations import asset
from dlenv_tui.model import ImageVariant

DATA = json.loads(asset("data", "cuda.json").read_text())
FLAVOURS = [
    (ImageVariant.BASE, False),
    (ImageVariant.RUNTIME, False),
    (ImageVariant.DEVEL, False),
    (ImageVariant.RUNTIME, True),
    (ImageVariant.DEVEL, True),
]

# tags pinned by digest in public Dockerfiles (knowledge audit F5); each must be what dlenv picks
PINNED = [
    ("13.0", ImageVariant.RUNTIME, True, "24.04", "13.0.3-cudnn-runtime-ubuntu24.04"),
    ("13.2", ImageVariant.RUNTIME, True, "24.04", "13.2.1-cudnn-runtime-ubuntu24.04"),
    ("13.2", ImageVariant.RUNTIME, False, "24.04", "13.2.1-runtime-ubuntu24.04"),
    ("13.2", ImageVariant.BASE, False, "24.04", "13.2.1-base-ubuntu24.04"),
    ("13.3", ImageVariant.RUNTIME, True, "24.04", "13.3.1-cudnn-runtime-ubuntu24.04"),
    ("13.3", ImageVariant.RUNTIME, True, "26.04", "13.3.1-cudnn-runtime-ubuntu26.04"),
]


@pytest.mark.parametrize(("cuda", "variant", "cudnn", "ubuntu", "tag"), PINNED)
def test_the_tags_seen_in_use_are_the_ones_chosen(
    cuda: str, variant: ImageVariant, cudnn: bool, ubuntu: str, tag: str
) -> None:
    assert compat.image_tag(cuda, variant, cudnn, ubuntu).value == f"nvidia/cuda:{tag}"


@pytest.mark.parametrize(
    ("cuda", "ubuntu"),
    [("13.0", "22.04"), ("13.1", "22.04"), ("13.2", "22.04"), ("13.0", "24.04"), ("13.1", "24.04"),
     ("13.2", "24.04"), ("13.3", "24.04"), ("13.3", "26.04"), ("12.9", "24.04"), ("12.8", "22.04")],
)  # fmt: skip
def test_every_flavour_of_the_newest_patch(cuda: str, ubuntu: str) -> None:
    patches = sorted(
        (
            tuple(int(x) for x in v.split("."))
            for v in DATA["images"][ubuntu]
            if v.startswith(cuda + ".")
        ),
    )
    newest = ".".join(map(str, patches[-1]))
    for variant, cudnn in FLAVOURS:
        tag = compat.image_tag(cuda, variant, cudnn, ubuntu).value
        assert tag.startswith(f"nvidia/cuda:{newest}-"), tag


def test_a_superseded_patch_is_never_chosen_for_an_x_y_request() -> None:
    for ubuntu, versions in DATA["images"].items():
        minors = {".".join(v.split(".")[:2]) for v in versions}
        for minor in minors:
            newest = max(
                (v for v in versions if v.startswith(minor + ".")),
                key=lambda v: tuple(int(x) for x in v.split(".")),
            )
            for variant, cudnn in FLAVOURS:
                try:
                    tag = compat.image_tag(minor, variant, cudnn, ubuntu).value
                except compat.CompatError:
                    continue
                assert tag.startswith(f"nvidia/cuda:{newest}-"), (ubuntu, minor, tag)


def test_the_reason_names_the_date_of_the_tag_list() -> None:
    reasons = compat.image_tag("13.0", ImageVariant.RUNTIME, True, "24.04").reasons
    assert any(f"image tags as of {DATA['images_as_of']}" in r for r in reasons)
    assert DATA["images_inferred"]["24.04"]["13.0.3"]  # what was inferred is written down
