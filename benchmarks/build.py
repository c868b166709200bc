"""Cold build against its floor, image size against its packages, rebuild after one package.

    .venv/bin/python benchmarks/build.py [--engine docker|podman] [--stack small|default] [--json]

(needs uv on the host for the floor: `.venv/bin/pip install -e '.[bench]'`)

(a) a cold build of the stack on a local Debian base (no cache: a fresh profile name changes the
    LABEL near the top), against the floor measured in the same run: `uv pip install` of the same
    requirement set into a fresh venv on the host with an empty uv cache; target <= 2x.
(b) the image's size against the sum of its installed Python packages (from each distribution's
    RECORD, read inside the image), with the share of the NVIDIA CUDA libraries (nvidia-* wheels):
    nothing should be there twice.
(c) a rebuild after adding one package, against the cold build; target <= 0.05x.
(d) what the engine itself costs for a layer that size: a build whose one RUN writes as many
    bytes of zeros as the Python packages hold (no network, no installer), against writing them on
    the host. With uv's cache on a cache mount (what (c) and a changed torch version reuse), the
    mount is another filesystem: uv writes the packages once into the cache, as the floor does, and
    once more into the layer. So floor + that layer build is the least any build of these packages
    with a cache mount can take on this engine; without a cache mount (hard links inside the
    layer), floor + layer build - host write.

``--stack default`` is the guide's stack with PyTorch from PyPI (several GB of wheels: minutes);
``small`` is numpy, tqdm, six. Not part of `make check`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dlenv_tui.engine import EngineClient, connect  # noqa: E402
from dlenv_tui.image import DEFAULT_PRESETS, PRESETS, ImageUser, render_dockerfile  # noqa: E402
from dlenv_tui.model import EngineChoice, EngineName, ImageOptions, Profile  # noqa: E402

BASE = "localhost/dlenv-test-debian:bookworm"
ADDED = "idna"
SIZES = r"""
import importlib.metadata as md, json, os
out = {}
for d in md.distributions():
    total = 0
    for f in d.files or ():
        p = f.locate()
        try:
            total += os.path.getsize(p)
        except OSError:
            pass
    out[d.metadata["Name"]] = total
