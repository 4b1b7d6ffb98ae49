"""Results: ``aggregate`` (and the report), ``audit``."""

from __future__ import annotations

import argparse
import sys

from ._common import _coordinator_key, _key_args


def _add_aggregate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aggregate", help="aggregate the panels and write the signed report under ROUND/report")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.add_argument("--acknowledge", metavar="REASON",
                   help="sign although problems change points: record this reason in the ledger and the report")
    p.set_defaults(func=_cmd_aggregate)

def _cmd_aggregate(args: argparse.Namespace) -> int:
    import dataclasses

    from ..model.round import load_round
    from ..publish.aggregate import acknowledge, aggregate_round
    from ..publish.report import ranking_text, write_report

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    r = load_round(args.round)
    agg = aggregate_round(r)
    if args.acknowledge is not None and agg.problems and agg.acknowledged is None:
        ack = acknowledge(r, agg, key, actor, args.acknowledge)
        agg = dataclasses.replace(agg, acknowledged=ack)
        print(f"acknowledged {len(ack.problems)} problem(s) in ledger entry {ack.seq}")
    paths = write_report(r, agg, key, actor)
    print(ranking_text(agg))
    print(f"report: {paths['html']}")
    return 0

def _add_audit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="verify a round end to end (signatures, ledger, rules, report); --rerun re-executes notebooks")
    p.add_argument("round", metavar="ROUND")
    p.add_argument("--rerun", action="store_true", help="re-execute every accepted sheet's notebook and compare")
    p.add_argument("--only", action="append", metavar="REVIEWER/TEAM", help="re-run only these sheets (repeatable)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks at a time (default 2)")
    p.add_argument("--executor", default="local", help="local (processes) or dask://HOST:PORT")
    p.add_argument("--timeout", type=float, default=600, help="per-cell execution timeout in seconds (default 600)")
    p.add_argument("--notebook", help="the review notebook template (default: the shipped notebooks/review.ipynb)")
    p.add_argument("--witness", action="append", default=[], metavar="FILE",
                   help="a checkpoint kept by a witness; the ledger must extend it (repeatable)")
    p.add_argument("--receipt", action="append", default=[], metavar="FILE",
                   help="a reviewer's receipt (receipts/<reviewer>/<team>.v<N>.json) kept outside the round: its "
                   "proofs must verify and the ledger must still hold its entries (repeatable)")
    p.add_argument("--coordinator-key", action="append", default=[], metavar="KEYID",
                   help="a coordinator key id as published (16+ hex digits): the round's first entry must pin it "
                   "(repeatable)")
    p.add_argument("--out", metavar="DIR", help="write audit.json and index.html here (default: ROUND/audit; an "
                   "auditor's read-only account writes to its own folder)")
    p.set_defaults(func=_cmd_audit)

def _cmd_audit(args: argparse.Namespace) -> int:
    from ..audit.checks import audit_round
    from ..audit.render import finding_line, write_audit
    from ..core.files import check_output_dir

    if args.out:
        check_output_dir(args.out)  # before the audit, which can re-run every notebook
    res = audit_round(args.round, rerun=args.rerun, only=args.only, jobs=args.jobs, executor=args.executor,
                      notebook=args.notebook, timeout=args.timeout, progress=sys.stderr.isatty(),
                      witnesses=args.witness, coordinator_keys=args.coordinator_key, receipts=args.receipt)
    paths = write_audit(res, args.round, args.out)
    for f in res.findings:
        print(finding_line(f))
    c = res.counts
    print(f"{'clean' if res.clean else 'NOT CLEAN'}: {c['error']} error(s), {c['warning']} warning(s), {c['info']} info; "
          f"{res.sheets} sheet file(s), {res.accepted} accepted, {res.rerun_sheets} re-run")
    print(f"audit: {paths['json']} and {paths['html']}")
    return 0 if res.clean else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_aggregate(sub)
    _add_audit(sub)
