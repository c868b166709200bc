"""Demo mode: the simulated hosts under ``assets/demo/`` and a simulated container engine.

Everything here is demo-only. A scenario is a JSON file holding recorded ``HostFacts`` (the same
``{"facts": ...}`` shape `dlenv check --json` prints, so `dlenv --facts assets/demo/X.json` works too)
plus a title and a description. Demo profiles live in a per-user temporary directory, one per
scenario, so the user's real profiles are never read or written by `dlenv --demo`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlenv_tui.errors import UsageError
from dlenv_tui.locations import asset
from dlenv_tui.model import BuiltImage, EngineName, HostFacts, Profile, from_data


@dataclass(frozen=True)
class Scenario:
    """One simulated host."""

    key: str
    """File stem, e.g. ``ubuntu-4090``; what `dlenv --demo KEY` takes."""
    title: str
    description: str
    facts: HostFacts
    order: int = 0


def scenario_keys() -> list[str]:
    return sorted(p.stem for p in asset("demo").glob("*.json"))


def load_scenario(key: str) -> Scenario:
    """The scenario named ``key``; UsageError naming the known ones when there is none."""
    path = asset("demo", f"{key}.json")
    if not key or not path.is_file():
        known = ", ".join(scenario_keys())
        raise UsageError(f"no demo scenario {key!r}; choose one of: {known}.")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Scenario(
        key=key,
        title=str(data["title"]),
        description=str(data["description"]),
        facts=from_data(HostFacts, data["facts"], "facts"),
        order=int(data.get("order", 0)),
    )


def list_scenarios() -> list[Scenario]:
    """Every scenario, in the order their files' ``order`` fields give (the guide's order)."""
    return sorted((load_scenario(k) for k in scenario_keys()), key=lambda s: (s.order, s.key))


def demo_profiles_dir(key: str) -> Path:
    """Where demo profiles of scenario ``key`` live: a private directory of this user's.

    ``<user cache dir>/demo/<key>/profiles`` (``~/.cache/dlenv/…``), created 0700 here; never a
    predictable name in a shared directory like /tmp, where another user could plant a symlink
    and have the demo's delete remove a real profile. When that directory is not safe (a symlink
    on its path, owned by someone else) the demo uses a fresh ``mkdtemp`` directory instead.
    """
    from dlenv_tui import locations

    path = locations.cache_dir() / "demo" / key / "profiles"
    try:
        return _private_dir(path)
    except OSError:
        return Path(tempfile.mkdtemp(prefix=f"dlenv-demo-{key}-")) / "profiles"


def _private_dir(path: Path) -> Path:
    """Create ``path`` (0700) one directory at a time, never through a planted symlink.

    A symlink is followed only when root made it in a directory that is not this user's (a
    system link such as /var/run -> /run); one inside this user's tree, or anyone else's, is not.
    """
    uid = os.getuid()
    current = Path(path.anchor)
    for part in path.parts[1:]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o700)
            st = os.lstat(current)
        if stat.S_ISLNK(st.st_mode):
            parent_ours = os.lstat(current.parent).st_uid == uid
            if st.st_uid != 0 or parent_ours or current == path:
                raise OSError(f"{current} is a symlink")
    if os.lstat(path).st_uid != uid:
        raise OSError(f"{path} is not this user's")
    return path


# --------------------------------------------------------------------------------------------
# A simulated engine


_BUILD_LINES = (
    (
        "FROM {base}",
        (
            "{base}: Pulling from nvidia/cuda",
            "Digest: sha256:6f1c…e2a9",
            "Status: Downloaded newer image",
        ),
    ),
    ("ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8", ()),
    (
        "RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv …",
        (
            "Get:1 http://archive.ubuntu.com/ubuntu noble InRelease [256 kB]",
            "Get:2 http://archive.ubuntu.com/ubuntu noble-updates InRelease [126 kB]",
            "Reading package lists...",
            "Setting up python3.12 (3.12.3-1ubuntu0.8) ...",
            "Setting up openssh-server (1:9.6p1-3ubuntu13.13) ...",
            "Setting up tmux (3.4-1ubuntu0.1) ...",
        ),
    ),
    ("RUN groupadd -g {gid} dev && useradd -m -u {uid} -g {gid} dev", ()),
    (
        "RUN pip install torch --index-url https://download.pytorch.org/whl/cu128",
        (
            "Collecting torch",
            "  Downloading torch-2.8.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl (888.0 MB)",
            "Collecting nvidia-cudnn-cu12==9.10.2.21",
            "Installing collected packages: nvidia-cudnn-cu12, torch",
            "Successfully installed torch-2.8.0+cu128",
        ),
    ),
    (
        "RUN pip install numpy scipy pandas matplotlib seaborn scikit-learn tqdm jupyterlab",
        (
            "Collecting numpy",
            "Collecting jupyterlab",
            "Successfully installed jupyterlab-4.4.9 numpy-2.3.3 pandas-2.3.3 scipy-1.16.2",
        ),
    ),
    ("COPY entrypoint.sh /usr/local/bin/entrypoint.sh", ()),
    ("USER dev", ()),
)


#: What the simulated package index serves today: a demo build's lock takes these versions for
#: every package it does not find in the profile's lock (as `uv pip install -c LOCK` would).
DEMO_INDEX = {
    "numpy": "2.3.3",
    "scipy": "1.16.2",
    "pandas": "2.3.3",
    "polars": "1.34.0",
    "matplotlib": "3.10.6",
    "seaborn": "0.13.2",
    "scikit-learn": "1.7.2",
    "tqdm": "4.67.1",
    "torch": "2.8.0",
    "torchvision": "0.23.0",
    "jupyterlab": "4.4.9",
}
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_TORCH_LOCAL = re.compile(r"/whl/(cu\d+|cpu)\b")


def demo_lock(profile: Profile, rendered: Any) -> tuple[str, ...]:
    """The ``name==version`` lines a demo build "installs": each package the profile asks for at
    the version its lock pins (a rebuild's constraints: ``requirements.lock`` in the context),
    else at ``DEMO_INDEX``'s (an upgrade, or a package new to the lock)."""
    from dlenv_tui.image import PRESETS

    opts = profile.image
    cuda = opts.cuda.split(".")[0] if opts.cuda else ""
    names: list[str] = []
    for name in opts.python_packages:
        preset = PRESETS.get(name)
        names += [r.format(major=cuda) for r in preset.requirements] if preset else [name]
    if opts.jupyter and names:
        names.append("jupyterlab")
    names += opts.extra_pip
    files = getattr(rendered, "files", {}) or {}
    pinned: dict[str, str] = {}
    for line in files.get("requirements.lock", b"").decode().split():
        name, _, version = line.partition("==")
        pinned[name.lower()] = version
    torch_local = _TORCH_LOCAL.search(getattr(rendered, "dockerfile", "") or "")
    lock: dict[str, str] = {}
    for requirement in names:
        match = _REQUIREMENT_NAME.match(requirement)
        if match is None:
            continue
        name = match.group(0).lower()
        version = pinned.get(name) or DEMO_INDEX.get(name, "1.0.0")
        if name in ("torch", "torchvision") and torch_local and "+" not in version:
            version += f"+{torch_local.group(1)}"
        lock[name] = version
    return tuple(f"{name}=={version}" for name, version in sorted(lock.items()))


class DemoEngine:
    """A container engine that pretends: builds print plausible output, runs change nothing.

    Speaks the same objects as ``dlenv_tui.engine.EngineClient`` (BuildProgress, BuiltImage, RunInfo)
    so the screens and ``engine.connection_help`` treat both alike. It remembers the containers it
    started in this session: starting one again without ``replace`` is refused as the real engine
    refuses it, and ``info`` reads one back (with the time it started).
    """

    def __init__(
        self, engine: str = "docker", delay: float = 0.02, now: Callable[[], str] | None = None
    ) -> None:
        self.engine = EngineName(engine)
        self.delay = delay
        self.now = now or _utc_now
        """The simulated clock: when a container started."""
        self.running: dict[str, Any] = {}

    def build(
        self,
        profile: Profile,
        rendered: Any,
        on_progress: Callable[[Any], None] | None = None,
    ) -> BuiltImage:
        from dlenv_tui.engine import BuildProgress

        report = on_progress or (lambda _p: None)
        base = getattr(rendered, "base", "") or "nvidia/cuda"
        uid = profile.host.user.uid if profile.host else 1000
        gid = profile.host.user.gid if profile.host else 1000
        total = len(_BUILD_LINES)
        for i, (instruction, output) in enumerate(_BUILD_LINES, start=1):
            report(
                BuildProgress(
                    i,
                    total,
                    f"STEP {i}/{total}: " + instruction.format(base=base, uid=uid, gid=gid),
                )
            )
            for line in output:
                if self.delay:
                    time.sleep(self.delay)
                report(BuildProgress(i, total, " ---> " + line.format(base=base)))
        tag = getattr(rendered, "tag", "") or profile.image.tag or f"dlenv/{profile.name}:latest"
        report(BuildProgress(total, total, f"Successfully tagged {tag}"))
        return BuiltImage(
            tag=tag,
            id="sha256:9f2c4e1ab7d3",
            built_at="",
            engine=self.engine.value,
            lock=demo_lock(profile, rendered),
        )

    def run(self, profile: Profile, *, replace: bool = True) -> Any:
        from dlenv_tui.engine import EngineError, RunInfo
        from dlenv_tui.engine.run import already_running
        from dlenv_tui.image import host_user

        name = profile.run.name or f"dlenv-{profile.name}"
        if not replace and name in self.running:
            raise EngineError(already_running(name, profile))
        user = (
            "0:0"
            if profile.run.as_root
            else (
                f"{profile.host.user.uid}:{profile.host.user.gid}" if profile.host else "1000:1000"
            )
        )
        info = RunInfo(
            engine=self.engine,
            name=name,
            id="4be1c0ffee42",
            image=profile.image.tag or f"dlenv/{profile.name}:latest",
            user=user,
            ports=profile.run.ports,
            gpus=profile.run.gpus,
            # the image's account, as its label names it for the real engine
            user_name=(
                "root"
                if profile.run.as_root or not profile.image.create_user
                else host_user(profile.host).name
            ),
            jupyter_token="demo3f9c2a7e" if profile.image.jupyter else "",
            started_at=self.now(),
        )
        self.running[name] = info
        return info

    def info(self, profile: Profile) -> Any:
        """The running container's RunInfo as started (None when none is)."""
        return self.running.get(profile.run.name or f"dlenv-{profile.name}")

    def stop(self, profile: Profile) -> bool:
        name = profile.run.name or f"dlenv-{profile.name}"
        return self.running.pop(name, None) is not None

    def status(self, profile: Profile) -> str:
        name = profile.run.name or f"dlenv-{profile.name}"
        return "running" if name in self.running else "absent"

    def close(self) -> None:
        pass


def _utc_now() -> str:
    from dlenv_tui.session import utc_now

    return utc_now()


def after_reboot(facts: HostFacts, profile: Profile) -> HostFacts:
    """A simulated host after its simulated reboot: the new driver is loaded."""
    import dataclasses

    from dlenv_tui import compat
    from dlenv_tui.model import DriverInfo

    flavour = profile.driver.flavour or compat.driver_advice(facts.gpus).flavour
    driver = DriverInfo(
        loaded=True, version="580.95.05", flavour=flavour, cuda_version="13.0", nvml=True
    )
    gpus = tuple(dataclasses.replace(g, bound_driver="nvidia") for g in facts.gpus)
    return dataclasses.replace(facts, driver=driver, gpus=gpus)


def dockerfile_instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instructions, one per entry (continuation lines joined; comments,
    blank lines and heredoc bodies of ``RUN <<EOF`` kept with their instruction)."""
    out: list[str] = []
    current = ""
    for raw in dockerfile.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        current = f"{current} {line}".strip() if current else line
        if current.endswith("\\"):
            current = current[:-1].rstrip()
            continue
        out.append(current)
        current = ""
    if current:
        out.append(current)
    return out


class DryRunEngine(DemoEngine):
    """A dry run's engine: it builds and starts nothing and invents no output. A build lists the
    real Dockerfile's instructions as what would run; a start gives the connection lines with
    the token left to be made when the container really starts."""

    TOKEN_PLACEHOLDER = "<made-when-it-starts>"

    def build(
        self,
        profile: Profile,
        rendered: Any,
        on_progress: Callable[[Any], None] | None = None,
    ) -> BuiltImage:
        from dlenv_tui.engine import BuildProgress

        report = on_progress or (lambda _p: None)
        steps = dockerfile_instructions(getattr(rendered, "dockerfile", "") or "")
        total = max(len(steps), 1)
        for i, instruction in enumerate(steps, start=1):
            short = instruction if len(instruction) <= 200 else instruction[:199] + "…"
            report(BuildProgress(i, total, f"would run STEP {i}/{total}: {short}"))
        tag = getattr(rendered, "tag", "") or profile.image.tag or f"dlenv/{profile.name}:latest"
        report(BuildProgress(total, total, f"would tag {tag} (dry run: nothing was built)"))
        return BuiltImage(tag=tag, id="", built_at="", engine=self.engine.value)

    def run(self, profile: Profile, *, replace: bool = True) -> Any:
        import dataclasses

        info = super().run(profile, replace=True)  # nothing runs: nothing to refuse to replace
        token = self.TOKEN_PLACEHOLDER if profile.image.jupyter else ""
        info = dataclasses.replace(info, id="", jupyter_token=token, started_at="")
        self.running[info.name] = info
        return info

    def info(self, profile: Profile) -> Any:
        """None: a dry run started nothing, so there is no container to read back."""
        return None
