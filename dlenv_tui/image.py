"""The Dockerfile and build-context files for a profile's image options, from assets/templates/."""

from __future__ import annotations

import io
import os
import re
import shlex
import string
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dlenv_tui import locations
from dlenv_tui.errors import DlenvError
from dlenv_tui.model import EngineName, Gpu, HostFacts, ImageOptions, Profile

VENV = "/opt/venv"
NVIDIA_PYPI = "https://pypi.nvidia.com"
CA_DIR = "/usr/local/share/ca-certificates/dlenv"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

#: Context files that must stay executable inside the image.
EXECUTABLE = frozenset({"entrypoint.sh", "setup-user.sh"})


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

_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]*(=[A-Za-z0-9.+:~-]+)?$")
_PIP_REQ = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?([<>=!~]=?[A-Za-z0-9.*+!-]+,?)*$"
)
_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+$")
_IMAGE_REF = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$", re.IGNORECASE)
_USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
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
                info.mtime = 0  # identical context bytes for identical inputs keep COPY cached
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def default_tag(profile: Profile) -> str:
    return profile.image.tag or f"dlenv/{profile.name}:latest"


def host_user(facts: HostFacts | None = None) -> ImageUser:
    """The user whose UID/GID the image adopts: the probed user, else whoever runs dlenv (via sudo too)."""
    if facts is not None and facts.user.uid >= 0:
        name, uid, gid = facts.user.name, facts.user.uid, max(facts.user.gid, 0)
    else:
        uid = int(os.environ.get("SUDO_UID", os.getuid()))
        gid = int(os.environ.get("SUDO_GID", os.getgid()))
        name = os.environ.get("SUDO_USER") or os.environ.get("USER", "")
    if not _USER_NAME.fullmatch(name) or name == "root":
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
) -> RenderedImage:
    """Render the profile's image: the Dockerfile, the context files and the reasons behind them.

    ``buildkit`` None: cache mounts for Podman (buildah has them) and not for Docker, whose SDK
    build endpoint is the classic builder. ``user`` defaults to the host user, ``ssh_keys`` to the
    host user's public keys, ``ca_files`` to the files named in ``image.ca_certs``.
    """
    opts = profile.image
    engine = engine or profile.engine.engine
    if buildkit is None:
        buildkit = engine == EngineName.PODMAN
    reasons: list[str] = []
    _validate(opts)

    python_reqs = [p for p in opts.python_packages if p] + list(opts.extra_pip)
    wants_python = bool(python_reqs) or opts.jupyter
    needs_cuda = any(PRESETS[p].needs_cuda for p in opts.python_packages if p in PRESETS)
    cuda = (
        _cuda_version(opts, facts, reasons) if needs_cuda or not opts.base_override else opts.cuda
    )
    base = _base_image(opts, cuda, reasons)

    if opts.create_user:
        image_user = user or host_user(facts)
        if image_user.uid == 0:
            reasons.append("dlenv runs as root here, so the image has no separate user.")
            image_user_or_none: ImageUser | None = None
        else:
            image_user_or_none = image_user
    else:
        image_user_or_none = None
    u = image_user_or_none
    home = f"/home/{u.name}" if u else "/root"

    files: dict[str, bytes] = {
        "entrypoint.sh": _template("entrypoint.sh").encode(),
    }
    env: list[str] = []
    if opts.pip_index:
        env.append(f"PIP_INDEX_URL={opts.pip_index}")
    if ca_files is None:
        ca_files = _read_ca_files(opts.ca_certs)
    if ca_files:
        # pip in a venv trusts only its bundled certifi: point it (and requests, OpenSSL) at the system store
        env += [
            f"PIP_CERT={CA_BUNDLE}",
            f"REQUESTS_CA_BUNDLE={CA_BUNDLE}",
            f"SSL_CERT_FILE={CA_BUNDLE}",
        ]
        for name, data in ca_files.items():
            files[f"ca-certificates/{name}"] = data
        reasons.append(f"Trusts {len(ca_files)} extra CA certificate(s) from the host.")
    if wants_python:
        env += [f"VIRTUAL_ENV={VENV}", f"PATH={VENV}/bin:$PATH"]

    apt = _apt_packages(opts, wants_python, bool(ca_files))
    # sharing=locked serialises concurrent BuildKit builds on one cache; buildah 1.28 (Podman 4.3)
    # never releases that lock inside a long-running `podman system service`, so the second build
    # through the same service hangs: Podman gets the default (shared) cache instead.
    lock = ",sharing=locked" if engine == EngineName.DOCKER else ""
    system = _system_section(opts, apt, bool(ca_files), buildkit, lock)
    user_section = ""
    if u:
        files["setup-user.sh"] = _template("setup-user.sh").encode()
        user_section = (
            "\n# The user with the host's UID/GID, so files written to mounts belong to the host user.\n"
            "COPY setup-user.sh /usr/local/lib/dlenv/setup-user.sh\n"
            f"RUN sh /usr/local/lib/dlenv/setup-user.sh {u.name} {u.uid} {u.gid}\n"
        )
    python = (
        _python_section(
            opts, python_reqs, cuda, facts.gpus if facts else (), u, home, buildkit, lock, reasons
        )
        if wants_python
        else ""
    )
    if opts.ssh:
        keys = ssh_keys if ssh_keys is not None else collect_ssh_keys(_host_home(facts))
        if not keys.strip():
            reasons.append(
                "SSH is on but no public key was found in ~/.ssh: add one to "
                "~/.ssh/authorized_keys and build again to log in."
            )
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
        reasons.append("apt and pip downloads are kept in build cache mounts between builds.")
    text = string.Template(_template("Dockerfile.tmpl")).substitute(
        profile=profile.name,
        title=f"dlenv {profile.name}",
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
        final_user=f"USER {u.uid}:{u.gid}\n" if u else "",
    )
    return RenderedImage(
        dockerfile=re.sub(r"\n{3,}", "\n\n", text),
        files=files,
        reasons=tuple(reasons),
        base=base,
        tag=default_tag(profile),
        buildkit=buildkit,
        user=u,
    )


