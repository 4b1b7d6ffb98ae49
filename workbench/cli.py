"""The ``workbench`` command. Each sub-command is a small function over the package's public API.

Errors the user can cause (:class:`WorkbenchError`) print one line and exit 1; other exceptions are bugs
and keep their traceback. A command's results go to standard output; the library's log (the ``workbench``
logger: progress, retries, warnings) goes to standard error, one plain line per record, at INFO (``-v``:
DEBUG).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .errors import WorkbenchError

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: ``--passphrase`` must never be taken as a prefix of ``--passphrase-env``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # a mistyped option's value may be a passphrase: name the options, never echo their values
        head = "unrecognized arguments: "
        if message.startswith(head):
            names = [t.split("=", 1)[0] for t in message[len(head):].split() if t.startswith("-")]
            message = head + (" ".join(names) if names else "(values not shown)")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered (sub-parsers inherit the parser class)."""
    parser = _Parser(
        prog="workbench",
        description="Score, sign, publish and audit a national evaluation of AI foundation models.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (DEBUG) as well as progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _REGISTRY:
        add(sub)
    return parser


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []

STDOUT = "-"


def _write_out(path: str, data: bytes, mode: int | None = None) -> None:
    """Write a command's output file atomically, or to standard output when ``path`` is ``-``.

    The write path refuses devices, pipes, links and system folders (:func:`workbench.files.check_output_path`):
    ``-o /dev/null`` as root once turned /dev/null into a regular file.
    """
    if path == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from .files import atomic_write_bytes

    atomic_write_bytes(path, data, mode=mode)


def _say(path: str | None, line: str) -> None:
    """A status line: to standard error when the command's output itself goes to standard output."""
    print(line, file=sys.stderr if path == STDOUT else sys.stdout)



def register(add: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
    """Decorator: ``add(subparsers)`` adds one sub-command and sets ``func`` on it."""
    _REGISTRY.append(add)
    return add


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


class _CLIHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs (replaced, not stacked, when main runs again).

    It writes to whatever ``sys.stderr`` is at the time of each record (tests and notebooks swap it).
    """

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send the ``workbench`` logger's records at ``level`` and above to standard error, one plain line each."""
    logger = logging.getLogger("workbench")
    for h in [h for h in logger.handlers if isinstance(h, _CLIHandler)]:
        logger.removeHandler(h)
    handler = _CLIHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


# ---------------------------------------------------------------- helpers

def _passphrase(env_var: str | None, *, confirm: bool = False, prompt: bool = True) -> bytes | None:
    """A passphrase from the named environment variable, or from a prompt; never from argv."""
    import getpass
    import os

    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise WorkbenchError(f"environment variable {env_var} is not set", expected="the key passphrase in it")
        return value.encode()
    if not prompt:
        return None
    if not sys.stdin.isatty():
        raise WorkbenchError("a passphrase is needed but there is no terminal to ask on",
                             expected="--passphrase-env VAR")
    first = getpass.getpass("Key passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise WorkbenchError("passphrases differ")
    return first.encode()


# ---------------------------------------------------------------- rubric

@register
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
    from .rubric import check_files

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


@register
def _add_schema(sub: argparse._SubParsersAction) -> None:
    from .schemas import SCHEMAS

    p = sub.add_parser("schema", help="print the JSON Schema of a file the workbench reads or writes",
                       description="Print the JSON Schema of: " + ", ".join(SCHEMAS)
                                   + " (shipped as rubrics/NAME.schema.json).")
    p.add_argument("name", metavar="NAME", choices=list(SCHEMAS), help=", ".join(SCHEMAS))
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schemas import schema_text

    text = schema_text(args.name)
    if args.output and args.output != STDOUT:
        _write_out(args.output, text.encode())
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------- keys, sign, verify

@register
def _add_keys(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="manage signing keys")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    n = ks.add_parser("new", help="create an Ed25519 key pair: ID.key (mode 0600) and ID.pub")
    n.add_argument("id", metavar="ID")
    n.add_argument("--dir", default=".", help="folder for the key files (default: current folder)")
    n.add_argument("--encrypt", action="store_true", help="encrypt the private key; the passphrase is prompted for")
    n.add_argument("--passphrase-env", metavar="VAR", help="encrypt with the passphrase in this environment variable")
    n.set_defaults(func=_cmd_keys_new)


def _cmd_keys_new(args: argparse.Namespace) -> int:
    from .files import check_output_dir
    from .signing import generate_keypair, key_id, load_public_key

    check_output_dir(args.dir)
    passphrase = None
    if args.passphrase_env or args.encrypt:
        passphrase = _passphrase(args.passphrase_env, confirm=True)
    priv, pub = generate_keypair(args.id, args.dir, passphrase)
    print(f"private key: {priv} (mode 0600{', encrypted' if passphrase else ''})")
    print(f"public key:  {pub}")
    print(f"key id:      {key_id(load_public_key(pub))}")
    return 0


def _load_signing_key(path: str, env_var: str | None):
    from .signing import is_encrypted, load_private_key

    passphrase = _passphrase(env_var) if (env_var or is_encrypted(path)) else None
    return load_private_key(path, passphrase)


@register
def _add_sign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="sign a score sheet (JSON) into a DSSE envelope")
    p.add_argument("sheet", metavar="SHEET")
    p.add_argument("--key", required=True, help="private key file")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")
    p.add_argument("--rubric", help="also validate the sheet against this rubric")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the envelope file (- for standard output)")
    p.set_defaults(func=_cmd_sign)


def _cmd_sign(args: argparse.Namespace) -> int:
    from .files import check_output_path, read_bounded
    from .rubric import load_rubric
    from .sheet import parse_sheet, sheet_bytes, validate_sheet
    from .signing import SHEET_TYPE, envelope_bytes, key_id, sign_payload

    if args.output != STDOUT:
        check_output_path(args.output)  # before the passphrase is asked for
    sheet = parse_sheet(read_bounded(args.sheet), args.sheet)
    if args.rubric:
        validate_sheet(sheet, load_rubric(args.rubric), args.sheet)
    key = _load_signing_key(args.key, args.passphrase_env)
    kid = key_id(key.public_key())
    if sheet.reviewer.key_id and sheet.reviewer.key_id != kid:
        raise WorkbenchError(
            f"sheet names key {sheet.reviewer.key_id[:16]} but {args.key} is {kid[:16]}",
            file=args.sheet, place="reviewer.key_id", expected="the reviewer's own key",
        )
    _write_out(args.output, envelope_bytes(sign_payload(sheet_bytes(sheet), SHEET_TYPE, key)))
    _say(args.output, f"signed {args.sheet} with key {kid[:16]} -> {args.output}")
    return 0


@register
def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify a DSSE envelope with a public key (never one inside the envelope)")
    p.add_argument("envelope", metavar="ENVELOPE")
    p.add_argument("--pubkey", required=True, help="the signer's public key file")
    p.add_argument("--type", dest="payload_type", help="require this payload type")
    p.set_defaults(func=_cmd_verify)


def _cmd_verify(args: argparse.Namespace) -> int:
    from .files import read_bounded
    from .signing import MAX_ENVELOPE_BYTES, key_id, load_public_key, verify_envelope

    pub = load_public_key(args.pubkey)
    payload = verify_envelope(read_bounded(args.envelope, MAX_ENVELOPE_BYTES), pub, args.payload_type, args.envelope)
    print(f"valid: {args.envelope} signed by {key_id(pub)[:16]} ({len(payload)} byte payload)")
    return 0


# ---------------------------------------------------------------- demo

@register
def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the embedded demo data")
    p.add_argument("--out", default="demo-round", help="output folder (default: demo-round)")
    p.add_argument("--fresh", action="store_true",
                   help="replace earlier demo rounds even when they hold drafts or sheets (default: keep them aside)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    import time

    from .demo import next_steps, run_demo, run_rechallenge

    t0 = time.monotonic()
    run_demo(args.out, echo=print, progress=True, fresh=args.fresh)
    print("")
    run_rechallenge(args.out, echo=print, progress=True, fresh=args.fresh)
    print("")
    print("\n".join(next_steps(args.out)))
    print(f"demo finished in {time.monotonic() - t0:.0f} s (stage 1 and the re-challenge)")
    return 0


@register
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

    from .lab import lab_command

    argv = lab_command(args.round, args.notebook, port=args.port, browser=args.browser)
    sys.stdout.flush()
    os.execv(argv[0], argv)  # JupyterLab takes over this process: Ctrl-C and its exit code are its own
    return 0  # pragma: no cover


# --- weight provenance

@register
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
    from .evidence.weights import fingerprint_bytes, fingerprint_model
    from .files import check_output_path

    if args.output != STDOUT:
        check_output_path(args.output)  # before the model is read, which can take minutes
    fp = fingerprint_model(args.model_dir, executor=args.executor, jobs=args.jobs, seed=args.seed)
    data = fingerprint_bytes(fp)
    _write_out(args.output, data)
    _say(args.output, f"{args.output}: {len(fp.tensors)} tensors, {fp.n_params} parameters, sha256 {fp.sha256}")
    return 0


def _cmd_provenance(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .charts import style, to_svg
    from .evidence.provenance import compare, provenance_chart, provenance_table, report_html
    from .evidence.weights import load_model_or_fingerprint
    from .files import check_output_path, pretty_json

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


# --- coordinator

def _coordinator_key(round_dir: str, key_file: str, env_var: str | None):
    """The key and the roster coordinator it belongs to."""
    from .round import load_round_with_problems
    from .signing import key_id

    key = _load_signing_key(key_file, env_var)
    kid = key_id(key.public_key())
    # the round's cross-file problems are the command's to report (freeze lists them all at once), not this lookup's
    for c in load_round_with_problems(round_dir)[0].coordinators():
        if key_id(c.key()) == kid:
            return key, c.id
    raise WorkbenchError(f"key {kid[:16]} is not a coordinator's key in the roster", file=key_file,
                         expected="the private key of a roster coordinator")


def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", required=True, help="the coordinator's private key file")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")


@register
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


@register
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


def _after_freeze_hint(round_dir: str) -> str:
    from pathlib import Path

    ledger = Path(round_dir) / "ledger.jsonl"
    if ledger.is_file() and ledger.stat().st_size:
        return "; the round is frozen: 'workbench round amend ROUND --reason ... --key KEY' records the change"
    return "; freeze the round when it is complete"


def _cmd_roster_add(args: argparse.Namespace) -> int:
    from .enrol import Member, add_members

    m = Member(id=args.id, role=args.role, name=args.name, coi=args.coi, public_key_file=args.pubkey)
    [e] = add_members(args.round, [m], keys_dir=args.generate_key, generate=bool(args.generate_key))
    print(f"roster.yaml: added {e.id} ({e.role}){_after_freeze_hint(args.round)}")
    return 0


def _cmd_roster_import(args: argparse.Namespace) -> int:
    from collections import Counter

    from .enrol import add_members, read_panel_file

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

    from .assign import write_assignments

    asg = write_assignments(args.round, args.users_per_team)
    per_team = Counter(a.team for a in asg.assignments)
    print(f"assignments.yaml: {len(asg.assignments)} assignments ("
          + ", ".join(f"{t} {n}" for t, n in sorted(per_team.items())) + f"){_after_freeze_hint(args.round)}")
    return 0


def _cmd_round_init(args: argparse.Namespace) -> int:
    from .lifecycle import default_title, init_round
    from .shipped import rubrics_dir
    from .signing import load_public_key

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
    from .lifecycle import freeze

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    e = freeze(args.round, key, actor)
    print(f"frozen: version 1 by {actor}, ledger entry {e.seq}, state sha256 {e.payload_sha256}")
    return 0


def _cmd_round_amend(args: argparse.Namespace) -> int:
    from .lifecycle import PendingAmendment, amend

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    e = amend(args.round, key, actor, args.reason)
    if isinstance(e, PendingAmendment):
        print(f"proposed: version {e.version} is signed by {len(e.signers)} of the {e.needed} coordinators the rules "
              f"require ({', '.join(e.signers)}); each other coordinator runs the same 'workbench round amend' "
              f"(same files, same reason): signatures gather in {e.file}")
        return 0
    print(f"amended: version {e.data['version']} by {actor}, ledger entry {e.seq}"
          f"{' (AFTER sheets were submitted)' if e.data['after_first_submission'] else ''}")
    from .round import load_round
    from .wording import Wording

    for line in Wording(load_round(args.round).rubrics, "en").amendment_changes(e.data["changes"]):
        print(f"  {line}")  # in the words of the report, never a Python repr
    return 0


def _cmd_round_status(args: argparse.Namespace) -> int:
    import json

    from .lifecycle import status
    from .refresh import stale_sheets
    from .round import load_round

    s = status(args.round)
    try:
        s["stale_sheets"] = [x.line() for x in stale_sheets(load_round(args.round))]
    except WorkbenchError as e:  # e.g. sheets not collected yet: say so, do not guess
        s["stale_sheets"] = None
        s["stale_problem"] = str(e)
    if args.json:
        from .lifecycle import RoundStatus

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


@register
def _add_evidence(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evidence", help="compute the teams' dossiers once for the round's notebooks")
    es = p.add_subparsers(dest="evidence_cmd", required=True)
    b = es.add_parser("build", help="compute and store every expert-reviewed team's dossier under ROUND/cache/dossier "
                                    "(what `workbench batch` does first); a stored one with the current key is kept")
    b.add_argument("round", metavar="ROUND")
    b.add_argument("--team", action="append", help="only this team (repeatable; default: every team an expert reviews)")
    b.set_defaults(func=_cmd_evidence_build)


def _cmd_evidence_build(args: argparse.Namespace) -> int:
    from .dossier_cache import build_cache
    from .round import load_round

    r = load_round(args.round)
    unknown = sorted(set(args.team or ()) - {t.id for t in r.teams.teams})
    if unknown:
        raise WorkbenchError(f"unknown team(s) {', '.join(unknown)}", file=r.path / "teams.yaml",
                         expected="one of " + ", ".join(t.id for t in r.teams.teams))
    for team, path in build_cache(r, args.team).items():
        print(f"{team}: {path.relative_to(r.path).as_posix()}")
    return 0


@register
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
    from .batch import run_batch, summary_table

    results = run_batch(args.round, notebook=args.notebook, keys_dir=args.keys, jobs=args.jobs, executor=args.executor,
                        timeout=args.timeout, retries=args.retries, lang=args.lang, roles=args.role)
    print(summary_table(results).to_string(index=False))
    counts = {s: sum(r.state == s for r in results) for s in ("done", "skipped", "failed")}
    print(f"{counts['done']} done, {counts['skipped']} skipped (done before), {counts['failed']} failed"
          + ("; rerun to retry the failed ones" if counts["failed"] else ""))
    return 1 if counts["failed"] else 0


@register
def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("collect", help="verify submitted sheets; accept or reject each and record it in the ledger")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.set_defaults(func=_cmd_collect)


def _cmd_collect(args: argparse.Namespace) -> int:
    from .collect import collect

    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    results = collect(args.round, key, actor)
    for r in results:
        if r.new:
            print(f"{r.decision:8} {r.path}{': ' + r.reason if r.reason else ''}")
    new = [r for r in results if r.new]
    print(f"{len(new)} new sheet(s): {sum(r.decision == 'accepted' for r in new)} accepted, "
          f"{sum(r.decision == 'rejected' for r in new)} rejected; {len(results) - len(new)} collected before")
    path, cp, _, _ = _print_checkpoint(args.round, key, actor)
    from .receipt import write_receipts

    receipts = write_receipts(args.round, cp.round_id or "", [(r.reviewer, r.team, r.version) for r in new if r.version],
                              path.read_bytes())
    if receipts:
        print(f"{len(receipts)} receipt(s) under {args.round}/receipts/<reviewer>/<team>.v<N>.json: each reviewer "
              "keeps theirs ('workbench verify-receipt RECEIPT --key COORDINATOR.pub' checks it without the ledger)")
    return 0


@register
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
    from .collect import set_aside

    if args.kind == "exclude":
        key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    else:
        key, actor = _load_signing_key(args.key, args.passphrase_env), args.reviewer
    e = set_aside(args.round, key, actor, args.sheet, args.reason, args.kind)
    print(f"{args.kind}: {args.sheet} by {actor}, ledger entry {e.seq}")
    return 0


def _print_checkpoint(round_dir: str, key, actor: str, fmt: int = 2, old_size: int | None = None):
    from .checkpoint import checkpoint_round

    path, cp, proof, request = checkpoint_round(round_dir, key, actor, fmt, old_size)
    print(f"checkpoint: {path} (ledger size {cp.size}); give a copy to the witnesses: "
          "'workbench cosign FILE --key KEY --name NAME --log-key COORDINATOR.pub'")
    if proof is not None:
        print(f"consistency proof from the last witnessed checkpoint: {proof}")
    return path, cp, proof, request


@register
def _add_checkpoint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkpoint", help="sign the ledger's size and Merkle root (a C2SP checkpoint) as "
                       "ROUND/checkpoints/<size, 8 digits>.txt (e.g. 00000543.txt), for witnesses, with the "
                       "consistency proof from the last witnessed one")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.add_argument("--witness-request", metavar="FILE", help="also write the tlog-witness add-checkpoint request "
                   "body (POST it to a C2SP witness's <prefix>/add-checkpoint, or hand it to 'workbench cosign'); "
                   "- for standard output")
    p.add_argument("--old-size", type=int, metavar="N", help="the size the witness last cosigned (default: the "
                   "largest checkpoint under ROUND/checkpoints/ a quorum of listed witnesses cosigned, else 0)")
    p.add_argument("--format", type=int, choices=(1, 2), default=2, help="2: a C2SP checkpoint (default); 1: the "
                   "older hash-chain form, for witnesses still on it")
    p.set_defaults(func=_cmd_checkpoint)


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    from .errors import WorkbenchError
    from .files import check_output_path

    if args.witness_request not in (None, STDOUT):
        check_output_path(args.witness_request)
    if args.format == 1 and (args.witness_request or args.old_size is not None):
        raise WorkbenchError("--witness-request and --old-size need a C2SP checkpoint", expected="--format 2")
    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    _, _, _, request = _print_checkpoint(args.round, key, actor, args.format, args.old_size)
    if args.witness_request and request is not None:
        _write_out(args.witness_request, request, mode=0o644)
        _say(args.witness_request, f"add-checkpoint request: {args.witness_request}")
    return 0


@register
def _add_cosign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cosign", help="countersign a ledger checkpoint as a witness (a cosignature/v1 line, after "
                       "checking the consistency proof from the checkpoint you last cosigned) and keep the copy")
    p.add_argument("file", metavar="FILE", help="an add-checkpoint request body ('workbench checkpoint "
                   "--witness-request'), or a checkpoint file (ROUND/checkpoints/00000543.txt for size 543)")
    p.add_argument("--key", required=True, help="the witness's private key")
    p.add_argument("--name", required=True, help="the witness's name on the signature line (as the rules list it)")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key's passphrase from this environment variable")
    p.add_argument("-o", "--output", required=True, help="where to keep the countersigned copy (outside the round; - "
                                                         "for standard output)")
    p.add_argument("--log-key", action="append", default=[], metavar="PUB",
                   help="the coordinator's public key (PEM file) or verifier key (name+hash+key): the checkpoint "
                   "must be signed with it (repeatable: any one of them)")
    p.add_argument("--last", metavar="FILE", help="the checkpoint you last cosigned for this round: the request's "
                   "consistency proof must lead from it (without it, the request must start from size 0)")
    p.add_argument("--proof", metavar="FILE", help="with a checkpoint FILE: the consistency proof from --last to it "
                   "(ROUND/checkpoints/<size>.from-<old>.json)")
    p.add_argument("--round", metavar="ROUND", help="your copy of the round: refuse unless its rules list NAME with "
                   "this key and its ledger has the checkpoint's tree (the coordinators' keys come from its roster)")
    p.set_defaults(func=_cmd_cosign)


def _log_keys(values: list[str]):
    from pathlib import Path

    from .note import parse_verifier_key
    from .signing import load_public_key

    out = []
    for v in values:
        if "+" in v and not Path(v).exists():
            out.append(parse_verifier_key(v.strip()))
        else:  # a PEM key: its key name is the round's origin, which the checkpoint names
            out.append(load_public_key(v))
    return out


def _cmd_cosign(args: argparse.Namespace) -> int:
    import base64

    from .checkpoint import (
        MAX_CHECKPOINT_BYTES,
        cosign,
        cosign_note,
        cosign_round,
        describe_checkpoint,
        is_format1,
        parse_checkpoint,
    )
    from .errors import WorkbenchError
    from .files import check_output_path, read_bounded
    from .note import MAX_NOTE_BYTES, VerifierKey, format_add_checkpoint, parse_add_checkpoint, parse_note
    from .tlog import ConsistencyProof, parse_proof

    if args.output != STDOUT:
        check_output_path(args.output)
    data = read_bounded(args.file, MAX_CHECKPOINT_BYTES + 8192)
    key = _load_signing_key(args.key, args.passphrase_env)
    last = read_bounded(args.last, MAX_NOTE_BYTES) if args.last else None
    if args.proof:
        proof = parse_proof(read_bounded(args.proof, 64 * 1024), args.proof)
        if not isinstance(proof, ConsistencyProof) or data.startswith(b"old "):
            raise WorkbenchError("--proof takes a consistency proof, beside a checkpoint file", file=args.proof)
        data = format_add_checkpoint(proof.old_size, [base64.b64decode(h) for h in proof.hashes], data)
    if is_format1(data):
        text = cosign_round(args.round, data, key, args.name) if args.round else cosign(data, key, args.name)
        _write_out(args.output, text.encode(), mode=0o644)
        cp = parse_checkpoint(text, args.output)
        _say(args.output, f"{args.output}: round {cp.round_id}, ledger size {cp.size}, signed by {', '.join(cp.signers())}")
        return 0
    if args.round:
        out = cosign_round(args.round, data, key, args.name, last).encode()
    else:
        body = data if data.startswith(b"old ") else format_add_checkpoint(0, [], data)
        view = describe_checkpoint(parse_add_checkpoint(body).checkpoint, args.file)
        # a PEM key signs under the checkpoint's own origin (a changed origin fails that signature)
        keys = [k if isinstance(k, VerifierKey) else VerifierKey(view.origin, k) for k in _log_keys(args.log_key)]
        if not keys:
            raise WorkbenchError("no key to check the coordinator's signature with",
                                 expected="--log-key COORDINATOR.pub (or --round ROUND, your copy of the round)")
        out = cosign_note(body, key, args.name, keys, last)
    _write_out(args.output, out, mode=0o644)
    view = describe_checkpoint(out, args.output)
    _say(args.output, f"{args.output}: {view.origin}, ledger size {view.size}, signature lines: "
         f"{', '.join(s.name for s in parse_note(out).signatures)}")
    return 0


@register
def _add_aggregate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aggregate", help="aggregate the panels and write the signed report under ROUND/report")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.add_argument("--acknowledge", metavar="REASON",
                   help="sign although problems change points: record this reason in the ledger and the report")
    p.set_defaults(func=_cmd_aggregate)


def _cmd_aggregate(args: argparse.Namespace) -> int:
    import dataclasses

    from .aggregate import acknowledge, aggregate_round
    from .report import ranking_text, write_report
    from .round import load_round

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


# --- audit

@register
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
    from .audit import audit_round, finding_line, write_audit
    from .files import check_output_dir

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


# --- hub

@register
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
    from .files import check_output_dir, check_output_path
    from .hub import hub_settings, save_settings, setup_accounts

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

    from .files import check_output_dir
    from .hub import UNIT_FILE, hub_settings, start_hub, write_hub

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

    from .hub import permission_plan, plan_json, plan_round, round_paths
    from .round import load_round

    r = load_round(args.round)
    plan = plan_round(r, args.prefix or "", args.auditor)
    print(plan_json(plan, permission_plan(plan, round_paths(Path(args.round).absolute()))))
    return 0


# ---------------------------------------------------------------- tlog: Merkle proofs over a ledger

@register
def _add_tlog(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tlog", help="the ledger as an RFC 6962 Merkle tree: inclusion and consistency proofs (JSON)")
    ts = p.add_subparsers(dest="tlog_command", metavar="ACTION", required=True)
    i = ts.add_parser("prove-inclusion", help="prove that ledger entry SEQ is in the tree of the first SIZE entries")
    i.add_argument("ledger", metavar="LEDGER", help="a ledger.jsonl")
    i.add_argument("--entry", type=int, required=True, metavar="SEQ", help="the entry's sequence number (from 1)")
    i.add_argument("--size", type=int, metavar="N", help="the tree size a checkpoint names (default: the whole ledger)")
    i.add_argument("-o", "--output", default=STDOUT, help="where to write the proof (default: standard output)")
    i.set_defaults(func=_cmd_tlog_inclusion)
    c = ts.add_parser("prove-consistency", help="prove that the tree of NEW entries extends the tree of OLD entries")
    c.add_argument("ledger", metavar="LEDGER", help="a ledger.jsonl")
    c.add_argument("--old-size", type=int, required=True, metavar="OLD", help="the size of the earlier checkpoint")
    c.add_argument("--new-size", type=int, metavar="NEW", help="the size of the later one (default: the whole ledger)")
    c.add_argument("-o", "--output", default=STDOUT, help="where to write the proof (default: standard output)")
    c.set_defaults(func=_cmd_tlog_consistency)
    s = ts.add_parser("show", help="print a checkpoint file (either format) as JSON (schema: checkpoint), unverified")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=_cmd_tlog_show)


def _cmd_tlog_show(args: argparse.Namespace) -> int:
    from .checkpoint import MAX_CHECKPOINT_BYTES, describe_checkpoint
    from .files import read_bounded

    print(describe_checkpoint(read_bounded(args.file, MAX_CHECKPOINT_BYTES), args.file).model_dump_json(indent=2))
    return 0


@register
def _add_verify_receipt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify-receipt", help="check a reviewer's receipt without the ledger: the coordinator's "
                       "signed checkpoint, the inclusion proofs of the sheet's submit and collect entries")
    p.add_argument("receipt", metavar="RECEIPT", help="receipts/<reviewer>/<team>.v<N>.json")
    p.add_argument("--key", action="append", required=True, metavar="PUB",
                   help="the coordinator's public key (PEM), as published (repeatable: any one of them)")
    p.add_argument("--sheet", metavar="FILE", help="the sheet file: its SHA-256 must be the one recorded")
    p.add_argument("--json", action="store_true", help="print what was proved as JSON")
    p.set_defaults(func=_cmd_verify_receipt)


def _cmd_verify_receipt(args: argparse.Namespace) -> int:
    from .files import read_bounded
    from .receipt import MAX_RECEIPT_BYTES, verify_receipt
    from .signing import MAX_ENVELOPE_BYTES, load_public_key

    keys = [load_public_key(k) for k in args.key]
    sheet = read_bounded(args.sheet, MAX_ENVELOPE_BYTES) if args.sheet else None
    res = verify_receipt(read_bounded(args.receipt, MAX_RECEIPT_BYTES), keys, args.receipt, sheet)
    if args.json:
        print(res.model_dump_json(indent=2))
    else:
        print(f"OK: {res.sheet} ({res.decision}) is entries {res.seqs[0]} and {res.seqs[1]} of {res.origin}, in the "
              f"checkpoint of {res.size} entries signed by coordinator key {res.key_id[:16]}")
    return 0


def _tlog_leaf_hashes(ledger_path: str) -> list[bytes]:
    from .tlog import leaf_hash, ledger_leaves

    return [leaf_hash(x) for x in ledger_leaves(ledger_path)]


def _cmd_tlog_inclusion(args: argparse.Namespace) -> int:
    import base64

    from .errors import InputFileError
    from .files import check_output_path
    from .tlog import InclusionProof, tree_head

    if args.output != STDOUT:
        check_output_path(args.output)
    hs = _tlog_leaf_hashes(args.ledger)
    size = len(hs) if args.size is None else args.size
    if not 1 <= args.entry <= min(size, len(hs)):
        raise InputFileError(f"no entry {args.entry} in a tree of {size} of the ledger's {len(hs)} entries",
                             file=args.ledger, expected=f"--entry between 1 and {min(size, len(hs))}")
    try:
        proof = InclusionProof.make(hs, args.entry - 1, size)
    except InputFileError as e:
        raise InputFileError(e.message, file=args.ledger, expected=e.expected) from None
    _write_out(args.output, (proof.model_dump_json(indent=2) + "\n").encode(), mode=0o644)
    _say(args.output, f"entry {args.entry} of {size}: tree head {base64.b64encode(tree_head(hs, size)).decode()}")
    return 0


def _cmd_tlog_consistency(args: argparse.Namespace) -> int:
    import base64

    from .errors import InputFileError
    from .files import check_output_path
    from .tlog import ConsistencyProof, tree_head

    if args.output != STDOUT:
        check_output_path(args.output)
    hs = _tlog_leaf_hashes(args.ledger)
    new = len(hs) if args.new_size is None else args.new_size
    try:
        proof = ConsistencyProof.make(hs, args.old_size, new)
    except InputFileError as e:
        raise InputFileError(e.message, file=args.ledger, expected=e.expected) from None
    _write_out(args.output, (proof.model_dump_json(indent=2) + "\n").encode(), mode=0o644)
    heads = [base64.b64encode(tree_head(hs, n)).decode() for n in (args.old_size, new)]
    _say(args.output, f"size {args.old_size} (tree head {heads[0]}) to size {new} (tree head {heads[1]})")
    return 0
