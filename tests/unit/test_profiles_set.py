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
        ]
    )
    assert code == 0
    p = store.load("box")
    assert p.run.gpus == "none" and p.run.shm_size == "16g" and p.run.proxy is True
    assert p.run.ports == (PortMap(22, 2200, "127.0.0.1"), PortMap(8888, 8899))
    assert p.run.mounts == (Mount("/srv/data", "/data", True), Mount("/home/me/work", "/workspace"))
    assert p.image.apt_mirror == "http://mirrors.example/debian"
    assert p.image.torch_index == "pip" and p.image.ca_certs == ("/etc/ssl/corp.crt",)
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
