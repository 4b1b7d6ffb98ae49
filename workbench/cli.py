"""The ``workbench`` command. Each sub-command is a small function over the package's public API.

Errors the user can cause (:class:`WorkbenchError`) print one line and exit 1; other exceptions are bugs
and keep their traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import WorkbenchError

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Score, sign, publish and audit a national evaluation of AI foundation models.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _REGISTRY:
        add(sub)
    return parser


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []


def register(add: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
    """Decorator: ``add(subparsers)`` adds one sub-command and sets ``func`` on it."""
    _REGISTRY.append(add)
    return add


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


# --- weight provenance

@register
def _add_weights(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fingerprint", help="fingerprint a safetensors model directory (hashes + sketches)",
                       description="Stream a Hugging Face-style model directory and write its compact fingerprint.")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="fingerprint file to write")
    p.add_argument("--executor", default="local", help="local (default), threads, serial or dask://HOST:PORT")
    p.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: one per core)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (references and candidates must share it)")
    p.set_defaults(func=_cmd_fingerprint)

    q = sub.add_parser("provenance", help="compare a candidate model with reference models (weight reuse evidence)",
                       description="Compare a candidate with references; each is a model directory or a fingerprint. "
                                   "Exit code 0 whatever the verdicts; the JSON is the evidence.")
    q.add_argument("candidate", metavar="CANDIDATE")
    q.add_argument("--ref", action="append", required=True, metavar="REF", help="reference (repeatable)")
    q.add_argument("--json", metavar="OUT", help="write the machine-readable report")
    q.add_argument("--html", metavar="OUT", help="write a self-contained HTML report")
    q.add_argument("--executor", default="local")
    q.add_argument("--jobs", type=int, default=None)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_provenance)


def _cmd_fingerprint(args: argparse.Namespace) -> int:
    from .evidence.weights import fingerprint_model, write_fingerprint

    fp = fingerprint_model(args.model_dir, executor=args.executor, jobs=args.jobs, seed=args.seed)
    digest = write_fingerprint(fp, args.output)
    print(f"{args.output}: {len(fp.tensors)} tensors, {fp.n_params} parameters, sha256 {digest}")
    return 0


def _cmd_provenance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .charts import style, to_svg
    from .evidence.provenance import compare, provenance_chart, provenance_table, report_html
    from .evidence.weights import load_model_or_fingerprint
    from .files import atomic_write_json, atomic_write_text

    def load(path: str):
        return load_model_or_fingerprint(path, executor=args.executor, jobs=args.jobs, seed=args.seed)

    candidate = load(args.candidate)
    refs = [load(r) for r in args.ref]
    report = compare(candidate, refs, names=[Path(r).name for r in args.ref], candidate_name=Path(args.candidate).name)
    if args.json:
        atomic_write_json(args.json, report.to_json())
    if args.html:
        atomic_write_text(args.html, report_html(report, to_svg(style(provenance_chart(report)))))
    print(provenance_table(report).to_string(index=False))
    print("share of parameters: " + ", ".join(f"{k} {v:.2%}" for k, v in report.summary.items()))
    return 0
