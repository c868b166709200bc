"""Dockerfile rendering: every preset x CUDA major x Ubuntu release, hadolint on each, and the options."""

from __future__ import annotations

import dataclasses
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dlenv_tui import compat, locations
from dlenv_tui.image import (
    PRESETS,
    ImageError,
    ImageUser,
    RenderedImage,
    collect_ssh_keys,
    render_dockerfile,
)
from dlenv_tui.model import EngineName, ImageOptions, ImageVariant, Profile

USER = ImageUser("dev", 1234, 1234)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests dev@laptop"
HADOLINT = Path(sys.executable).parent / "hadolint"
HADOLINT_CONFIG = locations.asset("templates", "hadolint.yaml")


def _has_image(cuda: str) -> bool:
    try:
        compat.image_tag(cuda, ImageVariant.BASE, False, compat.ubuntu_releases_for(cuda)[0])
    except compat.CompatError:
        return False
    return True


def newest(major: str) -> str:
    """The newest CUDA of this major that has a base image (what a default profile gets)."""
    versions = compat.usable_cuda_versions(()).value
    return next(v for v in versions if v.split(".")[0] == major and _has_image(v))


CUDA_MAJORS = ("12", "13")
MATRIX = [
    (preset, newest(major), ubuntu, engine)
    for major in CUDA_MAJORS
    for ubuntu in compat.ubuntu_releases_for(newest(major))
    for preset in PRESETS
    for engine in (EngineName.DOCKER, EngineName.PODMAN)
]


def profile(**image: object) -> Profile:
    return Profile(name="t", image=ImageOptions(**image))  # type: ignore[arg-type]


