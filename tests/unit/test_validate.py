"""Field validators: a table of good and bad values, and hypothesis over hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlenv_tui import validate as v

GOOD = [
    (v.profile_name_error, "work-4090"),
    (v.profile_name_error, "a.b_c-1"),
    (v.image_ref_error, "dlenv/work:latest"),
    (v.image_ref_error, "nvcr.io/nvidia/pytorch:25.01-py3"),
    (v.image_ref_error, "localhost:5000/cuda:12.8.1-base-ubuntu24.04"),
    (v.apt_package_error, "libgl1"),
    (v.apt_package_error, "g++"),
    (v.apt_package_error, "python3.12=3.12.3-1"),
    (v.pip_requirement_error, "torch"),
    (v.pip_requirement_error, "polars[gpu]"),
    (v.pip_requirement_error, "numpy>=2,<3"),
    (v.abs_path_error, "/home/alice/data sets"),
    (v.container_path_error, "/workspace"),
    (v.https_url_error, "https://mirror.example.org/ubuntu/"),
    (v.https_url_error, ""),
    (v.host_ip_error, "127.0.0.1"),
    (v.host_ip_error, "::1"),
    (v.shm_size_error, "8g"),
    (v.shm_size_error, "512m"),
    (v.shm_size_error, "16gb"),
    (v.shm_size_error, "16GiB"),
    (v.mount_source_error, "~/ws"),
    (v.mount_source_error, "/srv/data"),
    (v.pip_requirement_error, "git+https://github.com/org/repo.git@v1.0"),
    (v.mirror_url_error, "http://deb.example.org/debian"),
    (v.gpus_error, "all"),
    (v.gpus_error, "2"),
    (v.gpus_error, "0,1"),
    (v.gpus_error, "device=0"),
    (v.gpus_error, "device=0,1"),
    (v.gpus_error, "0,"),
    (v.gpus_error, "GPU-6b2c1f7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"),
    (v.container_name_error, "dlenv-work"),
    (v.cuda_version_error, "12.8"),
    (v.driver_branch_error, "580"),
]

BAD = [
    (v.profile_name_error, "", "empty"),
    (v.profile_name_error, "../etc", "path separator"),
    (v.profile_name_error, ".hidden", "starts with a dot"),
    (v.profile_name_error, "a..b", "'..'"),
    (v.profile_name_error, "x" * 65, "64"),
    (v.profile_name_error, "a b", "may only hold"),
    (v.image_ref_error, "Dlenv/Work", "not a valid image name"),
    (v.image_ref_error, "/etc/passwd", "looks like a path"),
    (v.image_ref_error, "a;rm -rf /", "not a valid image name"),
    (v.apt_package_error, "vim; reboot", "not a package name"),
    (v.apt_package_error, "-oDebug=1", "not a package name"),
    (v.pip_requirement_error, "--index-url=https://evil", "looks like an option"),
    (v.pip_requirement_error, "torch @ https://x/y.whl", "not a requirement"),
    (v.abs_path_error, "data", "absolute"),
    (v.abs_path_error, "/data/../etc", "'..'"),
    (v.abs_path_error, "/a:/b", "':' or ','"),
    (v.abs_path_error, "/a\nb", "newline"),
    (v.container_path_error, "/", "cannot be '/'"),
    (v.https_url_error, "http://mirror.example.org/", "https://"),
    (v.https_url_error, "https://x.org/$(id)", "characters"),
    (v.port_error, 0, "1 to 65535"),
    (v.port_error, 70000, "1 to 65535"),
    (v.host_ip_error, "localhost", "not an IP address"),
    (v.shm_size_error, "8 g", "number with an optional unit"),
    (v.shm_size_error, "9999999g", "1 TiB"),
    (v.shm_size_error, "0", "zero"),
    (v.mount_source_error, "~bob/ws", "'~' and '~/…' only"),
    (v.pip_requirement_error, "git+http://x.org/r", "git+https://"),
    (v.pip_requirement_error, "git+https://u:p@x.org/r", "holds a login"),
    (v.gpus_error, "0;1", "'all', 'none'"),
    (v.gpus_error, "0", "zero GPUs: write 'device=0'"),
    (v.gpus_error, "device=", "'device=0'"),
    (v.gpus_error, "0,,1", "'device=0'"),
    (v.gpus_error, "", "'all', 'none'"),
    (v.restart_policy_error, "sometimes", "must be one of"),
    (v.cuda_version_error, "12", "must look like"),
    (v.driver_branch_error, "58x", "three digits"),
    (v.driver_source_error, "pip", "must be one of"),
]


@pytest.mark.parametrize(("func", "value"), GOOD)
def test_good_values_pass(func, value) -> None:  # type: ignore[no-untyped-def]
    assert func(value) == ""


@pytest.mark.parametrize(("func", "value", "words"), BAD)
def test_bad_values_get_one_clear_sentence(func, value, words) -> None:  # type: ignore[no-untyped-def]
    err = func(value)
    assert words in err
    assert err.endswith(".") and "\n" not in err


def test_ensure_raises_a_usage_error_naming_the_field() -> None:
    with pytest.raises(v.ValidationError, match=r"^run\.name: ") as exc:
        v.ensure(v.container_name_error("-x"), "run.name")
    assert exc.value.exit_code == 2
    v.ensure("", "anything")  # no error, no raise


# Characters that mean something to a shell, a Dockerfile or a path.
HOSTILE = st.sampled_from([*";|&$`'\"\\<>(){}*?!#~ \t\n\r\x00", "..", "/", "$("])
HOSTILE_TEXT = st.builds(
    lambda a, bad, b: a + bad + b,
    st.text(alphabet="abc123", max_size=5),
    HOSTILE,
    st.text(alphabet="abc123", max_size=5),
)
NAME_FIELDS = [
    v.profile_name_error,
    v.container_name_error,
    v.apt_package_error,
    v.pip_requirement_error,
    v.cuda_version_error,
    v.driver_branch_error,
    v.gpus_error,
    v.shm_size_error,
    lambda s: v.image_ref_error(s, "image tag"),
]


@settings(max_examples=60, deadline=None)
@given(value=HOSTILE_TEXT, which=st.integers(min_value=0, max_value=len(NAME_FIELDS) - 1))
def test_names_refuse_shell_metacharacters_newlines_dotdot_and_slashes(
    value: str, which: int
) -> None:
    func = NAME_FIELDS[which]
    # '/' separates image path components and is legitimate in image tags
    image = which == len(NAME_FIELDS) - 1
    if image and "/" in value and not set(value) - set("abc123/"):
        return
    # '<', '>', '!' and '~' are version operators in pip requirements (quoted by their users)
    if func is v.pip_requirement_error and not set(value) - set("abc123<>!~"):
        return
    err = func(value)
    assert err, f"{value!r} accepted"
    assert "\n" not in err and err.endswith(".")


@settings(max_examples=60, deadline=None)
@given(value=HOSTILE_TEXT.filter(lambda s: any(c in s for c in ";|&$`'\"\\<>(){}*!# \t\n\r\x00")))
def test_urls_refuse_shell_metacharacters(value: str) -> None:
    assert v.https_url_error("https://example.org/" + value)


@settings(max_examples=60, deadline=None)
@given(
    parts=st.lists(st.text(alphabet="abc.", min_size=1, max_size=4), min_size=1, max_size=4),
    absolute=st.booleans(),
)
def test_paths_must_be_absolute_and_free_of_dotdot(parts: list[str], absolute: bool) -> None:
    path = ("/" if absolute else "") + "/".join(parts)
    err = v.abs_path_error(path)
    if not absolute:
        assert "absolute" in err
    elif ".." in parts:
        assert "'..'" in err
    else:
        assert err == ""


@settings(max_examples=40, deadline=None)
@given(value=st.text(min_size=1, max_size=20).filter(lambda s: any(ord(c) < 32 for c in s)))
def test_control_characters_are_refused_everywhere(value: str) -> None:
    for func in (
        v.profile_name_error,
        v.apt_package_error,
        v.pip_requirement_error,
        v.abs_path_error,
    ):
        assert func(value) or func("/" + value)
