"""The request that crosses to the root worker: typed, bounded, validated by the profile's rules.

Pure unit tests (no root): what a request may hold, how the worker re-derives and compares the
plan, and the policy's verdict on every plan the product's planners make for the recorded hosts.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dlenv_tui.errors import DlenvError
from dlenv_tui.execute import product_policy, validate_plan
from dlenv_tui.execute.request import (
    BadRequest,
    StageRequest,
    encode_request,
    parse_request,
    plan_digest,
)
from dlenv_tui.execute.worker import HOST_CHANGED, derive_plan
from dlenv_tui.model import EngineName, Plan, Stage, Step
from dlenv_tui.plan import plan_stage
from dlenv_tui.profiles import recommended_profile


def test_a_request_carries_choices_and_a_digest_not_steps(probed: Any) -> None:
    facts = probed("ubuntu-24.04-rtx4090")
    plan = plan_stage(facts, recommended_profile("gpu-dev", facts), Stage.TOOLKIT)
    data = json.loads(encode_request(plan))
    assert set(data) == {"v", "stage", "inputs", "digest"}
    text = json.dumps(data["inputs"])
    for step in plan.steps:
        for arg in step.argv:
            if arg.startswith("/"):
                assert arg not in text  # no program, no path
    request = parse_request(encode_request(plan).encode())
    assert isinstance(request, StageRequest)
    assert request.digest == plan_digest(plan)


@pytest.mark.parametrize("stage", [Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE])
def test_the_worker_replans_the_same_steps_and_the_policy_passes_them(
    sysroot_name: str, stage: Stage, probed: Any
) -> None:
    facts = probed(sysroot_name)
    for engine in EngineName:
        profile = recommended_profile("p", facts, engine=engine)
        profile = dataclasses.replace(
            profile, engine=dataclasses.replace(profile.engine, docker_group=True)
        )
        try:
            shown = plan_stage(facts, profile, stage)
        except DlenvError:
            continue  # an unsupported host: the client cannot show a plan either
        request = parse_request(encode_request(shown).encode())
        assert isinstance(request, StageRequest)
        ran = derive_plan(request, lambda: facts)
        assert ran.steps == shown.steps
        validate_plan(ran, product_policy())


def test_a_changed_host_is_refused_in_one_sentence(probed: Any) -> None:
    facts = probed("ubuntu-24.04-rtx4090")
    # the engine stage: both hosts' driver plans are empty (one has its driver, one no GPU)
    shown = plan_stage(facts, recommended_profile("p", facts), Stage.ENGINE)
    request = parse_request(encode_request(shown).encode())
    assert isinstance(request, StageRequest)
    other = probed("debian-12-nogpu")
    with pytest.raises(DlenvError) as info:
        derive_plan(request, lambda: other)
    assert str(info.value) == HOST_CHANGED


def test_a_digest_of_another_plan_is_refused(probed: Any) -> None:
    facts = probed("ubuntu-24.04-rtx4090")
    shown = plan_stage(facts, recommended_profile("p", facts), Stage.ENGINE)
    evil = dataclasses.replace(
        shown, steps=(Step(id="x", title="x", argv=("/usr/sbin/usermod", "-o", "-u", "0", "a")),)
    )
    data = json.loads(encode_request(shown))
    data["digest"] = plan_digest(evil)
    request = parse_request(json.dumps(data).encode())
    assert isinstance(request, StageRequest)
    with pytest.raises(DlenvError, match="host changed"):
        derive_plan(request, lambda: facts)


def _request(**changes: object) -> bytes:
    data: dict[str, object] = {
        "v": 1,
        "stage": "engine",
        "inputs": {"profile": "p"},
        "digest": "0" * 64,
    }
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "piece"),
    [
        (b"[" * 3000 + b"]" * 3000, "nests deeper"),
        (b'{"a": ' * 100 + b"1" + b"}" * 100, "nests deeper"),
        (b"x" * ((1 << 20) + 2), "larger than"),
        (b"\xff\xfe", "not UTF-8"),
        (b"", "empty request"),
        (b"{nope", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_request(v=2), "different dlenv versions"),
        (_request(stage="prereq"), "runs only driver, toolkit, engine"),
        (_request(digest="abc"), "sha256"),
        (_request(argv=["/bin/sh"]), "unknown field 'argv'"),
        (_request(inputs={"profile": "p", "env": {"LD_PRELOAD": "x"}}), "unknown field 'env'"),
        (_request(inputs={"profile": "a\u0000b"}), "control character"),
        (_request(inputs={"profile": "../../etc"}), "not valid"),
        (_request(inputs={"profile": "p", "driver": {"branch": "580; id"}}), "not valid"),
        (_request(inputs={"profile": "p", "engine": {"engine": "lxc"}}), "not one of"),
        (_request(inputs={"profile": 5}), "expected text"),
    ],
)
def test_bad_requests_are_one_sentence(raw: bytes, piece: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(raw)
    message = str(info.value)
    assert piece in message, message
    assert "\n" not in message and message.endswith(".")


def test_a_lone_surrogate_is_refused() -> None:
    raw = (
        b'{"v": 1, "stage": "engine", "inputs": {"profile": "\\udc80"}, "digest": "'
        + b"0" * 64
        + b'"}'
    )
    with pytest.raises(BadRequest, match="control character"):
        parse_request(raw)


def test_a_saved_plan_request_parses_to_a_plan() -> None:
    raw = json.dumps({"v": 1, "plan": {"stage": "toolkit", "steps": []}}).encode()
    assert isinstance(parse_request(raw), Plan)


def test_plans_without_inputs_cannot_become_requests(tmp_path: Path) -> None:
    with pytest.raises(DlenvError, match="not made from a profile"):
        encode_request(Plan(stage=Stage.TOOLKIT))


@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_a_request_or_one_sentence(raw: bytes) -> None:
    try:
        parse_request(raw)
    except BadRequest as exc:
        assert "\n" not in str(exc)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "stage", "inputs", "digest", "plan", "x"]), _json))
def test_any_json_object_is_a_request_or_one_sentence(data: dict[str, object]) -> None:
    try:
        parse_request(json.dumps(data).encode())
    except BadRequest as exc:
        assert "\n" not in str(exc)


def test_every_plan_of_the_release_matrix_passes_the_workers_policy(release_matrix: Any) -> None:
    """Every supported release x engine x flavour x Secure Boot: the worker would run its plans."""
    from dlenv_tui.plan import plan_all

    for name, facts, profile in release_matrix:
        for plan in plan_all(facts, profile):
            try:
                validate_plan(plan, product_policy())
            except DlenvError as exc:
                raise AssertionError(f"{name}: {exc}") from None


# ---------------------------------------------------------------------------------------------
# The doctor request: a finding's signature id, the profile's choices (or null), the fix's digest


@pytest.fixture
def on_host(sysroot: Any, probed: Any) -> Any:
    """``on_host(name)`` → (the recorded tree as the doctor's Host, its probed facts)."""
    from dlenv_tui.probe import LocalHost

    return lambda name: (LocalHost(sysroot(name)), probed(name))


def _doctor_seam(recorded: Any):  # type: ignore[no-untyped-def]
    """The worker's doctor on a recorded host: the product's signatures over its reads."""
    from dlenv_tui.doctor import examine

    host, _ = recorded
    return lambda facts, profile: examine(host, facts, profile)[1]


def _doctor_fixes(recorded: Any, profile=None):  # type: ignore[no-untyped-def]
    from dlenv_tui.doctor import examine

    host, facts = recorded
    _, findings = examine(host, facts, profile)
    return [f.fix for f in findings if f.fix is not None and f.fix.steps]


def _rootless_podman_profile():  # type: ignore[no-untyped-def]
    from dlenv_tui.model import EngineChoice, Profile

    return Profile(name="train", engine=EngineChoice(engine=EngineName.PODMAN, rootless=True))


def test_a_doctor_request_names_the_finding_not_its_steps(on_host: Any) -> None:
    from dlenv_tui.execute.request import DoctorRequest

    (fix,) = _doctor_fixes(on_host("doctor-stale-cdi-spec"))
    data = json.loads(encode_request(fix))
    assert data == {
        "v": 1,
        "doctor": "engine.stale-cdi-spec",
        "inputs": None,
        "digest": plan_digest(fix),
    }
    request = parse_request(encode_request(fix).encode())
    assert request == DoctorRequest("engine.stale-cdi-spec", None, plan_digest(fix))
    # with a profile, its choices travel as a stage request's do
    fixes = _doctor_fixes(on_host("doctor-podman-rootless-no-cgroups"), _rootless_podman_profile())
    fix = next(f for f in fixes if f.finding == "engine.podman-no-cgroups")
    request = parse_request(encode_request(fix).encode())
    assert isinstance(request, DoctorRequest) and request.inputs is not None
    assert request.inputs.engine.rootless and request.inputs.profile == "train"


def test_the_worker_rediagnoses_the_same_fix_and_the_policy_passes_it(
    doctor_sysroot_name: str, on_host: Any
) -> None:
    from dlenv_tui.execute.request import DoctorRequest
    from dlenv_tui.execute.worker import derive_doctor_plan

    recorded = on_host(doctor_sysroot_name)
    _, facts = recorded
    for profile in (None, _rootless_podman_profile()):
        for shown in _doctor_fixes(recorded, profile):
            request = parse_request(encode_request(shown).encode())
            assert isinstance(request, DoctorRequest)
            ran = derive_doctor_plan(request, lambda: facts, _doctor_seam(recorded))
            assert ran.steps == shown.steps and ran.finding == shown.finding
            validate_plan(ran, product_policy())


def test_a_doctor_finding_that_is_gone_is_refused_in_one_sentence(on_host: Any) -> None:
    from dlenv_tui.execute.request import DoctorRequest
    from dlenv_tui.execute.worker import derive_doctor_plan

    (shown,) = _doctor_fixes(on_host("doctor-stale-cdi-spec"))
    request = parse_request(encode_request(shown).encode())
    assert isinstance(request, DoctorRequest)
    healthy = on_host("doctor-healthy-ubuntu-24.04")
    with pytest.raises(DlenvError) as info:
        derive_doctor_plan(request, lambda: healthy[1], _doctor_seam(healthy))
    assert str(info.value) == (
        "The worker does not find engine.stale-cdi-spec on this host now: run `dlenv doctor` again."
    )


def test_a_doctor_request_with_another_fixs_digest_is_refused(on_host: Any) -> None:
    from dlenv_tui.execute.request import DoctorRequest
    from dlenv_tui.execute.worker import derive_doctor_plan

    recorded = on_host("doctor-stale-cdi-spec")
    host, facts_now = recorded
    (shown,) = _doctor_fixes(recorded)
    evil = dataclasses.replace(
        shown, steps=(Step(id="x", title="x", argv=("/usr/sbin/usermod", "-o", "-u", "0", "a")),)
    )
    data = json.loads(encode_request(shown))
    data["digest"] = plan_digest(evil)
    request = parse_request(json.dumps(data).encode())
    assert isinstance(request, DoctorRequest)
    with pytest.raises(DlenvError) as info:
        derive_doctor_plan(request, lambda: facts_now, _doctor_seam(recorded))
    assert str(info.value) == HOST_CHANGED
    # the same finding on a host whose evidence differs (another driver version) plans another
    # fix: refused too
    data["digest"] = plan_digest(shown)
    request = parse_request(json.dumps(data).encode())
    assert isinstance(request, DoctorRequest)
    other = facts_now
    other = dataclasses.replace(other, driver=dataclasses.replace(other.driver, version="1.2.3"))

    def moved(facts, profile):  # type: ignore[no-untyped-def]
        from dlenv_tui.doctor import examine
        from dlenv_tui.doctor.evidence import Read

        reads, _ = examine(host, facts, profile)
        reads = dataclasses.replace(reads, sys_module_version="590.48.01", proc_version=None)
        from dlenv_tui.doctor.signatures import Inputs, diagnose

        spec = Read(reads.cdi_specs[0].source, reads.cdi_specs[0].text)
        return diagnose(Inputs(facts, dataclasses.replace(reads, cdi_specs=(spec,)), profile))

    with pytest.raises(DlenvError) as info:
        derive_doctor_plan(request, lambda: other, moved)
    assert str(info.value) == HOST_CHANGED


def _doctor(**changes: object) -> bytes:
    data: dict[str, object] = {
        "v": 1,
        "doctor": "engine.stale-cdi-spec",
        "inputs": None,
        "digest": "0" * 64,
    }
    data.update(changes)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "piece"),
    [
        (_doctor(doctor="engine.no-such-thing"), "names no doctor finding whose fix dlenv plans"),
        # a finding with no planned fix (log in again) is not the worker's to run
        (_doctor(doctor="engine.docker-group-session"), "names no doctor finding"),
        (_doctor(doctor=["engine.stale-cdi-spec"]), "names no doctor finding"),
        (_doctor(doctor="$(id)\u202e"), "names no doctor finding"),
        (_doctor(stage="engine"), "unknown field 'stage'"),
        (_doctor(argv=["/bin/sh"]), "unknown field 'argv'"),
        (_doctor(digest="f" * 63), "sha256"),
        (_doctor(inputs={"profile": "../../etc"}), "not valid"),
        (_doctor(inputs={"profile": "p", "env": {"LD_PRELOAD": "x"}}), "unknown field 'env'"),
        (_doctor(inputs="gpu-dev"), "not valid"),
        (_doctor(doctor="engine.stale-cdi-spec\u0000"), "control character"),
        (b'{"v": 1, "doctor": "engine.stale-cdi-spec", "digest": "' + b"0" * 64 + b'"}', "missing"),
    ],
)
def test_bad_doctor_requests_are_one_sentence(raw: bytes, piece: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_request(raw)
    message = str(info.value)
    assert piece in message, message
    assert "\n" not in message and message.endswith(".")
    assert "$(id)" not in message


@settings(max_examples=120)
@given(st.dictionaries(st.sampled_from(["v", "doctor", "inputs", "digest", "stage", "x"]), _json))
def test_any_doctor_shaped_object_is_a_request_or_one_sentence(data: dict[str, object]) -> None:
    try:
        parse_request(json.dumps(data).encode())
    except BadRequest as exc:
        assert "\n" not in str(exc)