def render(p: Profile, engine: EngineName = EngineName.DOCKER, **kw: object) -> RenderedImage:
    kw.setdefault("user", USER)
    kw.setdefault("ssh_keys", KEY + "\n")
    return render_dockerfile(p, engine=engine, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def rendered_matrix() -> dict[tuple[str, str, str, EngineName], RenderedImage]:
    return {
        (preset, cuda, ubuntu, engine): render(
            profile(cuda=cuda, ubuntu=ubuntu, python_packages=(preset,)), engine
        )
        for preset, cuda, ubuntu, engine in MATRIX
    }


def test_matrix_covers_both_majors_and_several_releases() -> None:
    assert {c.split(".")[0] for _, c, _, _ in MATRIX} == {"12", "13"}
    assert {u for _, _, u, _ in MATRIX} >= {"22.04", "24.04"}


def test_every_rendered_dockerfile_passes_hadolint(
    rendered_matrix: dict[tuple[str, str, str, EngineName], RenderedImage], tmp_path: Path
) -> None:
    extra = {
        "tiny": render(profile(python_packages=(), jupyter=False, ssh=False, tmux=False)),
        "root": render(profile(create_user=False, extra_pip=("six",))),
        "options": render(
            profile(
                cuda="12.8",
                extra_apt=("git", "libgl1"),
                extra_pip=("numpy<2", "rich[jupyter]>=13"),
                apt_mirror="http://mirror.example/ubuntu",
                pip_index="https://pip.example/simple",
            ),
            ca_files={"00-corp.crt": b"-----BEGIN CERTIFICATE-----\n"},
        ),
    }
    paths = []
    for i, r in enumerate([*rendered_matrix.values(), *extra.values()]):
        path = tmp_path / f"Dockerfile.{i}"
        path.write_text(r.dockerfile)
        paths.append(str(path))
    # one hadolint process for all files: ~100 separate calls would take most of the test's time
    out = subprocess.run(
        [str(HADOLINT), "--no-color", "-c", str(HADOLINT_CONFIG), *paths],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(("preset", "cuda", "ubuntu", "engine"), MATRIX)
def test_preset_renders_its_packages_on_the_matching_base(
    rendered_matrix: dict[tuple[str, str, str, EngineName], RenderedImage],
    preset: str,
    cuda: str,
    ubuntu: str,
    engine: EngineName,
) -> None:
    r = rendered_matrix[(preset, cuda, ubuntu, engine)]
    major = cuda.split(".")[0]
    assert r.base == compat.image_tag(cuda, ImageVariant.BASE, False, ubuntu).value
    assert f"FROM {r.base}\n" in r.dockerfile
    pip_lines = [line for line in r.dockerfile.splitlines() if "pip install" in line]
    for req in PRESETS[preset].requirements:
        name = req.format(major=major)
        assert any(re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", li) for li in pip_lines), (
            name
        )
    if preset == "torch":
        assert (
            f"--extra-index-url {compat.pytorch_index(cuda).value} torch torchvision"
            in r.dockerfile
        )
    if PRESETS[preset].index == "nvidia":
        assert "--extra-index-url https://pypi.nvidia.com" in r.dockerfile
    # build cache mounts on both engines by default (buildah; Docker's BuildKit via its API)
    assert "--mount=type=cache" in r.dockerfile


@pytest.mark.parametrize(
    ("preset", "major", "expected"),
    [
        ("cupy", "12", "cupy-cuda12x"),
        ("cupy", "13", "cupy-cuda13x"),
        ("cudf", "12", "cudf-cu12"),
        ("cudf", "13", "cudf-cu13"),
        ("cuml", "12", "cuml-cu12"),
        ("cuml", "13", "cuml-cu13"),
        ("dali", "12", "nvidia-dali-cuda120"),
        ("dali", "13", "nvidia-dali-cuda130"),
    ],
)
def test_cuda_major_package_names(preset: str, major: str, expected: str) -> None:
    r = render(profile(cuda=newest(major), python_packages=(preset,)))
    assert expected in r.dockerfile


def test_layers_go_system_then_user_then_python_then_configuration() -> None:
    text = render(profile(cuda="12.8", extra_pip=("six",)), buildkit=False).dockerfile
    order = [
        text.index("apt-get install"),
        text.index("setup-user.sh dev 1234 1234"),
        text.index("python3 -m venv"),
        text.index("--extra-index-url https://download.pytorch.org"),
        text.index("uv pip install --no-cache numpy"),
        text.index("uv pip install --no-cache jupyterlab"),
        text.index("uv pip install --no-cache six"),
        text.index("COPY entrypoint.sh"),
        text.index("ENTRYPOINT"),
    ]
    assert order == sorted(order)
    # pip runs as the user, not root; the image ends as the user
    assert text.index("USER 1234:1234") < text.index("python3 -m venv")
    assert text.rstrip().splitlines()[-2] == "USER 1234:1234"


def test_environment_and_labels() -> None:
    text = render(profile(cuda="12.8")).dockerfile
    for env in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "TORCH_HOME=/workspace/.cache/torch",
    ):
        assert env in text
    assert 'io.dlenv.user="1234:1234"' in text
    assert "PATH=/opt/venv/bin:$PATH" in text


def test_pip_at_run_time_installs_into_the_home_the_build_into_the_venv() -> None:
    """`pip install x` in the container lands in ~/.local (the home volume a relaunch keeps): the
    venv sees the user site and its own pip.conf says --user, written after every build step."""
    text = render(profile(cuda="12.8", extra_pip=("six",))).dockerfile
    assert "python3 -m venv --system-site-packages /opt/venv" in text
    conf = text.index("RUN printf '[install]\\nuser = true\\n' > /opt/venv/pip.conf")
    assert text.index("uv pip freeze") < conf < text.index("COPY entrypoint.sh")
    assert "PIP_USER" not in text  # pip of another venv (or uv) is not told --user
    assert "ENV PATH=$PATH:/home/dev/.local/bin" in text


def test_tiny_profile_needs_neither_apt_nor_python() -> None:
    r = render(
        profile(
            base_override="localhost/busybox:latest",
            python_packages=(),
            jupyter=False,
            ssh=False,
            tmux=False,
        )
    )
    assert "apt-get" not in r.dockerfile
    assert "pip install" not in r.dockerfile
    assert "python3" not in r.dockerfile
    assert set(r.files) == {"entrypoint.sh", "setup-user.sh"}
    assert r.base == "localhost/busybox:latest"


def test_base_override_needs_no_cuda_unless_a_cuda_package_does() -> None:
    r = render(
        profile(base_override="registry.local/ngc/pytorch:24.05-py3", python_packages=("numpy",))
    )
    assert r.base == "registry.local/ngc/pytorch:24.05-py3"
    r = render(profile(base_override="localhost/x:1", cuda="13.0", python_packages=("torch",)))
    assert "download.pytorch.org/whl/cu130" in r.dockerfile


def test_without_cuda_the_newest_usable_one_is_picked() -> None:
    r = render(profile(python_packages=("cupy",)))
    newest_cuda = newest(compat.usable_cuda_versions(()).value[0].split(".")[0])
    assert f"cupy-cuda{newest_cuda.split('.')[0]}x" in r.dockerfile
    assert any(newest_cuda in reason for reason in r.reasons)


@pytest.mark.parametrize(
    ("scenario", "index"),
    [("debian-1080", "cu126"), ("ubuntu-4090", "cu126")],
)
def test_pytorch_wheel_index_follows_the_hosts_gpus(scenario: str, index: str) -> None:
    """A Pascal GPU (GTX 1080) gets cu126 even on CUDA 12.8: newer wheels leave its kernels out.
    The RTX 4090 gets cu126 too, for its newer torch (the data has 2.14 on cu126, 2.11 on cu128)."""
    from dlenv_tui.demo import load_scenario

    facts = load_scenario(scenario).facts
    r = render(profile(cuda="12.8", python_packages=("torch",)), facts=facts)
    assert f"--extra-index-url https://download.pytorch.org/whl/{index} torch" in r.dockerfile
    if index == "cu126":
        assert any("cu126" in reason for reason in r.reasons)


def test_ssh_is_key_only_with_the_hosts_public_keys() -> None:
    r = render(profile(cuda="12.8"))
    config = r.files["sshd_config"].decode()
    assert "PasswordAuthentication no" in config
    assert "KbdInteractiveAuthentication no" in config
    assert "PermitRootLogin no" in config
    assert r.files["authorized_keys"].decode() == KEY + "\n"
    assert "openssh-server" in r.dockerfile
    assert "COPY --chown=1234:1234 authorized_keys /home/dev/.ssh/authorized_keys" in r.dockerfile
    assert "passwd" not in r.dockerfile and "chpasswd" not in r.dockerfile
    tar_modes = _tar_modes(r)
    assert tar_modes["authorized_keys"] == 0o600
    assert tar_modes["entrypoint.sh"] == 0o755


def test_ssh_without_keys_says_so() -> None:
    r = render(profile(cuda="12.8"), ssh_keys="")
    assert any("no public key" in reason for reason in r.reasons)


def test_ssh_keys_come_from_public_files_only(tmp_path: Path) -> None:
    ssh = tmp_path / ".ssh"
    ssh.mkdir()
    (ssh / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    (ssh / "id_ed25519.pub").write_text(KEY + "\n")
    (ssh / "authorized_keys").write_text(
        f'# comment\n{KEY}\nssh-rsa AAAAB3Nza other@host\ncommand="x" ssh-rsa AAAAopt x\n'
    )
    keys = collect_ssh_keys(tmp_path)
    assert keys == f"{KEY}\nssh-rsa AAAAB3Nza other@host\n"
    assert "secret" not in keys
    assert collect_ssh_keys(tmp_path / "nowhere") == ""


def test_root_image_has_no_user_and_permits_root_keys() -> None:
    r = render(profile(cuda="12.8", create_user=False))
    assert not [line for line in r.dockerfile.splitlines() if line.startswith("USER")]
    assert "setup-user.sh" not in r.files
    assert "PermitRootLogin prohibit-password" in r.files["sshd_config"].decode()
    assert "/root/.ssh/authorized_keys" in r.dockerfile
    assert r.user is None


def test_host_uid_zero_means_no_separate_user() -> None:
    r = render(profile(cuda="12.8"), user=ImageUser("root", 0, 0))
    assert r.user is None
    assert "setup-user.sh" not in r.dockerfile


def test_cache_mounts_follow_the_buildkit_switch() -> None:
    p = profile(cuda="12.8")
    with_cache = render(p, EngineName.DOCKER, buildkit=True).dockerfile
    assert "--mount=type=cache,target=/var/cache/apt,sharing=locked" in with_cache
    assert "--mount=type=cache,target=/home/dev/.cache/uv,uid=1234,gid=1234" in with_cache
    assert "rm -f /etc/apt/apt.conf.d/docker-clean" in with_cache
    assert "--no-cache-dir" not in with_cache
    classic = render(p, EngineName.DOCKER, buildkit=False).dockerfile
    assert "--mount" not in classic
    assert "rm -rf /var/lib/apt/lists/*" in classic
    assert "--no-cache-dir" in classic
    # the profile's own engine decides when none is given
    podman = dataclasses.replace(p, engine=dataclasses.replace(p.engine, engine=EngineName.PODMAN))
    assert render_dockerfile(podman, user=USER, ssh_keys="").buildkit
    assert render_dockerfile(p, engine=EngineName.DOCKER, user=USER, ssh_keys="").buildkit


def test_mirrors_and_ca_certificates(tmp_path: Path) -> None:
    ca = tmp_path / "corp root.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    r = render(
        profile(
            cuda="12.8",
            apt_mirror="http://mirror.example/ubuntu/",
            pip_index="https://pip.example/simple",
            ca_certs=(str(ca),),
        ),
    )
    assert "ca-certificates/00-corp_root.crt" in r.files
    assert "COPY ca-certificates/ /usr/local/share/ca-certificates/dlenv/" in r.dockerfile
    assert "update-ca-certificates" in r.dockerfile
    assert "PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in r.dockerfile
    # the pip index applies to every Python package, torch included
    uv_lines = [li for li in r.dockerfile.splitlines() if "uv pip install" in li]
    assert uv_lines and all("--index-url https://pip.example/simple" in li for li in uv_lines)
    assert "--index-url https://pip.example/simple uv" in r.dockerfile
    assert "sh /usr/local/lib/dlenv/apt-mirror.sh http://mirror.example/ubuntu/" in r.dockerfile
    assert "apt-mirror.sh" in r.files
    # the CA is in the system bundle before the first apt-get and pip
    text = r.dockerfile
    assert text.index("COPY ca-certificates/") < text.index(">> /etc/ssl/certs/ca-certificates.crt")
    assert text.index(">> /etc/ssl/certs/ca-certificates.crt") < text.index("apt-get update")


def test_unreadable_or_non_pem_ca_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="Cannot read the CA certificate"):
        render(profile(ca_certs=(str(tmp_path / "missing.crt"),)))
    bad = tmp_path / "bad.crt"
    bad.write_text("hello")
    with pytest.raises(ImageError, match="not a PEM certificate"):
        render(profile(ca_certs=(str(bad),)))


