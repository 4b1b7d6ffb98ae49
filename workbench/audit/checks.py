"""The audit: establish, without trusting the coordinator, that a round's published numbers follow from
signed reviewer inputs, frozen rules and the submitted evidence - or name exactly where they do not.

Every check yields :class:`AuditFinding` records (a :class:`workbench.core.findings.Finding` whose code is a check id
and whose parameters are its details, with a severity ``error``, ``warning`` or ``info``, the file, relative
to the round, and a message). A round is *clean* when no finding is an error. The checks
(see docs/auditor-guide.md for what each means and what to do):

- ``round.load``: the round's files load and agree with each other (:func:`workbench.model.round.load_round`).
- ``ledger.chain``: no gap, reorder or edit; every entry signed by its actor's roster key
  (:func:`workbench.round.ledger.verify_chain`).
- ``ledger.authority``: every entry's signer held the authority for its type at that point, against the signed
  roster as it stood before the entry (:mod:`workbench.round.authority`); a malformed entry, a reversed decision, an
  amendment short of its coordinators' threshold are errors too, each naming the entry, signer and role.
- ``sheet.excluded``: an accepted sheet withdrawn by its reviewer or excluded by a coordinator, who and why.
- ``rules.signature``: every frozen version verifies with the coordinator's roster key and its ledger hash.
- ``rules.frozen`` / ``rubric.frozen``: the round's files (and rubric copies) equal the last signed version.
- ``rules.amendment``: every amendment, with its timing relative to the first submission (warning after).
- ``sheet.signature``, ``sheet.format``, ``sheet.identity``, ``sheet.rubric``, ``sheet.totals``,
  ``sheet.assignment``, ``sheet.coi``, ``sheet.name``: a sheet the ledger accepted fails that check of
  :func:`workbench.round.collect.check_sheet` now (signature against the roster, never a key in the sheet).
- ``sheet.ledger`` / ``sheet.missing``: every sheet version has its submit and collect entries, and every
  recorded version is still there with its recorded hash. ``sheet.rejected`` (info) and ``sheet.decision``
  (warning: a valid sheet was rejected) account for the rest.
- ``ledger.receipt``: every reviewer's receipt (``receipts/`` and ``receipts`` given) verifies on its own (the
  checkpoint's signature, the inclusion proofs of its entries) and the ledger still holds those entries.
- ``ledger.witness``: the ledger extends every checkpoint given with ``witnesses`` (kept by witnesses outside
  the folder) and in ``checkpoints/``; a checkpoint counts as witnessed only with a quorum of the witnesses
  the rules list (info: who witnessed which size); a cosignature that does not verify or whose name or key
  the rules do not list is an error; two checkpoints that contradict each other are a split view naming
  both and the entries where the histories part (:func:`workbench.round.checkpoint.check_checkpoints`); without
  witnessed checkpoints, a warning that truncation cannot be detected.
- ``sheet.input``: every input file an accepted sheet records still has its recorded sha256.
- ``assignment.coverage`` (info): assignments without an accepted sheet.
- ``report.missing``, ``report.signature``, ``report.ledger``, ``report.files``, ``report.recompute``,
  ``report.mismatch``: the signed report verifies, is the one in the ledger, its files have the signed
  hashes, and it equals a recomputation (:func:`workbench.publish.aggregate.aggregate_round`), field by field.
- With ``rerun``: ``rerun.template`` (warning: another template made the sheet), ``rerun.failed``,
  ``rerun.mismatch`` (a field of the re-executed notebook's sheet differs from the signed one) and
  ``rerun.version`` (info: another workbench version). Re-runs go through :func:`workbench.run.batch.execute`.

Nothing in the result depends on the round's absolute path, the clock, dict order or the locale: files are
named relative to the round and findings are sorted.

Public API: :class:`AuditFinding`, :class:`AuditResult`, :data:`CHECKS`, :func:`audit_round`,
:func:`compare_sheets`, :func:`answers_yaml`, :func:`verify_sheets` (what the audit finds; :mod:`.render` shows and
writes it).
"""

from __future__ import annotations

import base64
import logging
import re
import tempfile
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field, model_validator

from .. import __version__
from ..core.diff import json_diff
from ..core.errors import RoundError, SignatureError, WorkbenchError
from ..core.files import (
    canonical_json,
    is_contained_relpath,
    parse_json,
    read_bounded,
    sha256_bytes,
    sha256_file,
)
from ..core.findings import Finding
from ..core.shipped import shipped_path
from ..core.signing import MAX_ENVELOPE_BYTES, REPORT_TYPE, key_id, parse_envelope, verify_envelope
from ..core.versions import RELEASED_VERIFY_PAGES, report_as_signed, schema_of, sheet_as_signed, upgrade
from ..model.round import (
    PARTS,
    ROUND_FILES,
    Roster,
    Round,
    load_round,
    load_round_file,
    round_from_state,
    round_state,
)
from ..model.rubric import Rubric, load_rubric
from ..model.sheet import ScoreSheet, parse_sheet
from ..publish.aggregate import aggregate_round
from ..publish.report import scores_csv
from ..publish.verifypage import CHECKPOINT_COPY, INCLUSION_COPY, LEDGER_COPY, verify_html
from ..round import authority, ledger, note, tlog
from ..round.checkpoint import MAX_CHECKPOINT_BYTES, check_checkpoints, is_format1, log_key
from ..round.collect import check_sheet, choose_versions
from ..round.lifecycle import verify_state
from ..round.receipt import MAX_RECEIPT_BYTES, parse_receipt, verify_receipt
from ..run.batch import Task, default_notebook, execute

log = logging.getLogger(__name__)

