"""The Dockerfile and build-context files for a profile's image options, from assets/templates/."""

from __future__ import annotations

import io
import os
import re
import shlex
import string
import tarfile
import textwrap
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlenv_tui import locations, lockfile
from dlenv_tui.errors import DlenvError
from dlenv_tui.image_notes import NO_SSH_KEY, ROOT_NO_USER
from dlenv_tui.model import EngineName, Gpu, HostFacts, ImageOptions, ImageVariant, Profile

VENV = "/opt/venv"
NVIDIA_PYPI = "https://pypi.nvidia.com"
NVIDIA_APT = "https://developer.download.nvidia.com"
CA_DIR = "/usr/local/share/ca-certificates/dlenv"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
LIB = "/usr/local/lib/dlenv"
#: The build-context folder of files with mirror credentials (0700 when written to disk).
SECRETS_DIR = ".dlenv-secrets"
#: Build-context file with mirror credentials (netrc format); reaches RUN steps only as a build mount.
NETRC_FILE = f"{SECRETS_DIR}/netrc"
NETRC_PATH = "/run/dlenv-netrc"
#: The apt mirror's login in apt_auth.conf(5) form: apt 1.9+ uses a ``machine`` entry without a
#: protocol for https only, so an http mirror's entry names ``http://`` (netrc readers would not).
APT_AUTH_FILE = f"{SECRETS_DIR}/apt-auth.conf"
#: The lock a rebuild installs from (copied in), and the one every build writes (`uv pip freeze`).
LOCK_PATH = "/usr/local/lib/dlenv/requirements.lock"
#: The lock's direct references (git commits), which a rebuild passes to uv as overrides.
OVERRIDES_PATH = "/usr/local/lib/dlenv/requirements.overrides"
FREEZE_PATH = "/opt/venv/dlenv-installed.lock"
#: Host environment variables a build (and, when asked, a container) gets: Docker and buildah
#: treat these names as predefined build arguments and leave them out of the image's history.
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")

#: Context files that must stay executable inside the image.
EXECUTABLE = frozenset({"entrypoint.sh", "setup-user.sh", "apt-mirror.sh"})


class ImageError(DlenvError):
    """An image option that cannot go into a Dockerfile; the message names it."""

    exit_code = 2


@dataclass(frozen=True)
class Preset:
    """One entry of the guide's Python stack."""

    title: str
    requirements: tuple[str, ...]
    """PyPI names; ``{major}`` is replaced by the CUDA major version (12, 13)."""
    index: str = ""
    """``torch``: the PyTorch wheel index for the CUDA version; ``nvidia``: pypi.nvidia.com too."""
    needs_cuda: bool = False


PRESETS: dict[str, Preset] = {
    "numpy": Preset("NumPy", ("numpy",)),
    "scipy": Preset("SciPy", ("scipy",)),
    "pandas": Preset("pandas", ("pandas",)),
    "polars": Preset("Polars", ("polars",)),
    "matplotlib": Preset("Matplotlib", ("matplotlib",)),
    "seaborn": Preset("Seaborn", ("seaborn",)),
    "scikit-learn": Preset("scikit-learn", ("scikit-learn",)),
    "tqdm": Preset("tqdm", ("tqdm",)),
    "torch": Preset("PyTorch", ("torch", "torchvision"), index="torch", needs_cuda=True),
    "cupy": Preset("CuPy", ("cupy-cuda{major}x",), needs_cuda=True),
    "cudf": Preset("cuDF", ("cudf-cu{major}",), index="nvidia", needs_cuda=True),
    "cuml": Preset("cuML", ("cuml-cu{major}",), index="nvidia", needs_cuda=True),
    "dali": Preset("DALI", ("nvidia-dali-cuda{major}0",), index="nvidia", needs_cuda=True),
}
#: The presets a new profile starts with (the guide's stack); the rest are optional.
DEFAULT_PRESETS = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "tqdm",
    "torch",
)

_KEY_LINE = re.compile(r"^(ssh-|ecdsa-|sk-)\S+ \S+")