@pytest.mark.parametrize(
    "image",
    [
        {"extra_apt": ("git; rm -rf /",)},
        {"extra_apt": ("Git",)},
        {"extra_pip": ("six && curl evil",)},
        {"python_packages": ("$(reboot)",)},
        {"apt_mirror": "ftp://mirror"},
        {"apt_mirror": "http://m/'x"},
        {"pip_index": "https://pip example"},
        {"base_override": "ubuntu:24.04\nRUN rm -rf /"},
        {"tag": "bad tag"},
    ],
)
def test_values_that_could_inject_shell_are_refused(image: dict[str, object]) -> None:
    with pytest.raises(ImageError):
        render(profile(cuda="12.8", **image))


# PEP 508 names (validate.pip_requirement_error's): a letter or digit at both ends
_NAMES = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,19}[A-Za-z0-9])?", fullmatch=True).filter(
    lambda n: ".." not in n
)
_SPECS = st.from_regex(r"(==|>=|<=|~=|<|>)[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True)


@given(name=_NAMES, spec=st.one_of(st.just(""), _SPECS))
def test_any_accepted_requirement_lands_shell_quoted(name: str, spec: str) -> None:
    req = name + spec
    text = render(
        profile(python_packages=(), jupyter=False, extra_pip=(req,)), buildkit=False
    ).dockerfile
    line = next(li for li in text.splitlines() if li.startswith("RUN uv pip install"))
    assert shlex.split(line)[-1] == req


@given(st.text(min_size=1, max_size=30))
def test_any_extra_apt_either_renders_cleanly_or_is_refused(name: str) -> None:
    try:
        text = render(profile(python_packages=(), jupyter=False, extra_apt=(name,))).dockerfile
    except ImageError:
        return
    assert re.search(rf"^      {re.escape(name)}( \\)?$", text, re.M)
    assert re.fullmatch(r"[a-z0-9][a-z0-9+.=:~-]*", name, re.IGNORECASE)


def test_hadolint_ignores_are_listed_with_reasons() -> None:
    text = HADOLINT_CONFIG.read_text()
    rules = re.findall(r"^\s*- (DL\d+)", text, re.M)
    assert rules, "no ignored rules listed"
    for rule in rules:
        before = text[: text.index(f"- {rule}")].rstrip().splitlines()[-1]
        assert before.strip().startswith("#"), f"{rule} has no justification above it"


def _tar_modes(r: RenderedImage) -> dict[str, int]:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(r.context_tar())) as tar:
        return {m.name: m.mode for m in tar.getmembers()}


