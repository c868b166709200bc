"""Prove the image uses the GPU: a short Python check run inside the profile's built image.

Inside: the image's Python packages import; torch.cuda.is_available(); each GPU's compute
capability is in torch.cuda.get_arch_list() (a cubin of the same major, or a PTX to JIT from);
cuDNN's version; a small matmul on every visible (selected) GPU; NCCL when more than one is
selected. Without a GPU on the host the imports are checked and the GPU part says "skipped: no
GPU on this host".
"""

from __future__ import annotations

import contextlib
import datetime
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from dlenv_tui.model import GpuCheck

if TYPE_CHECKING:
    from dlenv_tui.engine import EngineClient
    from dlenv_tui.model import Profile

MARKER = "DLENV-GPU-CHECK "
NO_GPU = "skipped: no GPU on this host"

#: Runs as ``python3 -c SCRIPT GPU MODULE...``; GPU is "1" when the host has a usable GPU.
SCRIPT = r"""
import json, sys
want_gpu = sys.argv[1] == "1"
r = {"ok": True, "torch": "", "cuda": "", "cudnn": "", "arch_list": [], "gpu": "", "lines": []}
def bad(line):
    r["ok"] = False
    r["lines"].append(line)
for name in sys.argv[2:]:
    try:
        __import__(name)
        r["lines"].append("import %s: ok" % name)
    except Exception as exc:
        bad("import %s: FAILED (%s: %s)" % (name, type(exc).__name__, exc))
try:
    import torch
except Exception:
    torch = None
if not want_gpu:
    r["gpu"] = "skipped: no GPU on this host"
if torch is None:
    r["lines"].append("torch is not in the image: nothing to run on a GPU")
    r["gpu"] = r["gpu"] or "skipped: torch is not in the image"
else:
    r["torch"] = torch.__version__
    r["cuda"] = torch.version.cuda or ""
    try:
        v = torch.backends.cudnn.version()
        r["cudnn"] = "" if v is None else "%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100) if v >= 10000 else str(v)
    except Exception as exc:
        r["lines"].append("cudnn: %s" % exc)
    if not want_gpu:
        pass
    elif not torch.cuda.is_available():
        bad("torch.cuda.is_available() is False: the container sees no GPU")
        r["gpu"] = "failed: no GPU visible in the container"
    else:
        arch = torch.cuda.get_arch_list()
        r["arch_list"] = arch
        done = []
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            ok_arch = any(
                (a.startswith("sm_") and a[3:].rstrip("af")[:-1] == str(major) and int(a[3:].rstrip("af")[-1]) <= minor)
                or (a.startswith("compute_") and (int(a[8:].rstrip("af")[:-1]), int(a[8:].rstrip("af")[-1])) <= (major, minor))
                for a in arch
            )
            name = torch.cuda.get_device_name(i)
            if not ok_arch:
                bad("GPU %d %s: sm_%d%d is not in torch's arch list %s" % (i, name, major, minor, " ".join(arch)))
                continue
            try:
                a = torch.randn(512, 512, device="cuda:%d" % i)
                value = float((a @ a).sum().item())
                torch.cuda.synchronize(i)
                done.append("GPU %d %s (sm_%d%d): matmul ok" % (i, name, major, minor))
                r["lines"].append(done[-1])
            except Exception as exc:
                bad("GPU %d %s: matmul failed (%s)" % (i, name, exc))
        if torch.cuda.device_count() > 1:
            try:
                r["lines"].append("NCCL %s" % ".".join(str(x) for x in torch.cuda.nccl.version()))
            except Exception as exc:
                bad("NCCL: not available (%s)" % exc)
        r["gpu"] = "ok: " + "; ".join(done) if done and r["ok"] else "failed"
print("DLENV-GPU-CHECK " + json.dumps(r))
"""

#: Python import names of the presets the image stage offers (what the check imports).
IMPORTS = {
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "polars": "polars",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "scikit-learn": "sklearn",
    "tqdm": "tqdm",
    "torch": "torch",
    "cupy": "cupy",
    "jupyterlab": "jupyterlab",
}


