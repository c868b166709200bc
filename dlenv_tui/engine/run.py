"""Running a profile's container: GPUs, mounts, ports, volumes that a relaunch keeps, an init; stop."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlenv_tui.engine.build import _api_text
from dlenv_tui.engine.help import jupyter_url_from_logs
from dlenv_tui.engine.types import EngineError, RunInfo, _LibpodError
from dlenv_tui.image import default_tag
from dlenv_tui.model import EngineName, PortMap, Profile
from dlenv_tui.names import (
    JUPYTER_ENV,
    JUPYTER_TOKEN_ENV,
    OWNER_LABEL,
    PROFILE_LABEL,
    SSH_ENV,
    USER_LABEL,
    USER_NAME_LABEL,
)

if TYPE_CHECKING:
    import docker

#: Inits dlenv hands Podman when containers.conf's own (catatonit) is not installed.
_INITS = (
    "/usr/libexec/podman/catatonit",
    "/usr/bin/catatonit",
    "/usr/bin/tini-static",
    "/usr/bin/tini",
)


CDI_KIND = "nvidia.com/gpu"


@dataclass(frozen=True)
class _Create:
    """What both engines' container create takes, beside the profile's run options."""

    profile: Profile
    name: str
    image: str
    user: str
    command: Sequence[str] | None
    environment: dict[str, str]
    labels: dict[str, str]
    volumes: dict[str, str]
    """volume name -> target"""


def _restart_policy(restart: str) -> tuple[str, int]:
    """(policy, retries) for the run option ``restart``: ("", 0) for none; on-failure retries 3 times."""
    if not restart or restart == "no":
        return "", 0
    return restart, 3 if restart == "on-failure" else 0


class RunMixin:
    """`EngineClient.run` / `stop` / `status` / `logs` / `info` / `wait_for_jupyter`."""

    engine: EngineName
    client: docker.DockerClient

    def run(
        self,
        profile: Profile,
        *,
        command: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
        replace: bool = True,
    ) -> RunInfo:
        """Start the profile's container, replacing the one of the same name that dlenv started.

        ``replace`` False: a *running* container of the profile is an EngineError that says how to
        replace it (a stopped one is always replaced). The user's home and the SSH host keys live
        in named volumes per profile (``volume_names``), so a relaunch keeps them.
        """
        import docker.errors

        from dlenv_tui.profiles import expand_mounts

        profile = expand_mounts(profile)  # a mount source written ~/ws is the user's home
        opts = profile.run
        name = container_name(profile)
        image_ref = (
            profile.last_image.tag
            if profile.last_image and profile.last_image.tag
            else default_tag(profile)
        )
        try:
            image = self.client.images.get(image_ref)
        except docker.errors.ImageNotFound:
            from dlenv_tui.engine.help import sudo_prefix

            raise EngineError(
                f"The image {image_ref} does not exist in {self.engine.value}: build it first "
                f"(`{sudo_prefix()}dlenv build {profile.name}`)."
            ) from None
        labels = (image.attrs.get("Config") or {}).get("Labels") or {}
        image_env = dict(
            e.split("=", 1) for e in (image.attrs.get("Config") or {}).get("Env") or [] if "=" in e
        )
        user = (
            "0:0" if opts.as_root else str(labels.get(USER_LABEL) or f"{os.getuid()}:{os.getgid()}")
        )

        self._remove_own(name, profile, replace=replace)
        for port in opts.ports:
            _check_port_free(port)
        _make_mount_sources(profile)
        environment = {**run_environment(profile), **(env or {})}
        if opts.proxy:
            from dlenv_tui.image import proxy_settings

            for key, value in proxy_settings(os.environ).items():
                environment.setdefault(key, value)
        token = ""
        if image_env.get(JUPYTER_ENV) == "1":
            token = environment.setdefault(JUPYTER_TOKEN_ENV, secrets.token_hex(24))
        run_labels = {PROFILE_LABEL: profile.name, USER_LABEL: user, OWNER_LABEL: owner_id()}
        home = (
            "/root" if user.startswith("0:") else f"/home/{labels.get(USER_NAME_LABEL) or 'root'}"
        )
        volumes = self._volumes(profile, image_env, home, run_labels)
        try:
            spec = _Create(
                profile, name, image_ref, user, command, environment, run_labels, volumes
            )
            if self.engine == EngineName.PODMAN:
                cid = self._podman_create(spec)
            else:
                cid = self._docker_create(spec)
            self.client.api.start(cid)
        except (docker.errors.APIError, _LibpodError) as exc:
            with contextlib.suppress(docker.errors.APIError):
                self.client.api.remove_container(name, force=True)
            raise EngineError(_run_failure(_api_text(exc), self.engine, name)) from None
        return RunInfo(
            engine=self.engine,
            name=name,
            id=cid,
            image=image_ref,
            user=user,
            ports=opts.ports,
            gpus=opts.gpus,
            user_name="root" if opts.as_root else str(labels.get(USER_NAME_LABEL) or ""),
            jupyter_token=token,
        )

    def stop(self, profile: Profile) -> bool:
        """Stop and remove the profile's container; False when there was none."""
        import docker.errors

        name = container_name(profile)
        try:
            container = self._container(name)
        except docker.errors.NotFound:
            return False
        self._check_ours(container, name, profile)
        # force: a PID 1 that ignores SIGTERM (busybox httpd, some servers) would hold us 10 s
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
        return True

    def status(self, profile: Profile) -> str:
        """``running``, ``exited``, … as the engine says, or ``absent``."""
        import docker.errors

        try:
            return str(self._container(container_name(profile)).status)
        except docker.errors.NotFound:
            return "absent"

    def _container(self, name: str) -> Any:
        """``containers.get(name)``, asked again while Podman 4.x answers 500 "read
        /proc/N/cgroup: no such process" (asked as the container's process exits: a moment later
        it answers); NotFound and other errors as the SDK raises them."""
        import docker.errors

        for attempt in range(5):
            try:
                return self.client.containers.get(name)
            except docker.errors.NotFound:
                raise
            except docker.errors.APIError as exc:
                if "no such process" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.1)
        raise AssertionError("not reached: the last attempt returns or raises")

    def logs(self, profile: Profile, tail: int = 200) -> str:
        import docker.errors

        try:
            data = self._container(container_name(profile)).logs(tail=tail)
        except docker.errors.NotFound:
            return ""
        return bytes(data).decode(errors="replace")

    def wait_for_jupyter(self, profile: Profile, info: RunInfo, timeout: float = 60) -> str:
        """The Jupyter URL once JupyterLab says it is serving; empty when it stops or times out.

        With the token dlenv passed the log masks it (``token=...``), so the URL is built from
        ``info``; without one, the token Jupyter printed is used.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            logged = jupyter_url_from_logs(self.logs(profile))
            if logged:
                if info.jupyter_url:
                    return info.jupyter_url
                port = next((p.host for p in info.ports if p.container == 8888), 8888)
                return re.sub(r"//[^/]+/", f"//127.0.0.1:{port}/", logged, count=1)
            if self.status(profile) not in ("running", "created"):
                return ""
            time.sleep(0.5)
        return ""

    def info(self, profile: Profile) -> RunInfo | None:
        """The running container's RunInfo (Jupyter token included), read back from the engine."""
        import docker.errors

        try:
            container = self._container(container_name(profile))
        except docker.errors.NotFound:
            return None
        self._check_ours(container, str(container.name), profile)
        config = container.attrs.get("Config") or {}
        env = dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)
        labels = container.labels or {}
        user = str(labels.get(USER_LABEL) or config.get("User") or "")
        image_labels: dict[str, str] = {}
        with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
            image_labels = self.client.images.get(config.get("Image") or "").labels or {}
        return RunInfo(
            engine=self.engine,
            name=str(container.name),
            id=str(container.id),
            image=str(config.get("Image") or ""),
            user=user,
            # what the container publishes, not today's profile (edited since the launch)
            ports=published_ports(container.attrs) or profile.run.ports,
            gpus=profile.run.gpus,
            user_name="root"
            if user.startswith("0:")
            else str(image_labels.get(USER_NAME_LABEL) or ""),
            jupyter_token=env.get(JUPYTER_TOKEN_ENV, ""),
            started_at=started_at(container.attrs),
        )

    def _docker_create(self, c: _Create) -> str:
        from docker.types import DeviceRequest

        opts = c.profile.run
        api = self.client.api
        gpus = parse_gpus(opts.gpus)
        requests_ = []
        if gpus == "all":
            requests_.append(DeviceRequest(count=-1, capabilities=[["gpu"]]))
        elif isinstance(gpus, int):
            requests_.append(DeviceRequest(count=gpus, capabilities=[["gpu"]]))
        elif gpus:
            requests_.append(DeviceRequest(device_ids=list(gpus), capabilities=[["gpu"]]))
        policy, tries = _restart_policy(opts.restart)
        restart: dict[str, Any] = {"Name": policy} if policy else {}
        if tries:
            restart["MaximumRetryCount"] = tries
        label = ",z" if selinux_enforcing() else ""
        binds = [
            f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}{label}" for m in opts.mounts
        ]
        binds += [f"{vol}:{target}:rw" for vol, target in c.volumes.items()]
        host_config = api.create_host_config(
            binds=binds,
            port_bindings=port_bindings(opts.ports),
            # bytes, read by the one size grammar (docker-py's own parser knows no "16gb")
            shm_size=parse_size(opts.shm_size) if opts.shm_size else None,
            device_requests=requests_ or None,
            restart_policy=restart or None,
            # an init as PID 1 reaps what ssh logins and Jupyter kernels leave behind
            init=True,
        )
        created = api.create_container(
            c.image,
            command=list(c.command) if c.command else None,
            name=c.name,
            user=c.user,
            environment=c.environment,
            labels=c.labels,
            ports=sorted({p.container for p in opts.ports}),
            host_config=host_config,
            detach=True,
        )
        return str(created["Id"])

    def _podman_create(self, c: _Create) -> str:
        # Podman 4.x's Docker-compatible create rejects CDI names in HostConfig.Devices ("stat
        # nvidia.com/gpu=all: no such file") and ignores DeviceRequests, so containers are created
        # through Podman's own (libpod) endpoint on the same socket, which resolves CDI devices.
        opts = c.profile.run
        spec: dict[str, Any] = {
            "name": c.name,
            "image": c.image,
            "user": c.user,
            "env": c.environment,
            "labels": c.labels,
            "portmappings": [
                {
                    "host_ip": p.host_ip,
                    "host_port": p.host,
                    "container_port": p.container,
                    "protocol": "tcp",
                }
                for p in opts.ports
            ],
            "mounts": [
                {
                    "destination": m.target,
                    "source": m.source,
                    "type": "bind",
                    "options": ["rbind", "ro" if m.read_only else "rw"]
                    + (["z"] if selinux_enforcing() else []),
                }
                for m in opts.mounts
            ],
            "volumes": [{"Name": vol, "Dest": target} for vol, target in c.volumes.items()],
            "devices": [{"path": d} for d in cdi_devices(opts.gpus)],
            # Docker lets non-root processes bind ports < 1024 in a container; Podman 4 does not,
            # and the unprivileged sshd listens on 22.
            "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0"},
        }
        init = podman_init()
        if init:
            # an init as PID 1 reaps what ssh logins and Jupyter kernels leave behind
            spec["init"] = True
            spec["init_path"] = init
        if self._podman_rootless():
            # rootless: the user's own UID inside is the user's UID outside, so mounts stay theirs
            spec["userns"] = {"nsmode": "keep-id"}
        if c.command:
            spec["command"] = list(c.command)
        if opts.shm_size:
            spec["shm_size"] = parse_size(opts.shm_size)
        policy, tries = _restart_policy(opts.restart)
        if policy:
            spec["restart_policy"] = policy
        if tries:
            spec["restart_tries"] = tries
        api = self.client.api
        url = f"{api.base_url}/v{api.api_version}/libpod/containers/create"
        response = api.post(url, json=spec)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text}
            raise _LibpodError(str(body.get("message") or body.get("cause") or response.reason))
        return str(response.json()["Id"])

    def _podman_rootless(self) -> bool:
        """Whether the Podman service runs rootless, as its own info says: dlenv's UID does not
        tell (a user's CONTAINER_HOST may name root's socket, where keep-id is refused). When the
        service cannot say, dlenv's own UID decides."""
        api = self.client.api
        try:
            response = api.get(f"{api.base_url}/v{api.api_version}/libpod/info")
            security = response.json()["host"]["security"]
            return bool(security["rootless"])
        except (OSError, ValueError, KeyError, TypeError):  # requests errors are OSErrors
            return os.geteuid() != 0

    def _remove_own(self, name: str, profile: Profile, *, replace: bool = True) -> None:
        import docker.errors

        try:
            container = self._container(name)
        except docker.errors.NotFound:
            return
        self._check_ours(container, name, profile)
        if not replace and container.status == "running":
            raise EngineError(already_running(name, profile))
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)

    def _check_ours(self, container: Any, name: str, profile: Profile) -> None:
        labels = container.labels or {}
        owner = labels.get(PROFILE_LABEL)
        if owner != profile.name:
            whose = f"dlenv profile {owner!r}" if owner else "something other than dlenv"
            raise EngineError(
                f"The container name {name} is taken by a container from {whose}; "
                "pick another name in the launch stage or remove that container."
            )
        if labels.get(OWNER_LABEL) != owner_id():
            raise EngineError(
                f"The container {name} belongs to another user's dlenv profile {owner!r} "
                f"(owner UID {labels.get(OWNER_LABEL) or 'unknown'}); pick another container name "
                "in the launch stage."
            )

    def _volumes(
        self, profile: Profile, image_env: dict[str, str], home: str, labels: dict[str, str]
    ) -> dict[str, str]:
        """Named volumes per profile -> container path: the SSH host keys, and the home."""
        roles: dict[str, str] = {}
        if image_env.get(SSH_ENV) == "1":
            roles["ssh"] = "/etc/dlenv/ssh"
        if profile.run.keep_home:
            roles["home"] = home
        return {self._volume(profile, role, labels): target for role, target in roles.items()}

    def _volume(self, profile: Profile, role: str, labels: dict[str, str]) -> str:
        """The volume for ``role`` (home, ssh): ``volume_names``' (named after the profile, so a
        renamed container keeps it), or, while none of that name exists, the one an earlier dlenv
        named after the container (``NAME-home``) for this profile and owner; made when neither."""
        import docker.errors

        name = volume_names(profile)[role]
        try:
            self.client.volumes.get(name)
        except docker.errors.NotFound:
            legacy = self._legacy_volume(profile, role, labels)
            if legacy:
                return legacy
        self._ensure_volume(name, labels)
        return name

    def _legacy_volume(self, profile: Profile, role: str, labels: dict[str, str]) -> str:
        """This owner's volume for the profile's ``role`` that dlenv named after the container
        before volumes were named after the profile: the one of today's container name first,
        else the newest (the container was renamed since); "" when there is none."""
        import docker.errors

        owner = labels.get(OWNER_LABEL)
        try:
            found = self.client.volumes.list(
                filters={"label": [f"{PROFILE_LABEL}={profile.name}", f"{OWNER_LABEL}={owner}"]}
            )
        except docker.errors.APIError:
            return ""
        current = f"{container_name(profile)}-{role}"
        mine: list[tuple[bool, str, str]] = []  # (today's container name?, created, name)
        for volume in found:
            attrs = volume.attrs or {}
            name, have = str(attrs.get("Name") or ""), attrs.get("Labels") or {}
            if (
                name.endswith(f"-{role}")
                and have.get(OWNER_LABEL) == owner
                and have.get(PROFILE_LABEL) == profile.name
            ):
                mine.append((name == current, str(attrs.get("CreatedAt") or ""), name))
        return max(mine)[2] if mine else ""

    def _ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        """Create the volume, or use the one of that name that this user's dlenv made for this
        profile: another user's (same profile name on a shared engine) holds their home and SSH
        host key, another profile's (a container once named after this profile) its own."""
        import docker.errors

        try:
            volume = self.client.volumes.get(name)
        except docker.errors.NotFound:
            self.client.volumes.create(
                name, labels={k: v for k, v in labels.items() if k in (PROFILE_LABEL, OWNER_LABEL)}
            )
            return
        have = (volume.attrs or {}).get("Labels") or {}
        owner = have.get(OWNER_LABEL)
        if owner is not None and owner != labels.get(OWNER_LABEL):
            raise EngineError(
                f"The volume {name} belongs to another user's dlenv profile (owner UID {owner}); "
                "save this profile under another name (duplicate it on the start screen)."
            )
        other = have.get(PROFILE_LABEL)
        if other is not None and other != labels.get(PROFILE_LABEL):
            raise EngineError(
                f"The volume {name} holds the home or SSH host key of dlenv profile {other!r}; "
                "save this profile under another name (duplicate it on the start screen)."
            )