@pytest.mark.parametrize(
    ("log", "url"),
    [
        (
            "[I ServerApp]     http://127.0.0.1:8888/lab?token=...\n",
            "http://127.0.0.1:8888/lab?token=...",
        ),
        (
            "  http://4f3a2b1c9d8e:8888/lab?token=abc123\n  http://127.0.0.1:8888/lab?token=abc123\n",
            "http://127.0.0.1:8888/lab?token=abc123",
        ),
        (
            "To access the server, open http://0.0.0.0:8888/tree?token=f00\n",
            "http://0.0.0.0:8888/tree?token=f00",
        ),
        ("no url here\n", ""),
    ],
)
def test_jupyter_url_from_logs(log: str, url: str) -> None:
    from dlenv_tui.engine import jupyter_url_from_logs

    assert jupyter_url_from_logs(log) == url


@pytest.mark.parametrize(
    ("gpus", "docker", "cdi"),
    [
        ("all", "all", ["nvidia.com/gpu=all"]),
        ("none", "", []),
        ("", "", []),
        ("2", 2, ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]),
        ("0,1", ("0", "1"), ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]),
        ("device=0", ("0",), ["nvidia.com/gpu=0"]),
        ("0,", ("0",), ["nvidia.com/gpu=0"]),
        ("device=1,2", ("1", "2"), ["nvidia.com/gpu=1", "nvidia.com/gpu=2"]),
        ("GPU-1234abcd", ("GPU-1234abcd",), ["nvidia.com/gpu=GPU-1234abcd"]),
    ],
)
def test_gpu_requests(gpus: str, docker: object, cdi: list[str]) -> None:
    from dlenv_tui.engine import cdi_devices, parse_gpus

    assert parse_gpus(gpus) == docker
    assert cdi_devices(gpus) == cdi