__all__ = [
    "CHECKS",
    "AuditResult",
    "AuditFinding",
    "answers_yaml",
    "audit_round",
    "compare_sheets",
    "verify_sheets",
]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
CHECKS = (
    "round.load", "ledger.chain", "rules.signature", "rules.frozen", "rubric.frozen", "rules.amendment",
    "sheet.name", "sheet.signature", "sheet.format", "sheet.identity", "sheet.rubric", "sheet.totals",
    "sheet.assignment", "sheet.coi", "sheet.ledger", "sheet.missing", "sheet.rejected", "sheet.decision",
    "sheet.input", "assignment.coverage", "report.missing", "report.signature", "report.ledger", "report.files",
    "report.recompute", "report.mismatch", "rerun.template", "rerun.failed", "rerun.mismatch", "rerun.version",
    "rerun.survey", "sheet.votes", "ledger.authority", "sheet.excluded", "evidence.cache",
)
# Fields of a re-run sheet that legitimately differ from the signed one: the clock, where the files were
# (paths of the temporary answers/output folders), the signing key (the re-run signs nothing) and the
# template hash (checked on its own as rerun.template, so a changed template with equal results is a
# warning, not an error). The version and its predecessor's hash belong to the signed file, not to the
# computation (a re-run is always a first version). workbench_version is reported as rerun.version (info): a newer workbench that
# reproduces every value is fine, and a difference in values is caught field by field anyway.
RERUN_IGNORED = frozenset({
    "created_at", "workbench_version", "reviewer.key_id", "parameters.round_dir", "parameters.answers_file",
    "parameters.output_dir", "parameters.key_file", "parameters.notebook_sha256", "version", "supersedes",
})
MAX_VALUE_CHARS = 300


class AuditFinding(Finding):
    """One result of one check: a :class:`workbench.core.findings.Finding` whose code is the check's id and whose
    parameters are its details, with its severity, the file (relative to the round) it is about, and its line
    for auditors (English, what ``audit.json`` and the command print). ``audit.json`` names the code ``check``
    and the parameters ``detail``, as it always has."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)

    code: str = Field(validation_alias=AliasChoices("check", "code"), serialization_alias="check")
    params: dict[str, Any] = Field(default_factory=dict, validation_alias=AliasChoices("detail", "params"),
                                   serialization_alias="detail")
    severity: Severity
    file: str = ""
    message: str

    @property
    def check(self) -> str:
        """The check's id (the finding's code)."""
        return self.code

    @property
    def detail(self) -> dict[str, Any]:
        """The check's details (the finding's parameters)."""
        return self.params

    def text(self, lang: str = "en") -> str:
        """The finding's line: the audit speaks to auditors in English (``lang`` is accepted for the interface)."""
        return self.message


class AuditResult(BaseModel):
    """The audit of one round: every finding, sorted, and what was looked at (what ``audit/audit.json`` holds).

    ``clean`` and ``counts`` follow from the findings: they are written out, and checked when read back.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    round_id: str
    workbench_version: str = __version__
    rerun: bool = False
    sheets: int = 0
    accepted: int = 0
    rerun_sheets: int = 0
    findings: list[AuditFinding] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clean(self) -> bool:
        """True when no finding is an error (warnings and info are allowed)."""
        return not any(f.severity == "error" for f in self.findings)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[Severity, int]:
        """Findings per severity."""
        return {s: sum(f.severity == s for f in self.findings) for s in SEVERITIES}

    @model_validator(mode="wrap")
    @classmethod
    def _derived(cls, data: Any, handler: Any) -> AuditResult:
        # an audit.json read back carries clean and counts: they must be what its findings give
        given = {}
        if isinstance(data, Mapping):
            data = dict(data)
            given = {k: data.pop(k) for k in ("clean", "counts") if k in data}
        res = handler(data)
        for k, v in given.items():
            if v != getattr(res, k):
                raise ValueError(f"{k} is {v!r} but the findings give {getattr(res, k)!r}")
        return res


# ---------------------------------------------------------------- pure helpers

def _short(v: Any) -> Any:
    if isinstance(v, dict | list):
        text = canonical_json(v).decode()
        return v if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."
    if isinstance(v, str) and len(v) > MAX_VALUE_CHARS:
        return v[:MAX_VALUE_CHARS] + "..."
    return v


def _ignored(path: str, ignore: Collection[str]) -> bool:
    return any(path == i or path.startswith(i + ".") or path.startswith(i + "[") for i in ignore)


def compare_sheets(signed: Mapping[str, Any], rerun: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Differences ``{path, signed, recomputed}`` between a signed sheet and its re-run (JSON data), except
    the fields in :data:`RERUN_IGNORED`."""
    return [{"path": d["path"], "signed": _short(d["old"]), "recomputed": _short(d["new"])}
            for d in json_diff(dict(signed), dict(rerun)) if not _ignored(d["path"], RERUN_IGNORED)]


def answers_yaml(sheet: ScoreSheet) -> str:
    """The answers file a notebook reads, from a signed sheet's human inputs (judgments and COI)."""
    data = {"judgments": {k: j.model_dump(mode="json") for k, j in sorted(sheet.judgments.items())},
            "coi": sheet.coi.model_dump(mode="json")}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=True)


# ---------------------------------------------------------------- the checks

def _text(v: Any) -> str:
    # ledger data is read even when the chain is broken: never trust its types
    return v if isinstance(v, str) else ""


def _records(v: Any) -> list[dict[str, Any]]:
    return [c for c in v if isinstance(c, dict)] if isinstance(v, list) else []


class _Audit:
    """Collects findings while the checks run; names files relative to the round."""

    def __init__(self, rd: Path) -> None:
        self.rd = rd
        self.root = rd.resolve()
        self.findings: list[AuditFinding] = []
        # set when the round's files do not load and the checks run on the last signed version instead
        self.signed_version: int | None = None
        self.missing_rubrics: list[str] = []  # parts whose frozen rubric content is not at hand
        self.auth = authority.Authority(entries=[])  # the ledger replayed (_check_ledger)
        self.coordinator_keys: tuple[str, ...] = ()  # published coordinator key ids (or prefixes) to expect

    def has(self, check: str, file: str | Path | None) -> bool:
        return any(f.check == check and f.file == self.rel(file) for f in self.findings)

    def rel(self, file: str | Path | None) -> str:
        if not file:
            return ""
        p = Path(file)
        try:
            return p.resolve().relative_to(self.root).as_posix()
        except ValueError:  # already relative to the round; never an absolute path in the output
            return p.name if p.is_absolute() else p.as_posix()

    def add(self, severity: Severity, check: str, file: str | Path | None, message: str, **detail: Any) -> None:
        self.findings.append(AuditFinding(severity=severity, check=check, file=self.rel(file), message=message,
                                     detail={k: v for k, v in detail.items() if v is not None}))

    def error(self, check: str, e: WorkbenchError, file: str | Path | None = None) -> None:
        self.add("error", check, file or e.file, e.message, line=e.line, place=e.place, expected=e.expected)


