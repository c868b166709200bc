"""`dlenv profiles set NAME KEY=VALUE …` and the no-GPU default of `dlenv profiles new`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dlenv_tui.cli import main
from dlenv_tui.model import Mount, PortMap, Profile
from dlenv_tui.profiles import ProfileStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ProfileStore:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    s = ProfileStore()
    s.save(Profile(name="box"))
    return s


def test_run_and_image_options_are_set_and_saved(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "profiles",
            "set",
            "box",
            "gpus=none",
            "shm_size=16g",
            "ports=127.0.0.1:2200:22,8899:8888",
            "mounts=/srv/data:/data:ro,/home/me/work:/workspace",
            "proxy=yes",
            "apt_mirror=http://mirrors.example/debian",
            "torch_index=pip",
            "ca_certs=/etc/ssl/corp.crt",
            "python_packages=numpy,pandas==2.2.*",
        ]
    )
    assert code == 0
    p = store.load("box")
    assert p.run.gpus == "none" and p.run.shm_size == "16g" and p.run.proxy is True
    assert p.run.ports == (PortMap(22, 2200, "127.0.0.1"), PortMap(8888, 8899))
    assert p.run.mounts == (Mount("/srv/data", "/data", True), Mount("/home/me/work", "/workspace"))
    assert p.image.apt_mirror == "http://mirrors.example/debian"
    assert p.image.torch_index == "pip" and p.image.ca_certs == ("/etc/ssl/corp.crt",)
    assert p.image.python_packages == ("numpy", "pandas==2.2.*")  # no torch: a CPU-only stack
    out = capsys.readouterr().out
    assert "box: run.ports = 127.0.0.1:2200->22, 127.0.0.1:8899->8888" in out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("gpus", "is not KEY=VALUE"),
        ("colour=blue", "is not an option"),
        ("shm_size=lots", "shm_size"),
        ("gpus=0", "gpus"),
        ("ports=22:abc", "is not HOST:CONTAINER"),
        ("ports=70000:22", "host port"),
        ("mounts=relative:/data", "mount source"),
        ("proxy=maybe", "give yes or no"),
        ("variant=huge", "choose one of base, runtime, devel"),
        ("pip_index=ftp://x", "pip index"),
        ("torch_index=not a url", "torch index"),
        ("restart=sometimes", "restart"),
        ("other.gpus=all", "the section is run. or image."),
        ("python_packages=numpy,--index-url=http://evil", "python_packages"),
    ],
)
def test_bad_settings_are_one_sentence_and_change_nothing(
    store: ProfileStore, capsys: pytest.CaptureFixture[str], setting: str, message: str
) -> None:
    before = store.load("box")
    assert main(["profiles", "set", "box", setting]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert store.load("box") == before


def test_new_profile_on_a_host_without_gpus_starts_containers_without_gpus(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    facts_file: Callable[[str], Path],
) -> None:
    monkeypatch.setenv("DLENV_CONFIG_DIR", str(tmp_path / "config"))
    data = json.loads(facts_file("ubuntu-24.04-rtx4090-fresh").read_text())
    facts = data.get("facts", data)
    facts["gpus"] = []
    nogpu = tmp_path / "nogpu.json"
    nogpu.write_text(json.dumps(data))
    assert main(["profiles", "new", "cpu", "--facts", str(nogpu)]) == 0
    assert "No NVIDIA GPU was found" in capsys.readouterr().out
    assert ProfileStore().load("cpu").run.gpus == "none"
    assert (
        main(["profiles", "new", "gpu", "--facts", str(facts_file("ubuntu-24.04-rtx4090-fresh"))])
        == 0
    )
    assert "No NVIDIA GPU" not in capsys.readouterr().out
    assert ProfileStore().load("gpu").run.gpus == "all"


def test_env_and_secrets_are_set_checked_and_read_at_launch(
    store: ProfileStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlenv_tui.engine import EngineError
    from dlenv_tui.engine.run import run_environment

    token = tmp_path / "hf-token"
    token.write_text("hf_secret_value\n")
    assert (
        main(
            [
                "profiles",
                "set",
                "box",
                "env=HF_HOME=/workspace/.hf OMP_NUM_THREADS=4",
                f"secrets=HF_TOKEN=@{token} WANDB_API_KEY",
            ]
        )
        == 0
    )
    p = store.load("box")
    assert p.run.env == ("HF_HOME=/workspace/.hf", "OMP_NUM_THREADS=4")
    # the profile names where a secret comes from, never its value
    assert "hf_secret_value" not in (store.directory / "box.toml").read_text()
    monkeypatch.setenv("WANDB_API_KEY", "wb-123")
    assert run_environment(p) == {
        "HF_HOME": "/workspace/.hf",
        "OMP_NUM_THREADS": "4",
        "HF_TOKEN": "hf_secret_value",
        "WANDB_API_KEY": "wb-123",
    }
    monkeypatch.delenv("WANDB_API_KEY")
    with pytest.raises(EngineError, match="WANDB_API_KEY, which is not set"):
        run_environment(p)
    assert main(["profiles", "set", "box", "env=1BAD=x"]) == 2
    assert main(["profiles", "set", "box", "secrets=X=@relative"]) == 2


# One grammar per value (issue 11): the wizard form's check, `dlenv profiles set` and a profile
# file accept and refuse each of these alike. (setting, the form field's kind, value, accepted)
ONE_GRAMMAR = [
    ("shm_size", "shm_size", "16gb", True),
    ("shm_size", "shm_size", "16GB", True),
    ("shm_size", "shm_size", "1.5g", True),
    ("shm_size", "shm_size", "0", False),
    ("shm_size", "shm_size", "lots", False),
    ("mounts", "mount_source", "~/ws", True),
    ("mounts", "mount_source", "~bob/ws", False),
    ("mounts", "mount_source", "ws", False),
    ("apt_mirror", "mirror_url", "http://mirror.example/ubuntu", True),
    ("apt_mirror", "mirror_url", "ftp://mirror.example/ubuntu", False),
    ("extra_pip", "pip_packages", "git+https://github.com/org/repo.git@v1.0", True),
    ("extra_pip", "pip_packages", "tool@git+https://github.com/org/tool", True),
    ("extra_pip", "pip_packages", "git+ssh://git@github.com/org/repo", False),
    ("extra_pip", "pip_packages", "git+https://me:secret@github.com/org/repo", False),
    ("base_override", "image", "Ubuntu:24.04", False),
]


def _toml(setting: str, value: str) -> str:
    """A profile file holding ``value`` for ``setting``."""
    import tomli_w

    from dlenv_tui.profiles import profile_to_toml

    text = profile_to_toml(Profile(name="file"))
    import tomllib

    data = tomllib.loads(text)
    if setting == "mounts":
        data["run"]["mounts"] = [{"source": value, "target": "/workspace", "read_only": False}]
    elif setting == "shm_size":
        data["run"]["shm_size"] = value
    elif setting == "extra_pip":
        data["image"]["extra_pip"] = [value]
    else:
        data["image"][setting] = value
    return tomli_w.dumps(data)


@pytest.mark.parametrize(("setting", "kind", "value", "ok"), ONE_GRAMMAR)
def test_one_grammar_for_the_form_profiles_set_and_a_profile_file(
    store: ProfileStore,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    kind: str,
    value: str,
    ok: bool,
) -> None:
    from dlenv_tui.screens.services import validate_field

    monkeypatch.setenv("HOME", "/home/me")
    monkeypatch.delenv("SUDO_USER", raising=False)
    # the wizard form
    form_error = validate_field(kind, value)
    assert (form_error == "") is ok, form_error
    # dlenv profiles set
    arg = f"{setting}={value}:/workspace" if setting == "mounts" else f"{setting}={value}"
    code = main(["profiles", "set", "box", arg])
    err = capsys.readouterr().err
    assert (code == 0) is ok, err
    if not ok:
        assert len(err.strip().splitlines()) == 1 and err.strip().endswith(".")
    # a profile file, as `dlenv profiles show` checks it
    (store.directory / "file.toml").write_text(_toml(setting, value))
    code = main(["profiles", "show", "file"])
    err = capsys.readouterr().err
    assert (code == 0) is ok, err
    if ok and setting == "mounts":
        # stored as the absolute path it means, from either side
        assert store.load("box").run.mounts[0].source == "/home/me/ws"
        assert store.load("file").run.mounts[0].source == "/home/me/ws"


@pytest.mark.parametrize(
    ("setting", "value"),
    [(s, v) for s, k, v, ok in ONE_GRAMMAR if ok and s in ("apt_mirror", "extra_pip")],
)
def test_image_values_the_profile_accepts_render(setting: str, value: str) -> None:
    """image.py keeps no looser or stricter copy: what the profile takes goes into the Dockerfile."""
    import dataclasses

    from dlenv_tui.image import render_dockerfile

    p = Profile(name="box")
    image = dataclasses.replace(
        p.image,
        cuda="12.8",
        **{setting: (value,) if setting == "extra_pip" else value},  # type: ignore[arg-type]
    )
    rendered = render_dockerfile(dataclasses.replace(p, image=image), ssh_keys="", ca_files={})
    if setting == "extra_pip":
        assert value in rendered.dockerfile
        assert "      git" in rendered.dockerfile  # uv needs git to clone it
    else:
        assert rendered.files["apt-mirror.sh"]


@pytest.mark.parametrize(
    ("size", "expected"),
    [("16gb", 16 << 30), ("16GB", 16 << 30), ("512M", 512 << 20), ("8GiB", 8 << 30)],
)
def test_the_engine_reads_sizes_by_the_same_grammar(size: str, expected: int) -> None:
    from dlenv_tui.engine import parse_size

    assert parse_size(size) == expected


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        (s, v)
        for s, k, v, ok in ONE_GRAMMAR
        if not ok and s in ("apt_mirror", "extra_pip", "base_override")
    ]
    + [("extra_pip", "name>=1,"), ("tag", "Dlenv/Work:latest")],
)
def test_image_values_the_profile_refuses_do_not_render(setting: str, value: str) -> None:
    """...and what the profile refuses, the Dockerfile refuses with the profile's sentence."""
    import dataclasses

    from dlenv_tui.image import ImageError, render_dockerfile
    from dlenv_tui.profiles import profile_errors

    p = Profile(name="box")
    image = dataclasses.replace(
        p.image,
        cuda="12.8",
        **{setting: (value,) if setting == "extra_pip" else value},  # type: ignore[arg-type]
    )
    p = dataclasses.replace(p, image=image)
    sentence = next(iter(profile_errors(p))).split(": ", 1)[1]
    with pytest.raises(ImageError) as caught:
        render_dockerfile(p, ssh_keys="", ca_files={})
    assert str(caught.value).lower() == sentence.lower()