def test_bad_gpu_and_size_values_are_one_sentence() -> None:
    from dlenv_tui.engine import EngineError, parse_gpus, parse_size

    with pytest.raises(EngineError, match=r"^GPU selection '0,x;y' must be 'all'.*'device=0'.*\.$"):
        parse_gpus("0,x;y")
    # Docker would read a bare 0 as a count of zero GPUs; a user typing it means the first GPU
    with pytest.raises(EngineError, match=r"zero GPUs: write 'device=0' \(or '0,'\) for GPU 0"):
        parse_gpus("0")
    assert parse_size("8g") == 8 << 30
    assert parse_size("512m") == 512 << 20
    with pytest.raises(EngineError, match="must be a number with an optional unit"):
        parse_size("lots")


@pytest.mark.parametrize(
    ("kw", "image", "note"),
    [
        ({"ssh_keys": ""}, {}, "SSH is on but no public key was found"),
        ({"user": ImageUser("root", 0, 0)}, {}, "dlenv runs as root here"),
        ({}, {}, "cu126 has a newer torch"),
        ({}, {"torch_index": "pip"}, "PyTorch comes from the pip index"),
        ({}, {"torch_index": "https://u:p@mirror.example/torch"}, "mirror.example/torch (your"),
    ],
)
def test_image_notes_are_the_sentences_every_front_end_shows(
    kw: dict[str, object], image: dict[str, object], note: str
) -> None:
    from dlenv_tui.image_notes import image_notes

    rendered = render(profile(cuda="12.8", **image), EngineName.PODMAN, **kw)
    notes = image_notes(rendered)
    assert any(note in n for n in notes), notes
    assert set(notes) <= set(rendered.reasons)  # `dlenv build` prints them among its reasons
    assert not any("u:p" in n for n in notes)  # a torch index login is never shown


