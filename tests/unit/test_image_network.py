"""Rendering for restricted networks and a lean image: mirrors, CAs, proxies, credentials, flavours."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dlenv_tui import locations
from dlenv_tui.engine import _build_failure
from dlenv_tui.image import (
    ImageError,
    ImageUser,
    RenderedImage,
    proxy_settings,
    render_dockerfile,
    split_credentials,
)
from dlenv_tui.model import EngineName, ImageOptions, ImageVariant, Profile

USER = ImageUser("dev", 1234, 1234)
CERT = (
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ0ZmYWtl\nZmFrZQ==\n-----END CERTIFICATE-----"
)
KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"


def render(
    engine: EngineName = EngineName.PODMAN,
    upgrade: bool = False,
    buildkit: bool | None = None,
    **image: object,
) -> RenderedImage:
    kw: dict[str, object] = {"cuda": "13.0"}
    kw.update(image)
    p = Profile(name="t", image=ImageOptions(**kw))  # type: ignore[arg-type]
    return render_dockerfile(
        p,
        engine=engine,
        user=USER,
        ssh_keys="",
        proxy_env={},
        upgrade=upgrade,
        buildkit=buildkit,
    )


# ---- the apt mirror script, run on real sources files

SOURCES = """\
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
"""
DEB822 = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
"""
UBUNTU = """\
Types: deb
URIs: http://archive.ubuntu.com/ubuntu/
Suites: noble noble-updates
Types: deb
URIs: http://security.ubuntu.com/ubuntu/
Suites: noble-security
"""