# ---- audit: every value the wizard form and a profile file take, `profiles set` takes alike


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("extra_pip=numpy>=2,<3", ("numpy>=2,<3",)),
        ("extra_pip=polars[gpu,async] tqdm", ("polars[gpu,async]", "tqdm")),
        ("extra_pip=numpy scipy", ("numpy", "scipy")),  # as the Image form splits them
        ("extra_apt=git vim", ("git", "vim")),
    ],
)
def test_list_values_split_as_the_form_splits_them(
    store: ProfileStore, setting: str, expected: tuple[str, ...]
) -> None:
    """What the Image form takes (space-separated) `profiles set` takes; commas between
    requirements still separate them, but not a version range's or an extras list's."""
    from dlenv_tui.screens.services import validate_field

    assert main(["profiles", "set", "box", setting]) == 0
    key, _, value = setting.partition("=")
    assert getattr(store.load("box").image, key) == expected
    kind = "pip_packages" if key == "extra_pip" else "apt_packages"
    assert validate_field(kind, value) == ""
    assert main(["profiles", "set", "box", "extra_pip=pandas==2.2.*,numpy>=2,!=2.1.0"]) == 0
    assert store.load("box").image.extra_pip == ("pandas==2.2.*", "numpy>=2,!=2.1.0")


def test_env_values_may_hold_spaces_and_repeated_list_keys_add_up(store: ProfileStore) -> None:
    assert main(["profiles", "set", "box", "env=MSG=hello world A=1", "env=B=2"]) == 0
    assert store.load("box").run.env == ("MSG=hello world", "A=1", "B=2")