def test_with_a_key_and_a_user_the_notes_only_explain_torch() -> None:
    from dlenv_tui.image_notes import image_notes, ssh_has_no_key

    rendered = render(profile(cuda="12.8"))
    assert all(n.startswith(("PyTorch", "cu1")) for n in image_notes(rendered))
    assert not ssh_has_no_key(rendered)
    assert ssh_has_no_key(render(profile(cuda="12.8"), ssh_keys=""))


def test_a_dry_runs_build_lists_the_dockerfiles_instructions() -> None:
    """The dry run's engine shows each instruction once, continuation lines joined, no comments."""
    from dlenv_tui.demo import DryRunEngine, dockerfile_instructions

    text = "# header\nFROM x:1\n\nRUN a \\\n    && b\n# note\nUSER dev\n"
    assert dockerfile_instructions(text) == ["FROM x:1", "RUN a && b", "USER dev"]
    seen: list[str] = []
    rendered = render_dockerfile(Profile(name="p"), None, EngineName.DOCKER)
    built = DryRunEngine("docker", delay=0).build(
        Profile(name="p"), rendered, lambda p: seen.append(p.line)
    )
    steps = dockerfile_instructions(rendered.dockerfile)
    assert seen[: len(steps)] == [
        f"would run STEP {i}/{len(steps)}: {s}" if len(s) <= 200 else seen[i - 1]
        for i, s in enumerate(steps, start=1)
    ]
    assert built.id == "" and "nothing was built" in seen[-1]


def test_podmans_apt_step_takes_turns_on_the_shared_cache_and_docker_keeps_buildkits_lock() -> None:
    ca = {"00-corp.crt": b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}
    podman = render(
        profile(apt_mirror="http://mirror.example/debian"), EngineName.PODMAN, ca_files=ca
    )
    run = next(block for block in podman.dockerfile.split("\nRUN ") if "apt-get update" in block)
    commands = [c.strip() for c in run.split("&&")]
    turn = next(i for i, c in enumerate(commands) if c.startswith("exec 9>/var/lib/apt/"))
    # after the CA is in the bundle (apt over https trusts it), before apt or the mirror script
    assert next(i for i, c in enumerate(commands) if "mkdir -p /etc/ssl/certs" in c) < turn
    assert turn < min(i for i, c in enumerate(commands) if "apt-get" in c or "apt-mirror" in c)
    assert "flock -w 1800 9 || true" in commands[turn + 1]
    assert "--mount=type=cache,target=/var/lib/apt " in podman.dockerfile  # the shared mount
    docker = render(profile(), EngineName.DOCKER)
    assert "sharing=locked" in docker.dockerfile and "flock" not in docker.dockerfile
    classic = render(profile(), EngineName.DOCKER, buildkit=False)
    assert "flock" not in classic.dockerfile and "--mount" not in classic.dockerfile