def imports_for(profile: Profile) -> list[str]:
    """The modules the check imports: the profile's known presets, in its order."""
    out = []
    for package in profile.image.python_packages:
        key = package.split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
        if key in IMPORTS and IMPORTS[key] not in out:
            out.append(IMPORTS[key])
    return out


def parse_output(text: str, *, now: str = "") -> GpuCheck:
    """The check's report from the container's output; a failed GpuCheck when it printed none."""
    for line in reversed(text.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER) :])
            except ValueError:
                break
            return GpuCheck(
                ok=bool(data.get("ok")),
                checked_at=now,
                torch=str(data.get("torch", "")),
                cuda=str(data.get("cuda", "")),
                cudnn=str(data.get("cudnn", "")),
                arch_list=tuple(str(a) for a in data.get("arch_list", ())),
                gpu=str(data.get("gpu", "")),
                lines=tuple(str(x) for x in data.get("lines", ())),
            )
    tail = [ln for ln in text.splitlines() if ln.strip()][-3:]
    return GpuCheck(
        ok=False,
        checked_at=now,
        gpu="failed: the check printed no report",
        lines=tuple(tail) or ("the check printed nothing",),
    )


def run_gpu_check(client: EngineClient, profile: Profile, *, gpu: bool) -> GpuCheck:
    """Run the check in the profile's built image (a throw-away container, no ports or mounts)."""
    import docker.errors

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    probe = replace(
        profile,
        run=replace(
            profile.run,
            name=f"dlenv-gpucheck-{profile.name}",
            ports=(),
            mounts=(),
            restart="no",
            gpus=profile.run.gpus if gpu else "none",
        ),
    )
    command = ["python3", "-c", SCRIPT, "1" if gpu else "0", *imports_for(profile)]
    from dlenv_tui.names import JUPYTER_ENV, SSH_ENV

    info = client.run(probe, command=command, env={SSH_ENV: "0", JUPYTER_ENV: "0"})
    try:
        with contextlib.suppress(Exception):  # a hung check: report what it printed so far
            client.client.api.wait(info.id, timeout=600)
        text = client.client.api.logs(info.id, stdout=True, stderr=True).decode(
            "utf-8", errors="replace"
        )
    except docker.errors.APIError as exc:
        return GpuCheck(ok=False, checked_at=now, gpu="failed", lines=(str(exc),))
    finally:
        client.stop(probe)
    return parse_output(text, now=now)


def after_build(client: EngineClient, profile: Profile) -> GpuCheck | None:
    """The check right after a build, on a host whose NVIDIA driver is loaded; None elsewhere
    (without a GPU, `dlenv doctor --profile P` still checks the imports)."""
    import os

    if not os.path.exists("/proc/driver/nvidia/version"):
        return None
    return run_gpu_check(client, profile, gpu=True)


def record_gpu_check(profile_name: str, check: GpuCheck) -> None:
    """Store the result with the profile's last build (the store's atomic save)."""
    from dlenv_tui.profiles import ProfileStore

    store = ProfileStore()
    profile = store.load(profile_name)
    if profile.last_image is None:
        return
    store.save(replace(profile, last_image=replace(profile.last_image, gpu_check=check)))


def summary(check: GpuCheck) -> str:
    """One line for the Launch screen: the verdict, what the image has, and the GPU part."""
    verdict = "passed" if check.ok else "FAILED"
    parts = [f"torch {check.torch}" if check.torch else "torch did not import"]
    if check.cuda:
        parts.append(f"CUDA {check.cuda}")
    if check.cudnn:
        parts.append(f"cuDNN {check.cudnn}")
    when = f" ({check.checked_at[:10]})" if check.checked_at else ""
    gpu = f"; GPU: {check.gpu}" if check.gpu else ""
    return f"In-image GPU check{when} {verdict}: {', '.join(parts)}{gpu}."
