"""Sheets: ``batch``, ``collect``, ``set-aside``, ``users sign|import``, ``rerun``."""

from __future__ import annotations

import argparse

from ._common import _coordinator_key, _key_args, _load_signing_key, _print_checkpoint


def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="execute the review notebook for every assignment (parallel, resumable)")
    p.add_argument("round", metavar="ROUND")
    p.add_argument("--jobs", type=int, default=2, help="notebooks at a time (default 2)")
    p.add_argument("--executor", default="local", help="local (processes) or dask://HOST:PORT")
    p.add_argument("--timeout", type=float, default=600, help="per-cell execution timeout in seconds (default 600)")
    p.add_argument("--retries", type=int, default=1, help="re-runs of a failed notebook in this batch (default 1)")
    p.add_argument("--notebook", help="the review notebook (default: the shipped notebooks/review.ipynb)")
    p.add_argument("--keys", metavar="DIR", help="folder with <reviewer>.key: with answers files, sheets are signed")
    p.add_argument("--lang", default=None, choices=["ko", "en"], help="the notebooks' language (default: the round's)")
    p.add_argument("--role", action="append", choices=["expert", "user"],
                   help="only the assignments of reviewers with this role (repeatable; default: all)")
    p.set_defaults(func=_cmd_batch)

def _cmd_batch(args: argparse.Namespace) -> int:
    from ..run.batch import run_batch, summary_table

    results = run_batch(args.round, notebook=args.notebook, keys_dir=args.keys, jobs=args.jobs, executor=args.executor,
                        timeout=args.timeout, retries=args.retries, lang=args.lang, roles=args.role)
    print(summary_table(results).to_string(index=False))
    counts = {s: sum(r.state == s for r in results) for s in ("done", "skipped", "failed")}
    print(f"{counts['done']} done, {counts['skipped']} skipped (done before), {counts['failed']} failed"
          + ("; rerun to retry the failed ones" if counts["failed"] else ""))
    return 1 if counts["failed"] else 0

def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="verify submitted sheets; accept or reject each and record it in the ledger")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.set_defaults(func=_cmd_collect)

def _cmd_collect(args: argparse.Namespace) -> int:
    from ..round.collect import collect

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    results = collect(args.round, key, actor)
    for r in results:
        if r.new:
            print(f"{r.decision:8} {r.path}{': ' + r.reason if r.reason else ''}")
    new = [r for r in results if r.new]
    print(f"{len(new)} new sheet(s): {sum(r.decision == 'accepted' for r in new)} accepted, "
          f"{sum(r.decision == 'rejected' for r in new)} rejected; {len(results) - len(new)} collected before")
    path, cp, _, _ = _print_checkpoint(args.round, key, actor)
    from ..round.receipt import write_receipts

    receipts = write_receipts(args.round, cp.round_id or "", [(r.reviewer, r.team, r.version) for r in new if r.version],
                              path.read_bytes())
    if receipts:
        print(f"{len(receipts)} receipt(s) under {args.round}/receipts/<reviewer>/<team>.v<N>.json: each reviewer "
              "keeps theirs ('workbench verify-receipt RECEIPT --key COORDINATOR.pub' checks it without the ledger)")
    return 0

def _add_set_aside(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exclude", help="coordinator: take an accepted sheet out of the results, with a reason "
                       "(listed at the top of the report)")
    p.add_argument("round", metavar="ROUND")
    p.add_argument("sheet", metavar="SHEET", help="sheets/<reviewer>/<team>.v<N>.dsse.json")
    p.add_argument("--reason", required=True)
    _key_args(p)
    p.set_defaults(func=_cmd_set_aside, kind="exclude")
    w = sub.add_parser("withdraw", help="reviewer: withdraw your own collected sheet (signed with your key)")
    w.add_argument("round", metavar="ROUND")
    w.add_argument("sheet", metavar="SHEET", help="sheets/<you>/<team>.v<N>.dsse.json")
    w.add_argument("--reviewer", required=True, help="your id in the roster")
    w.add_argument("--reason", default="")
    w.add_argument("--key", required=True, help="your private key file")
    w.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")
    w.set_defaults(func=_cmd_set_aside, kind="withdraw")