def already_running(name: str, profile: Profile) -> str:
    """Why ``run`` without ``replace`` refused: the profile's container is running."""
    from dlenv_tui.engine.help import sudo_prefix

    sudo = sudo_prefix()
    return (
        f"{name} is already running: `{sudo}dlenv info {profile.name}` shows how to "
        f"connect; `{sudo}dlenv run {profile.name} --replace` starts it afresh (the home "
        "volume stays)."
    )


def started_at(attrs: dict[str, Any]) -> str:
    """``State.StartedAt`` of an inspected container, "" when it never started.

    Docker and Podman both answer RFC 3339 with nanoseconds (``2025-06-01T09:00:00.123456789Z``);
    a container that never ran carries the zero time ``0001-01-01T00:00:00Z``."""
    value = str((attrs.get("State") or {}).get("StartedAt") or "")
    return "" if not value or value.startswith("0001-") else value


def container_name(profile: Profile) -> str:
    return profile.run.name or f"dlenv-{profile.name}"


def volume_names(profile: Profile) -> dict[str, str]:
    """The profile's named volumes: ``home`` (the user's home) and ``ssh`` (the SSH host keys),
    named after the profile, not the container: renaming the container in the launch stage keeps
    both. (``RunMixin._volume`` keeps using a volume an earlier dlenv named after the container.)"""
    return {"home": f"dlenv-{profile.name}-home", "ssh": f"dlenv-{profile.name}-ssh"}