# authority finding code -> the audit's check (a state that does not verify is a rules.signature error)
AUTHORITY_CHECKS = {"authority_state": "rules.signature", "authority_changes": "rules.amendment"}


def _check_ledger(a: _Audit, r: Round) -> list[ledger.Entry]:
    """The chain's links, then who signed what (:func:`workbench.round.authority.replay`, against the signed roster
    as it stood before each entry): every entry without authority is an error naming signer and role."""
    try:
        entries = ledger.read_entries(r.ledger_path)
    except RoundError as e:
        a.error("ledger.chain", e, r.ledger_path)
        a.auth = authority.Authority(entries=[])
        return []
    try:
        ledger.check_links(entries, str(r.ledger_path))
    except RoundError as e:
        a.error("ledger.chain", e, r.ledger_path)
    a.auth = authority.replay(r.path, entries)
    _check_root(a)
    for f in a.auth.findings:
        check = AUTHORITY_CHECKS.get(f.code, "ledger.authority")
        p = f.params
        file = (f"frozen/v{v}.dsse.json" if check != "ledger.authority"
                and isinstance(v := entries[p["seq"] - 1].data.get("version"), int) else "ledger.jsonl")
        a.add("error", check, file, authority.finding_line(f), line=p["seq"], seq=p["seq"], type=p["type"],
              signer=p["signer"], role=p["role"], required=p["required"], code=f.code)
    for x in a.auth.exclusions:
        a.add("warning" if x.after_acceptance else "info", "sheet.excluded", x.path,
              f"{x.kind} by {'its reviewer' if x.kind == 'withdrawn' else 'coordinator'} {x.actor} in ledger entry "
              f"{x.seq}{' after it was accepted' if x.after_acceptance else ''}: {x.reason}",
              seq=x.seq, actor=x.actor, kind=x.kind, reason=x.reason)
    return entries


def _check_root(a: _Audit) -> None:
    """With ``a.coordinator_keys`` (the key ids the ministry publishes, or prefixes), a root of trust (the
    coordinator keys the freeze pinned) that holds none of them is an error: a folder re-signed from its
    first entry with another key verifies, but not against these."""
    root = a.auth.root
    if a.coordinator_keys and not any(k.startswith(p.lower()) for k in root.values() for p in a.coordinator_keys):
        a.add("error", "ledger.authority", "ledger.jsonl", "the round's root of trust pins coordinator key(s) "
              f"{', '.join(k[:16] for k in sorted(root.values())) or '(none)'}, not the published "
              f"{', '.join(a.coordinator_keys)}", expected="a round frozen with the published coordinator key",
              coordinators=root)


def _check_frozen(a: _Audit, r: Round, entries: list[ledger.Entry]) -> None:
    """The round's files against the last signed version whose entry held authority (a version that does
    not verify, or was appended by someone without authority, is an error of _check_ledger and never current)."""
    if not any(e.type == "freeze" for e in entries):
        a.add("error", "rules.frozen", "rules.yaml", "the round was never frozen", expected="a freeze entry in the ledger")
        return
    state = a.auth.state
    if state is None or a.signed_version is not None:  # a signed round is its own state: the files were compared
        return
    _drift(a, a.auth.version, state, round_state(r))


def _drift(a: _Audit, version: Any, signed: dict[str, Any], now: dict[str, Any]) -> None:
    """One ``rules.frozen`` / ``rubric.frozen`` finding per file that differs from the signed state."""
    parts: dict[str, list[dict[str, Any]]] = {}
    for c in json_diff(signed, now):
        head = c["path"].split(".")[0].split("[")[0]
        f = f"rubrics/{c['path'].split('.')[1]}.yaml" if head == "rubrics" else f"{head}.yaml"
        parts.setdefault(f, []).append({k: _short(v) for k, v in c.items()})
    for f, changes in sorted(parts.items()):
        check = "rubric.frozen" if f.startswith("rubrics/") else "rules.frozen"
        if a.signed_version is not None and a.has(check, f):
            continue  # the load error named it already
        a.add("error", check, f, f"{f} differs from the signed version {version} "
              f"in {len(changes)} value(s): {', '.join(c['path'] for c in changes[:5])}",
              changes=changes, expected="the frozen file, or an amendment recorded with 'workbench round amend'")


def _check_amendments(a: _Audit, entries: list[ledger.Entry]) -> None:
    """Every amendment with its timing; its changes as the two signed states give them (recomputed by the
    replay; a recorded list that differs is a rules.amendment error of _check_ledger)."""
    first = next((e for e in entries if e.type == "submit"), None)
    recomputed = {x["seq"]: x["changes"] for x in a.auth.amendments}
    for e in entries:
        if e.type != "amend":
            continue
        after = first is not None and e.seq > first.seq
        changes = recomputed.get(e.seq, _records(e.data.get("changes")))
        when = (f"after the first submission (ledger entry {first.seq}, {first.time})" if after
                else "before any sheet was submitted")
        detail = {"seq": e.seq, "time": e.time, "version": e.data.get("version"), "reason": e.data.get("reason"),
                  "after_first_submission": after, "changes": [{k: _short(v) for k, v in c.items()} for c in changes],
                  "first_submission": {"seq": first.seq, "time": first.time} if first else None}
        f = _text(e.data.get("file")) or f"frozen/v{e.data.get('version')}.dsse.json"
        text = "; ".join(f"{c.get('path')}: {c.get('old')!r} -> {c.get('new')!r}" for c in changes[:5])
        if bool(e.data.get("after_first_submission")) != after:
            a.add("error", "rules.amendment", f, f"amendment v{e.data.get('version')} records "
                  f"after_first_submission={e.data.get('after_first_submission')}, but its ledger position is {when}",
                  **detail)
        a.add("warning" if after else "info", "rules.amendment", f,
              f"amendment v{e.data.get('version')} at {e.time}, {when}: {e.data.get('reason', '')} ({text})", **detail)


