"""Saved setups: one TOML file per profile, written atomically, validated, never clobbered when unreadable."""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from dlenv_tui import fsutil, locations
from dlenv_tui.errors import DlenvError, UsageError
from dlenv_tui.model import (
    DataError,
    EngineName,
    EngineSource,
    Stage,
    StageState,
    from_data,
    to_data,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from dlenv_tui.model import HostFacts, Plan, Profile
    from dlenv_tui.session import Store

# The profile dataclasses, the TOML parser and the validators are imported where they are used:
# the wizard's first screen on a host with no profiles yet needs none of them (about 25 ms).

#: The profile file format this dlenv reads and writes.
SCHEMA = 1


class ProfileError(DlenvError):
    """A profile that cannot be read, parsed or written; the message is one sentence.

    Exit status 2 (bad input: no such profile, a broken file); 1 when the host would not let dlenv
    list, write or delete profiles (``exit_code=1``).
    """

    exit_code = 2


@dataclass(frozen=True)
class ProfileEntry:
    """One row of the profile list; a broken file is listed with its error instead of hidden."""

    name: str
    path: Path
    updated_at: str = ""
    error: str = ""
    """One sentence when the file cannot be used; empty otherwise."""


def validate_name(name: str) -> str:
    """Return ``name`` when it is usable as a profile (file) name; raise UsageError otherwise."""
    from dlenv_tui import validate

    err = validate.profile_name_error(name)
    if err:
        raise UsageError(err[0].upper() + err[1:])
    return name


def now() -> str:
    """ISO-8601 UTC to the second, the timestamp format of profiles."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# The store


class ProfileStore:
    """Profiles as ``NAME.toml`` files in one directory (``locations.profiles_dir()`` by default)."""

    def __init__(self, directory: Path | None = None, *, clock: Callable[[], str] = now) -> None:
        self.directory = directory if directory is not None else locations.profiles_dir()
        self.clock = clock
        """Stamps ``updated_at`` (and ``created_at`` of a new profile) on every write."""
        self._seen: dict[str, str] = {}
        """Digest of each file as this store last read or wrote it (the compare of compare-and-swap)."""

    def path(self, name: str) -> Path:
        return self.directory / f"{validate_name(name)}.toml"

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def list(self) -> list[ProfileEntry]:
        """Every ``*.toml`` file, sorted by name; corrupt ones carry their error."""
        try:
            files = sorted(p for p in self.directory.iterdir() if p.suffix == ".toml")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ProfileError(
                self._blocked()
                or f"Cannot list profiles in {self.directory}: {exc.strerror or exc}.",
                exit_code=1,
            ) from None
        from dlenv_tui import validate

        entries = []
        for path in files:
            name = path.stem
            if validate.profile_name_error(name):
                entries.append(ProfileEntry(name, path, error="Not a valid profile file name."))
                continue
            try:
                profile = self._read(path)
            except ProfileError as exc:
                entries.append(ProfileEntry(name, path, error=str(exc)))
                continue
            entries.append(ProfileEntry(name, path, updated_at=profile.updated_at))
        return entries

    def load(self, name: str) -> Profile:
        path = self.path(name)
        if not path.exists() and not path.is_symlink():
            raise ProfileError(
                f"No profile named {name!r} (looked for {path}); `dlenv profiles list` shows them."
            )
        return self._read(path)

    def save(self, profile: Profile, *, create: bool = False) -> Path:
        """Validate and write ``profile`` atomically with mode 0600; returns the file's path.

        A file that exists but cannot be read as a profile of this schema is left alone: the user
        may have hand-edited it or a newer dlenv wrote it, and overwriting would lose that.

        Compare-and-swap under a lock: when the file changed on disk since this store last read
        or wrote it (another dlenv, an editor), nothing is written and ProfileConflict says so.
        ``create``: refuse when the profile exists already (one of ten racing creators wins).
        """
        validate_profile(profile)
        with self._locked(profile.name):
            return self._write(profile, create=create)

    def update(self, name: str, change: Callable[[Profile], Profile]) -> Profile:
        """Re-read ``name`` under the lock, apply ``change`` and write it: what another program
        wrote meanwhile (an edit during a long build) is kept, only ``change`` is added."""
        with self._locked(name):
            profile = change(self.load(name))
            validate_profile(profile)
            self._write(profile, create=False)
        return profile

    def _write(self, profile: Profile, *, create: bool) -> Path:
        path = self.path(profile.name)
        if path.exists() or path.is_symlink():
            if create:
                raise ProfileError(
                    f"Profile {profile.name!r} already exists; remove it first with "
                    f"`dlenv profiles rm {profile.name}`."
                )
            current = _digest_of(path)
            seen = self._seen.get(profile.name)
            if seen is not None and current is not None and current != seen:
                raise ProfileConflict(
                    f"Profile {profile.name!r} was changed by another program since dlenv read "
                    "it; these changes were not saved (open it again to see the other version)."
                )
            try:
                self._read(path)
            except ProfileError as exc:
                raise ProfileError(f"{exc} Not overwriting it.") from None
        stamped = replace(profile, schema=SCHEMA, updated_at=self.clock())
        if not stamped.created_at:
            stamped = replace(stamped, created_at=stamped.updated_at)
        data = profile_to_toml(stamped).encode("utf-8")
        try:
            _atomic_write(path, data)
        except OSError as exc:
            raise ProfileError(
                self._blocked() or f"Cannot write {path}: {exc.strerror or exc}.", exit_code=1
            ) from None
        self._seen[profile.name] = _digest(data)
        return path

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        """An exclusive lock for read-compare-write: ``flock`` on the profiles directory itself
        (no lock files to leave behind; all profiles of a directory share it, saves are short)."""
        import fcntl

        validate_name(name)
        try:
            _make_dirs(self.directory)
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise ProfileError(
                self._blocked() or f"Cannot write to {self.directory}: {exc.strerror or exc}.",
                exit_code=1,
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def delete(self, name: str) -> None:
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            raise ProfileError(f"No profile named {name!r} to delete.") from None
        except IsADirectoryError:
            raise ProfileError(
                f"{path} is a directory, not a profile; remove it yourself."
            ) from None
        except NotADirectoryError:
            blocked = self._blocked()
            raise ProfileError(
                blocked or f"No profile named {name!r} to delete.", exit_code=1 if blocked else 2
            ) from None
        except OSError as exc:
            raise ProfileError(
                f"Cannot delete {path}: {exc.strerror or exc}.", exit_code=1
            ) from None

    def _blocked(self) -> str:
        """A sentence when a file stands where the profiles directory (or a parent) should be."""
        for parent in (self.directory, *self.directory.parents):
            if parent.is_dir():
                return ""
            if parent.exists() or parent.is_symlink():
                return (
                    f"dlenv keeps profiles in {self.directory}, but {parent} is a file, not a "
                    "directory; move it away, or set DLENV_CONFIG_DIR to another directory."
                )
        return ""

    def _read(self, path: Path) -> Profile:
        from dlenv_tui.fsutil import ReadError, read_bounded_bytes

        try:
            raw = read_bounded_bytes(path, MAX_PROFILE_BYTES, "profile file")
        except ReadError as exc:
            if isinstance(exc.__context__, PermissionError) or "ermission denied" in str(exc):
                raise ProfileError(
                    f"Cannot read profile file {path}: permission denied (it should belong to "
                    "you with mode 0600).",
                    exit_code=1,
                ) from None
            if path.is_dir():
                raise ProfileError(
                    f"Profile file {path} is a directory, not a file; move it away."
                ) from None
            raise ProfileError(f"{exc.sentence.rstrip('.')}; fix or delete it.") from None
        except IsADirectoryError:
            raise ProfileError(
                f"Profile file {path} is a directory, not a file; move it away."
            ) from None
        except PermissionError:
            raise ProfileError(
                f"Cannot read profile file {path}: permission denied (it should belong to you with mode 0600).",
                exit_code=1,
            ) from None
        except OSError as exc:
            raise ProfileError(
                f"Cannot read profile file {path}: {exc.strerror or exc}.", exit_code=1
            ) from None
        profile = parse_profile(raw, path)
        self._seen[profile.name] = _digest(raw)
        return profile


def _digest(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _digest_of(path: Path) -> str | None:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return None


class ProfileConflict(ProfileError):
    """The profile changed on disk since it was read: saving would revert someone's edit."""

    exit_code = 1


#: A profile is a few KiB; a bigger file is not one dlenv wrote (and is not read into memory).
MAX_PROFILE_BYTES = 1 << 20


def parse_profile(raw: bytes, path: Path) -> Profile:
    """Decode one profile file; every problem becomes one ProfileError sentence naming the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10 only
        import tomli as tomllib

    from dlenv_tui.model import Profile

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"Profile file {path} is not UTF-8 text; fix or delete it.") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(
            f"Profile file {path} is not valid TOML ({exc}); fix or delete it."
        ) from None
    except RecursionError:  # e.g. a 3,000-deep array: tomllib recurses per level
        raise ProfileError(
            f"Profile file {path} is nested too deeply to be a profile; fix or delete it."
        ) from None
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise ProfileError(f"Profile file {path} has no valid 'schema' number; fix or delete it.")
    if schema > SCHEMA:
        raise ProfileError(
            f"Profile file {path} was written by a newer dlenv (schema {schema}; this one reads "
            f"schema {SCHEMA}); upgrade dlenv to open it."
        )
    if schema < 1:
        raise ProfileError(f"Profile file {path} has an unknown schema {schema}; fix or delete it.")
    data.setdefault("name", path.stem)
    try:
        profile = from_data(Profile, data, "profile")
    except DataError as exc:
        raise ProfileError(
            f"Profile file {path} does not fit the profile format ({exc}); fix or delete it."
        ) from None
    # the file name is the profile's identity; a copied-and-renamed file takes its new name
    if profile.name != path.stem:
        profile = replace(profile, name=path.stem)
    return expand_mounts(profile)


def expand_mounts(profile: Profile, home: str = "") -> Profile:
    """``profile`` with mount sources written ``~`` or ``~/…`` under the user's home: ``home``,
    else the probed user's in the profile's host snapshot, else whoever runs dlenv (via sudo
    too). A file, `profiles set` and the Launch form all go through here, so the engine only
    ever sees absolute paths."""
    from dlenv_tui import validate

    if not any(m.source.startswith("~") for m in profile.run.mounts):
        return profile
    if not home:
        snapshot = profile.host.user.home if profile.host is not None else ""
        home = snapshot or locations.home_dir()
    mounts = tuple(
        replace(m, source=validate.expand_home(m.source, home)) for m in profile.run.mounts
    )
    return replace(profile, run=replace(profile.run, mounts=mounts))


def profile_to_toml(profile: Profile) -> str:
    """The profile as the TOML text its file holds."""
    import tomli_w

    data: dict[str, Any] = to_data(profile)
    # schema first so a reader (human or older dlenv) sees it before anything else
    ordered = {"schema": data.pop("schema"), **data}
    return (
        "# dlenv profile; edit with care: `dlenv profiles show NAME` checks it.\n"
        + tomli_w.dumps(ordered)
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Profiles are private (they may name hosts, mirrors and keys): mode 0600, all or nothing;
    under sudo the file belongs to the invoking user, whose profile it is."""
    owner = _owner(path.parent)
    if owner is None:
        fsutil.write_atomic(path, data, 0o600)
    else:
        fsutil.write_owned(path, data, 0o600, owner.uid, owner.gid)


def _owner(directory: Path) -> locations.InvokingUser | None:
    """The user behind `sudo dlenv …` when ``directory`` is theirs: in their home (the default
    profiles directory under sudo is), or, anywhere else (``DLENV_CONFIG_DIR`` kept by sudo),
    when its nearest existing folder belongs to them. What root writes there must stay theirs.
    None: write as oneself."""
    user = locations.invoking_user()
    if user is None:
        return None
    path = os.path.abspath(directory)
    if path.startswith(f"{user.home}/"):
        return user
    from pathlib import Path

    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return user if existing.stat().st_uid == user.uid else None
    except OSError:
        return None


def _make_dirs(directory: Path) -> None:
    owner = _owner(directory)
    if owner is None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        fsutil.make_dirs_owned(directory, 0o700, owner.uid, owner.gid)


# --------------------------------------------------------------------------------------------
# Recommendations and validation


def recommend_engine(facts: HostFacts) -> tuple[EngineName, str]:
    """The engine for this host and why, in the order the guide's comparison suggests."""
    if facts.docker.present and not facts.podman.present:
        return EngineName.DOCKER, "Docker is already installed here."
    if facts.podman.present and not facts.docker.present:
        return EngineName.PODMAN, "Podman is already installed here."
    if facts.docker.present and facts.podman.present:
        return EngineName.DOCKER, "Docker and Podman are both installed; Docker is the default."
    family = _family(facts)
    if family in ("fedora", "rhel"):
        return EngineName.PODMAN, "Fedora and RHEL-family systems ship Podman as their engine."
    if not facts.systemd:
        return (
            EngineName.PODMAN,
            "This host does not run systemd, so Docker's daemon would need starting by hand; "
            "Podman needs no daemon.",
        )
    return EngineName.DOCKER, "Docker has the widest ecosystem and documentation."


def _family(facts: HostFacts) -> str:
    try:
        from dlenv_tui.compat import distro_support

        return distro_support(facts.distro).family
    except ImportError:  # compat not importable: judge from os-release alone
        ids = (facts.distro.id, *facts.distro.like)
        for fam in ("fedora", "rhel", "ubuntu", "debian", "suse"):
            if any(fam in i for i in ids):
                return fam
        return ""


def recommended_profile(
    name: str, facts: HostFacts, *, engine: EngineName | None = None, cuda: str = ""
) -> Profile:
    """A profile with the recommended choice for every stage on ``facts``, made without questions."""
    from dlenv_tui import compat, validate
    from dlenv_tui.model import DriverChoice, EngineChoice, ImageOptions, Profile

    validate_name(name)
    validate.ensure(validate.cuda_version_error(cuda), "--cuda")
    advice = compat.driver_advice(facts.gpus)
    if engine is None:
        engine, _why = recommend_engine(facts)
    family = _family(facts)
    if engine is EngineName.PODMAN or family == "suse":
        # Docker CE has no x86_64 packages for SUSE; Podman always comes from the distribution
        source = EngineSource.DISTRO
    else:
        source = EngineSource.DOCKER_CE
    image = ImageOptions()
    driver = DriverChoice(flavour=advice.flavour, branch=advice.branch)
    # the versions that have the default image on the driver that runs after the driver stage,
    # so the first one always builds (plan.cuda.which_cuda: the one "which CUDA" decision)
    from dlenv_tui.plan.cuda import which_cuda

    draft = Profile(name=name, driver=driver, image=image, host=facts)
    usable = which_cuda(facts, draft)
    image = replace(image, ubuntu=usable.ubuntu)
    if cuda:
        if usable.versions and cuda not in usable.versions:
            raise UsageError(
                f"CUDA {cuda} cannot run on this host's GPUs and driver, or has no "
                f"{image.variant.value} image for Ubuntu {image.ubuntu}; usable: "
                f"{', '.join(usable.versions)}."
            )
    elif usable.versions:
        cuda = usable.versions[0]
    image = replace(image, cuda=cuda)
    from dlenv_tui.model import RunOptions

    # no GPU on the host: containers start without one (`gpus = "all"` would fail every launch)
    run = RunOptions() if facts.gpus else RunOptions(gpus="none")
    stamp = now()
    return Profile(
        name=name,
        created_at=stamp,
        updated_at=stamp,
        driver=driver,
        engine=EngineChoice(engine=engine, source=source),
        image=image,
        run=run,
        host=facts,
    )


def mark_stage(
    profile: Profile,
    stage: Stage,
    state: StageState,
    detail: str = "",
    done_steps: tuple[str, ...] = (),
) -> Profile:
    """A copy of ``profile`` with ``stage``'s progress set and timestamped."""
    from dlenv_tui.model import StageProgress

    progress = dict(profile.progress)
    progress[stage.value] = StageProgress(
        state=state, updated_at=now(), detail=detail, done_steps=tuple(done_steps)
    )
    return replace(profile, progress=progress)


def record_outcome(store: Store, name: str, plan: Plan, result: Any) -> StageState | None:
    """Write a finished job's outcome (an ``execute.JobResult``) into profile ``name`` as the
    progress of ``plan``'s stage: its done steps, and done / needs-reboot / failed. Returns the
    state recorded; None when there is no such profile (nothing is written)."""
    if not name or not store.exists(name):
        return None
    state, detail, done = outcome_progress(plan, result)
    store.update(name, lambda p: mark_stage(p, plan.stage, state, detail, done))
    return state


def outcome_progress(plan: Plan, result: Any) -> tuple[StageState, str, tuple[str, ...]]:
    """A finished job's (``execute.JobResult``) state, detail and done steps for ``plan``'s stage:
    what `dlenv apply` and the wizard both record."""
    from dlenv_tui.model import StepOutcome

    done = tuple(
        step.id
        for step in plan.steps
        if result.outcomes.get(step.id) in (StepOutcome.OK, StepOutcome.SKIPPED)
    )
    if any(o is StepOutcome.REBOOT for o in result.outcomes.values()):
        return StageState.NEEDS_REBOOT, result.message, done
    if result.ok:
        return StageState.DONE, f"{len(done)} of {len(plan.steps)} steps done", done
    return StageState.FAILED, result.message, done


def profile_errors(profile: Profile) -> Iterator[str]:
    """Every problem with the fields that flow into plans, Dockerfiles and `run`, one sentence each."""
    from dlenv_tui import validate as v

    def field(name: str, err: str) -> Iterator[str]:
        if err:
            yield f"{name}: {err}"

    yield from field("name", v.profile_name_error(profile.name))
    if profile.schema != SCHEMA:
        yield f"schema: this dlenv writes schema {SCHEMA}, not {profile.schema}."
    yield from field("driver.branch", v.driver_branch_error(profile.driver.branch))
    yield from field("driver.source", v.driver_source_error(profile.driver.source))
    img = profile.image
    yield from field("image.cuda", v.cuda_version_error(img.cuda))
    yield from field("image.ubuntu", v.ubuntu_release_error(img.ubuntu))
    if img.base_override:
        yield from field("image.base_override", v.image_ref_error(img.base_override, "base image"))
    if img.tag:
        yield from field("image.tag", v.image_ref_error(img.tag, "image tag"))
    for i, pkg in enumerate(img.python_packages):
        yield from field(f"image.python_packages[{i}]", v.pip_requirement_error(pkg))
    for i, pkg in enumerate(img.extra_pip):
        yield from field(f"image.extra_pip[{i}]", v.pip_requirement_error(pkg))
    for i, pkg in enumerate(img.extra_apt):
        yield from field(f"image.extra_apt[{i}]", v.apt_package_error(pkg))
    yield from field("image.apt_mirror", v.mirror_url_error(img.apt_mirror, "apt mirror"))
    yield from field("image.pip_index", v.mirror_url_error(img.pip_index, "pip index"))
    yield from field("image.torch_index", v.torch_index_error(img.torch_index))
    for i, cert in enumerate(img.ca_certs):
        yield from field(f"image.ca_certs[{i}]", v.abs_path_error(cert, "CA certificate path"))
    run = profile.run
    yield from field("run.gpus", v.gpus_error(run.gpus))
    yield from field("run.shm_size", v.shm_size_error(run.shm_size))
    yield from field("run.name", v.container_name_error(run.name))
    yield from field("run.restart", v.restart_policy_error(run.restart))
    for i, item in enumerate(run.env):
        yield from field(f"run.env[{i}]", v.env_var_error(item))
    for i, item in enumerate(run.secrets):
        yield from field(f"run.secrets[{i}]", v.env_var_error(item, secret=True))
    for i, m in enumerate(run.mounts):
        yield from field(f"run.mounts[{i}].source", v.mount_source_error(m.source))
        yield from field(f"run.mounts[{i}].target", v.container_path_error(m.target))
    targets = [m.target.rstrip("/") for m in run.mounts]
    if len(set(targets)) != len(targets):
        yield "run.mounts: two mounts share one container path."
    host_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(run.ports):
        yield from field(f"run.ports[{i}].container", v.port_error(p.container, "container port"))
        yield from field(f"run.ports[{i}].host", v.port_error(p.host, "host port"))
        yield from field(f"run.ports[{i}].host_ip", v.host_ip_error(p.host_ip))
        if (p.host_ip, p.host) in host_ports:
            yield f"run.ports[{i}]: host port {p.host} on {p.host_ip} is published twice."
        host_ports.add((p.host_ip, p.host))
    if profile.last_image and profile.last_image.tag:
        yield from field("last_image.tag", v.image_ref_error(profile.last_image.tag, "image tag"))
    for key in profile.progress:
        if key not in {s.value for s in Stage}:
            yield f"progress: {key!r} is not a stage."


def validate_profile(profile: Profile) -> None:
    """Raise ``ValidationError`` naming the first bad field; values are allow-listed, not escaped."""
    from dlenv_tui import validate

    for err in profile_errors(profile):
        raise validate.ValidationError(f"Profile {profile.name!r}, {err}")


__all__ = [
    "SCHEMA",
    "ProfileEntry",
    "ProfileError",
    "ProfileStore",
    "mark_stage",
    "parse_profile",
    "profile_errors",
    "profile_to_toml",
    "recommend_engine",
    "recommended_profile",
    "validate_name",
    "validate_profile",
]