def owner_id() -> str:
    """The host UID of the user dlenv acts for (the one behind sudo, too)."""
    return os.environ.get("SUDO_UID") or str(os.getuid())


def port_bindings(ports: Sequence[PortMap]) -> dict[int | str, Any]:
    """Docker's port_bindings with *every* binding: a dict of one tuple per port keeps only one."""
    out: dict[int | str, Any] = {}
    for p in ports:
        binding = (p.host_ip, p.host)
        if binding not in out.setdefault(p.container, []):
            out[p.container].append(binding)
    return out


def published_ports(attrs: dict[str, Any]) -> tuple[PortMap, ...]:
    """The container's port bindings (``HostConfig.PortBindings``, both engines) as PortMaps."""
    out: list[PortMap] = []
    bindings = (attrs.get("HostConfig") or {}).get("PortBindings") or {}
    for key, hosts in bindings.items():
        port, _, proto = str(key).partition("/")
        if proto not in ("", "tcp") or not port.isdigit():
            continue
        for h in hosts or []:
            host_port = str((h or {}).get("HostPort") or "")
            if host_port.isdigit():
                ip = str(h.get("HostIp") or "") or "0.0.0.0"
                out.append(PortMap(int(port), int(host_port), ip))
    return tuple(out)


def selinux_enforcing(root: Path = Path("/")) -> bool:
    """SELinux is enforcing: bind mounts need the ``z`` label or the container cannot read them."""
    try:
        return (root / "sys/fs/selinux/enforce").read_text().strip() == "1"
    except OSError:
        return False


