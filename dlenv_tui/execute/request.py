"""What crosses to the root worker: a small typed request, never argv, paths, files or environment.

The client sends ``{"v": 1, "stage": "toolkit", "inputs": {...}, "digest": "<sha256>"}``: the
stage, the profile's choices the planner reads (``PlanInputs``) and the digest of the plan the user
was shown. The worker probes the host itself, plans again with the same pure planner and refuses
when its plan's digest differs. ``{"v": 1, "doctor": "<signature id>", "inputs": {...} | null,
"digest": "<sha256>"}`` asks for one `dlenv doctor` repair the same way: the worker diagnoses the
host itself and runs that finding's fix only if its digest is the one shown. ``{"v": 1, "plan":
{...}}`` (a saved plan, ``dlenv apply --plan``) is accepted only by a worker that runs as root
without sudo.

Every read is bounded: one line of at most ``MAX_REQUEST_BYTES``, nesting at most ``MAX_DEPTH``,
no NUL bytes, control characters or lone surrogates in any string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dlenv_tui.errors import DlenvError
from dlenv_tui.model import DataError, Plan, PlanInputs, Stage, from_data, to_data

VERSION = 1
#: A request is a few hundred bytes; a saved plan a few tens of KiB.
MAX_REQUEST_BYTES = 1 << 20
#: Requests nest four deep, saved plans six; anything deeper is not ours.
MAX_DEPTH = 16
#: The stages a request may name (the ones with a privileged plan).
REQUEST_STAGES = (Stage.DRIVER, Stage.TOOLKIT, Stage.ENGINE)


class BadRequest(DlenvError):
    """The worker could not read the request; one sentence, nothing ran."""

    exit_code = 2


@dataclass(frozen=True)
class StageRequest:
    """Plan ``stage`` from ``inputs`` on this host and run it if its digest is ``digest``."""

    stage: Stage
    inputs: PlanInputs
    digest: str


@dataclass(frozen=True)
class DoctorRequest:
    """Diagnose this host, and run the fix of finding ``finding`` if its digest is ``digest``.

    ``inputs`` are the choices of the profile the doctor looked at (None: no profile)."""

    finding: str
    inputs: PlanInputs | None
    digest: str


DOCTOR_FIELDS = frozenset({"v", "doctor", "inputs", "digest"})
STAGE_FIELDS = frozenset({"v", "stage", "inputs", "digest"})


def plan_digest(plan: Plan) -> str:
    """sha256 over what the plan would do (its stage and steps): the same steps, the same digest."""
    data = {"stage": plan.stage.value, "steps": to_data(plan.steps)}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def encode_request(plan: Plan) -> str:
    """The request line for a plan the planner made (its inputs and digest), or for a doctor
    fix (its finding's signature id, the profile's inputs if any, its digest)."""
    if plan.finding:
        return json.dumps(
            {
                "v": VERSION,
                "doctor": plan.finding,
                "inputs": None if plan.inputs is None else to_data(plan.inputs),
                "digest": plan_digest(plan),
            },
            separators=(",", ":"),
        )
    if plan.inputs is None:
        raise DlenvError(
            "This plan was not made from a profile, so the worker cannot check it; "
            "plan it again with `dlenv apply PROFILE`.",
            exit_code=2,
        )
    data = {
        "v": VERSION,
        "stage": plan.stage.value,
        "inputs": to_data(plan.inputs),
        "digest": plan_digest(plan),
    }
    return json.dumps(data, separators=(",", ":"))


def encode_saved_plan(plan: Plan) -> str:
    """The request line that hands a whole saved plan over (root without sudo only)."""
    return json.dumps({"v": VERSION, "plan": to_data(plan)}, separators=(",", ":"))


def _depth_ok(text: str, limit: int) -> bool:
    """Whether JSON ``text`` nests at most ``limit`` deep (brackets inside strings ignored)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _check_strings(value: Any, where: str = "request") -> None:
    """No NUL, control character (but tab and newline: file contents have lines) or lone
    surrogate anywhere, in keys or values; the field validators then check each value's grammar."""
    if isinstance(value, str):
        for ch in value:
            code = ord(ch)
            if (code < 0x20 and ch not in "\t\n") or code == 0x7F or 0xD800 <= code <= 0xDFFF:
                raise BadRequest(f"The request's {where} holds a control character; nothing ran.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, where)
            # only a plain name goes into the sentence (a key may itself be the hostile text)
            named = isinstance(key, str) and key.isidentifier() and len(key) <= 32
            _check_strings(item, f"{where}.{key}" if named else where)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, where)


