"""The Dockerfile's lines live in template fragments (assets/templates/dockerfile/), not in code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import dlenv_tui.image

INSTRUCTION = re.compile(
    r"(^|\n)\s*(FROM|RUN|COPY|ADD|USER|ENV|ARG|WORKDIR|ENTRYPOINT|CMD|LABEL|EXPOSE)\s", re.I
)
SHELL = re.compile(r"apt-get |update-ca-certificates|--mount=|uv pip |pip install ")


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string literal piece in code (docstrings and comments are no Dockerfile lines)."""
    docs = {  # docstrings, attribute docstrings: bare string statements
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def test_image_py_spells_no_dockerfile_instruction_or_install_command() -> None:
    source = Path(dlenv_tui.image.__file__).read_text()
    found = [
        f"line {line}: {text!r}"
        for line, text in _literals(ast.parse(source))
        if INSTRUCTION.search(text) or SHELL.search(text)
    ]
    assert found == []


def test_every_fragment_the_code_names_exists() -> None:
    source = Path(dlenv_tui.image.__file__).read_text()
    names = set(re.findall(r'_fragment\(\s*"([a-z-]+)"', source))
    names |= {f"snippet-{n}" for n in re.findall(r'_snippet\(\s*"([a-z-]+)"', source)}
    folder = Path(dlenv_tui.image.__file__).parent.parent / "assets" / "templates" / "dockerfile"
    if not folder.is_dir():  # an installed wheel
        folder = Path(dlenv_tui.image.__file__).parent / "_assets" / "templates" / "dockerfile"
    assert names and all((folder / f"{n}.tmpl").is_file() for n in names), names