def podman_init() -> str:
    """The init binary Podman runs as PID 1 (its catatonit, else tini); "" when there is none."""
    return next((path for path in _INITS if os.access(path, os.X_OK)), "")


def _make_mount_sources(profile: Profile) -> None:
    """Mount sources that do not exist yet are made, owned by the user (not root via sudo)."""
    uid = int(os.environ.get("SUDO_UID", os.getuid()))
    gid = int(os.environ.get("SUDO_GID", os.getgid()))
    for m in profile.run.mounts:
        path = Path(m.source)
        if path.exists():
            continue
        missing = [p for p in (path, *path.parents) if not p.exists()]
        try:
            path.mkdir(parents=True)
            if os.geteuid() == 0:
                for p in missing:
                    os.chown(p, uid, gid)
        except OSError as exc:
            raise EngineError(
                f"Cannot create the mount source {path}: {exc.strerror or exc}; create it yourself "
                "or pick another directory in the launch stage."
            ) from None


def parse_gpus(gpus: str) -> str | int | tuple[str, ...]:
    """``all`` -> "all"; ``none``/empty -> ""; ``2`` -> 2; ``device=0`` / ``0,`` / ``0,1`` / UUIDs ->
    ("0", …). A bare ``0`` is refused rather than read as Docker's count of zero (validate.gpus_error).
    """
    from dlenv_tui.validate import gpu_devices, gpus_error

    value = gpus.strip()
    if value.lower() in ("", "none"):
        return ""
    if value.lower() == "all":
        return "all"
    if error := gpus_error(value):
        raise EngineError(error[0].upper() + error[1:])
    return gpu_devices(value) or int(value)


