"""Rebuild cost after adding one pip package: cached steps and rebuild/full-build time, on real engines.

    .venv/bin/python benchmarks/rebuild.py [--engine docker|podman|both] [--base IMAGE] [--json]

Builds a generated Dockerfile (a local Debian base; apt python3 + venv; a few pip packages; a user
with UID 1234) from scratch, then the same profile with one more pip package, through the product's
render_dockerfile + EngineClient.build. The system-package layer must come from the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlenv_tui.engine import BuildProgress, EngineClient, connect  # noqa: E402
from dlenv_tui.image import ImageUser, render_dockerfile  # noqa: E402
from dlenv_tui.model import EngineChoice, EngineName, ImageOptions, Profile  # noqa: E402

BASE = "localhost/dlenv-test-debian:bookworm"


def build(
    client: EngineClient, profile: Profile
) -> tuple[float, dict[int, bool], dict[int, str], int]:
    rendered = render_dockerfile(
        profile, engine=client.engine, user=ImageUser("dev", 1234, 1234), ssh_keys=""
    )
    cached: dict[int, bool] = {}
    titles: dict[int, str] = {}
    total = [0]

    def on(p: BuildProgress) -> None:
        total[0] = p.total
        cached.setdefault(p.step, False)
        if p.cached:
            cached[p.step] = True
        if p.line.lstrip().lower().startswith(f"step {p.step}/"):
            titles[p.step] = p.line.split(":", 1)[-1].strip()

    start = time.perf_counter()
    client.build(profile, rendered, on)
    return time.perf_counter() - start, cached, titles, total[0]


def measure(
    engine: EngineName, base: str, packages: tuple[str, ...], added: str
) -> dict[str, object]:
    # a fresh profile name changes the LABEL near the top, so the first build starts cold
    name = f"bench-{uuid.uuid4().hex[:8]}"
    profile = Profile(
        name=name,
        engine=EngineChoice(engine=engine),
        image=ImageOptions(
            base_override=base,
            python_packages=packages,
            jupyter=False,
            ssh=False,
            tmux=False,
            ca_certs=tuple(sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))),
            tag=f"localhost/dlenv-bench:{engine.value}",
        ),
    )
    with connect(engine) as client:
        full_s, _, _, total = build(client, profile)
        more = dataclasses.replace(
            profile, image=dataclasses.replace(profile.image, extra_pip=(added,))
        )
        re_s, cached, titles, re_total = build(client, more)
    apt_steps = [s for s, t in titles.items() if "apt-get install" in t]
    rendered = render_dockerfile(
        more, engine=engine, user=ImageUser("dev", 1234, 1234), ssh_keys=""
    )
    if not apt_steps:  # podman prints no step titles with "Step": find it in the Dockerfile order
        apt_steps = [_step_of(rendered.dockerfile, "apt-get install")]
    return {
        "engine": engine.value,
        "cache_mounts": rendered.buildkit,
        "full_build_s": round(full_s, 2),
        "full_steps": total,
        "rebuild_s": round(re_s, 2),
        "rebuild_steps": re_total,
        "rebuild_cached_steps": sum(1 for s in range(1, re_total + 1) if cached.get(s)),
        "system_layer_cached": all(cached.get(s) for s in apt_steps),
        "ratio": round(re_s / full_s, 3),
    }


def _step_of(dockerfile: str, needle: str) -> int:
    step = 0
    continued = False
    for line in dockerfile.splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            step += 1
        if needle in line:
            return step
        continued = stripped.endswith("\\")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["docker", "podman", "both"], default="both")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--packages", default="tqdm,numpy", help="pip packages of the first build")
    parser.add_argument("--add", default="six", help="the one pip package added for the rebuild")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.base == BASE:
        subprocess.run([str(ROOT / "scripts" / "ci-engines"), "base-debian", BASE], check=True)
    engines = (
        [EngineName.DOCKER, EngineName.PODMAN]
        if args.engine == "both"
        else [EngineName(args.engine)]
    )
    packages = tuple(p for p in args.packages.split(",") if p)
    results = [measure(e, args.base, packages, args.add) for e in engines]
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"pip packages {', '.join(packages)}; rebuild adds {args.add}")
        for r in results:
            print(
                f"{r['engine']:>6}: full {r['full_build_s']:6.2f} s ({r['full_steps']} steps) | "
                f"rebuild {r['rebuild_s']:5.2f} s, {r['rebuild_cached_steps']}/{r['rebuild_steps']} "
                f"steps from cache, system layer cached: {r['system_layer_cached']} | "
                f"ratio {r['ratio']:.3f} | cache mounts: {r['cache_mounts']}"
            )
    return 0 if all(r["system_layer_cached"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