@dataclass(frozen=True)
class ImageUser:
    """The account the image creates: the host user's name and ids."""

    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class RenderedImage:
    """A Dockerfile plus the files its build context needs, ready to tar up and build."""

    dockerfile: str
    files: dict[str, bytes] = field(default_factory=dict)
    """Build-context path -> content (``Dockerfile`` not included)."""
    reasons: tuple[str, ...] = ()
    """Short sentences for the UI: why this base, what was left out."""
    base: str = ""
    tag: str = ""
    buildkit: bool = False
    """Whether the Dockerfile uses ``RUN --mount=type=cache`` (BuildKit / buildah only)."""
    user: ImageUser | None = None
    """None: the image runs as root."""
    build_args: dict[str, str] = field(default_factory=dict)
    """The host's proxy variables for the build (predefined build arguments, not in the image)."""
    network: str = ""
    """``host`` when the build must share the host's network (a proxy on 127.0.0.1)."""
    notes: tuple[str, ...] = ()
    """The reasons every front end shows, not only `dlenv build` (``image_notes``): no public key
    for SSH, no separate user under root, where PyTorch comes from and why."""

    def context_tar(self) -> bytes:
        """The build context as an uncompressed tar (what the engine's build API takes)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            entries = {"Dockerfile": self.dockerfile.encode(), **self.files}
            for name, data in sorted(entries.items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o755 if name in EXECUTABLE else 0o644
                if name == "authorized_keys":
                    info.mode = 0o600
                if name in (NETRC_FILE, APT_AUTH_FILE):
                    # read by the build's non-root user through a bind mount, never copied
                    info.mode = 0o644
                info.mtime = 0  # identical context bytes for identical inputs keep COPY cached
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def default_tag(profile: Profile) -> str:
    return profile.image.tag or f"dlenv/{profile.name}:latest"


def host_user(facts: HostFacts | None = None) -> ImageUser:
    """The user whose UID/GID the image adopts: the probed user, else whoever runs dlenv; under
    sudo the user who ran sudo (the probe then sees root)."""
    sudo = locations.invoking_user()
    if sudo is not None and (facts is None or facts.user.uid in (0, sudo.uid)):
        name, uid, gid = sudo.name, sudo.uid, sudo.gid
    elif facts is not None and facts.user.uid >= 0:
        name, uid, gid = facts.user.name, facts.user.uid, max(facts.user.gid, 0)
    else:
        uid = int(os.environ.get("SUDO_UID", os.getuid()))
        gid = int(os.environ.get("SUDO_GID", os.getgid()))
        name = os.environ.get("SUDO_USER") or os.environ.get("USER", "")
    from dlenv_tui.validate import unix_user_error

    if unix_user_error(name) or name == "root":
        name = "dev"
    return ImageUser(name, uid, gid)


def collect_ssh_keys(home: Path) -> str:
    """Public keys from ~/.ssh/authorized_keys and ~/.ssh/*.pub (never a private key), deduplicated."""
    ssh = home / ".ssh"
    sources = [ssh / "authorized_keys", *sorted(ssh.glob("*.pub"))] if ssh.is_dir() else []
    keys: list[str] = []
    for path in sources:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.strip()
            # authorized_keys lines may start with options; keep only plain key lines
            if _KEY_LINE.match(line) and line not in keys:
                keys.append(line)
    return "".join(f"{k}\n" for k in keys)


def render_dockerfile(
    profile: Profile,
    facts: HostFacts | None = None,
    engine: EngineName | None = None,
    *,
    buildkit: bool | None = None,
    user: ImageUser | None = None,
    ssh_keys: str | None = None,
    ca_files: dict[str, bytes] | None = None,
    proxy_env: Mapping[str, str] | None = None,
    upgrade: bool = False,
) -> RenderedImage:
    """Render the profile's image: the Dockerfile, the context files and the reasons behind them.

    ``buildkit`` None: build mounts (cache, and the credentials' bind mount) on both engines:
    buildah has them, and dlenv asks Docker's build endpoint for BuildKit (``version=2``); False
    renders for Docker's classic builder (`DOCKER_BUILDKIT=0 docker build`). ``user`` defaults to the host user, ``ssh_keys`` to the
    host user's public keys, ``ca_files`` to the files named in ``image.ca_certs``, ``proxy_env``
    to this process's environment (read only when ``image.build_proxy`` is on). ``upgrade``:
    resolve the Python packages afresh instead of installing ``image.lock``'s versions.
    """
    opts = profile.image
    engine = engine or profile.engine.engine
    if buildkit is None:
        buildkit = True
    reasons: list[str] = []
    notes: list[str] = []
    _validate(opts)

    python_reqs = [p for p in opts.python_packages if p] + list(opts.extra_pip)
    wants_python = bool(python_reqs) or opts.jupyter
    needs_cuda = any(PRESETS[p].needs_cuda for p in opts.python_packages if p in PRESETS)
    cuda = (
        _cuda_version(profile, facts, reasons)
        if needs_cuda or not opts.base_override
        else opts.cuda
    )
    base = _base_image(opts, cuda, reasons)
    why = _flavour_reasons(opts, cuda, reasons)

    if opts.create_user:
        image_user = user or host_user(facts)
        if image_user.uid == 0:
            reasons.append(ROOT_NO_USER)
            notes.append(ROOT_NO_USER)
            image_user_or_none: ImageUser | None = None
        else:
            image_user_or_none = image_user
    else:
        image_user_or_none = None
    u = image_user_or_none
    home = f"/home/{u.name}" if u else "/root"

    # credentials never go into a line of the Dockerfile: the URLs lose them, a netrc file that
    # only build mounts see carries them (apt's auth.conf.d and uv/pip read that format)
    apt_mirror, apt_cred = split_credentials(opts.apt_mirror)
    pip_index, pip_cred = split_credentials(opts.pip_index)
    torch_url, torch_cred = split_credentials(opts.torch_index)
    netrc = "".join(c for c in (pip_cred, torch_cred) if c)
    if apt_cred:
        # apt matches a machine token without a protocol for https only (apt_auth.conf(5))
        scheme = urllib.parse.urlsplit(apt_mirror).scheme
        apt_cred = apt_cred.replace("machine ", f"machine {scheme}://", 1)
    if (netrc or apt_cred) and not buildkit:
        raise ImageError(
            "Credentials in the apt mirror, pip index or torch index URL would stay in an image "
            "built without build mounts: render with BuildKit (drop --no-buildkit), or use a "
            "mirror that needs no login."
        )

    files: dict[str, bytes] = {
        "entrypoint.sh": _template("entrypoint.sh").encode(),
    }
    if netrc:
        files[NETRC_FILE] = netrc.encode()
    if apt_cred:
        files[APT_AUTH_FILE] = apt_cred.encode()
    if netrc or apt_cred:
        reasons.append(
            "The mirror credentials reach the build through a build mount only: they are in no "
            "layer, no history line and no environment variable of the image."
        )
    env: list[str] = []
    if ca_files is None:
        ca_files = read_ca_files(opts.ca_certs, reasons)
    if ca_files:
        # pip in a venv trusts only its bundled certifi, uv its own roots: point them (and
        # requests, OpenSSL) at the system store that now holds the extra CAs
        env += [
            f"PIP_CERT={CA_BUNDLE}",
            f"REQUESTS_CA_BUNDLE={CA_BUNDLE}",
            f"SSL_CERT_FILE={CA_BUNDLE}",
        ]
        for name, data in ca_files.items():
            files[f"ca-certificates/{name}"] = data
        reasons.append(
            f"Trusts {len(ca_files)} extra CA certificate(s) from the host, installed before the "
            "first download."
        )
    if wants_python:
        # uv trusts its own bundled roots unless told: the system store (the base's CAs, and
        # any extra ones) is what a corporate network needs
        env += [
            f"VIRTUAL_ENV={VENV}",
            f"PATH={VENV}/bin:$PATH",
            "UV_LINK_MODE=copy",
            "UV_NATIVE_TLS=1",
            "UV_SYSTEM_CERTS=1",
        ]
    lock = opts.lock if wants_python and not upgrade else ()
    if lock and "torch" in opts.python_packages:
        lock = _lock_for_torch_index(lock, _torch_index_url(opts, cuda, facts, torch_url), reasons)
    constraints, overrides, afresh = lockfile.split(lock, python_reqs)
    if constraints:
        files["requirements.lock"] = "".join(f"{line}\n" for line in constraints).encode()
    if overrides:
        files["requirements.overrides"] = "".join(f"{line}\n" for line in overrides).encode()
    if constraints or overrides:
        reasons.append(
            f"Installs the {len(constraints) + len(overrides)} exact package versions of the last "
            "build (the lock"
            + (", git packages at their commits" if overrides else "")
            + "); `dlenv build --upgrade` resolves them afresh."
        )
    if afresh:
        reasons.append(
            f"The git requirement of {', '.join(sorted(afresh))} changed since the lock: it "
            "resolves afresh."
        )

    build_args: dict[str, str] = {}
    network = ""
    if opts.build_proxy:
        build_args = proxy_settings(os.environ if proxy_env is None else proxy_env)
        if build_args:
            reasons.append(
                "The host's proxy settings go to the build as build arguments (not stored in the image)."
            )
            if any(_loopback(v) for k, v in build_args.items() if "no_proxy" not in k.lower()):
                network = "host"
                reasons.append(
                    "The proxy listens on this host's loopback address, so the build uses the host's network."
                )

    apt = _apt_packages(opts, wants_python, bool(ca_files))
    # sharing=locked serialises concurrent BuildKit builds on one cache; buildah 1.28 (Podman 4.3)
    # never releases that lock inside a long-running `podman system service`, so the second build
    # through the same service hangs: Podman gets the default (shared) cache instead.
    sharing = ",sharing=locked" if engine == EngineName.DOCKER else ""
    if apt_mirror:
        files["apt-mirror.sh"] = _template("apt-mirror.sh").encode()
    system = _system_section(apt, apt_mirror, bool(ca_files), bool(apt_cred), buildkit, sharing)
    user_section = _fragment("user", name=u.name, uid=u.uid, gid=u.gid) if u else ""
    if u:
        files["setup-user.sh"] = _template("setup-user.sh").encode()
    python = (
        _python_section(
            opts,
            cuda,
            facts.gpus if facts else (),
            u,
            home,
            buildkit,
            sharing,
            reasons,
            pip_index=pip_index,
            torch_url=torch_url,
            netrc=bool(pip_cred or torch_cred),
            locked=bool(constraints),
            overridden=bool(overrides),
            notes=notes,
        )
        if wants_python
        else ""
    )
    if opts.ssh:
        keys = ssh_keys if ssh_keys is not None else collect_ssh_keys(_host_home(facts))
        if not keys.strip():
            reasons.append(NO_SSH_KEY)
            notes.append(NO_SSH_KEY)
        else:
            n = len(keys.strip().splitlines())
            reasons.append(f"SSH accepts {n} public key(s) from the host; passwords are off.")
        files["authorized_keys"] = keys.encode()
        files["profile.sh"] = _template("profile.sh").encode()
        files["sshd_config"] = (
            string.Template(_template("sshd_config.tmpl"))
            .substitute(permit_root="no" if u else "prohibit-password")
            .encode()
        )
    config = _config_section(opts, u, home, switched=bool(python))

    if buildkit:
        reasons.append("apt and uv downloads are kept in build cache mounts between builds.")
    from dlenv_tui import names

    text = string.Template(_template("Dockerfile.tmpl")).substitute(
        PROFILE_LABEL=names.PROFILE_LABEL,
        USER_LABEL=names.USER_LABEL,
        USER_NAME_LABEL=names.USER_NAME_LABEL,
        SSH_ENV=names.SSH_ENV,
        JUPYTER_ENV=names.JUPYTER_ENV,
        profile=profile.name,
        title=f"dlenv {profile.name}",
        why="".join(f"# {line}\n" for text in why for line in textwrap.wrap(text, 96)),
        base=base,
        user_label=f"{u.uid}:{u.gid}" if u else "0:0",
        user_name=u.name if u else "root",
        ssh=int(opts.ssh),
        jupyter=int(opts.jupyter),
        env="".join(f" \\\n    {e}" for e in env),
        system=system,
        user=user_section,
        python=python,
        config=config,
        final_user=_fragment("user-switch", user=f"{u.uid}:{u.gid}") if u else "",
    )
    return RenderedImage(
        dockerfile=re.sub(r"\n{3,}", "\n\n", text),
        files=files,
        reasons=tuple(reasons),
        base=base,
        tag=default_tag(profile),
        buildkit=buildkit,
        user=u,
        build_args=build_args,
        network=network,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# sections


def flavour_reasons(opts: ImageOptions, cuda: str = "") -> tuple[str, ...]:
    """Why the chosen base flavour suits (or does not suit) the Python packages: for the Image screen."""
    return tuple(_flavour_reasons(opts, cuda or opts.cuda, []))


def _flavour_reasons(opts: ImageOptions, cuda: str, reasons: list[str]) -> list[str]:
    """Why this base flavour: the lines of the Dockerfile's header, also added to ``reasons``."""
    if opts.base_override:
        return []
    torch = "torch" in opts.python_packages
    out: list[str] = []
    if opts.variant is ImageVariant.BASE:
        out.append(
            "Base flavour 'base': the CUDA libraries (runtime, cuDNN, cuBLAS, NCCL) come with the "
            "Python packages' wheels, so the image carries them once, not twice."
        )
    elif opts.variant is ImageVariant.DEVEL:
        out.append(
            f"Base flavour 'devel': nvcc and the CUDA {cuda} headers for compiling extensions"
            + (f"; PyTorch comes from the CUDA {cuda} wheel index to match." if torch else ".")
        )
    elif torch:
        out.append(
            "Base flavour 'runtime': PyTorch's wheels bring their own CUDA libraries, so CUDA is "
            "in this image twice (about 3 GB); choose 'base' unless something outside Python needs it."
        )
    reasons.extend(out)
    return out


APT_TURN_LOCK = "/var/lib/apt/dlenv-build.lock"
"""In the shared apt cache mount: concurrent Podman builds run their apt steps one at a time."""


def _system_section(
    apt: Sequence[str], mirror: str, ca: bool, auth: bool, buildkit: bool, lock: str
) -> str:
    out = ""
    if ca:
        out += _fragment("ca", ca_dir=CA_DIR)
    if mirror:
        out += _fragment("mirror", lib=LIB)
    before: list[str] = []
    if ca:
        # into the bundle now (no package needed), so apt over https and every later download trust it
        before.append(_snippet("ca-bundle", ca_dir=CA_DIR, bundle=CA_BUNDLE))
    if not apt:
        if before:
            out += _fragment("ca-trust", ca_bundle=before[0])
        return out
    if buildkit and not lock:
        # a shared cache mount (Podman's: no sharing=locked, see render_dockerfile): apt's own lock
        # files in it fail a second build's apt at once, so builds take turns on a lock file there
        before.append(_snippet("apt-turns", lock=APT_TURN_LOCK))
    if buildkit:
        # the base image's docker-clean hook would empty the cache mount after every install
        before.append(_snippet("apt-keep-cache"))
    if mirror:
        before.append(_snippet("apt-mirror", lib=LIB, mirror=shlex.quote(mirror)))
    after: list[str] = []
    if ca:
        after.append(_snippet("ca-update"))
    if not buildkit:
        after.append(_snippet("apt-clean"))
    mounts = ""
    if buildkit:
        mounts = _fragment("mount-cache", target="/var/cache/apt", options=lock) + _fragment(
            "mount-cache", target="/var/lib/apt", options=lock
        )
    if auth:
        mounts += _fragment(
            "mount-bind", source=APT_AUTH_FILE, target="/etc/apt/auth.conf.d/dlenv.conf"
        )
    return out + _fragment(
        "system",
        mounts=mounts,
        before="".join(f"{line} \\\n && " for line in before),
        packages=" \\\n".join(f"      {p}" for p in apt),
        after="".join(f" \\\n && {line}" for line in after),
    )


def _python_section(
    opts: ImageOptions,
    cuda: str,
    gpus: Sequence[Gpu],
    u: ImageUser | None,
    home: str,
    buildkit: bool,
    lock: str,
    reasons: list[str],
    *,
    pip_index: str,
    torch_url: str,
    netrc: bool,
    locked: bool = False,
    overridden: bool = False,
    notes: list[str] | None = None,
) -> str:
    major = cuda.split(".")[0] if cuda else ""
    torch: list[str] = []
    stack: list[str] = []
    nvidia_index = False
    for name in opts.python_packages:
        preset = PRESETS.get(name)
        if preset is None:
            stack.append(name)
            continue
        names = [r.format(major=major) for r in preset.requirements]
        if preset.index == "torch":
            torch += names
        else:
            stack += names
            nvidia_index = nvidia_index or preset.index == "nvidia"

    owner = f",uid={u.uid},gid={u.gid}" if u else ""
    mounts = ""
    pip_mounts = ""
    if buildkit:
        mounts = _fragment("mount-cache", target=f"{home}/.cache/uv", options=owner + lock)
        pip_mounts = _fragment("mount-cache", target=f"{home}/.cache/pip", options=owner + lock)
        uv = _snippet("uv-install", options="")
    else:
        uv = _snippet("uv-install", options=" --no-cache")
    if netrc:
        bind = _fragment("mount-bind", source=NETRC_FILE, target=NETRC_PATH)
        mounts += bind
        pip_mounts += bind
        uv = f"NETRC={NETRC_PATH} {uv}"

    index = f"--index-url {pip_index} " if pip_index else ""
    pip_args = index
    if locked:
        # every install takes the last build's exact versions as constraints
        uv = f"{uv} -c {LOCK_PATH}"
        pip_args += f"-c {LOCK_PATH} "
    if overridden:
        # and its git commits as overrides (a constraint conflicts with a branch that moved on)
        uv = f"{uv} --override {OVERRIDES_PATH}"
    if pip_index.startswith("http://"):
        # pip refuses plain http unless told; uv accepts it. The user chose an http index.
        pip_args += f"--trusted-host {urllib.parse.urlsplit(pip_index).hostname} "
        reasons.append("The pip index is plain http: packages are not protected in transit.")
    if not buildkit:
        pip_args = "--no-cache-dir " + pip_args

    steps = ""
    if torch:
        why: list[str] = []  # why this torch index: a reason and a note (image_notes)
        if opts.torch_index == "pip":
            why.append(
                "PyTorch comes from the pip index like every other package (its Linux wheels "
                "bring CUDA libraries of PyTorch's choice)."
            )
            steps += _fragment("pip-install", mounts=mounts, uv=uv, args=index + " ".join(torch))
        else:
            if torch_url:
                url = torch_url
                why.append(f"PyTorch comes from {url} (your torch index).")
            else:
                from dlenv_tui import compat

                # a host with a GPU older than Turing stays on cu126, the last index with its kernels
                decision = compat.pytorch_index(cuda, gpus)
                why.extend(decision.reasons)
                url = decision.value
            # the torch index first for torch itself; its dependencies from the pip index too
            args = f"{index}--extra-index-url {url} {' '.join(torch)}"
            steps += _fragment("pip-install", mounts=mounts, uv=uv, args=args)
        reasons.extend(why)
        if notes is not None:
            notes.extend(why)
    if stack:
        extra = f"--extra-index-url {NVIDIA_PYPI} " if nvidia_index else ""
        steps += _fragment("pip-install", mounts=mounts, uv=uv, args=index + extra + _quote(stack))
    if opts.jupyter:
        steps += _fragment("pip-install", mounts=mounts, uv=uv, args=index + "jupyterlab")
    if opts.extra_pip:
        args = index + _quote(opts.extra_pip)
        steps += _fragment("pip-install", mounts=mounts, uv=uv, args=args)
    # the exact versions installed: read back into the profile's lock after the build
    steps += _fragment("freeze", freeze=FREEZE_PATH)
    return _fragment(
        "python",
        as_user=f" as {u.name} (not root)" if u else "",
        user_line=(_fragment("user-switch", user=f"{u.uid}:{u.gid}") if u else "")
        + (_fragment("lock-copy", lock_path=LOCK_PATH) if locked else "")
        + (_fragment("overrides-copy", overrides_path=OVERRIDES_PATH) if overridden else ""),
        pip_mounts=pip_mounts,
        pip_env=f"NETRC={NETRC_PATH} " if netrc else "",
        venv=VENV,
        home=home,
        pip_args=pip_args,
        steps=steps,
    )


def _torch_index_url(opts: ImageOptions, cuda: str, facts: HostFacts | None, torch_url: str) -> str:
    """Where torch comes from, as ``_python_section`` decides it; "" for the pip index."""
    if opts.torch_index == "pip":
        return ""
    if torch_url:
        return torch_url
    from dlenv_tui import compat

    try:
        return compat.pytorch_index(cuda, facts.gpus if facts else ()).value
    except ValueError:
        return torch_url


_LOCAL = re.compile(r"^([A-Za-z0-9._-]+)==[^+\s]+\+(\S+)$")
_INDEX_TAG = re.compile(r"/(cu\d+|cpu|rocm[\d.]+|xpu)/?$")


def _lock_for_torch_index(lock: tuple[str, ...], url: str, reasons: list[str]) -> tuple[str, ...]:
    """The lock less the pins of builds this torch index does not carry: ``torch==2.9.1+cu130``
    cannot resolve from cu128's index (a local version matches only itself) nor from the pip index
    (PyPI's builds carry no local version) after the CUDA or the torch index changed."""
    tag = _INDEX_TAG.search(url)
    if url and tag is None:
        return lock  # an index of the user's whose builds dlenv cannot tell
    want = tag.group(1) if tag else ""
    kept: list[str] = []
    dropped: list[str] = []
    for line in lock:
        m = _LOCAL.match(line.strip())
        (dropped if m and m.group(2) != want else kept).append(line)
    if dropped:
        names = ", ".join(sorted({d.split("==", 1)[0] for d in dropped}))
        reasons.append(
            f"The lock's {names} builds are for another CUDA or index than this one: they "
            "resolve afresh; every other package keeps its locked version."
        )
    return tuple(kept)


def _config_section(opts: ImageOptions, u: ImageUser | None, home: str, switched: bool) -> str:
    owner = f"{u.uid}:{u.gid}" if u else "0:0"
    ssh = _fragment("ssh", owner=owner, home=home) if opts.ssh else ""
    return _fragment(
        "config", root_line=_fragment("user-switch", user="0") if u and switched else "", ssh=ssh
    )


# --------------------------------------------------------------------------------------------
# helpers


def _apt_packages(opts: ImageOptions, python: bool, ca: bool) -> list[str]:
    pkgs: list[str] = []
    if python:
        pkgs += ["python3", "python3-venv"]
    if python or ca:
        pkgs.append("ca-certificates")
    if opts.ssh:
        pkgs.append("openssh-server")
    if opts.tmux:
        pkgs.append("tmux")
    pkgs += opts.extra_apt
    from dlenv_tui.validate import is_git_requirement

    if any(is_git_requirement(r) for r in (*opts.python_packages, *opts.extra_pip)):
        pkgs.append("git")  # uv clones git+https:// requirements with the git program
    return sorted(dict.fromkeys(pkgs))


def _cuda_version(profile: Profile, facts: HostFacts | None, reasons: list[str]) -> str:
    opts = profile.image
    if opts.cuda:
        return opts.cuda
    from dlenv_tui.plan.cuda import which_cuda, which_cuda_any_flavour

    # the one "which CUDA" decision, for the driver that runs after the driver stage
    if opts.base_override:
        choice = which_cuda_any_flavour(facts, profile)
    else:
        choice = which_cuda(facts, profile, ubuntu=opts.ubuntu)
        if choice.versions and choice.ubuntu != opts.ubuntu:
            # the FROM line uses the profile's release; say which one works instead
            raise ImageError(
                f"No nvidia/cuda image for Ubuntu {opts.ubuntu} runs on this host's GPUs and "
                f"driver; Ubuntu {choice.ubuntu} has CUDA {choice.versions[0]}: choose it in the "
                "image stage."
            )
    reasons.extend(choice.reasons)
    if choice.versions:
        reasons.append(f"CUDA {choice.versions[0]}: the newest this host can run.")
        return choice.versions[0]
    raise ImageError(
        "No CUDA version suits this host's GPUs, driver and chosen image; pick one in the image stage."
    )


def _base_image(opts: ImageOptions, cuda: str, reasons: list[str]) -> str:
    if opts.base_override:
        reasons.append(f"Base image {opts.base_override} (your override).")
        return opts.base_override
    from dlenv_tui import compat

    try:
        decision = compat.image_tag(cuda, opts.variant, opts.cudnn, opts.ubuntu)
    except ValueError as exc:  # compat.CompatError: no such nvidia/cuda tag
        raise ImageError(str(exc)) from None
    reasons.extend(decision.reasons)
    return decision.value


def _validate(opts: ImageOptions) -> None:
    """Everything that lands in a RUN line is checked here, by the rules of ``validate`` (the
    profile's own), so nothing can inject shell."""
    from dlenv_tui import validate as v

    errors = (
        *(v.apt_package_error(name) for name in opts.extra_apt),
        *(v.pip_requirement_error(req) for req in (*opts.python_packages, *opts.extra_pip)),
        v.mirror_url_error(opts.apt_mirror, "apt mirror"),
        v.mirror_url_error(opts.pip_index, "pip index"),
        v.torch_index_error(opts.torch_index),
        v.image_ref_error(opts.base_override, "base image") if opts.base_override else "",
        v.image_ref_error(opts.tag, "image tag") if opts.tag else "",
    )
    if error := next((e for e in errors if e), ""):
        raise ImageError(error[0].upper() + error[1:])


_CERT_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----"
)


def read_ca_files(paths: Sequence[str], reasons: list[str] | None = None) -> dict[str, bytes]:
    """The certificate blocks of each file (a private key or anything else beside them stays out)."""
    out: dict[str, bytes] = {}
    for i, path in enumerate(paths):
        from dlenv_tui.fsutil import ReadError, read_bounded_bytes

        try:
            data = read_bounded_bytes(path, 1 << 20, "CA certificate")
        except ReadError as exc:
            raise ImageError(str(exc)) from None
        blocks = _CERT_BLOCK.findall(data)
        if not blocks:
            raise ImageError(
                f"{path} is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' block); "
                "give the CA's certificate in PEM form."
            )
        if b"PRIVATE KEY" in data and reasons is not None:
            reasons.append(
                f"{path} also holds a private key: only its certificate goes into the image."
            )
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem) or "ca"
        # update-ca-certificates only picks up *.crt
        out[f"{i:02d}-{stem}.crt"] = b"\n".join(blocks) + b"\n"
    return out


def build_endpoints(profile: Profile, facts: HostFacts | None = None) -> tuple[str, ...]:
    """The origins a build of ``profile`` contacts, for `dlenv check --network`: the base image's
    registry, the apt mirror (or the base's own archive), the pip index (or PyPI) and the torch
    index. Credentials are dropped; a local base (``localhost/…``) needs no registry."""
    opts = profile.image
    out: list[str] = []
    base = opts.base_override
    if not base:
        out.append("https://registry-1.docker.io")  # nvidia/cuda lives on Docker Hub
    else:
        first = base.split("/", 1)[0]
        if "/" not in base or not ("." in first or ":" in first or first == "localhost"):
            out.append("https://registry-1.docker.io")
        elif first != "localhost":
            out.append(f"https://{first}")
    mirror = split_credentials(opts.apt_mirror)[0]
    if mirror:
        out.append(mirror)
    elif not base:
        out += ["http://archive.ubuntu.com", "http://security.ubuntu.com"]
    if not base:
        # nvidia/cuda images keep NVIDIA's CUDA apt repository (cuda-keyring) in their sources:
        # every `apt-get update` asks it, mirror or not
        out.append(NVIDIA_APT)
    python = bool(opts.python_packages or opts.extra_pip or opts.jupyter)
    pip = split_credentials(opts.pip_index)[0]
    if python:
        out.append(pip or "https://pypi.org")
    if any(PRESETS[p].index == "nvidia" for p in opts.python_packages if p in PRESETS):
        out.append(NVIDIA_PYPI)  # cuDF, cuML, DALI: --extra-index-url, pip index or not
    if "torch" in opts.python_packages and opts.torch_index != "pip":
        torch = split_credentials(opts.torch_index)[0]
        if not torch:
            from dlenv_tui import compat

            try:
                cuda = (
                    opts.cuda or compat.usable_cuda_versions(facts.gpus if facts else ()).value[0]
                )
                torch = compat.pytorch_index(cuda, facts.gpus if facts else ()).value
            except (ValueError, IndexError):
                torch = "https://download.pytorch.org"
        out.append(torch)
    return tuple(out)


def split_credentials(url: str) -> tuple[str, str]:
    """``https://user:pw@host/path`` -> (``https://host/path``, a netrc line for host); no
    credentials: (url, "")."""
    if not url or "@" not in url or url == "pip":
        return ("" if url == "pip" else url), ""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, ""
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    clean = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    login = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    return clean, f"machine {host} login {login} password {password}\n"


def proxy_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The proxy variables set in ``environ``, both spellings filled in (tools read one or the other)."""
    out: dict[str, str] = {}
    for upper in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        value = environ.get(upper) or environ.get(upper.lower()) or ""
        if value:
            out[upper] = out[upper.lower()] = value
    return out


_URL_LOGIN = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/\s]*@")
"""A proxy URL's login: up to the authority's last ``@`` (a password may hold one)."""


def proxy_summary(environ: Mapping[str, str]) -> tuple[str, ...]:
    """``NAME=value`` of each proxy variable set in ``environ`` (one per name, upper case), a
    login in a proxy URL shown as ``***@``: what the screens may show of it."""
    found = proxy_settings(environ)
    return tuple(
        name + "=" + _URL_LOGIN.sub(r"\1***@", found[name])
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
        if name in found
    )


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _host_home(facts: HostFacts | None) -> Path:
    """Whose ~/.ssh the image's keys come from: under sudo the invoking user's, never /root."""
    sudo = locations.invoking_user()
    if sudo is not None and (facts is None or facts.user.uid in (0, sudo.uid)):
        return sudo.home
    if facts is not None and facts.user.home:
        return Path(facts.user.home)
    return Path.home()


def _quote(items: Sequence[str]) -> str:
    return " ".join(shlex.quote(i) for i in items)


def _template(name: str) -> str:
    return locations.asset("templates", name).read_text()


def _fragment(fragment: str, /, **values: object) -> str:
    """One Dockerfile fragment from assets/templates/dockerfile/, filled in."""
    text = locations.asset("templates", "dockerfile", f"{fragment}.tmpl").read_text()
    return string.Template(text).substitute(values)


def _snippet(snippet: str, /, **values: object) -> str:
    """One shell command of a RUN line (``snippet-NAME.tmpl``), filled in, without its newline."""
    return _fragment(f"snippet-{snippet}", **values).rstrip("\n")