def _check_sheets(a: _Audit, r: Round, entries: list[ledger.Entry], signature_only: bool = False,
                  ) -> dict[tuple[str, str], tuple[str, ScoreSheet]]:
    """Check every sheet file against the roster, rubric, assignments and the ledger's records; return the
    sheets the results rest on: the highest accepted version per (reviewer, team), with its file."""
    # only entries with authority record anything: the first decision on a file stands (see authority)
    submitted = {(_text(e.data.get("path")), ledger.envelope_sha256(e)) for e in a.auth.of_type("submit")}
    decided = a.auth.decisions
    set_aside = a.auth.excluded()
    accepted: list[tuple[tuple[str, str], int, tuple[str, ScoreSheet]]] = []
    withdrawals: list[tuple[tuple[str, str], int]] = []
    seen: set[str] = set()
    for f in sorted((r.path / "sheets").glob("*/*.dsse.json")):
        res, sheet = check_sheet(r, f, signature_only)
        seen.add(res.path)
        recorded = decided.get(res.path, {})
        entry = recorded.get(res.sha256)
        if entry is None or (res.path, res.sha256) not in submitted:
            why = ("file changed after it was collected" if recorded and entry is None
                   else "not in the ledger (never submitted and collected)")
            a.add("error", "sheet.ledger", res.path, why, sha256=res.sha256,
                  recorded=sorted(recorded) or None, expected="a submit and a collect entry for this file's sha256")
        if sheet is None:
            if entry is not None and res.check == "sheet.coi":
                withdrawals.append(((res.reviewer, res.team), res.version))
            if entry is not None and entry.data.get("decision") == "rejected":
                a.add("info", "sheet.rejected", res.path, f"rejected at collection: {entry.data.get('reason', '')}",
                      now=res.reason)
            else:
                a.add("error", res.check or "sheet.signature", res.path, res.reason)
            continue
        if entry is not None and entry.data.get("decision") == "rejected":
            a.add("warning", "sheet.decision", res.path, "the sheet is valid now but was rejected at collection: "
                  f"{entry.data.get('reason', '')}")
            continue
        if entry is None or res.path in set_aside:  # an exclusion is listed as sheet.excluded
            continue
        accepted.append(((res.reviewer, res.team), res.version, (res.path, sheet)))
    for path, shas in sorted(decided.items()):
        if path not in seen:
            a.add("error", "sheet.missing", path, "the ledger records this sheet but the file is gone",
                  sha256=sorted(shas))
    best, _ = choose_versions(accepted, withdrawals)
    return {k: item for k, (_, item) in best.items()}


def _check_inputs(a: _Audit, r: Round, used: dict[tuple[str, str], tuple[str, ScoreSheet]]) -> None:
    hashes: dict[str, str | None] = {}
    for path, sheet in used.values():
        for inp in sheet.inputs:
            if inp.path not in hashes:
                f = r.path / inp.path
                hashes[inp.path] = sha256_file(f) if f.is_file() else None
            now = hashes[inp.path]
            if now != inp.sha256:
                a.add("error", "sheet.input", inp.path, f"input of {path} {'is missing' if now is None else 'was replaced'}"
                      " since the sheet was signed", sheet=path, signed_sha256=inp.sha256, sha256=now,
                      expected="the file the reviewer saw")


def _check_coverage(a: _Audit, r: Round, used: dict[tuple[str, str], tuple[str, ScoreSheet]]) -> None:
    for asg in r.assignments.assignments:
        if (asg.reviewer, asg.team) not in used:
            a.add("info", "assignment.coverage", "assignments.yaml", f"{asg.reviewer} x {asg.team} has no accepted sheet")


def _check_ledger_copy(a: _Audit, r: Round, seq: int, required: bool) -> None:
    """``report/ledger.jsonl`` (what the verify page checks the signed head against) must be this ledger's
    first ``seq`` lines, byte for byte: the history up to and including the report entry."""
    p = r.path / "report" / LEDGER_COPY
    if not p.is_file():
        if required:
            a.add("error", "report.files", p, "report/ledger.jsonl is missing: the verify page cannot check the ledger head")
        return
    lines = read_bounded(r.ledger_path, ledger.MAX_LEDGER_BYTES).splitlines(keepends=True)
    if read_bounded(p, ledger.MAX_LEDGER_BYTES) != b"".join(lines[:seq]):
        a.add("error", "report.files", p, f"report/ledger.jsonl is not this ledger's first {seq} entries (up to the "
              "report entry)", expected="a byte-for-byte copy of ledger.jsonl up to the report entry")


def _check_report_inclusion(a: _Audit, r: Round, entries: list[ledger.Entry], seq: int) -> None:
    """``report/inclusion.json`` (reports since C2SP checkpoints) proves the report entry ``seq`` is in the tree
    of ``report/checkpoint.txt``, which the coordinator signed: what the verify page relies on."""
    p, cp = r.path / "report" / INCLUSION_COPY, r.path / "report" / CHECKPOINT_COPY
    if not p.exists() or not cp.exists() or not 1 <= seq <= len(entries):  # a lost entry: report.ledger says so
        return
    try:
        data = read_bounded(cp, MAX_CHECKPOINT_BYTES)
        if is_format1(data):  # an older report: no inclusion proof to check
            return
        proof = tlog.parse_proof(read_bounded(p, tlog.MAX_PROOF_BYTES), a.rel(p))
        keys = [log_key(r.rules.round_id, c.key()) for c in r.coordinators()]
        tree = next((t for t in (_opened(data, k) for k in keys) if t is not None), None)
        if tree is None:
            raise SignatureError("report/checkpoint.txt is not signed by a roster coordinator for this round's log",
                                 file=cp)
        if not isinstance(proof, tlog.InclusionProof) or (proof.index, proof.size) != (seq - 1, tree.size):
            raise SignatureError(f"report/inclusion.json is not the proof of entry {seq} in the checkpoint's tree",
                                 file=p, expected=f"leaf {seq - 1} of a tree of {tree.size}")
        proof.verify(tree.root_hash, tlog.entry_leaf(entries[seq - 1]))
    except WorkbenchError as e:
        a.add("error", "report.files", a.rel(p), f"the report entry's inclusion proof does not hold: {e.message}",
              expected="report/inclusion.json as `workbench aggregate` wrote it, against report/checkpoint.txt")


