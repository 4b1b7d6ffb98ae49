"""Serving a round: ``lab``, ``hub plan|accounts|serve``."""

from __future__ import annotations

import argparse
import sys


def _add_lab(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="start JupyterLab on a round folder (as root too), opening a notebook if named",
                       description="Start the JupyterLab of this workbench's Python on ROUND; it prints the address "
                                   "to open. Ctrl-C stops it.")
    p.add_argument("round", metavar="ROUND")
    p.add_argument("notebook", nargs="?", metavar="NOTEBOOK", help="a notebook inside ROUND to open first")
    p.add_argument("--port", type=int, default=None, help="port (default: JupyterLab's, 8888 or the next free one)")
    p.add_argument("--browser", action=argparse.BooleanOptionalAction, default=None,
                   help="open a browser (default: only where there is a display)")
    p.set_defaults(func=_cmd_lab)

def _cmd_lab(args: argparse.Namespace) -> int:
    import os

    from ..hub.lab import lab_command

    argv = lab_command(args.round, args.notebook, port=args.port, browser=args.browser)
    sys.stdout.flush()
    os.execv(argv[0], argv)  # JupyterLab takes over this process: Ctrl-C and its exit code are its own
    return 0  # pragma: no cover

def _add_hub(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hub", help="serve a frozen round to its panel with JupyterHub (docs/deployment.md)")
    hs = p.add_subparsers(dest="hub_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("round", metavar="ROUND")
        q.add_argument("--prefix", help="put before every roster id to make its account name (default: the one kept "
                       "in --state, else none)")
        q.add_argument("--auditor", action="append", default=[], metavar="ACCOUNT",
                       help="an existing account that reads the whole round after publication (repeatable; default: "
                       "those kept in --state)")

    a = hs.add_parser("accounts", help="as root: create the accounts, groups, keys and notebooks; set every "
                      "path's owner and mode (idempotent: run it again after any roster or assignment change)")
    common(a)
    a.add_argument("--passwords", required=True, metavar="FILE",
                   help="write the new accounts' passwords here (mode 0600; hand them over, then delete it)")
    a.add_argument("--lang", default="ko", choices=["ko", "en"], help="the notebooks' language")
    a.add_argument("--home-base", default="/home", metavar="DIR", help="where new homes go (default /home)")
    a.add_argument("--state", metavar="DIR", help="the hub's state folder: the prefix and auditors are kept there, "
                   "for 'hub serve' (and a restart) to read")
    a.set_defaults(func=_cmd_hub_accounts)
    s = hs.add_parser("serve", help="write the JupyterHub configuration for a frozen round; --start runs the hub")
    common(s)
    s.add_argument("--port", type=int, help="the hub's port on 127.0.0.1 (default: kept in --state, else 8000)")
    s.add_argument("--state", required=True, metavar="DIR", help="the hub's own files: configuration, database, "
                   "cookie secret, the settings given (kept for a restart) and a systemd unit (mode 0700; outside "
                   "the round)")
    s.add_argument("--proxy", metavar="FILE", help="configurable-http-proxy (default: on PATH, else .hub-proxy/)")
    s.add_argument("--start", action="store_true", help="run JupyterHub in the foreground (as root)")
    s.set_defaults(func=_cmd_hub_serve)
    q = hs.add_parser("plan", help="print the accounts, groups and every path's owner and mode (changes nothing)")
    common(q)
    q.set_defaults(func=_cmd_hub_plan)

def _cmd_hub_accounts(args: argparse.Namespace) -> int:
    from ..core.files import check_output_dir, check_output_path
    from ..hub.jupyterhub import hub_settings, save_settings, setup_accounts

    check_output_path(args.passwords)  # before any account is made
    # with --state: the prefix and auditors kept there unless given, and kept there for serve and its restarts
    kept = None
    if args.state:
        check_output_dir(args.state)
        kept = hub_settings(args.state, args.round, prefix=args.prefix, auditors=args.auditor)
    rep = setup_accounts(args.round, prefix=kept.prefix if kept else args.prefix or "",
                         auditors=kept.auditors if kept else args.auditor, lang=args.lang,
                         passwords_file=args.passwords, home_base=args.home_base)
    if kept:
        save_settings(args.state, kept)
        print(f"prefix and auditors kept in {args.state} for 'workbench hub serve'")
    print(f"accounts created: {', '.join(rep.created) or 'none'}"
          + (f"; their passwords are in {rep.passwords_file}" if rep.passwords_file else ""))
    print(f"{len(rep.notebooks)} notebook(s) written; {rep.perms} path(s) given their owner and mode")
    for name, n in rep.ended.items():
        print(f"{name} left a group: {n} process(es) of {name} ended (its server included)")
    for name in rep.notebooks_removed:
        print(f"removed {name}: a notebook for a team its owner may no longer score")
    if rep.roster_keys_written:
        print(f"roster.yaml: public keys set for {', '.join(rep.roster_keys_written)} (the keys in their homes); "
              "freeze the round next")
    for name, problem in rep.blocked.items():
        print(f"{name}: {problem}: left without access to the round until fixed (then run this again); "
              "everyone else was applied", file=sys.stderr)
    if rep.key_mismatches:
        print(f"the keys in the homes of {', '.join(rep.key_mismatches)} are not their keys in the frozen roster: "
              "amend the roster with ~ID/.workbench/ID.pub ('workbench round amend'), then run this again",
              file=sys.stderr)
    return 1 if rep.blocked or rep.key_mismatches else 0

def _cmd_hub_serve(args: argparse.Namespace) -> int:
    import shlex

    from ..core.files import check_output_dir
    from ..hub.jupyterhub import UNIT_FILE, hub_settings, start_hub, write_hub

    check_output_dir(args.state)
    st = hub_settings(args.state, args.round, prefix=args.prefix, auditors=args.auditor, port=args.port,
                      proxy=args.proxy)
    # started (by hand or by systemd right after a stop): wait a little for the port the old hub let go of
    config = write_hub(st.round, port=st.port, state_dir=args.state, prefix=st.prefix, auditors=st.auditors,
                       proxy=st.proxy, wait=15 if args.start else 0)
    print(f"wrote {config} and {config.parent / UNIT_FILE} (systemd)")
    st = hub_settings(args.state, st.round)  # as kept, with the auditors of the round's audit group
    full = shlex.join(["workbench", "hub", "serve", st.round, "--state", str(config.parent), "--port", str(st.port),
                       *(["--prefix", st.prefix] if st.prefix else []), *(x for a in st.auditors for x in ("--auditor", a)),
                       *(["--proxy", st.proxy] if st.proxy else []), "--start"])
    if not args.start:
        short = shlex.join(["workbench", "hub", "serve", st.round, "--state", str(config.parent), "--start"])
        print(f"start it with: {short}\n"
              f"  (the other settings are kept in {config.parent}; in full: {full})")
        return 0
    print(f"JupyterHub on http://127.0.0.1:{st.port}/ (put a TLS reverse proxy in front; Ctrl-C stops it); "
          f"restart it with: {full}", flush=True)
    start_hub(config)  # replaces this process

def _cmd_hub_plan(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..hub.jupyterhub import permission_plan, plan_json, plan_round, round_paths
    from ..model.round import load_round

    r = load_round(args.round)
    plan = plan_round(r, args.prefix or "", args.auditor)
    print(plan_json(plan, permission_plan(plan, round_paths(Path(args.round).absolute()))))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_lab(sub)
    _add_hub(sub)