def _cmd_set_aside(args: argparse.Namespace) -> int:
    from ..round.collect import set_aside

    if args.kind == "exclude":
        key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    else:
        key, actor = _load_signing_key(args.key, args.passphrase_env), args.reviewer
    e = set_aside(args.round, key, actor, args.sheet, args.reason, args.kind)
    print(f"{args.kind}: {args.sheet} by {actor}, ledger entry {e.seq}")
    return 0

def _add_users(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="user evaluators' survey answers and votes: sign your own, or import (coordinator)")
    us = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    s = us.add_parser("sign", help="a user signs their own answers (and votes) from the survey tool's export")
    s.add_argument("round", metavar="ROUND")
    s.add_argument("--user", required=True, help="your id in the roster")
    s.add_argument("--key", required=True, help="your private key file")
    s.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")
    s.add_argument("--survey", required=True, metavar="CSV", help="user_id, team, item, value[, comment]")
    s.add_argument("--votes", metavar="CSV", help="user_id, prompt_id, model_a, model_b, winner")
    s.set_defaults(func=_cmd_users_sign)
    i = us.add_parser("import", help="coordinator: import the survey CSV as a signed, ledgered act "
                      "(only when the rules say aggregation.user_source: import)")
    i.add_argument("round", metavar="ROUND")
    _key_args(i)
    i.add_argument("--survey", required=True, metavar="CSV")
    i.add_argument("--votes", metavar="CSV")
    i.add_argument("--reason", required=True, help="where the files come from and why they are imported")
    i.set_defaults(func=_cmd_users_import)

def _cmd_users_sign(args: argparse.Namespace) -> int:
    from ..round.survey import sign_survey

    key = _load_signing_key(args.key, args.passphrase_env)
    done = sign_survey(args.round, args.user, key, args.survey, args.votes)
    for team, version, path in done:
        print(f"{team}: " + (f"signed v{version}: {path}" if path else "unchanged since the last signed version"))
    print(f"{sum(1 for *_, p in done if p)} sheet(s) signed; the coordinator collects them with 'workbench collect'")
    return 0

def _cmd_users_import(args: argparse.Namespace) -> int:
    from ..round.userdata import import_users

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    e = import_users(args.round, key, actor, args.survey, args.votes, reason=args.reason)
    for kind, f in sorted(e.data["files"].items()):
        print(f"imported {kind}: {f['path']} ({f['bytes']} bytes, sha256 {f['sha256'][:16]})")
    print(f"ledger entry {e.seq}: users_import by {actor}")
    return 0

def _add_rerun(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rerun", help="after evidence changed: re-run exactly the notebooks of sheets whose inputs "
                       "changed, record it in the ledger and collect the new versions")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.add_argument("--keys", metavar="DIR", help="folder with <reviewer>.key: with answers files, sheets are signed")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--executor", default="local")
    p.add_argument("--notebook")
    p.add_argument("--lang", default=None, choices=["ko", "en"], help="the notebooks' language (default: the round's)")
    p.set_defaults(func=_cmd_rerun)

def _cmd_rerun(args: argparse.Namespace) -> int:
    from ..run.refresh import rerun_changed

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    stale, results, decisions = rerun_changed(args.round, key, actor, keys_dir=args.keys, notebook=args.notebook,
                                              jobs=args.jobs, executor=args.executor, lang=args.lang)
    if not stale:
        print("no sheet was made from inputs that changed since: nothing to re-run")
        return 0
    for s in stale:
        print(s.line())
    failed = [res for res in results if res.state == "failed"]
    for res in results:
        print(f"{res.state:8} {res.reviewer} x {res.team}{': ' + res.error if res.error else ''}")
    new = [d for d in decisions if d.new]
    print(f"{len(stale)} stale sheet(s); {len(results) - len(failed)} notebook(s) re-run, {len(failed)} failed; "
          f"{sum(d.decision == 'accepted' for d in new)} new version(s) accepted. Reviewers without an answers file "
          "sign again in their notebook.")
    return 1 if failed else 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_batch(sub)
    _add_collect(sub)
    _add_set_aside(sub)
    _add_users(sub)
    _add_rerun(sub)