def cdi_devices(gpus: str) -> list[str]:
    """CDI device names for Podman (`nvidia-ctk cdi generate` names GPUs by index and UUID)."""
    parsed = parse_gpus(gpus)
    if parsed == "all":
        return [f"{CDI_KIND}=all"]
    if isinstance(parsed, int):
        return [f"{CDI_KIND}={i}" for i in range(parsed)]
    return [f"{CDI_KIND}={i}" for i in parsed]


def parse_size(text: str) -> int:
    """``8g`` / ``16gb`` / ``512m`` / ``1024`` -> bytes, by ``validate``'s size grammar."""
    from dlenv_tui.validate import shm_size_error, size_bytes

    if error := shm_size_error(text):
        raise EngineError(error[0].upper() + error[1:])
    n = size_bytes(text)
    assert n is not None  # shm_size_error accepted it
    return n


def _check_port_free(port: PortMap) -> None:
    family = socket.AF_INET6 if ":" in port.host_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((port.host_ip or "0.0.0.0", port.host))
        except OSError:
            raise EngineError(
                f"Port {port.host} on {port.host_ip or 'all addresses'} is already in use: "
                "pick another host port in the launch stage or stop what uses it."
            ) from None


def _run_failure(message: str, engine: EngineName, name: str) -> str:
    text = " ".join(message.split())
    low = text.lower()
    if "address already in use" in low or "port is already allocated" in low:
        return f"A published port is already in use ({text}): pick another host port."
    if ("already in use" in low and "name" in low) or "conflict" in low:
        return f"The container name {name} is taken: pick another name or remove that container."
    if "could not select device driver" in low:
        return (
            "Docker cannot give containers GPUs: set up the NVIDIA Container Toolkit for Docker "
            "(`nvidia-ctk runtime configure --runtime=docker`, then restart Docker), or choose no GPUs."
        )
    if "cdi" in low and ("unresolvable" in low or "not found" in low or "no such" in low):
        return (
            "Podman found no CDI spec for the GPUs: run `sudo nvidia-ctk cdi generate "
            "--output=/etc/cdi/nvidia.yaml`, or choose no GPUs."
        )
    # whole: the runtime's hint ("Are you trying to mount a directory onto a file?") comes last
    return f"{engine.value.capitalize()} could not start {name}: {text.rstrip('.')}."


def run_environment(profile: Profile) -> dict[str, str]:
    """The run options' variables and secrets; a secret is read now (environment or file), never stored."""
    out: dict[str, str] = {}
    for item in profile.run.env:
        key, _, value = item.partition("=")
        out[key] = value
    for item in profile.run.secrets:
        name, sep, source = item.partition("=")
        if sep and source.startswith("@"):
            path = Path(source[1:])
            try:
                out[name] = path.read_text().rstrip("\n")
            except OSError as exc:
                raise EngineError(
                    f"Cannot read the secret {name} from {path}: {exc.strerror or exc}; fix the "
                    "path with `dlenv profiles set` or create the file."
                ) from None
        else:
            found = os.environ.get(source or name)
            if found is None:
                raise EngineError(
                    f"The secret {name} comes from the environment variable {source or name}, "
                    "which is not set: export it before `dlenv run`."
                )
            out[name] = found
    return out
