"""Reproducible rebuilds on real Docker and Podman (issue 13): a build records the exact versions
in the profile and the image, a rebuild installs them again, an upgrade re-resolves and says
what changed."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from dlenv_tui.engine import EngineClient, lock_changes
from dlenv_tui.image import ImageUser, render_dockerfile
from dlenv_tui.model import ImageOptions, Profile

pytestmark = [pytest.mark.engine, pytest.mark.timeout(600)]


@pytest.fixture
def locked_build(image_user: ImageUser) -> Callable[..., Profile]:
    """``locked_build(client, profile, upgrade=False)`` → the profile with its image and lock."""

    def run(client: EngineClient, profile: Profile, upgrade: bool = False) -> Profile:
        rendered = render_dockerfile(
            profile,
            engine=client.engine,
            user=image_user,
            ssh_keys="",
            proxy_env={},
            upgrade=upgrade,
        )
        built = client.build(profile, rendered)
        image = dataclasses.replace(profile.image, lock=built.lock or profile.image.lock)
        return dataclasses.replace(profile, image=image, last_image=built)

    return run


def _version(lock: tuple[str, ...], name: str) -> str:
    return next(line.split("==")[1] for line in lock if line.lower().startswith(f"{name}=="))


def test_rebuild_reuses_the_lock_and_upgrade_shows_the_change(
    client: EngineClient,
    debian: str,
    locked_build: Any,
    small_profile: Any,
) -> None:
    p = small_profile(f"lock-{client.engine.value}", client.engine, debian)
    p = dataclasses.replace(p, image=dataclasses.replace(p.image, extra_pip=("six==1.16.0",)))
    p = locked_build(client, p)
    assert p.last_image is not None and _version(p.last_image.lock, "six") == "1.16.0"
    assert _version(p.image.lock, "uv")  # uv itself is pinned too

    # the requirement loosens, yet a rebuild installs the locked version again
    p = dataclasses.replace(p, image=dataclasses.replace(p.image, extra_pip=("six",)))
    rebuilt = locked_build(client, p)
    assert rebuilt.last_image is not None
    assert _version(rebuilt.last_image.lock, "six") == "1.16.0"

    upgraded = locked_build(client, rebuilt, upgrade=True)
    assert upgraded.last_image is not None
    new = _version(upgraded.last_image.lock, "six")
    assert new != "1.16.0"
    assert f"six 1.16.0 -> {new}" in lock_changes(rebuilt.image.lock, upgraded.image.lock)


class _Created:
    """A created container whose one file is the freeze (what ``read_lock`` copies out)."""

    def __init__(self, data: bytes) -> None:
        import io
        import tarfile

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("dlenv-installed.lock")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        self.tar = buf.getvalue()

    def get_archive(self, path: str) -> tuple[list[bytes], dict[str, object]]:
        return [self.tar], {}

    def remove(self, force: bool = False) -> None:
        pass


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@example", "-c", "user.name=t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_git_requirement_is_locked_by_commit_with_the_real_uv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, handmade_wheel: ModuleType
) -> None:
    """The uv command the Dockerfile runs, with the lock files the render writes, on a local git
    repository (no network): a rebuild after ``main`` moved on installs the locked commit, an
    upgrade the new one, and ``lock_changes`` shows commit -> commit."""
    from dlenv_tui import image

    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is a dependency of the dev environment"
    repo = tmp_path / "gitpkg"
    (repo / "gitpkg").mkdir(parents=True)
    shutil.copy(Path(handmade_wheel.__file__), repo / "backend.py")
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n\n'
        '[project]\nname = "gitpkg"\nversion = "1.0"\n'
    )
    (repo / "gitpkg" / "__init__.py").write_text("REV = 1\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    first = _git(repo, "rev-parse", "HEAD")
    requirement = f"gitpkg@git+file://{repo}@main"
    # git+file:// is for this test only (profiles take git+https://)
    monkeypatch.setattr(image, "_validate", lambda opts: None)
    env = {
        **os.environ,
        "UV_OFFLINE": "1",
        "UV_NO_CONFIG": "1",
        "UV_CACHE_DIR": str(tmp_path / "cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "PATH": f"{Path(uv).parent}:{os.environ.get('PATH', '')}",
    }

    def build(lock: tuple[str, ...], upgrade: bool = False) -> tuple[tuple[str, ...], str]:
        """Render, run the uv step on the host into a fresh venv: (the lock, gitpkg's REV)."""
        p = Profile(
            name="gitlock",
            image=ImageOptions(
                python_packages=(), jupyter=False, ssh=False, extra_pip=(requirement,), lock=lock
            ),
        )
        rendered = render_dockerfile(
            p, user=ImageUser("dev", 1234, 1234), ssh_keys="", proxy_env={}, upgrade=upgrade
        )
        venv = tmp_path / f"venv{len(list(tmp_path.glob('venv*')))}"
        subprocess.run(
            [uv, "venv", "-q", "--python", sys.executable, str(venv)], env=env, check=True
        )
        # the RUN step that installs the requirement, less its build mounts (the cache)
        step = next(s for s in rendered.dockerfile.split("\nRUN ") if "gitpkg@" in s)
        command = re.sub(r"--mount=\S+ \\\n\s*", "", step).split("\n")[0]
        for name, path in (
            ("requirements.lock", image.LOCK_PATH),
            ("requirements.overrides", image.OVERRIDES_PATH),
        ):
            if name in rendered.files:
                (venv / name).write_bytes(rendered.files[name])
                command = command.replace(path, str(venv / name))
        assert "/usr/local/lib/dlenv" not in command, command
        run = subprocess.run(
            command,
            shell=True,
            env={**env, "VIRTUAL_ENV": str(venv)},
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        freeze = subprocess.run(
            [uv, "pip", "freeze"],
            env={**env, "VIRTUAL_ENV": str(venv)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rev = subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import gitpkg; print(gitpkg.REV)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        # the engine's read_lock on an image holding this freeze file
        engine = EngineClient.__new__(EngineClient)
        engine.client = SimpleNamespace(  # type: ignore[assignment]
            containers=SimpleNamespace(create=lambda *a, **kw: _Created(freeze.encode()))
        )
        return engine.read_lock("gitlock", (*p.image.python_packages, *p.image.extra_pip)), rev

    lock, rev = build(())
    assert rev == "1"
    assert lock == (f"gitpkg @ git+file://{repo}@{first}  # dlenv: {requirement}",)

    (repo / "gitpkg" / "__init__.py").write_text("REV = 2\n")
    _git(repo, "commit", "-qam", "two")
    second = _git(repo, "rev-parse", "HEAD")

    rebuilt, rev = build(lock)
    assert rev == "1", "the rebuild installs the locked commit, not main's new one"
    assert rebuilt == lock

    upgraded, rev = build(lock, upgrade=True)
    assert rev == "2"
    assert lock_changes(lock, upgraded) == [f"gitpkg {first[:12]} -> {second[:12]}"]