def parse_request(raw: bytes) -> StageRequest | DoctorRequest | Plan:
    """The request on one line; BadRequest (one sentence) for anything else."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise BadRequest(
            f"The request is larger than {MAX_REQUEST_BYTES // 1024} KiB; nothing ran."
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request is not UTF-8 text; nothing ran.") from None
    text = text.rstrip("\n")
    if not text.strip():
        raise BadRequest("The worker got an empty request; nothing ran.")
    if not _depth_ok(text, MAX_DEPTH):
        raise BadRequest(f"The request nests deeper than {MAX_DEPTH} levels; nothing ran.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deep"
        raise BadRequest(f"The request is not valid JSON ({msg}); nothing ran.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request is not a JSON object; nothing ran.")
    _check_strings(data)
    if data.get("v") != VERSION:
        raise BadRequest(
            f"The request has version {data.get('v')!r}, not {VERSION}: "
            "the client and the worker come from different dlenv versions."
        )
    if set(data) == {"v", "plan"}:
        try:
            return from_data(Plan, data["plan"], "plan")
        except DataError as exc:
            raise BadRequest(f"The saved plan is not valid: {exc}.") from None
    fields = DOCTOR_FIELDS if "doctor" in data else STAGE_FIELDS
    if set(data) != fields:
        extra = sorted(set(data) - fields)
        what = f"unknown field {extra[0]!r}" if extra else "a missing field"
        raise BadRequest(f"The request has {what}; nothing ran.")
    digest = data["digest"]
    if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise BadRequest("The request's plan digest is not a sha256 hex digest; nothing ran.")
    if fields is DOCTOR_FIELDS:
        return _doctor_request(data["doctor"], data["inputs"], digest)
    stage = data["stage"]
    if stage not in [s.value for s in REQUEST_STAGES]:
        names = ", ".join(s.value for s in REQUEST_STAGES)
        raise BadRequest(f"The request names stage {stage!r}; the worker runs only {names}.")
    return StageRequest(stage=Stage(stage), inputs=_inputs(data["inputs"]), digest=digest)


def _inputs(data: Any) -> PlanInputs:
    try:
        inputs = from_data(PlanInputs, data, "inputs")
    except DataError as exc:
        raise BadRequest(f"The request's profile choices are not valid: {exc}.") from None
    _validate_inputs(inputs)
    return inputs


def _doctor_request(finding: Any, inputs: Any, digest: str) -> DoctorRequest:
    """A doctor repair: a signature id whose fix dlenv plans, the profile's choices or null."""
    from dlenv_tui.doctor.signatures import FIXES

    if not isinstance(finding, str) or finding not in FIXES:
        # only a known id goes into the sentence: the field may itself be the hostile text
        raise BadRequest("The request names no doctor finding whose fix dlenv plans; nothing ran.")
    return DoctorRequest(
        finding=finding, inputs=None if inputs is None else _inputs(inputs), digest=digest
    )


def _validate_inputs(inputs: PlanInputs) -> None:
    """The profile's own validator, on a profile holding exactly these choices."""
    from dlenv_tui import validate
    from dlenv_tui.plan.stages import profile_from_inputs
    from dlenv_tui.profiles import validate_profile

    try:
        validate_profile(profile_from_inputs(inputs))
    except (validate.ValidationError, DlenvError) as exc:
        text = str(exc).rstrip(".")
        raise BadRequest(f"The request's profile choices are not valid: {text}.") from None
