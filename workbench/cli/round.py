"""A round's files: ``round init|freeze|amend|status``, ``roster add|import``, ``assignments generate``."""

from __future__ import annotations

import argparse

from ..core.errors import WorkbenchError
from ._common import _after_freeze_hint, _coordinator_key, _key_args


def _add_round(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("round", help="create, freeze, amend and inspect a round folder")
    rs = p.add_subparsers(dest="round_command", metavar="ACTION", required=True)
    i = rs.add_parser("init", help="create a round folder with rubric copies, default rules and the coordinator")
    i.add_argument("round", metavar="ROUND")
    i.add_argument("--round-id", required=True)
    i.add_argument("--stage", type=int, required=True)
    i.add_argument("--coordinator", required=True, metavar="ID", help="the coordinator's id in the roster")
    i.add_argument("--pubkey", required=True, help="the coordinator's public key file")
    i.add_argument("--rubrics", help="folder with benchmark.yaml, expert.yaml, user.yaml (default: the shipped ones)")
    i.add_argument("--lang", default="ko", choices=["ko", "en"],
                   help="the round's language: its notebooks open in it (default: ko)")
    i.add_argument("--title", metavar="TEXT", help="the round's title in --lang (default: '<stage>단계 평가' / "
                                                   "'Stage <stage> evaluation')")
    i.add_argument("--title-en", metavar="TEXT", help="the title in English when --lang is ko")
    i.add_argument("--benchmarks", metavar="FILE",
                   help="the benchmark scheme to copy into the round (default: the shipped benchmark_sets.yaml)")
    i.set_defaults(func=_cmd_round_init)
    f = rs.add_parser("freeze", help="sign the rules, roster, teams and assignments; record them in the ledger")
    f.add_argument("round", metavar="ROUND")
    _key_args(f)
    f.set_defaults(func=_cmd_round_freeze)
    a = rs.add_parser("amend", help="record edited round files as a new signed version, with a reason")
    a.add_argument("round", metavar="ROUND")
    a.add_argument("--reason", required=True)
    _key_args(a)
    a.set_defaults(func=_cmd_round_amend)
    s = rs.add_parser("status", help="frozen version, amendments, hand edits, batch and sheet counts")
    s.add_argument("round", metavar="ROUND")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=_cmd_round_status)

