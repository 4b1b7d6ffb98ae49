"""Rubrics and the JSON Schemas of the files the workbench writes: ``rubric check``, ``rubric schema``, ``schema``."""

from __future__ import annotations

import argparse
import sys

from ._common import STDOUT, _write_out


def _add_rubric(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rubric", help="check rubric files or write their JSON Schema")
    rs = p.add_subparsers(dest="rubric_command", metavar="ACTION", required=True)
    c = rs.add_parser("check", help="validate rubric YAML files; print every problem as file:line")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.set_defaults(func=_cmd_rubric_check)
    s = rs.add_parser("schema", help="write the rubric JSON Schema")
    s.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    s.set_defaults(func=_cmd_rubric_schema)

def _cmd_rubric_check(args: argparse.Namespace) -> int:
    from ..model.rubric import check_files

    rubrics, problems = check_files(args.files)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {len(args.files)} file(s)", file=sys.stderr)
        return 1
    summary = ", ".join(f"{r.id} {r.version} ({r.total_points:g} pts, sha256 {r.sha256[:12]})" for r in rubrics)
    print(f"{len(rubrics)} rubric(s) valid: {summary}")
    return 0

def _cmd_rubric_schema(args: argparse.Namespace) -> int:
    args.name = "rubric"
    return _cmd_schema(args)

def _add_schema(sub: argparse._SubParsersAction) -> None:
    from ..model.schemas import SCHEMAS

    p = sub.add_parser("schema", help="print the JSON Schema of a file the workbench reads or writes",
                       description="Print the JSON Schema of: " + ", ".join(SCHEMAS)
                                   + " (shipped as rubrics/NAME.schema.json).")
    p.add_argument("name", metavar="NAME", choices=list(SCHEMAS), help=", ".join(SCHEMAS))
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=_cmd_schema)

def _cmd_schema(args: argparse.Namespace) -> int:
    from ..model.schemas import schema_text

    text = schema_text(args.name)
    if args.output and args.output != STDOUT:
        _write_out(args.output, text.encode())
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_rubric(sub)
    _add_schema(sub)