def test_a_scalar_key_given_twice_is_one_sentence(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    before = store.load("box")
    assert main(["profiles", "set", "box", "gpus=all", "gpus=2"]) == 2
    err = capsys.readouterr().err
    assert "gpus" in err and "twice" in err and len(err.strip().splitlines()) == 1
    assert store.load("box") == before


def test_errors_name_the_key_as_written(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profiles", "set", "box", "gpus="]) == 2
    assert capsys.readouterr().err.startswith("dlenv: run.gpus: ")


def test_a_secret_given_as_its_value_is_refused_and_not_echoed(
    store: ProfileStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("hf_abcDEF123", raising=False)
    assert main(["profiles", "set", "box", "secrets=HF_TOKEN=hf_abcDEF123"]) == 2
    err = capsys.readouterr().err
    assert "hf_abcDEF123" not in err and "@/" in err and len(err.strip().splitlines()) == 1
    assert "hf_abcDEF123" not in (store.directory / "box.toml").read_text()
    # a host variable's name (set here, or upper case as variables are) is still a reference
    monkeypatch.setenv("my_token", "x")
    assert main(["profiles", "set", "box", "secrets=HF_TOKEN=my_token WANDB=WANDB_KEY"]) == 0


def test_a_login_in_a_url_is_not_printed(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profiles", "set", "box", "pip_index=https://me:s3cret@pypi.corp/simple"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "pypi.corp/simple" in out
    assert store.load("box").image.pip_index == "https://me:s3cret@pypi.corp/simple"
