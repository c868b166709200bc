"""`dlenv profiles list|show|rm|new`: saved setups, from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dlenv_tui.cli import add_common
from dlenv_tui.errors import UsageError
from dlenv_tui.model import EngineName, Profile


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "profiles",
        help="list, show, delete or create saved profiles",
        description="Saved profiles: one TOML file each under the dlenv config directory.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True

    p_list = actions.add_parser("list", help="list saved profiles (broken files with their error)")
    p_list.set_defaults(func=run_list)

    p_show = actions.add_parser(
        "show",
        help="print a profile as TOML, and what changed on the host since it was made",
        description=(
            "Print NAME as TOML. When the profile holds a snapshot of the host it was made on, "
            "the host is probed (or --facts FILE read) and what changed since is appended as "
            "TOML comments: new driver, GPUs, kernel, distribution release, engines."
        ),
    )
    p_show.add_argument("name", metavar="NAME")
    add_common(p_show)
    p_show.set_defaults(func=run_show)

    p_rm = actions.add_parser("rm", help="delete a profile")
    p_rm.add_argument("name", metavar="NAME")
    p_rm.set_defaults(func=run_rm)

    p_set = actions.add_parser(
        "set",
        help="change a profile's run or image options: KEY=VALUE ...",
        description=(
            "Change options of NAME, checked by the same rules as the wizard, then save it. "
            "Run options: gpus, shm_size, name, restart, as_root, proxy, keep_home, "
            "ports (HOST:CONTAINER or IP:HOST:CONTAINER), mounts (SOURCE:TARGET[:ro]), "
            "env (NAME=VALUE ...), secrets (NAME, NAME=HOST_VARIABLE or NAME=@/path/file: "
            "read at launch, never stored). Image options: apt_mirror, pip_index, "
            "torch_index, ca_certs (paths), build_proxy, cuda, variant, cudnn, ubuntu, "
            "base_override, tag, python_packages, extra_apt, extra_pip, jupyter, ssh, tmux. "
            "List values are separated by commas or spaces (mounts: commas only); a list option "
            "given twice adds up. "
            "Prefix with run. or image. when a key is ambiguous; an empty VALUE resets a text "
            "option."
        ),
    )
    p_set.add_argument("name", metavar="NAME")
    p_set.add_argument("settings", metavar="KEY=VALUE", nargs="+")
    p_set.set_defaults(func=run_set)

    p_new = actions.add_parser(
        "new",
        help="create a profile with the recommended choices for this host, asking nothing",
        description=(
            "Create NAME with the recommended driver, engine and CUDA for this host (or for the "
            "recorded facts of --facts FILE) without any question."
        ),
    )
    p_new.add_argument("name", metavar="NAME")
    p_new.add_argument(
        "--engine", choices=[e.value for e in EngineName], help="override the recommended engine"
    )
    p_new.add_argument("--cuda", metavar="X.Y", default="", help="override the recommended CUDA")
    p_new.add_argument(
        "--facts",
        metavar="FILE",
        help="use recorded host facts (the JSON `dlenv check --json` prints) instead of probing",
    )
    p_new.add_argument("--sysroot", metavar="DIR", help="probe files under DIR instead of /")
    p_new.set_defaults(func=run_new)


def run_list(args: argparse.Namespace) -> int:
    from dlenv_tui.profiles import ProfileStore

    store = ProfileStore()
    entries = store.list()
    if not entries:
        print(f"No profiles in {store.directory}; create one with `dlenv profiles new NAME`.")
        return 0
    width = max(len(e.name) for e in entries)
    for e in entries:
        status = f"error: {e.error}" if e.error else (e.updated_at or "-")
        print(f"{e.name:<{width}}  {status}")
    return 1 if any(e.error for e in entries) else 0


def run_show(args: argparse.Namespace) -> int:
    from dlenv_tui.profiles import ProfileStore, profile_errors, profile_to_toml

    profile = ProfileStore().load(args.name)
    sys.stdout.write(profile_to_toml(profile))
    sys.stdout.write(drift_block(args, profile))
    problems = list(profile_errors(profile))
    for problem in problems:
        print(f"dlenv: {args.name}: {problem}", file=sys.stderr)
    return 1 if problems else 0


def drift_block(args: argparse.Namespace, profile: Profile) -> str:
    """What changed since ``profile.host`` was recorded, as TOML comments (so the output stays a
    valid profile file); "" when there is no snapshot or nothing that matters changed."""
    if profile.host is None:
        return ""
    from dlenv_tui.cli.plan import host_facts
    from dlenv_tui.drift import host_changes

    changes = host_changes(profile.host, host_facts(args, profile))
    if not changes:
        return ""
    lines = ["", "# Host changed since this profile was made:"]
    lines += [f"#   - {change}" for change in changes]
    return "\n".join(lines) + "\n"


def run_rm(args: argparse.Namespace) -> int:
    from dlenv_tui.profiles import ProfileStore

    ProfileStore().delete(args.name)
    print(f"Deleted profile {args.name}.")
    return 0


def run_new(args: argparse.Namespace) -> int:
    from dlenv_tui.cli.plan import host_facts
    from dlenv_tui.profiles import ProfileStore, recommended_profile, validate_name

    validate_name(args.name)
    store = ProfileStore()
    if store.exists(args.name):
        raise UsageError(
            f"profile {args.name!r} already exists; remove it first with `dlenv profiles rm {args.name}`."
        )
    facts = host_facts(args)
    engine = EngineName(args.engine) if args.engine else None
    profile = recommended_profile(args.name, facts, engine=engine, cuda=args.cuda)
    path = store.save(profile, create=True)  # under the lock: one of racing creators wins
    flavour = profile.driver.flavour.value if profile.driver.flavour else "auto"
    branch = f" {profile.driver.branch}" if profile.driver.branch else ""
    print(
        f"Created profile {args.name} ({path}): {flavour}{branch} driver, "
        f"{profile.engine.engine.value} ({profile.engine.source.value}), "
        f"CUDA {profile.image.cuda or 'newest usable'}."
    )
    if not facts.gpus:
        print(
            "No NVIDIA GPU was found on this host, so its containers start without GPUs "
            f"(`dlenv profiles set {args.name} gpus=all` once one is there)."
        )
    return 0


def run_set(args: argparse.Namespace) -> int:
    from dlenv_tui.profile_settings import apply_settings
    from dlenv_tui.profiles import ProfileStore

    store = ProfileStore()
    profile = store.load(args.name)
    updated, changes = apply_settings(profile, args.settings)
    store.save(updated)
    for change in changes:
        print(f"{args.name}: {change}")
    return 0