def _opened(data: bytes, key: note.VerifierKey) -> note.Checkpoint | None:
    try:
        return note.open_checkpoint(data, key)[0]
    except WorkbenchError:
        return None


def _check_report(a: _Audit, r: Round, entries: list[ledger.Entry]) -> None:
    reports = a.auth.of_type("report")  # a report entry signed without authority is a ledger.authority error
    f = r.path / "report" / "report.dsse.json"
    if not reports:
        if f.exists():
            a.add("error", "report.ledger", f, "a report exists but the ledger has no report entry")
        else:
            a.add("info", "report.missing", "report/report.dsse.json", "no report has been published yet")
        return
    last = reports[-1]
    if not f.is_file():
        a.add("error", "report.missing", f, f"the ledger records a report (entry {last.seq}) but the file is gone")
        return
    signer = r.roster.get(last.actor)
    if signer is None or signer.role != "coordinator":
        a.add("error", "report.signature", f, f"the report entry's actor '{last.actor}' is not a roster coordinator")
        return
    try:
        payload = verify_envelope(read_bounded(f, MAX_ENVELOPE_BYTES), signer.key(), REPORT_TYPE, a.rel(f))
        signed = parse_json(payload, a.rel(f))
    except WorkbenchError as e:
        a.error("report.signature", e, f)
        return
    if sha256_bytes(payload) != last.payload_sha256:
        a.add("error", "report.ledger", f, f"the signed report is not the one recorded in ledger entry {last.seq}",
              sha256=sha256_bytes(payload), recorded=last.payload_sha256)
    signed_files = signed.pop("files", {}) if isinstance(signed, dict) else {}
    size, head = (signed.pop("ledger_size", None), signed.pop("ledger_head", None)) if isinstance(signed, dict) else (None, None)
    at = entries[size - 1] if isinstance(size, int) and 0 < size <= len(entries) else None
    if (ledger.entry_hash(at) if at else ledger.GENESIS if size == 0 else None) != head or last.seq != (size or 0) + 1:
        a.add("error", "report.ledger", f, f"the report was signed under a ledger of {size} entries with head "
              f"{str(head)[:12]}, which is not this ledger's history up to its report entry {last.seq}",
              signed_size=size, signed_head=head, expected="the ledger the report was made under")
    # every file the report signed (an older report signed only these two), each a plain name in report/
    for name in sorted(set(signed_files) | {"index.html", "scores.csv"}):
        if "/" in name or "\\" in name or name.startswith("."):
            a.add("error", "report.files", f, f"the signed report names '{name}', which is not a file of report/")
            continue
        p = r.path / "report" / name
        now = sha256_file(p) if p.is_file() else None
        if now != signed_files.get(name):
            a.add("error", "report.files", p, f"report/{name} {'is missing' if now is None else 'was edited'}: "
                  "its sha256 is not the signed one", sha256=now, signed_sha256=signed_files.get(name))
    _check_ledger_copy(a, r, last.seq, "verify.html" in signed_files)
    _check_report_inclusion(a, r, entries, last.seq)
    if ("verify.html" in signed_files and sha256_bytes(verify_html()) != signed_files["verify.html"]
            and signed_files["verify.html"] not in RELEASED_VERIFY_PAGES):  # an earlier release's page is its own
        a.add("error", "report.files", "report/verify.html", "the signed verify page is not the one this workbench "
              "makes: a page that checks nothing could say green", sha256=sha256_bytes(verify_html()),
              signed_sha256=signed_files["verify.html"])
    if a.missing_rubrics:
        a.add("info", "report.recompute", f, "the report was not recomputed: the frozen content of the "
              f"{', '.join(a.missing_rubrics)} rubric(s) is not at hand", expected="the frozen rubric files")
        return
    try:
        agg = aggregate_round(r)
    except WorkbenchError as e:
        a.add("error", "report.recompute", e.file, f"the report cannot be recomputed: {e.message}", line=e.line,
              place=e.place, expected=e.expected)
        return
    # a report of an earlier release is read in today's shape, and compared with the recomputation in its own
    try:
        version = schema_of(signed, "report", a.rel(f))
        signed = upgrade(signed, "report", a.rel(f))
    except WorkbenchError as e:
        a.error("report.signature", e, f)
        return
    recomputed = report_as_signed(parse_json(canonical_json(agg.report_data().model_dump(mode="json"))),
                                  version)
    for d in json_diff(signed, recomputed):
        a.add("error", "report.mismatch", f, f"{d['path']}: signed {_short(d['old'])!r}, recomputed {_short(d['new'])!r}",
              path=d["path"], signed=_short(d["old"]), recomputed=_short(d["new"]))
    csv_hash = sha256_bytes(scores_csv(agg).encode())
    legacy_hash = sha256_bytes(scores_csv(agg, team_order=True).encode())  # reports signed before rank order
    if signed_files.get("scores.csv") not in (csv_hash, legacy_hash):
        a.add("error", "report.files", "report/scores.csv", "the recomputed scores.csv differs from the signed one",
              sha256=csv_hash, signed_sha256=signed_files.get("scores.csv"))


