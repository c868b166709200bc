"""The diagnostic bundle: facts, findings, engine info, job journals, driver files, kernel log; redacted."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dlenv_tui.errors import UsageError

if TYPE_CHECKING:
    from dlenv_tui.doctor.evidence import HostReads
    from dlenv_tui.doctor.findings import Finding
    from dlenv_tui.model import HostFacts
    from dlenv_tui.probe.host import Host

#: How many of the newest job journals go in.
RECENT_JOBS = 5
#: Journal bytes kept per job (the end: where a failure is).
JOURNAL_TAIL = 256 * 1024
REDACTED = "[REDACTED]"

README = """\
dlenv diagnostic bundle
=======================

Made by `dlenv doctor --bundle` on {made}. It holds what dlenv read about this host, redacted:
tokens, passwords, private keys and credentials in URLs are replaced by [REDACTED]{anon}.

  facts.json         what `dlenv check --json` reads (distro, kernel, GPUs, driver, engines)
  findings.json      what `dlenv doctor` found, with the evidence and the planned fixes
  engine-info.txt    `docker info` / `podman info`
  driver/            /proc/driver/nvidia/version, /sys/module/nvidia/version, CDI specs, daemon.json
  kernel-log.txt     the kernel's NVIDIA / nouveau / module-signing log lines
  jobs/              the newest dlenv job journals (what the root worker ran and printed)

Read it before you share it. To report a bug, open an issue on the dlenv repository, describe
what you did and what you expected, and attach this file (drag it into the issue's text box).
"""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL
        ),
        "[private key removed]",
    ),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/@:]+(?::[^\s/@]*)?@"), r"\1" + REDACTED + "@"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (
        re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat|glpat|hf|xox[abp]|sk)[-_][A-Za-z0-9_-]{10,}"),
        REDACTED,
    ),
    (
        re.compile(
            r"(?i)([\"']?\b[\w.-]*(?:password|passwd|pwd|token|secret|api[_-]?key|auth)[\w.-]*[\"']?"
            r"\s*[:=]\s*[\"']?)(?!\[REDACTED\])(?!(?i:bearer|basic)\s)[^\s\"',;&}]+"
        ),
        r"\1" + REDACTED,
    ),
)


def redact(text: str, names: Iterable[tuple[str, str]] = ()) -> str:
    """``text`` without secrets; each (name, stand-in) in ``names`` replaced too (--anonymize)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    for name, stand_in in names:
        if name and len(name) > 1:
            text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", stand_in, text)
    return text


def _names(facts: HostFacts) -> list[tuple[str, str]]:
    out = []
    if facts.user.home and facts.user.home not in ("/", "/root"):
        out.append((facts.user.home, "/home/user"))
    if facts.user.name and facts.user.name != "root":
        out.append((facts.user.name, "user"))
    if facts.hostname:
        out.append((facts.hostname, "host"))
        short = facts.hostname.split(".")[0]
        if short != facts.hostname:
            out.append((short, "host"))
    return out


def _engine_info(host: Host | None) -> str:
    if host is None:
        return "(not read: recorded facts)\n"
    parts = []
    for argv in (("docker", "info"), ("podman", "info")):
        if host.which(argv[0]) is None:
            parts.append(f"$ {' '.join(argv)}\n(not installed)\n")
            continue
        result = host.run(argv, timeout=15)
        text = result.output if result is not None else "(did not run)\n"
        parts.append(f"$ {' '.join(argv)}\n{text}")
    return "\n".join(parts)


def _journals(jobs: Path) -> list[tuple[str, bytes]]:
    try:
        files = sorted(
            (p for p in jobs.iterdir() if p.name.endswith((".jsonl", ".plan.json"))),
            key=lambda p: p.stat().st_mtime,
            reverse=True,
        )
    except OSError:
        return []
    wanted = {p.name.split(".")[0] for p in files if p.name.endswith(".jsonl")}
    recent = sorted(
        wanted, key=lambda j: -max(p.stat().st_mtime for p in files if p.name.startswith(j))
    )[:RECENT_JOBS]
    out = []
    for p in files:
        if p.name.split(".")[0] not in recent:
            continue
        try:
            with open(p, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - JOURNAL_TAIL))
                out.append((p.name, f.read()))
        except OSError:
            continue
    return out


def bundle_members(
    *,
    facts: HostFacts,
    findings: tuple[Finding, ...],
    reads: HostReads,
    host: Host | None,
    anonymize: bool = False,
    jobs: Path | None = None,
) -> dict[str, str]:
    """The bundle's files (name → redacted text)."""
    from dlenv_tui import locations
    from dlenv_tui.doctor import evidence as ev
    from dlenv_tui.model import to_data

    names = _names(facts) if anonymize else []
    members: dict[str, str] = {
        "README.txt": README.format(
            made=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            anon="; user and host names are replaced" if anonymize else "",
        ),
        "facts.json": json.dumps(to_data(facts), indent=2, ensure_ascii=False) + "\n",
        "findings.json": json.dumps([to_data(f) for f in findings], indent=2, ensure_ascii=False)
        + "\n",
        "engine-info.txt": _engine_info(host),
        "kernel-log.txt": (
            f"# {reads.kernel_log_source}\n" + "\n".join(reads.kernel_log) + "\n"
            if reads.kernel_log is not None
            else "(no kernel log could be read: dmesg and journalctl -k need root on many hosts)\n"
        ),
    }
    if reads.proc_version is not None:
        members["driver/proc-driver-nvidia-version"] = reads.proc_version
    if reads.sys_module_version is not None:
        members["driver/sys-module-nvidia-version"] = reads.sys_module_version + "\n"
    if reads.nvml_libs:
        members["driver/libnvidia-ml.txt"] = "\n".join(reads.nvml_libs) + "\n"
    if reads.dkms_status is not None:
        members["driver/dkms-status.txt"] = reads.dkms_status
    if reads.daemon_json is not None:
        members["driver/docker-daemon.json"] = reads.daemon_json
    for spec in reads.cdi_specs:
        members[f"driver/cdi-{spec.source.rsplit('/', 1)[-1]}"] = spec.text
    if reads.ctk_config is not None:
        members["driver/nvidia-container-runtime-config.toml"] = reads.ctk_config
    if reads.reboot_required is not None:
        members["driver/reboot-required.txt"] = reads.reboot_required or "(reboot required)\n"
    _ = ev  # the module documents every path read above
    for name, data in _journals(jobs or locations.jobs_dir()):
        members[f"jobs/{name}"] = data.decode("utf-8", errors="replace")
    return {name: redact(text, names) for name, text in members.items()}


def write_bundle(
    path: str | Path,
    *,
    facts: HostFacts,
    findings: tuple[Finding, ...],
    reads: HostReads,
    host: Host | None,
    anonymize: bool = False,
    jobs: Path | None = None,
) -> Path:
    """Write the redacted bundle as a gzipped tar (mode 0600); UsageError when it cannot."""
    members = bundle_members(
        facts=facts, findings=findings, reads=reads, host=host, anonymize=anonymize, jobs=jobs
    )
    out = Path(path)
    top = "dlenv-bundle"
    now = time.time()
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, text in members.items():
                data = text.encode("utf-8", errors="replace")
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(data)
                info.mtime = int(now)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
    except OSError as exc:
        raise UsageError(f"cannot write the bundle {str(out)!r}: {exc.strerror or exc}.") from None
    return out