def _run_mirror(tmp_path: Path, mirror: str, files: dict[str, str]) -> dict[str, str]:
    root = tmp_path / "root"
    (root / "etc/apt/sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (root / "etc/apt" / name).write_text(text)
    script = locations.asset("templates", "apt-mirror.sh").read_text()
    script = script.replace("/etc/apt/", f"{root}/etc/apt/")
    (tmp_path / "m.sh").write_text(script)
    subprocess.run(["sh", str(tmp_path / "m.sh"), mirror], check=True)
    return {name: (root / "etc/apt" / name).read_text() for name in files}


@pytest.mark.parametrize("mirror", ["http://mirror.example/debian", "https://m.example/debian/"])
def test_debian_security_goes_to_the_mirrors_security_archive(tmp_path: Path, mirror: str) -> None:
    out = _run_mirror(
        tmp_path, mirror, {"sources.list": SOURCES, "sources.list.d/debian.sources": DEB822}
    )
    m = mirror.rstrip("/")
    assert out["sources.list"] == (
        f"deb {m} bookworm main\ndeb {m} bookworm-updates main\n"
        f"deb {m}-security bookworm-security main\n"
    )
    assert f"URIs: {m}\n" in out["sources.list.d/debian.sources"]
    assert f"URIs: {m}-security\n" in out["sources.list.d/debian.sources"]
    for text in out.values():
        assert "/-security" not in text and "deb.debian.org" not in text


def test_ubuntu_archives_go_to_the_mirror(tmp_path: Path) -> None:
    out = _run_mirror(
        tmp_path, "http://mirrors.tuna.example/ubuntu", {"sources.list.d/ubuntu.sources": UBUNTU}
    )
    text = out["sources.list.d/ubuntu.sources"]
    assert text.count("URIs: http://mirrors.tuna.example/ubuntu\n") == 2
    assert "ubuntu.com" not in text


PORTS = """\
Types: deb
URIs: http://ports.ubuntu.com/ubuntu-ports/
Suites: noble noble-updates noble-security
"""


def test_ubuntu_ports_go_to_the_mirrors_ports_archive(tmp_path: Path) -> None:
    # arm64 bases list ports.ubuntu.com/ubuntu-ports: every Ubuntu mirror keeps it beside /ubuntu
    out = _run_mirror(
        tmp_path, "https://mirrors.tuna.example/ubuntu/", {"sources.list.d/ubuntu.sources": PORTS}
    )
    assert (
        "URIs: https://mirrors.tuna.example/ubuntu-ports\n" in out["sources.list.d/ubuntu.sources"]
    )
    own = _run_mirror(
        tmp_path / "own", "http://m.example/ubuntu-ports", {"sources.list.d/ubuntu.sources": PORTS}
    )
    assert "URIs: http://m.example/ubuntu-ports\n" in own["sources.list.d/ubuntu.sources"]


def test_country_archives_go_to_the_mirror(tmp_path: Path) -> None:
    out = _run_mirror(
        tmp_path,
        "http://m.example/ubuntu",
        {"sources.list": "deb http://de.archive.ubuntu.com/ubuntu/ jammy main\n"},
    )
    assert out["sources.list"] == "deb http://m.example/ubuntu jammy main\n"


def test_mirror_with_sed_metacharacters_lands_verbatim(tmp_path: Path) -> None:
    out = _run_mirror(tmp_path, "http://m.example/a&b/debian", {"sources.list": SOURCES})
    assert "deb http://m.example/a&b/debian bookworm main" in out["sources.list"]


def test_http_and_https_mirrors_are_both_accepted() -> None:
    for url in ("http://m.example/debian", "https://m.example/debian"):
        assert f"apt-mirror.sh {url}" in render(apt_mirror=url).dockerfile


# ---- CA certificates


def test_only_certificate_blocks_reach_the_image(tmp_path: Path) -> None:
    pem = tmp_path / "corp.pem"
    pem.write_text(f"{KEY}\n{CERT}\n")
    r = render(ca_certs=(str(pem),))
    data = r.files["ca-certificates/00-corp.crt"]
    assert b"PRIVATE KEY" not in data and CERT.encode() in data
    assert any("private key" in reason for reason in r.reasons)
    assert b"PRIVATE KEY" not in r.context_tar()


def test_a_key_alone_is_refused_in_one_sentence(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_text(KEY)
    with pytest.raises(ImageError, match="not a PEM certificate"):
        render(ca_certs=(str(pem),))


def test_ca_is_trusted_before_any_network_use(tmp_path: Path) -> None:
    pem = tmp_path / "ca.crt"
    pem.write_text(CERT)
    text = render(ca_certs=(str(pem),), apt_mirror="https://m.example/debian").dockerfile
    trusted = text.index(">> /etc/ssl/certs/ca-certificates.crt")
    for use in ("apt-mirror.sh http", "apt-get update", "pip install", "uv pip install"):
        assert trusted < text.index(use), use
    assert "UV_NATIVE_TLS=1" in text and "PIP_CERT=" in text


# ---- pip and torch indexes


def test_pip_index_applies_to_torch_too() -> None:
    text = render(pip_index="https://pypi.mirror.example/simple").dockerfile
    torch = next(li for li in text.splitlines() if "torch torchvision" in li)
    assert "--index-url https://pypi.mirror.example/simple" in torch
    assert "--extra-index-url https://download.pytorch.org/whl/cu130" in torch


def test_torch_index_from_the_pip_index_or_its_own_url() -> None:
    text = render(pip_index="https://p.example/simple", torch_index="pip").dockerfile
    torch = next(li for li in text.splitlines() if "torch torchvision" in li)
    assert "download.pytorch.org" not in text
    assert "--index-url https://p.example/simple torch torchvision" in torch
    text = render(torch_index="https://torch.mirror.example/whl/cu130").dockerfile
    assert "--extra-index-url https://torch.mirror.example/whl/cu130 torch" in text


def test_http_pip_index_is_trusted_explicitly_for_pip() -> None:
    r = render(pip_index="http://p.example/simple")
    assert "--trusted-host p.example" in r.dockerfile
    assert any("plain http" in reason for reason in r.reasons)


@pytest.mark.parametrize("field", ["torch_index", "pip_index", "apt_mirror"])
def test_bad_index_urls_are_one_sentence(field: str) -> None:
    with pytest.raises(ImageError, match=r"must be an http:// or https:// URL"):
        render(**{field: "ftp://x"})


# ---- credentials


@pytest.mark.parametrize(
    ("url", "clean", "line"),
    [
        (
            "https://u:p%40ss@pip.example/simple",
            "https://pip.example/simple",
            "login u password p@ss",
        ),
        ("http://me@m.example:8080/debian", "http://m.example:8080/debian", "login me password "),
        ("https://pip.example/simple", "https://pip.example/simple", ""),
    ],
)
def test_split_credentials(url: str, clean: str, line: str) -> None:
    got_clean, got_line = split_credentials(url)
    assert got_clean == clean
    assert (line in got_line) if line else got_line == ""


def test_credentials_stay_out_of_the_dockerfile_and_reach_steps_by_mount() -> None:
    r = render(
        apt_mirror="http://a:AptPw1@m.example/debian",
        pip_index="https://p:PipPw2@p.example/simple",
    )
    for secret in ("AptPw1", "PipPw2"):
        assert secret not in r.dockerfile
        assert all(
            secret not in v.decode(errors="replace")
            for k, v in r.files.items()
            if not k.startswith(".dlenv-secrets/")
        )
    netrc = r.files[".dlenv-secrets/netrc"].decode()
    assert "machine p.example login p password PipPw2" in netrc and "AptPw1" not in netrc
    # apt 1.9+ uses a machine token without a protocol for https only: an http mirror's names it
    apt = r.files[".dlenv-secrets/apt-auth.conf"].decode()
    assert apt == "machine http://m.example login a password AptPw1\n"
    assert (
        "source=.dlenv-secrets/apt-auth.conf,target=/etc/apt/auth.conf.d/dlenv.conf" in r.dockerfile
    )
    tls = render(apt_mirror="https://a:AptPw1@m.example:8443/debian")
    assert tls.files[".dlenv-secrets/apt-auth.conf"] == (
        b"machine https://m.example login a password AptPw1\n"
    )
    assert "target=/etc/apt/auth.conf.d/dlenv.conf" in r.dockerfile
    assert "COPY .dlenv-secrets" not in r.dockerfile


def test_credentials_without_build_mounts_are_refused() -> None:
    with pytest.raises(ImageError, match="Credentials in the apt mirror"):
        render(EngineName.DOCKER, buildkit=False, pip_index="https://p:PipPw2@p.example/simple")


# ---- proxies


def test_proxy_settings_fill_both_spellings() -> None:
    got = proxy_settings({"https_proxy": "http://proxy:3128", "NO_PROXY": "localhost"})
    assert got == {
        "HTTPS_PROXY": "http://proxy:3128",
        "https_proxy": "http://proxy:3128",
        "NO_PROXY": "localhost",
        "no_proxy": "localhost",
    }
    assert proxy_settings({}) == {}


def test_proxy_goes_to_build_args_not_the_dockerfile() -> None:
    p = Profile(name="t", image=ImageOptions(cuda="13.0"))
    r = render_dockerfile(
        p, user=USER, ssh_keys="", proxy_env={"HTTPS_PROXY": "http://u:pw@proxy.corp:3128"}
    )
    assert r.build_args["https_proxy"] == "http://u:pw@proxy.corp:3128"
    assert "proxy.corp" not in r.dockerfile and "ARG" not in r.dockerfile
    assert r.network == ""
    local = render_dockerfile(
        p, user=USER, ssh_keys="", proxy_env={"HTTP_PROXY": "http://127.0.0.1:3128"}
    )
    assert local.network == "host"
    off = render_dockerfile(
        Profile(name="t", image=ImageOptions(cuda="13.0", build_proxy=False)),
        user=USER,
        ssh_keys="",
        proxy_env={"HTTP_PROXY": "http://127.0.0.1:3128"},
    )
    assert off.build_args == {} and off.network == ""


# ---- lean image


def test_default_base_carries_no_cuda_libraries_and_says_why() -> None:
    r = render()
    assert r.base.endswith("-base-ubuntu24.04") and "cudnn" not in r.base
    header = r.dockerfile.split("FROM", 1)[0]
    assert "once, not twice" in " ".join(header.split())
    assert any("once, not twice" in reason for reason in r.reasons)


def test_runtime_flavour_with_torch_warns_of_cuda_twice() -> None:
    r = render(variant=ImageVariant.RUNTIME, cudnn=True)
    assert any("twice" in reason for reason in r.reasons)


def test_devel_flavour_matches_torch_to_its_cuda() -> None:
    r = render(variant=ImageVariant.DEVEL, cudnn=False, cuda="13.0")
    assert "-devel-" in r.base
    assert "download.pytorch.org/whl/cu130" in r.dockerfile
    assert any("nvcc" in reason for reason in r.reasons)


def test_python_packages_install_with_uv_and_its_cache() -> None:
    text = render().dockerfile
    assert "/opt/venv/bin/pip install uv" in text
    assert "--mount=type=cache,target=/home/dev/.cache/uv,uid=1234,gid=1234" in text
    classic = render(EngineName.DOCKER, buildkit=False).dockerfile
    assert "uv pip install --no-cache" in classic and "--mount" not in classic


# ---- failures


def test_failure_shows_command_status_last_lines_and_names_the_ca_option() -> None:
    lines = [f"line {i}" for i in range(30)] + [
        "SSL: CERTIFICATE_VERIFY_FAILED certificate verify failed"
    ]
    text = _build_failure(
        "The command '/bin/sh -c python3 -m venv /opt/venv && pip install uv' returned a non-zero code: 1",
        7,
        12,
        lines[-20:],
        "localhost/x",
        "RUN python3 -m venv /opt/venv && pip install uv",
    )
    first, *rest = text.splitlines()
    assert first.startswith("The image build failed at step 7 of 12 with exit status 1.")
    assert "ca_certs" in first
    assert rest[0] == "Step 7/12: RUN python3 -m venv /opt/venv && pip install uv"
    assert rest[1] == "Last 20 lines of its output:"
    assert len(rest) == 22 and rest[-1].endswith("certificate verify failed")


# ---- the lock


def test_lock_becomes_constraints_unless_upgrading() -> None:
    lock = ("numpy==2.3.1", "uv==0.9.0")
    r = render(python_packages=("numpy",), jupyter=False, lock=lock)
    assert r.files["requirements.lock"] == b"numpy==2.3.1\nuv==0.9.0\n"
    uv_lines = [li for li in r.dockerfile.splitlines() if "uv pip install" in li]
    assert uv_lines and all("-c /usr/local/lib/dlenv/requirements.lock" in li for li in uv_lines)
    assert "uv pip freeze --no-cache > /opt/venv/dlenv-installed.lock" in r.dockerfile
    up = render(python_packages=("numpy",), jupyter=False, lock=lock, upgrade=True)
    assert "requirements.lock" not in up.files and "-c /usr" not in up.dockerfile


def test_lock_changes_version_by_version() -> None:
    from dlenv_tui.engine import lock_changes

    old = ("numpy==2.3.1", "six==1.16.0", "gone==1")
    new = ("numpy==2.3.4", "six==1.16.0", "added==0.1")
    assert lock_changes(old, new) == ["numpy 2.3.1 -> 2.3.4", "+ added 0.1", "- gone 1"]


A, B = "a" * 40, "b" * 40
REPO = "git+https://git.example/org/gitpkg.git"


def test_git_packages_are_locked_by_commit_and_their_change_shown() -> None:
    """`uv pip freeze` writes a git package as ``name @ git+…@<commit>``: the lock keeps it, with
    the requirement it came from, and an upgrade shows the commit it moved to."""
    from dlenv_tui.engine import lock_changes
    from dlenv_tui.lockfile import from_freeze

    freeze = f"gitpkg @ {REPO}@{A}\n-e file:///src/mine\nother @ https://files.example/o-1.whl\nsix==1.16.0\n"
    lock = from_freeze(freeze, ("numpy", f"{REPO}@main"))
    assert lock == (
        f"gitpkg @ {REPO}@{A}  # dlenv: {REPO}@main",
        "other @ https://files.example/o-1.whl",
        "six==1.16.0",
    )
    upgraded = from_freeze(freeze.replace(A, B), (f"{REPO}@main",))
    assert lock_changes(lock, upgraded) == [f"gitpkg {A[:12]} -> {B[:12]}"]
    assert lock_changes(("gitpkg==1.0",), upgraded[:1]) == [f"gitpkg 1.0 -> {B[:12]}"]


def test_a_rebuild_keeps_git_commits_as_overrides_while_the_requirement_reads_the_same() -> None:
    """A constraint ``gitpkg @ …@<commit>`` beside the requirement ``…@main`` is a uv conflict once
    main moved on: the commits go to uv as overrides (`--override`), the versions as constraints."""
    lock = (f"gitpkg @ {REPO}@{A}  # dlenv: gitpkg@{REPO}@main", "six==1.16.0", "uv==0.9.0")
    r = render(python_packages=(), extra_pip=(f"gitpkg@{REPO}@main",), jupyter=False, lock=lock)
    assert r.files["requirements.lock"] == b"six==1.16.0\nuv==0.9.0\n"
    assert r.files["requirements.overrides"] == f"gitpkg @ {REPO}@{A}\n".encode()
    uv_lines = [li for li in r.dockerfile.splitlines() if "uv pip install" in li]
    assert uv_lines and all(
        "-c /usr/local/lib/dlenv/requirements.lock --override /usr/local/lib/dlenv/requirements.overrides"
        in li
        for li in uv_lines
    )
    assert "COPY requirements.overrides /usr/local/lib/dlenv/requirements.overrides" in r.dockerfile
    # pip (installing uv) reads the constraints only: it refuses URLs in a constraints file
    assert "pip install -c /usr/local/lib/dlenv/requirements.lock uv" in r.dockerfile

    # the requirement changed (another ref): that package resolves afresh, the rest stays locked
    moved = render(python_packages=(), extra_pip=(f"gitpkg@{REPO}@v2",), jupyter=False, lock=lock)
    assert "requirements.overrides" not in moved.files and "--override" not in moved.dockerfile
    assert any("gitpkg changed since the lock" in x for x in moved.reasons)
    assert moved.files["requirements.lock"] == b"six==1.16.0\nuv==0.9.0\n"


# ---- what `dlenv check --network` tries for the build


def test_build_endpoints_are_the_hosts_the_build_uses() -> None:
    from dlenv_tui.image import build_endpoints

    p = Profile(
        name="t",
        image=ImageOptions(
            cuda="13.0",
            apt_mirror="http://u:pw@mirror.example/ubuntu",
            pip_index="https://pypi.mirror.example/simple",
        ),
    )
    assert build_endpoints(p) == (
        "https://registry-1.docker.io",
        "http://mirror.example/ubuntu",
        # the nvidia/cuda base's own CUDA apt repository: apt-get update asks it too
        "https://developer.download.nvidia.com",
        "https://pypi.mirror.example/simple",
        "https://download.pytorch.org/whl/cu130",
    )
    plain = Profile(name="t", image=ImageOptions(cuda="12.8", python_packages=("cudf",)))
    assert build_endpoints(plain) == (
        "https://registry-1.docker.io",
        "http://archive.ubuntu.com",
        "http://security.ubuntu.com",
        "https://developer.download.nvidia.com",
        "https://pypi.org",
        "https://pypi.nvidia.com",
    )
    local = Profile(
        name="t",
        image=ImageOptions(base_override="localhost/base:1", python_packages=(), jupyter=False),
    )
    assert build_endpoints(local) == ()
    pip_torch = Profile(
        name="t", image=ImageOptions(base_override="registry.corp:5000/cuda:13", torch_index="pip")
    )
    assert build_endpoints(pip_torch) == ("https://registry.corp:5000", "https://pypi.org")


@pytest.mark.parametrize(
    "url", ["https://u:p%20w@p.example/simple", "http://u:a%0Amachine@m.example/debian"]
)
def test_a_login_the_credentials_file_cannot_carry_is_one_sentence(url: str) -> None:
    # a decoded space or newline would split the netrc line (or add a line of its own)
    with pytest.raises(ImageError, match="login in the pip index URL for") as exc:
        render(pip_index=url)
    assert "p%20w" not in str(exc.value) and "a%0A" not in str(exc.value)


def test_a_lock_from_another_cuda_keeps_everything_but_its_torch_builds() -> None:
    """Built with CUDA 13.0 (torch 2.9.1+cu130 locked), then switched to 12.8 or to the pip
    index: a constraint on +cu130 would leave uv no solution, so those pins go, the rest stay."""
    lock = ("numpy==2.3.1", "torch==2.9.1+cu130", "torchvision==0.24.1+cu130", "uv==0.9.0")
    same = render(cuda="13.0", lock=lock)
    assert same.files["requirements.lock"].decode().splitlines() == list(lock)
    for changed in (render(cuda="12.8", lock=lock), render(torch_index="pip", lock=lock)):
        assert changed.files["requirements.lock"] == b"numpy==2.3.1\nuv==0.9.0\n"
        assert any("torch, torchvision builds" in r for r in changed.reasons)
    own = render(torch_index="https://torch.mirror.example/whl/cu130", lock=lock)
    assert own.files["requirements.lock"].decode().splitlines() == list(lock)


def test_a_written_context_keeps_the_mirror_logins_from_other_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dlenv dockerfile P --output DIR`: the credentials' folder is the user's alone (0700)."""
    from dlenv_tui.cli import main
    from dlenv_tui.profiles import ProfileStore

    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "cfg"))
    opts = ImageOptions(pip_index="https://p:PipPw2@p.example/simple", extra_pip=("six",))
    ProfileStore().save(Profile(name="creds", image=opts))
    out = tmp_path / "ctx"
    assert main(["dockerfile", "creds", "--output", str(out)]) == 0
    secrets = out / ".dlenv-secrets"
    assert (secrets / "netrc").read_text().count("PipPw2") == 1
    assert secrets.stat().st_mode & 0o777 == 0o700
    assert "PipPw2" not in (out / "Dockerfile").read_text()
    capsys.readouterr()


def test_a_base_image_failure_in_the_first_step_is_whole_with_its_step_and_lines() -> None:
    """Not cut mid-word: BuildKit's resolve errors run past 200 characters."""
    message = (
        "failed to solve: nvidia/cuda:13.0.0-base-ubuntu24.04: failed to resolve source metadata "
        "for docker.io/nvidia/cuda:13.0.0-base-ubuntu24.04: failed to do request: Head "
        '"https://registry-1.docker.io/v2/nvidia/cuda/manifests/13.0.0-base-ubuntu24.04": '
        "dial tcp: lookup registry-1.docker.io on 127.0.0.53:53: no such host"
    )
    text = _build_failure(
        message,
        1,
        12,
        ["Trying to pull docker.io/nvidia/cuda:13.0.0-base-ubuntu24.04..."],
        "nvidia/cuda:13.0.0-base-ubuntu24.04",
        "FROM nvidia/cuda:13.0.0-base-ubuntu24.04",
    )
    first, *rest = text.splitlines()
    assert "cannot be pulled" in first and first.endswith("no such host.")
    assert rest[0] == "Step 1/12: FROM nvidia/cuda:13.0.0-base-ubuntu24.04"
    assert rest[-1] == "  Trying to pull docker.io/nvidia/cuda:13.0.0-base-ubuntu24.04..."


def test_binary_output_of_a_failed_step_reaches_no_terminal_as_control_codes() -> None:
    text = _build_failure(
        "exit status 3", 2, 3, ["out \x00\x1b[31mred\x1b[0m\x07 bin\tok"], "x", "RUN a"
    )
    last = text.splitlines()[-1]
    assert not any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in last), repr(last)
    assert "red" in last and "bin" in last
    assert "Last line of its output:" in text