def _rerun(a: _Audit, r: Round, used: dict[tuple[str, str], tuple[str, ScoreSheet]], *, notebook: Path, jobs: int,
           executor: str, timeout: float, progress: bool) -> None:
    nb_hash = sha256_file(notebook)
    with tempfile.TemporaryDirectory(prefix="wb-audit-") as tmp:
        t = Path(tmp)
        todo = []
        for (rev, team), (path, sheet) in sorted(used.items()):
            recorded = sheet.parameters.get("notebook_sha256")
            if recorded != nb_hash:
                a.add("warning", "rerun.template", path, "the sheet was made by another notebook template"
                      if recorded else "the sheet does not record its notebook template",
                      recorded=recorded or None, template=nb_hash)
            answers = t / "answers" / rev / f"{team}.yaml"
            answers.parent.mkdir(parents=True, exist_ok=True)
            answers.write_text(answers_yaml(sheet), encoding="utf-8")
            # path parts come from the checked file name, never from signed data: a sheet's parameters are
            # compared with the re-run like every other value
            lang = sheet.parameters.get("lang")
            todo.append((Task(reviewer=rev, team=team, role=sheet.reviewer.role, lang=lang if lang in ("ko", "en") else "ko",
                              answers_file=str(answers), key_file="", output_dir=str(t / "out")), 0))
        log.info("audit %s: re-running %d notebook(s) with %s", r.path, len(todo), notebook)
        results = execute(todo, r.path.resolve(), notebook, jobs=jobs, executor=executor, timeout=timeout,
                          work_dir=t / "work", progress=progress)
        for (task, _), (path, sheet) in zip(todo, [v for _, v in sorted(used.items())], strict=True):
            res = results[(task.reviewer, task.team)]
            out = t / "out" / task.reviewer / f"{task.team}.sheet.json"
            if res.state != "done" or not out.is_file():
                a.add("error", "rerun.failed", path, f"the notebook failed to re-run: {res.error or 'it wrote no sheet'}",
                      attempts=res.attempts, **({"failure": res.failure.model_dump(mode="json", exclude={"file"})}
                                                if res.failure else {}))
                continue
            try:
                again = parse_sheet(read_bounded(out), path).to_json()
            except WorkbenchError as e:
                a.error("rerun.failed", e, path)
                continue
            signed = sheet.to_json()
            for d in compare_sheets(signed, sheet_as_signed(again, sheet.read_from)):
                a.add("error", "rerun.mismatch", path, f"{d['path']}: signed {d['signed']!r}, re-run {d['recomputed']!r}",
                      **d)
            if signed["workbench_version"] != again["workbench_version"]:
                a.add("info", "rerun.version", path, f"signed with workbench {signed['workbench_version']}, "
                      f"re-run with {again['workbench_version']}")


def audit_round(
    round_dir: str | Path,
    *,
    rerun: bool = False,
    only: Collection[str] | None = None,
    jobs: int = 2,
    executor: str = "local",
    notebook: str | Path | None = None,
    timeout: float = 600,
    progress: bool = False,
    witnesses: Collection[str | Path] = (),
    coordinator_keys: Collection[str] = (),
    receipts: Collection[str | Path] = (),
) -> AuditResult:
    """Run every check on a round folder (read only); with ``rerun`` also re-execute the accepted sheets'
    notebooks (``only``: ``"reviewer/team"`` names to re-run a subset); ``witnesses``: checkpoint files kept
    outside the folder, which the ledger must extend; ``receipts``: reviewers' receipts kept outside the folder
    (those under ``receipts/`` are checked too), whose entries the ledger must hold; ``coordinator_keys``: the coordinators' key ids (or
    prefixes of at least 16 hex digits) as the ministry publishes them, which the freeze must pin. Returns the
    sorted findings."""
    bad = [k for k in coordinator_keys if not re.fullmatch(r"[0-9a-fA-F]{16,64}", k)]
    if bad:
        raise RoundError(f"'{bad[0]}' is not a key id", place="--coordinator-key",
                         expected="the published key id: 16 to 64 hex digits")
    a = _Audit(Path(round_dir))
    a.coordinator_keys = tuple(coordinator_keys)
    r = _load(a)
    if r is None:
        return _result(a, _round_id(a), rerun)
    entries, used = _core(a, r)
    _check_witnesses(a, r, entries, witnesses)
    _check_receipts(a, r, entries, receipts)
    _check_inputs(a, r, used)
    _check_dossier_cache(a, r)
    _check_coverage(a, r, used)
    _check_report(a, r, entries)
    chosen = {k: v for k, v in used.items() if only is None or f"{k[0]}/{k[1]}" in set(only)}
    unknown = sorted(set(only or ()) - {f"{k[0]}/{k[1]}" for k in used})
    if rerun and unknown:
        raise RoundError(f"no accepted sheet for {', '.join(unknown)}", file=r.path / "sheets",
                         expected="REVIEWER/TEAM of an accepted sheet")
    if rerun and chosen and a.signed_version is not None:
        # a notebook loads the round's own files, which do not load: a re-run could only fail
        a.add("info", "rerun.failed", "", "the notebooks were not re-run: the round's files do not load",
              expected="round files that load (restore the signed versions) for --rerun")
        chosen = {}
    if rerun:
        # a user's sheet signed from their survey export (workbench users sign) was made by no notebook: its
        # totals were recomputed from the rubric above; there is nothing to re-execute
        survey = sorted(k for k, (_, sheet) in chosen.items() if "survey_sha256" in sheet.parameters)
        if survey:
            a.add("info", "rerun.survey", "", f"{len(survey)} user sheet(s) signed from survey exports were not re-run "
                  "(no notebook made them); their signatures, totals and records were checked")
        chosen = {k: v for k, v in chosen.items() if k not in set(survey)}
    if rerun and chosen:
        nb = Path(notebook) if notebook else default_notebook()
        if not nb.is_file():
            raise RoundError("review notebook not found", file=nb, expected="--notebook PATH or WORKBENCH_NOTEBOOK")
        _rerun(a, r, chosen, notebook=nb, jobs=jobs, executor=executor, timeout=timeout, progress=progress)
    res = _result(a, r.rules.round_id, rerun)
    n = len(list((r.path / "sheets").glob("*/*.dsse.json")))
    return res.model_copy(update={"sheets": n, "accepted": len(used), "rerun_sheets": len(chosen) if rerun else 0})


def _check_dossier_cache(a: _Audit, r: Round) -> None:
    """The cached dossiers (``cache/dossier/``) are recomputed and compared, never trusted: an edited one is an
    error. One made from inputs the round no longer has (an amendment, new evidence) is never shown: no finding."""
    from ..evidence.dossier_cache import check_cache  # the evidence modules: only when the audit gets here

    for c in check_cache(r):
        if c.state in ("mismatch", "invalid"):
            a.add("error", "evidence.cache", c.file, f"cached dossier of {c.team}: {c.message}", state=c.state,
                  differences=c.differences or None, expected="a dossier equal to the one recomputed from its "
                  "inputs (delete the file; the next notebook or batch writes it again)")


