"""Plans as a bash script: each step guarded by its check, every value shell-quoted; passes shellcheck."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from dlenv_tui import __version__
from dlenv_tui.model import Plan, Step, StepKind

_PRELUDE = r"""#!/usr/bin/env bash
# Values are single-quoted on purpose (${Status} is dpkg-query's format, not a shell variable).
# shellcheck disable=SC2016
set -euo pipefail
export LC_ALL=C

if [ "$(id -u)" -ne 0 ]; then
  echo "Run this script as root, for example: sudo bash $0" >&2
  exit 1
fi

# Fetch an https URL to a file; verify an OpenPGP key's fingerprint when one is given.
dlenv_download() {
  local url=$1 dest=$2 mode=$3 fingerprint=$4 dearmor=$5
  local tmp got
  tmp=$(mktemp)
  curl -fsSL --proto '=https' --tlsv1.2 -o "$tmp" "$url"
  if [ -n "$fingerprint" ]; then
    got=$(gpg --batch --with-colons --show-keys "$tmp" | awk -F: '$1 == "fpr" { print $10; exit }')
    if [ "$got" != "$fingerprint" ]; then
      echo "Key from $url has fingerprint ${got:-none}, expected $fingerprint; stopping." >&2
      rm -f "$tmp"
      exit 1
    fi
  fi
  install -d -m 0755 "$(dirname "$dest")"
  if [ "$dearmor" = 1 ]; then
    gpg --batch --yes --dearmor -o "$dest" "$tmp"
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dest"
  fi
  chmod "$mode" "$dest"
}
"""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _q(value: str) -> str:
    return shlex.quote(value)


def _argv(argv: Sequence[str]) -> str:
    return " ".join(_q(a) for a in argv)


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())


def _body(step: Step) -> list[str]:
    """The commands that perform ``step``."""
    if step.kind is StepKind.RUN:
        env = []
        for key, value in step.env:
            if not _ENV_NAME.fullmatch(key):
                raise ValueError(f"step {step.id}: bad environment variable name {key!r}")
            env.append(f"{key}={_q(value)}")
        return [" ".join([*env, _argv(step.argv)])]
    if step.kind is StepKind.WRITE_FILE:
        assert step.file is not None
        f = step.file
        parent = f.path.rsplit("/", 1)[0] or "/"
        tmp = f"{f.path}.dlenv-tmp"
        lines = [f"install -d -m 0755 {_q(parent)}"]
        content = f.content
        if content.endswith("\n"):
            delim = "DLENV_EOF"
            while delim in content.splitlines():
                delim += "_"
            lines.append(f"cat > {_q(tmp)} <<'{delim}'")
            lines.extend(content[:-1].split("\n"))
            lines.append(delim)
        else:
            lines.append(f"printf '%s' {_q(content)} > {_q(tmp)}")
        lines.append(f"chmod {f.mode:04o} {_q(tmp)}")
        lines.append(f"mv -f {_q(tmp)} {_q(f.path)}")
        return lines
    if step.kind is StepKind.DOWNLOAD:
        assert step.download is not None
        d = step.download
        fingerprint = "".join(d.fingerprint.split()).upper()
        return [
            "dlenv_download "
            + _argv([d.url, d.dest, f"{d.mode:04o}", fingerprint, "1" if d.dearmor else "0"])
        ]
    # REBOOT: stop here; a re-run after the reboot skips every finished step
    return [
        f"echo {_q('Reboot now: ' + step.title + '.')}",
        f"echo {_q('After the reboot run this script again; finished steps are skipped.')}",
        "exit 0",
    ]


def _step(step: Step) -> list[str]:
    out = [_comment(f"[{step.id}] {step.title}" + (f" ({step.note})" if step.note else ""))]
    body = _body(step)
    announce = f"echo {_q('==> ' + step.title)}"
    if not step.check:
        return [*out, announce, *body, ""]
    # test(1) prints nothing; silencing it would read to shellcheck like a mistyped comparison
    quiet = "" if step.check[0].endswith("/test") else " >/dev/null 2>&1"
    if step.check[0].endswith("/dpkg-query"):
        # dpkg-query exits 0 for a half-configured package too: only "install ok installed" is done
        check = f"[ \"$({_argv(step.check)} 2>/dev/null)\" = 'install ok installed' ]"
    else:
        check = f"{_argv(step.check)}{quiet}"
    out.append(f"if {check}; then")
    out.append(f"  echo {_q('skip: ' + step.title + ' (already done)')}")
    out.append("else")
    out.append(f"  {announce}")
    # heredoc bodies must stay unindented so their content is written exactly
    in_heredoc = ""
    for line in body:
        if in_heredoc:
            out.append(line)
            if line == in_heredoc:
                in_heredoc = ""
            continue
        out.append(f"  {line}")
        m = re.search(r"<<'([A-Z_]+)'$", line)
        if m:
            in_heredoc = m.group(1)
    out.append("fi")
    out.append("")
    return out


def render_script(plans: Sequence[Plan]) -> str:
    """A bash script performing ``plans`` in order; re-running it skips whatever is done."""
    names = ", ".join(p.stage.value for p in plans)
    first = plans[0] if plans else None
    shebang, rest = _PRELUDE.rstrip("\n").split("\n", 1)
    lines = [shebang, rest, ""]
    header = f"Generated by dlenv {__version__}"
    if first is not None and first.profile:
        header += f" for profile {first.profile}"
    if first is not None and first.distro:
        header += f" on {first.distro}"
    lines.insert(1, _comment(f"{header}: {names or 'no stages'}."))
    lines.insert(2, "# Every step is guarded by a read-only check, so running it again is safe.")
    for plan in plans:
        lines.append(_comment(f"===== Stage: {plan.stage.value} ====="))
        lines.extend(_comment(f"Why: {r}") for r in plan.reasons)
        for w in plan.warnings:
            lines.append(_comment(f"Warning: {w}"))
            lines.append(f"echo {_q('Warning: ' + ' '.join(w.split()))} >&2")
        if plan.satisfied and not plan.steps:
            lines.append(f"echo {_q(plan.stage.value + ': already satisfied on this host')}")
            lines.append("")
            continue
        lines.append("")
        for step in plan.steps:
            lines.extend(_step(step))
    lines.append(f"echo {_q('dlenv: all steps done.')}")
    return "\n".join(lines) + "\n"