print(json.dumps(out))
"""


def stack(kind: str) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    """(presets, extra pip, jupyter)."""
    if kind == "default":
        return DEFAULT_PRESETS, (), True
    return ("numpy", "tqdm"), ("six",), False


def requirements(presets: tuple[str, ...], extra: tuple[str, ...], jupyter: bool) -> list[str]:
    reqs = [r.format(major="13") for p in presets for r in PRESETS[p].requirements]
    return [*reqs, *extra, *(["jupyterlab"] if jupyter else []), "uv"]


def floor(reqs: list[str]) -> float:
    """`uv pip install` of the same set into a fresh venv with an empty cache, on the host."""
    uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(uv).exists():
        raise SystemExit("benchmarks/build.py needs uv for its floor: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([uv, "venv", "-q", str(venv)], check=True)
        start = time.perf_counter()
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin/python"), *reqs],
            check=True,
            env={**os.environ, "UV_CACHE_DIR": str(Path(tmp) / "cache")},
        )
        return time.perf_counter() - start


def build(client: EngineClient, profile: Profile) -> tuple[float, str]:
    rendered = render_dockerfile(
        profile, engine=client.engine, user=ImageUser("dev", 1234, 1234), ssh_keys=""
    )
    start = time.perf_counter()
    built = client.build(profile, rendered)
    return time.perf_counter() - start, built.tag


LAYER = """FROM {base}
RUN echo {nonce} >/nonce && dd if=/dev/zero of=/blob bs=1M count={mib} status=none
"""


def layer_cost(client: EngineClient, base: str, nbytes: int) -> tuple[float, float]:
    """(seconds to build one RUN layer of ``nbytes`` zeros, seconds to write them on the host)."""
    from dlenv_tui.image import RenderedImage

    mib = max(1, nbytes >> 20)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        start = time.perf_counter()
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={tmp}/blob", "bs=1M", f"count={mib}", "status=none"],
            check=True,
        )
        write_s = time.perf_counter() - start
    tag = f"localhost/dlenv-bench-layer:{uuid.uuid4().hex[:8]}"
    rendered = RenderedImage(
        dockerfile=LAYER.format(base=base, nonce=uuid.uuid4().hex, mib=mib), base=base, tag=tag
    )
    start = time.perf_counter()
    client.build(Profile(name="bench-layer"), rendered)
    build_s = time.perf_counter() - start
    client.client.images.remove(tag, force=True)
    return build_s, write_s


def package_sizes(client: EngineClient, tag: str) -> dict[str, int]:
    out = client.client.containers.run(
        tag, entrypoint=["python", "-c", SIZES], user="0", remove=True, network_mode="none"
    )
    return {k: int(v) for k, v in json.loads(bytes(out).decode()).items()}


def measure(engine: EngineName, base: str, kind: str) -> dict[str, Any]:
    presets, extra, jupyter = stack(kind)
    name = f"bench-{uuid.uuid4().hex[:8]}"
    profile = Profile(
        name=name,
        engine=EngineChoice(engine=engine),
        image=ImageOptions(
            base_override=base,
            cuda="13.0",
            python_packages=presets,
            extra_pip=extra,
            jupyter=jupyter,
            ssh=True,
            tmux=True,
            torch_index="pip",  # PyTorch's own index is unreachable here; PyPI's torch is a CUDA build
            tag=f"localhost/dlenv-bench:{name}",
        ),
    )
    floor_s = floor(requirements(presets, extra, jupyter))
    with connect(engine, start_service=False) as client:
        if engine is EngineName.DOCKER:
            # BuildKit: a LABEL is no layer, so a fresh name does not bust its cache, and the uv
            # and apt cache mounts would be warm: empty the build cache for a cold build
            client.client.api.prune_builds(all=True)
        cold_s, tag = build(client, profile)
        image = client.client.images.get(tag)
        size = int(image.attrs.get("Size") or 0)
        base_size = int(client.client.images.get(base).attrs.get("Size") or 0)
        sizes = package_sizes(client, tag)
        more = dataclasses.replace(
            profile, image=dataclasses.replace(profile.image, extra_pip=(*extra, ADDED))
        )
        rebuild_s, tag2 = build(client, more)
        layer_s, write_s = layer_cost(client, base, sum(sizes.values()))
        import docker.errors

        for t in {tag, tag2}:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.client.images.remove(t, force=True)
    packages = sum(sizes.values())
    cuda = sum(v for k, v in sizes.items() if k.lower().startswith("nvidia-"))
    return {
        "engine": engine.value,
        "stack": kind,
        "floor_uv_s": round(floor_s, 1),
        "cold_build_s": round(cold_s, 1),
        "cold_over_floor": round(cold_s / floor_s, 2),
        "image_bytes": size,
        "base_bytes": base_size,
        "python_packages_bytes": packages,
        "image_minus_base_minus_packages_bytes": size - base_size - packages,
        "cuda_libraries_bytes": cuda,
        "cuda_share_of_image": round(cuda / size, 3) if size else 0,
        "largest": sorted(sizes.items(), key=lambda kv: -kv[1])[:5],
        "rebuild_one_package_s": round(rebuild_s, 1),
        "rebuild_over_cold": round(rebuild_s / cold_s, 3),
        "layer_build_s": round(layer_s, 1),
        "layer_host_write_s": round(write_s, 1),
        "least_with_cache_mount_s": round(floor_s + layer_s, 1),
        "least_with_cache_mount_over_floor": round((floor_s + layer_s) / floor_s, 2),
        "least_without_cache_mount_s": round(floor_s + layer_s - write_s, 1),
        "least_without_cache_mount_over_floor": round((floor_s + layer_s - write_s) / floor_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["docker", "podman"], default="docker")
    parser.add_argument("--stack", choices=["small", "default"], default="small")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(EngineName(args.engine), args.base, args.stack)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    mb = 1 << 20
    print(f"{result['engine']}, {result['stack']} stack")
    print(
        f"(a) cold build {result['cold_build_s']} s vs uv floor {result['floor_uv_s']} s: "
        f"{result['cold_over_floor']}x (target <= 2x)"
    )
    print(
        f"(b) image {int(result['image_bytes']) // mb} MiB = base {int(result['base_bytes']) // mb} "
        f"MiB + Python packages {int(result['python_packages_bytes']) // mb} MiB + other "
        f"{int(result['image_minus_base_minus_packages_bytes']) // mb} MiB; CUDA libraries "
        f"{int(result['cuda_libraries_bytes']) // mb} MiB ({result['cuda_share_of_image']:.0%})"
    )
    print(
        f"(c) rebuild after +{ADDED}: {result['rebuild_one_package_s']} s = "
        f"{result['rebuild_over_cold']}x cold (target <= 0.05x)"
    )
    print(
        f"(d) one {int(result['python_packages_bytes']) // mb} MiB layer of zeros: "
        f"{result['layer_build_s']} s to build vs {result['layer_host_write_s']} s to write on "
        f"the host; least possible cold build here, with uv's cache mount: "
        f"{result['least_with_cache_mount_s']} s = {result['least_with_cache_mount_over_floor']}x "
        f"the floor (without: {result['least_without_cache_mount_over_floor']}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
