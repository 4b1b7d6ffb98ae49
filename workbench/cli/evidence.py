"""Evidence: ``weights fingerprint``, ``weights provenance``, ``evidence build``."""

from __future__ import annotations

import argparse

from ..core.errors import WorkbenchError
from ._common import STDOUT, _say, _write_out


def _add_weights(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fingerprint", help="fingerprint a safetensors model directory (hashes + sketches)",
                       description="Stream a Hugging Face-style model directory and write its compact fingerprint.")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="fingerprint file to write (- for standard "
                                                                         "output)")
    p.add_argument("--executor", default="threads",
                   help="threads (default: faster and lighter than processes in benchmarks/bench_weights.py), local "
                        "(processes), serial or dask://HOST:PORT")
    p.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: one per core)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (references and candidates must share it)")
    p.set_defaults(func=_cmd_fingerprint)

    q = sub.add_parser("provenance", help="compare a candidate model with reference models (weight reuse evidence)",
                       description="Compare a candidate with references; each is a model directory or a fingerprint. "
                                   "Exit code 0 whatever the verdicts; the JSON is the evidence.")
    q.add_argument("candidate", metavar="CANDIDATE")
    q.add_argument("--ref", action="append", required=True, metavar="REF", help="reference (repeatable)")
    q.add_argument("--json", metavar="OUT", help="write the machine-readable report (- for standard output)")
    q.add_argument("--html", metavar="OUT", help="write a self-contained HTML report (- for standard output)")
    q.add_argument("--executor", default="threads")
    q.add_argument("--jobs", type=int, default=None)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_provenance)

def _cmd_fingerprint(args: argparse.Namespace) -> int:
    from ..core.files import check_output_path
    from ..evidence.weights import fingerprint_bytes, fingerprint_model

    if args.output != STDOUT:
        check_output_path(args.output)  # before the model is read, which can take minutes
    fp = fingerprint_model(args.model_dir, executor=args.executor, jobs=args.jobs, seed=args.seed)
    data = fingerprint_bytes(fp)
    _write_out(args.output, data)
    _say(args.output, f"{args.output}: {len(fp.tensors)} tensors, {fp.n_params} parameters, sha256 {fp.sha256}")
    return 0

def _cmd_provenance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.charts import style, to_svg
    from ..core.files import check_output_path, pretty_json
    from ..evidence.provenance import compare, provenance_chart, provenance_table, report_html
    from ..evidence.weights import load_model_or_fingerprint

    outs = [o for o in (args.json, args.html) if o]
    if outs.count(STDOUT) > 1:
        raise WorkbenchError("--json and --html both name standard output", expected="at most one of them as -")
    for o in outs:
        if o != STDOUT:
            check_output_path(o)  # before the models are read

    def load(path: str):
        return load_model_or_fingerprint(path, executor=args.executor, jobs=args.jobs, seed=args.seed)

    candidate = load(args.candidate)
    refs = [load(r) for r in args.ref]
    report = compare(candidate, refs, names=[Path(r).name for r in args.ref], candidate_name=Path(args.candidate).name)
    if args.json:
        _write_out(args.json, pretty_json(report.to_json()))
    if args.html:
        _write_out(args.html, report_html(report, to_svg(style(provenance_chart(report)))).encode())
    to_stdout = STDOUT in outs
    _say(STDOUT if to_stdout else None, provenance_table(report).to_string(index=False))
    _say(STDOUT if to_stdout else None,
         "share of parameters: " + ", ".join(f"{k} {v:.2%}" for k, v in report.summary.items()))
    return 0

def _add_evidence(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evidence", help="compute the teams' dossiers once for the round's notebooks")
    es = p.add_subparsers(dest="evidence_cmd", required=True)
    b = es.add_parser("build", help="compute and store every expert-reviewed team's dossier under ROUND/cache/dossier "
                                    "(what `workbench batch` does first); a stored one with the current key is kept")
    b.add_argument("round", metavar="ROUND")
    b.add_argument("--team", action="append", help="only this team (repeatable; default: every team an expert reviews)")
    b.set_defaults(func=_cmd_evidence_build)

def _cmd_evidence_build(args: argparse.Namespace) -> int:
    from ..evidence.dossier_cache import build_cache
    from ..model.round import load_round

    r = load_round(args.round)
    unknown = sorted(set(args.team or ()) - {t.id for t in r.teams.teams})
    if unknown:
        raise WorkbenchError(f"unknown team(s) {', '.join(unknown)}", file=r.path / "teams.yaml",
                         expected="one of " + ", ".join(t.id for t in r.teams.teams))
    for team, path in build_cache(r, args.team).items():
        print(f"{team}: {path.relative_to(r.path).as_posix()}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_weights(sub)
    _add_evidence(sub)