def _add_roster(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("roster", help="add people to a round's roster, one at a time or from a spreadsheet")
    rs = p.add_subparsers(dest="roster_command", metavar="ACTION", required=True)
    a = rs.add_parser("add", help="add one person with their public key")
    a.add_argument("round", metavar="ROUND")
    a.add_argument("id", metavar="ID")
    a.add_argument("--role", required=True, choices=["expert", "committee", "user", "coordinator"])
    a.add_argument("--name", default="")
    a.add_argument("--coi", action="append", default=[], metavar="TEAM", help="a team they declare a conflict with "
                                                                              "(repeatable)")
    k = a.add_mutually_exclusive_group(required=True)
    k.add_argument("--pubkey", metavar="FILE", help="the public key file they sent (made by 'workbench keys new')")
    k.add_argument("--generate-key", metavar="DIR", help="generate their key pair into DIR, to hand to them")
    a.set_defaults(func=_cmd_roster_add)
    i = rs.add_parser("import", help="add everyone of a panel spreadsheet (.csv or .xlsx)",
                      description="Columns: id, role, name, coi (team ids separated by ';'), public_key_file "
                                  "(optional, relative to the spreadsheet). Every problem is listed at once; "
                                  "nothing is written unless all rows are good.")
    i.add_argument("round", metavar="ROUND")
    i.add_argument("file", metavar="FILE")
    k = i.add_mutually_exclusive_group()
    k.add_argument("--keys", metavar="DIR", help="folder with the <id>.pub files people sent")
    k.add_argument("--generate-keys", metavar="DIR", help="generate missing key pairs into DIR, to hand out")
    i.set_defaults(func=_cmd_roster_import)
    g = sub.add_parser("assignments", help="generate a round's assignments from its roster and teams")
    gs = g.add_subparsers(dest="assignments_command", metavar="ACTION", required=True)
    n = gs.add_parser("generate", help="every expert on every team, users on every team or spread evenly; "
                                       "declared conflicts excluded")
    n.add_argument("round", metavar="ROUND")
    n.add_argument("--users-per-team", type=int, default=None, metavar="N",
                   help="N users per team, spread evenly (default: every user on every team)")
    n.set_defaults(func=_cmd_assignments_generate)

def _cmd_roster_add(args: argparse.Namespace) -> int:
    from ..round.enrol import Member, add_members

    m = Member(id=args.id, role=args.role, name=args.name, coi=args.coi, public_key_file=args.pubkey)
    [e] = add_members(args.round, [m], keys_dir=args.generate_key, generate=bool(args.generate_key))
    print(f"roster.yaml: added {e.id} ({e.role}){_after_freeze_hint(args.round)}")
    return 0

def _cmd_roster_import(args: argparse.Namespace) -> int:
    from collections import Counter

    from ..round.enrol import add_members, read_panel_file

    members = read_panel_file(args.file)
    entries = add_members(args.round, members, keys_dir=args.keys or args.generate_keys,
                          generate=bool(args.generate_keys))
    roles = Counter(e.role for e in entries)
    print(f"roster.yaml: added {len(entries)} people ({', '.join(f'{n} {r}' for r, n in sorted(roles.items()))})"
          + (f"; their private keys are in {args.generate_keys}, to hand to each" if args.generate_keys else "")
          + _after_freeze_hint(args.round))
    return 0

def _cmd_assignments_generate(args: argparse.Namespace) -> int:
    from collections import Counter

    from ..round.assign import write_assignments

    asg = write_assignments(args.round, args.users_per_team)
    per_team = Counter(a.team for a in asg.assignments)
    print(f"assignments.yaml: {len(asg.assignments)} assignments ("
          + ", ".join(f"{t} {n}" for t, n in sorted(per_team.items())) + f"){_after_freeze_hint(args.round)}")
    return 0

def _cmd_round_init(args: argparse.Namespace) -> int:
    from ..core.shipped import rubrics_dir
    from ..core.signing import load_public_key
    from ..round.lifecycle import default_title, init_round

    title = default_title(args.stage)
    if args.title:
        title[args.lang] = args.title
    if args.title_en:
        title["en"] = args.title_en
    r = init_round(args.round, round_id=args.round_id, stage=args.stage, rubrics_dir=args.rubrics or rubrics_dir(),
                   coordinator_id=args.coordinator, coordinator_key=load_public_key(args.pubkey),
                   benchmarks=args.benchmarks, rules_overrides={"lang": args.lang, "title": title})
    print(f"created {r.path}: edit rules.yaml, roster.yaml, teams.yaml, assignments.yaml, then 'workbench round freeze'")
    return 0

def _cmd_round_freeze(args: argparse.Namespace) -> int:
    from ..round.lifecycle import freeze

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    e = freeze(args.round, key, actor)
    print(f"frozen: version 1 by {actor}, ledger entry {e.seq}, state sha256 {e.payload_sha256}")
    return 0

def _cmd_round_amend(args: argparse.Namespace) -> int:
    from ..round.lifecycle import PendingAmendment, amend

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    e = amend(args.round, key, actor, args.reason)
    if isinstance(e, PendingAmendment):
        print(f"proposed: version {e.version} is signed by {len(e.signers)} of the {e.needed} coordinators the rules "
              f"require ({', '.join(e.signers)}); each other coordinator runs the same 'workbench round amend' "
              f"(same files, same reason): signatures gather in {e.file}")
        return 0
    print(f"amended: version {e.data['version']} by {actor}, ledger entry {e.seq}"
          f"{' (AFTER sheets were submitted)' if e.data['after_first_submission'] else ''}")
    from ..model.round import load_round
    from ..publish.wording import Wording

    for line in Wording(load_round(args.round).rubrics, "en").amendment_changes(e.data["changes"]):
        print(f"  {line}")  # in the words of the report, never a Python repr
    return 0

def _cmd_round_status(args: argparse.Namespace) -> int:
    import json

    from ..model.round import load_round
    from ..round.lifecycle import status
    from ..run.refresh import stale_sheets

    s = status(args.round)
    try:
        s["stale_sheets"] = [x.line() for x in stale_sheets(load_round(args.round))]
    except WorkbenchError as e:  # e.g. sheets not collected yet: say so, do not guess
        s["stale_sheets"] = None
        s["stale_problem"] = str(e)
    if args.json:
        from ..round.lifecycle import RoundStatus

        RoundStatus.model_validate(s)  # what leaves is what the shipped schema round-status says
        print(json.dumps(s, ensure_ascii=False, indent=2, sort_keys=True))
        return 0 if s["problem"] is None else 1
    print(f"round {s['round_id']} (stage {s['stage']}): {s['teams']} teams, {s['reviewers']} roster entries, "
          f"{s['assignments']} assignments")
    print(f"frozen version: {s['frozen_version'] or 'none'}; ledger entries: {s['ledger_entries']}")
    if s["problem"]:
        print(f"PROBLEM: {s['problem']}")
    for line in s.get("authority", []):
        print(f"AUTHORITY: {line}")
    for x in s.get("exclusions", []):
        print(f"{x['kind'].upper()}: {x['path']} by {x['actor']} (ledger entry {x['seq']}): {x['reason']}")
    for a in s["amendments"]:
        flag = " [after first submission]" if a["after_first_submission"] else ""
        print(f"amendment v{a['version']} at {a['time']}{flag}: {a['reason']} ({len(a['changes'])} change(s))")
    notebooks = ", ".join(f"{n} {state}" for state, n in s["notebooks"].items()) if s["notebooks"] else "none"
    print(f"notebooks: {notebooks}; sheets: {s['sheets']}; collected: {s['collected']}")
    for x in s["reruns"]:
        print(f"rerun at {x['time']}: {x['sheets']} sheet(s) re-run after {', '.join(x['files'])} changed")
    if s["stale_sheets"]:
        print(f"STALE: {len(s['stale_sheets'])} accepted sheet(s) were made from inputs that changed since; "
              "'workbench rerun ROUND --key KEY --keys DIR' re-runs exactly those:")
        for line in s["stale_sheets"]:
            print(f"  {line}")
    elif s["stale_sheets"] is None:
        print(f"stale sheets: not checked ({s['stale_problem']})")
    return 0 if s["problem"] is None else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_round(sub)
    _add_roster(sub)
