"""Label and environment-variable names come from dlenv_tui.names alone (issue 13): no other
module or Dockerfile template spells them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dlenv_tui import names
from dlenv_tui.model import Profile

ROOT = Path(__file__).resolve().parents[2]
NAMES = [v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)]


@pytest.mark.parametrize("name", NAMES)
def test_no_module_spells_a_name_of_its_own(name: str) -> None:
    quoted = (f'"{name}"', f"'{name}'")
    spelled = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "dlenv_tui").rglob("*.py")
        if p.name != "names.py" and any(q in p.read_text() for q in quoted)
    ]
    template = (ROOT / "assets/templates/Dockerfile.tmpl").read_text()
    if name in template:
        spelled.append("assets/templates/Dockerfile.tmpl")
    assert spelled == []


def test_the_dockerfile_carries_the_names_of_the_module() -> None:
    from dlenv_tui.image import render_dockerfile

    text = render_dockerfile(Profile(name="box"), ssh_keys="", ca_files={}).dockerfile
    for name in (names.PROFILE_LABEL, names.USER_LABEL, names.USER_NAME_LABEL):
        assert f'{name}="' in text
    assert f"{names.SSH_ENV}=1" in text and f"{names.JUPYTER_ENV}=1" in text