# --------------------------------------------------------------------------------------------
# sections


def _system_section(
    opts: ImageOptions, apt: Sequence[str], ca: bool, buildkit: bool, lock: str
) -> str:
    out = ""
    if ca:
        out += f"\n# Extra CA certificates from the host (a TLS-intercepting proxy, an internal mirror).\nCOPY ca-certificates/ {CA_DIR}/\n"
    if not apt:
        return out
    lines: list[str] = []
    if buildkit:
        # the base image's docker-clean hook would empty the cache mount after every install
        lines.append(
            "rm -f /etc/apt/apt.conf.d/docker-clean"
            " && echo 'Binary::apt::APT::Keep-Downloaded-Packages \"true\";'"
            " > /etc/apt/apt.conf.d/keep-cache"
        )
    if opts.apt_mirror:
        mirror = opts.apt_mirror.rstrip("/")
        lines.append(
            "for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources;"
            ' do if [ -f "$f" ]; then sed -i -E'
            f" 's#https?://(archive|security|ports)\\.ubuntu\\.com/ubuntu(-ports)?/?#{mirror}/#g;"
            f' s#https?://deb\\.debian\\.org/debian/?#{mirror}/#g\' "$f"; fi; done'
        )
    lines.append("apt-get update")
    lines.append(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\\n"
        + " \\\n".join(f"      {p}" for p in apt)
    )
    if ca:
        lines.append("update-ca-certificates")
    if not buildkit:
        lines.append("rm -rf /var/lib/apt/lists/*")
    mounts = (
        f"--mount=type=cache,target=/var/cache/apt{lock} \\\n"
        f"    --mount=type=cache,target=/var/lib/apt{lock} \\\n    "
        if buildkit
        else ""
    )
    return (
        out
        + "\n# System packages (change least often).\nRUN "
        + mounts
        + " \\\n && ".join(lines)
        + "\n"
    )