def _check_witnesses(a: _Audit, r: Round, entries: list[ledger.Entry], witnesses: Collection[str | Path]) -> None:
    """The ledger extends every checkpoint: the witnesses' copies (errors) and the folder's own (which an
    attacker could remove with the history, so they prove less)."""
    def read(files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
        # an unreadable checkpoint (too large, a pipe, gone) is a finding, never the end of the audit
        out = []
        for name, f in files:
            try:
                out.append((name, read_bounded(f, MAX_CHECKPOINT_BYTES)))
            except WorkbenchError as e:
                a.add("error", "ledger.witness", name, e.message, expected=e.expected)
        return out

    given = read([(a.rel(w), Path(w)) for w in witnesses])  # outside the round: its file name alone
    # the folder's own: the coordinator's, and the report's copy that witnesses cosign after publication
    mine = sorted((r.path / "checkpoints").glob("*.txt")) + [p for p in [r.path / "report" / CHECKPOINT_COPY] if p.exists()]
    own = read([(a.rel(f), f) for f in mine])
    # the consistency proofs `workbench checkpoint` wrote between them, each checked against its two checkpoints
    proofs = read([(a.rel(f), f) for f in sorted((r.path / "checkpoints").glob("*.from-*.json"))])
    coords = {c.id: c.key() for c in r.coordinators()}
    policy = r.rules.witnesses
    listed = policy.by_name() if policy is not None else {}
    quorum = policy.quorum if policy is not None else 1
    found = check_checkpoints(entries, r.rules.round_id, coords, given, own, witnesses=listed, quorum=quorum,
                              proofs=proofs)
    for f in found:
        a.add(f.severity, "ledger.witness", f.file, f.message, **f.detail)
    witnessed = [f for f in found if f.severity == "info"]
    if witnessed:
        a.add("info", "ledger.witness", "", f"the ledger's {len(entries)} entries were checked against "
              f"{len(witnessed)} witnessed checkpoint(s), each cosigned by at least {quorum} of the "
              f"{len(listed)} witness(es) the rules list",
              witnesses=sorted({n for f in witnessed for n in f.detail["witnesses"]}))
    elif given:
        a.add("warning", "ledger.witness", "", "no checkpoint given was witnessed (cosigned by a quorum of the "
              "witnesses the rules list): a ledger rewritten by the coordinator cannot be told from the original",
              expected=f"checkpoints cosigned by {quorum} of: {', '.join(listed)}" if listed
              else "rules that list the witnesses (rules.yaml witnesses:) and checkpoints they cosigned")
    else:
        a.add("warning", "ledger.witness", "", "no witnessed checkpoint was given (--witness FILE): a truncated "
              "or rewritten ledger cannot be told from the original", expected="the checkpoints witnesses keep")


def _check_receipts(a: _Audit, r: Round, entries: list[ledger.Entry], given: Collection[str | Path]) -> None:
    """Every receipt (``receipts/**/*.json`` and those given) verifies with a coordinator key of the roster on
    its own (checkpoint signature, inclusion proofs, entry signatures), and the ledger still holds its entries
    exactly: a receipt whose entries the ledger lost or changed is history rewritten after it was given."""
    files = [(a.rel(f), f) for f in sorted((r.path / "receipts").glob("*/*.json"))] + [(a.rel(g), Path(g)) for g in given]
    keys = [c.key() for c in r.coordinators()]
    checked = 0
    for name, f in files:
        try:
            res = verify_receipt(read_bounded(f, MAX_RECEIPT_BYTES), keys, name)
            rec = parse_receipt(read_bounded(f, MAX_RECEIPT_BYTES), name)
        except WorkbenchError as e:
            a.add("error", "ledger.receipt", name, e.message, expected=e.expected)
            continue
        if res.round_id != r.rules.round_id:
            a.add("error", "ledger.receipt", name, f"receipt of round '{res.round_id}', not '{r.rules.round_id}'")
            continue
        lost = [x.entry.seq for x in rec.entries if len(entries) < x.entry.seq or entries[x.entry.seq - 1] != x.entry]
        if lost:
            a.add("error", "ledger.receipt", name, f"the ledger does not hold the entries {', '.join(map(str, lost))} "
                  f"this receipt proves were in the log at size {res.size}: history was removed or rewritten",
                  seqs=lost, size=res.size, sheet=res.sheet)
            continue
        checked += 1
    if checked:
        a.add("info", "ledger.receipt", "", f"{checked} receipt(s) verified: each sheet's entries are in the signed log "
              "by their inclusion proofs, and the ledger still holds them", receipts=checked)


def _load(a: _Audit) -> Round | None:
    """The round to audit: its files, or when they do not load, its last signed version (so that one broken
    file never hides the other findings); ``None`` when neither is there."""
    try:
        return load_round(a.rd)
    except WorkbenchError as e:
        a.error("rubric.frozen" if a.rel(e.file).startswith("rubrics/") else "round.load", e)
    r = _signed_round(a)
    if r is None:
        a.add("info", "round.load", "", "the other checks were skipped: the round's files do not load and no "
              "signed version of them could be verified", expected="a frozen round (frozen/vN.dsse.json)")
    return r


def _signed_round(a: _Audit) -> Round | None:
    """The round as its last signed version holds it, verified; each file that differs from it, or a rubric
    that is not the frozen one, is a finding.

    Trust: only the key that verifies the signed version comes from outside it: the signer's key in
    ``roster.yaml`` when that file loads on its own and its key verifies (the file the normal audit trusts),
    else the signer's key inside the signed version itself (self-certified, as freeze makes it; a warning
    names the key id to compare with the one the witnesses know). Every other key - reviewers' for the
    sheets, actors' for the ledger - then comes from the signed roster, never from an edited file. A rubric
    whose copy was changed is read from the package's rubrics when one has the signed hash (the same
    content); otherwise the checks that need it are skipped, each said so.
    """
    try:
        entries = ledger.read_entries(a.rd / "ledger.jsonl")
    except WorkbenchError as e:
        a.error("ledger.chain", e)
        return None
    versions = [v for e in entries if e.type in ("freeze", "amend")
                and isinstance(v := e.data.get("version"), int) and not isinstance(v, bool)]
    if not versions:
        return None
    v = versions[-1]
    f = a.rd / "frozen" / f"v{v}.dsse.json"
    state = _anchored_state(a, v, f)
    if state is None:
        return None
    a.signed_version = v
    rubrics = _frozen_rubrics(a, state)
    try:
        r = round_from_state(a.rd, state, rubrics)
    except WorkbenchError as e:
        a.error("rules.signature", e, f)
        return None
    for name in ROUND_FILES:
        try:
            now = load_round_file(a.rd, name).model_dump(mode="json")
        except WorkbenchError as e:
            if not a.has("round.load", e.file):
                a.error("round.load", e)
            continue
        _drift(a, v, {name: state.get(name)}, {name: now})
    a.add("info", "round.load", f, f"the round's files do not load: the checks ran on the last signed version v{v}",
          version=v, missing_rubrics=a.missing_rubrics or None)
    return r


def _anchored_state(a: _Audit, v: int, f: Path) -> dict[str, Any] | None:
    """Signed version ``v``, verified as :func:`_signed_round` says (roster.yaml's key, else its own)."""
    try:
        roster = load_round_file(a.rd, "roster")
        return verify_state(a.rd, v, {e.id: e.key() for e in roster.reviewers})  # type: ignore[attr-defined]
    except WorkbenchError:
        pass
    try:
        env = parse_envelope(read_bounded(f, MAX_ENVELOPE_BYTES), a.rel(f))
        # read unverified only to find the signer's key; verify_state then checks the signature with it
        claimed = parse_json(base64.b64decode(env["payload"], validate=True), a.rel(f))
        own = Roster.model_validate(claimed["roster"])
        state = verify_state(a.rd, v, {e.id: e.key() for e in own.reviewers})
    except WorkbenchError as e:
        a.error("rules.signature", e, f)
        return None
    except (ValueError, KeyError, TypeError) as e:  # bad base64, no roster, an invalid roster (pydantic)
        a.add("error", "rules.signature", f, f"the signed version v{v} holds no usable roster: {str(e)[:200]}",
              expected="a signed state made by 'workbench round freeze' or 'amend'")
        return None
    signers = sorted({key_id(e.key())[:16] for e in own.reviewers if e.role == "coordinator"})
    a.add("warning", "rules.signature", f, f"v{v} was verified with the coordinator key inside it, not one from "
          "roster.yaml (which does not load or does not verify it)", coordinator_keys=signers,
          expected="key ids you can confirm: the coordinator's published key or the witnesses' checkpoints")
    return state


def _frozen_rubrics(a: _Audit, state: dict[str, Any]) -> dict[str, Rubric]:
    """The rubrics with the hashes the signed state pins: the round's copies, else a shipped rubric."""
    rules = state.get("rules") if isinstance(state.get("rules"), dict) else {}
    pins = rules.get("rubrics") if isinstance(rules.get("rubrics"), dict) else {}
    hashes = state.get("rubrics") if isinstance(state.get("rubrics"), dict) else {}
    shipped: dict[str, Path] = {}
    for g in sorted(shipped_path("rubrics").glob("*.yaml")):
        try:
            shipped.setdefault(load_rubric(g).sha256, g)
        except WorkbenchError:
            continue
    out: dict[str, Rubric] = {}
    for p in PARTS:
        want = hashes.get(p)
        pin = pins.get(p) if isinstance(pins.get(p), dict) else {}
        name = _text(pin.get("file")) or f"rubrics/{p}.yaml"
        f = a.rd / name
        now = None
        if is_contained_relpath(name):
            try:
                now = load_rubric(f)
            except WorkbenchError as e:
                if not a.has("rubric.frozen", f):
                    a.error("rubric.frozen", e, f)
        if now is not None and now.sha256 == want:
            out[p] = now
            continue
        if now is not None:
            _drift(a, a.signed_version, {"rubrics": {p: want}}, {"rubrics": {p: now.sha256}})
        if want in shipped:
            out[p] = load_rubric(shipped[want])
            a.add("info", "rubric.frozen", f, f"the frozen {p} rubric's content was read from the workbench's "
                  f"rubric with the signed sha256 ({shipped[want].name})", sha256=want)
        else:
            a.missing_rubrics.append(p)
    return out


def _round_id(a: _Audit) -> str:
    """The round id when nothing verifies: rules.yaml's, else the one the ledger's freeze entry records."""
    try:
        return str(load_round_file(a.rd, "rules").round_id)  # type: ignore[attr-defined]
    except WorkbenchError:
        pass
    try:
        entries = ledger.read_entries(a.rd / "ledger.jsonl")
    except WorkbenchError:
        return ""
    return next((_text(e.data.get("round_id")) for e in entries if e.type == "freeze"), "")


def _core(a: _Audit, r: Round, signature_only: bool = False,
          ) -> tuple[list[ledger.Entry], dict[tuple[str, str], tuple[str, ScoreSheet]]]:
    entries = _check_ledger(a, r)
    _check_frozen(a, r, entries)
    _check_amendments(a, entries)
    if a.missing_rubrics and not signature_only:
        a.add("info", "sheet.rubric", "sheets", "sheets were checked for signatures and records only: the frozen "
              f"content of the {', '.join(a.missing_rubrics)} rubric(s) is not at hand", expected="the frozen rubric files")
        signature_only = True
    return entries, _check_sheets(a, r, entries, signature_only)


def verify_sheets(round_dir: str | Path) -> AuditResult:
    """Signatures and records only: the round loads, the ledger chain, the frozen versions, amendments, and
    every sheet's signature against the roster and its ledger records (not its rubric, totals, assignment
    or COI, nor inputs, report or re-run: :func:`audit_round` does all of it)."""
    a = _Audit(Path(round_dir))
    r = _load(a)
    if r is None:
        return _result(a, _round_id(a), False)
    _, used = _core(a, r, signature_only=True)
    n = len(list((r.path / "sheets").glob("*/*.dsse.json")))
    return _result(a, r.rules.round_id, False).model_copy(update={"sheets": n, "accepted": len(used)})


def _result(a: _Audit, round_id: str, rerun: bool) -> AuditResult:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    found = sorted(a.findings, key=lambda f: (order[f.severity], f.check, f.file, f.message))
    return AuditResult(round_id=round_id, rerun=rerun, findings=found)