def _python_section(
    opts: ImageOptions,
    reqs: Sequence[str],
    cuda: str,
    gpus: Sequence[Gpu],
    u: ImageUser | None,
    home: str,
    buildkit: bool,
    lock: str,
    reasons: list[str],
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

    if buildkit:
        owner = f",uid={u.uid},gid={u.gid}" if u else ""
        cache = f"--mount=type=cache,target={home}/.cache/pip{owner}{lock} \\\n    "
        pip = "pip install"
    else:
        cache = ""
        pip = "pip install --no-cache-dir"

    out = "\n# Python packages in a venv"
    out += f", installed as {u.name} (not root).\n" if u else ".\n"
    if u:
        out += f"USER {u.uid}:{u.gid}\n"
    out += f"RUN python3 -m venv {VENV}\n"
    if torch:
        from dlenv_tui import compat

        # a host with a GPU older than Turing stays on cu126, the last index with its kernels
        decision = compat.pytorch_index(cuda, gpus)
        reasons.extend(decision.reasons)
        out += f"RUN {cache}{pip} --index-url {decision.value} {' '.join(torch)}\n"
    if stack:
        extra = f"--extra-index-url {NVIDIA_PYPI} " if nvidia_index else ""
        out += f"RUN {cache}{pip} {extra}{_quote(stack)}\n"
    if opts.jupyter:
        out += f"RUN {cache}{pip} jupyterlab\n"
    if opts.extra_pip:
        out += f"RUN {cache}{pip} {_quote(opts.extra_pip)}\n"
    return out


def _config_section(opts: ImageOptions, u: ImageUser | None, home: str, switched: bool) -> str:
    out = "\n# Configuration (changes most often).\n"
    if u and switched:
        out += "USER 0\n"
    out += "COPY entrypoint.sh /usr/local/bin/dlenv-entrypoint\n"
    if opts.ssh:
        owner = f"{u.uid}:{u.gid}" if u else "0:0"
        out += "COPY sshd_config /etc/dlenv/sshd_config\n"
        out += "COPY profile.sh /etc/profile.d/dlenv.sh\n"
        out += f"COPY --chown={owner} authorized_keys {home}/.ssh/authorized_keys\n"
        # host keys are generated at first start by whoever runs sshd: the user, or root
        out += (
            f"RUN mkdir -p /etc/dlenv/ssh /run/sshd && chown {owner} /etc/dlenv/ssh {home}/.ssh"
            f" && chmod 700 /etc/dlenv/ssh {home}/.ssh\n"
        )
    return out


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
    return sorted(dict.fromkeys(pkgs))


def _cuda_version(opts: ImageOptions, facts: HostFacts | None, reasons: list[str]) -> str:
    if opts.cuda:
        return opts.cuda
    from dlenv_tui import compat

    gpus = facts.gpus if facts else ()
    driver = facts.driver.version if facts and facts.driver.loaded else ""
    decision = compat.usable_cuda_versions(gpus, driver)
    reasons.extend(decision.reasons)
    for cuda in decision.value:
        if not opts.base_override:
            try:  # the newest version that has an nvidia/cuda image in the chosen flavour
                compat.image_tag(cuda, opts.variant, opts.cudnn, opts.ubuntu)
            except ValueError:
                continue
        reasons.append(f"CUDA {cuda}: the newest this host can run.")
        return cuda
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
    """Everything that lands in a RUN line is checked here, so nothing can inject shell."""
    for name in opts.extra_apt:
        if not _APT_NAME.fullmatch(name):
            raise ImageError(f"{name!r} is not a Debian/Ubuntu package name.")
    for req in (*opts.python_packages, *opts.extra_pip):
        if req not in PRESETS and not _PIP_REQ.fullmatch(req):
            raise ImageError(f"{req!r} is neither a preset nor a pip requirement like 'name>=1.0'.")
    for label, url in (("apt mirror", opts.apt_mirror), ("pip index", opts.pip_index)):
        if url and (not _URL.fullmatch(url) or "#" in url or "'" in url):
            raise ImageError(f"The {label} {url!r} is not an http(s) URL.")
    if opts.base_override and not _IMAGE_REF.fullmatch(opts.base_override):
        raise ImageError(f"{opts.base_override!r} is not an image reference.")
    if opts.tag and not _IMAGE_REF.fullmatch(opts.tag):
        raise ImageError(f"{opts.tag!r} is not an image tag.")


def _read_ca_files(paths: Sequence[str]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for i, path in enumerate(paths):
        from dlenv_tui.fsutil import ReadError, read_bounded_bytes

        try:
            data = read_bounded_bytes(path, 1 << 20, "CA certificate")
        except ReadError as exc:
            raise ImageError(str(exc)) from None
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise ImageError(f"{path} is not a PEM certificate.")
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem) or "ca"
        # update-ca-certificates only picks up *.crt
        out[f"{i:02d}-{stem}.crt"] = data
    return out


def _host_home(facts: HostFacts | None) -> Path:
    if facts is not None and facts.user.home:
        return Path(facts.user.home)
    sudo_user = os.environ.get("SUDO_USER")
    if sudo_user:
        import pwd

        try:
            return Path(pwd.getpwnam(sudo_user).pw_dir)
        except KeyError:
            pass
    return Path.home()


def _quote(items: Sequence[str]) -> str:
    return " ".join(shlex.quote(i) for i in items)


def _template(name: str) -> str:
    return locations.asset("templates", name).read_text()
