"""Versioned documents: one convention for naming a document's format, and a reader for every released version.

The convention: a document the workbench writes and someone may keep (a score sheet, a signed report, a
draft, a fingerprint) names its format in one top-level field, ``"schema": "workbench.<kind>/<n>"``. The kind
says what the file is without knowing where it came from; ``n`` grows by one with every change of shape. Records
inside a document (a problem, a finding) are versioned by the document that holds them.

Reading old data: each kind registers one upgrade per released version (``n`` -> ``n + 1``), a pure function
on JSON data, as nbgrader's ``nbgraderformat`` reads v1-v3; :func:`upgrade` applies them in order up to the
current version, then the model validates the result. An upgrade happens *on read, after* the signature of
the original bytes is verified: nothing is re-signed, and the original file stays the evidence. A version
this workbench does not know (from a newer one) is refused with the version it found and the ones it reads.

Signed data that an upgrade cannot make equal to today's form is compared in its own form instead:
:func:`report_as_signed` writes a recomputed report in the shape of the version that was signed (the audit
compares a report signed in 2026 with a recomputation by today's code that way).

Public API: :data:`CURRENT`, :func:`schema_of`, :func:`upgrade`, :func:`report_as_signed`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .errors import WorkbenchError, one_line

__all__ = ["CURRENT", "RELEASED_VERIFY_PAGES", "UPGRADES", "bench_flag_v3", "flag_line_v2", "problem_line_v2", "report_as_signed", "schema_name", "schema_of", "sheet_as_signed",
           "status_v2", "upgrade"]

Data = dict[str, Any]
_SCHEMA = re.compile(r"^workbench\.(?P<kind>[a-z][a-z.-]*)/(?P<n>[1-9][0-9]{0,3})$")


# ---------------------------------------------------------------- score sheets

def _sheet_1_to_2(d: Data) -> Data:
    # /2 (851e0e3) bound the sheet's version and the hash of the version it replaces; a /1 sheet is a first version
    d.setdefault("version", 1)
    d.setdefault("supersedes", None)
    return d


def _sheet_2_to_3(d: Data) -> Data:
    # /3 (2acf733) added a user's pairwise votes; a /2 sheet has none
    d.setdefault("votes", [])
    return d


def _sheet_3_to_4(d: Data) -> Data:
    # /4 records findings as codes (benchmark and independence flags) and gives evidence problems their code;
    # a /3 sheet keeps its English lines as they were signed (read as text, never parsed back into codes)
    return d


# ---------------------------------------------------------------- signed reports

def _report_2_to_3(d: Data) -> Data:
    """``schema_version: 2`` (the integer convention, before this module) -> ``workbench.report/3``: the
    convention's field, the exclusions list that later /2 reports carry (empty in the earlier ones), no gate
    decision line (/3 words it from the counts beside it). Lines a /2 report holds as English text (problems,
    statuses, justifications) stay text, shown as signed: :func:`report_as_signed` compares them in that form,
    never by parsing them."""
    d.pop("schema_version", None)
    d.setdefault("exclusions", [])
    for row in d.get("scores", []):
        if isinstance(row, dict):
            row.setdefault("status_params", {})
    for g in d.get("gates", []):
        if isinstance(g, dict):
            g.pop("decision", None)  # /3 words it from the counts signed beside it
    return d


# the verify pages earlier releases published beside their reports (report/verify.html), by sha256: a report
# signed with one of these is checked by the page that was signed, which that release made
RELEASED_VERIFY_PAGES = {
    "5b989fac23bf2e5010602e5fd1b8ded066ccd288950ed5063edd9009ba2c2d54": "793404f (2026-11-30)",
    "8ea6075c6237b56ff51700f20b56e68d8c7ddd13624d525692d59021ba7f7cfe": "2fe994d (2026-12-04)",
}

# kind -> (current version, {n: upgrade from n to n + 1})
UPGRADES: dict[str, tuple[int, dict[int, Callable[[Data], Data]]]] = {
    "scoresheet": (4, {1: _sheet_1_to_2, 2: _sheet_2_to_3, 3: _sheet_3_to_4}),
    "report": (3, {2: _report_2_to_3}),
}
CURRENT = {kind: n for kind, (n, _) in UPGRADES.items()}
# documents written before the convention named their version by an integer field
_LEGACY_FIELD = {"report": "schema_version"}


def schema_name(kind: str, n: int | None = None) -> str:
    """``workbench.<kind>/<n>`` (the current version when ``n`` is not given)."""
    return f"workbench.{kind}/{CURRENT[kind] if n is None else n}"


def schema_of(data: Any, kind: str, name: str = "<document>") -> int:
    """The version of a ``kind`` document (JSON data), by the convention or its predecessor's integer field."""
    if not isinstance(data, dict):
        raise WorkbenchError(f"not a {kind} document: not a JSON object", file=name, expected=f"{schema_name(kind)}")
    given = data.get("schema")
    if given is None and kind in _LEGACY_FIELD and _LEGACY_FIELD[kind] in data:
        n = data[_LEGACY_FIELD[kind]]
        if isinstance(n, int) and not isinstance(n, bool) and n >= 1:
            return n
        given = n
    m = _SCHEMA.match(given) if isinstance(given, str) else None
    if m is None or m["kind"] != kind:
        raise WorkbenchError(f"not a {kind} document: schema {given!r}", file=name, place="schema",
                             expected=_readable(kind))
    return int(m["n"])


def _readable(kind: str) -> str:
    n, ups = UPGRADES[kind]
    return "one of " + ", ".join(schema_name(kind, v) for v in sorted({*ups, n}))


def upgrade(data: Any, kind: str, name: str = "<document>") -> Data:
    """A copy of ``data`` (a ``kind`` document of any released version) in the current version's shape, with
    ``schema`` set to it. Call it after verifying a signature, on the data the signature covers."""
    n = schema_of(data, kind, name)
    current, ups = UPGRADES[kind]
    if n != current and n not in ups:
        raise WorkbenchError(f"{kind} format {schema_name(kind, n)} is not one this workbench reads", file=name,
                             place="schema", expected=_readable(kind) + " (a newer workbench may read it)")
    out = copy.deepcopy(data)
    while n < current:
        out = ups[n](out)
        n += 1
    out["schema"] = schema_name(kind)
    return out


# ---------------------------------------------------------------- comparing with what was signed
# The writers below give the exact text earlier versions signed (their formats frozen here, never the
# catalogue's, whose words and precision may change): signed data is compared in its own form.

def problem_line_v2(f: Data) -> str:
    """A point problem (a :class:`~workbench.core.findings.Finding` as JSON data) as reports up to /2 and their
    acknowledgements wrote it: one English line."""
    p, code = f.get("params", {}), f.get("code")
    if code == "problem_no_benchmark_results":
        return f"{p['team']}: no benchmark results submitted: benchmark points 0"
    if code == "problem_evidence":
        q = p["problem"]
        return f"{p['team']}: {', '.join(p['criteria'])}: " + one_line(
            q.get("message", ""), file=q.get("file"), line=q.get("line"), place=q.get("place"), expected=q.get("expected"))
    if code == "problem_not_computed":
        return f"{p['team']}: {p['criterion']} not computed: scored 0"
    if code == "problem_no_user_answers":
        return f"{p['team']}: no user answers: user points 0"
    if code == "problem_stale_sheet":
        files = ", ".join(f"{x['path']} ({x['state']})" for x in p["files"])
        return (f"{p['team']}: {p['reviewer']} x {p['team']}: sheet v{p['version']} was made from {files} "
                "since: 'workbench rerun' makes new versions")
    raise ValueError(f"no /2 form of problem code {code!r}")


# the user evidence's and cost chart's flags and a dossier's notes as reports up to /2 (sheets up to /3) wrote them
_FLAGS_V2: dict[str, Callable[[Data], str]] = {
    "users_item_unanswered": lambda p: f"{p['item']}: no answers, scored 0",
    "users_item_blank": lambda p: f"{p['item']}: {p['n']} user(s) left it blank (not answered, left out of the mean)",
    "users_few": lambda p: "fewer than 2 users: the interval is not informative",
    "users_no_answers": lambda p: f"{p['team']}: no user answers, user points 0",
    "votes_not_fitted": lambda p: f"votes not fitted: {p['problem']['message']}",
    "alpha_undefined_sparse": lambda p: "undefined: needs 2+ users rating a team and more than one value used",
    "alpha_undefined_no_disagreement": lambda p: "undefined: no disagreement possible",
    "bt_unbounded": lambda p: (f"{p['failed']} of {p['resamples']} bootstrap resamples left a model unbounded and were "
                               "not used for the interval"),
    "cost_undeclared": lambda p: f"{p['team']}: no inference cost declared",
    "note_no_benchmark_results": lambda p: "no benchmark_results submitted: the computed benchmark criteria score 0",
    "note_no_reference_fingerprint": lambda p: ("weights submitted, but references.yaml names no reference "
                                                "fingerprint: provenance not computed"),
    "cost_units": lambda p: (f"inference costs are declared in different units ({'; '.join(p['units'])}): points per "
                             "cost are not comparable across teams"),
}


def flag_line_v2(f: Any) -> Any:
    """A user-evidence or cost flag (a finding as JSON data) as reports up to /2 wrote it (text stays text)."""
    if isinstance(f, dict) and f.get("code") in _FLAGS_V2:
        return _FLAGS_V2[f["code"]](f.get("params") or {})
    return f


def _users_v2(users: Any, cost: Any) -> None:
    if isinstance(users, dict):
        users["flags"] = [flag_line_v2(f) for f in users.get("flags", [])]
        survey = users.get("survey") or {}
        for t in survey.get("teams", []):
            t["flags"] = [flag_line_v2(f) for f in t.get("flags", [])]
        for a in survey.get("agreement", []):
            a["note"] = flag_line_v2(a["note"]) if a.get("note") else ""
        if isinstance(users.get("strengths"), dict):
            users["strengths"]["flags"] = [flag_line_v2(f) for f in users["strengths"].get("flags", [])]
    if isinstance(cost, dict):
        cost["flags"] = [flag_line_v2(f) for f in cost.get("flags", [])]


def status_v2(code: str, p: Data) -> str:
    """A team's status as reports up to /2 wrote it."""
    if code == "tie":
        return "tie at cut line (committee decides)"
    if code in ("excluded", "not_selected"):
        return (f"excluded by gate ({p['criterion']}: excluded: {p['k']} of {p['n']} give an excluding verdict)"
                if code == "excluded" else f"not selected ({p['criterion']}: not approved: {p['k']} of {p['n']} approve "
                "(more than half needed; a tie fails))")
    if code == "below":
        return f"below threshold ({p['criterion']}: {p['got']:.0%} of its maximum, {p['need']:.0%} required)"
    if code == "incomplete":
        return f"incomplete ({p['got']} of {p['need']} expert sheets)"
    return code  # ranked, advances, eliminated: the code was the word


def _gate_v2(g: Data) -> Data:
    g["justifications"] = [f"{j['reviewer']} ({j['verdict']}): {j['comment']}" if isinstance(j, dict) else j
                           for j in g["justifications"]]
    return g


def report_as_signed(recomputed: Data, signed_version: int) -> Data:
    """A recomputed report (current shape, JSON data) in the shape of a report signed as ``signed_version`` and
    read by :func:`upgrade`: the values /2 signed as English text (problems, team statuses, gate decisions and
    justifications) as that version wrote them, and the records added since (the codes of evidence problems)
    left out. Equal to the upgraded signed report exactly when the signed one says the same."""
    out = copy.deepcopy(recomputed)
    if signed_version >= CURRENT["report"]:
        return out
    out["problems"] = [problem_line_v2(f) for f in out.get("problems", [])]
    if isinstance(out.get("acknowledged"), dict):
        out["acknowledged"]["problems"] = [problem_line_v2(f) for f in out["acknowledged"]["problems"]]
    for row in out.get("scores", []):
        row["status"] = status_v2(row["status"], row.get("status_params", {}))
        row["status_params"] = {}
    out["gates"] = [_gate_v2(g) for g in out.get("gates", [])]
    for ev in out.get("evidence", {}).values():
        _evidence_v3(ev)
    _users_v2(out.get("users"), out.get("cost_efficiency"))
    return out


def _drop_codes(evidence: Any) -> None:
    """Remove the codes of an evidence block's problems (added by scoresheet/4 and report/3), in place."""
    if not isinstance(evidence, dict):
        return
    for p in [*evidence.get("problems", []), *(pp.get("problem", {}) for pp in evidence.get("point_problems", [])
                                                 if isinstance(pp, dict))]:
        if isinstance(p, dict):
            p.pop("code", None)
            p.pop("params", None)


def bench_flag_v3(f: Data) -> str:
    """A benchmark flag (a finding as JSON data) as sheets up to /3 wrote it: one English line."""
    p, code = f.get("params", {}), f.get("code")
    if code == "bench_missing":
        return f"{p['benchmark']}: no result submitted, scored 0"
    if code == "bench_exact":
        return f"{p['benchmark']}: no standard error or item count, treated as exact"
    if code == "bench_noise":
        return (f"{p['benchmark']}: misses its reference {p['reference']:.4g} but the {p['confidence']:.0%} interval "
                f"[{p['low']:.4g}, {p['high']:.4g}] reaches it: the miss may be noise")
    raise ValueError(f"no /3 form of benchmark flag {code!r}")


def _evidence_v3(ev: Any) -> None:
    """An evidence block (a dossier's summary) as sheets up to /3 and reports up to /2 held it, in place."""
    if not isinstance(ev, dict):
        return
    _drop_codes(ev)
    if isinstance(ev.get("notes"), list):
        ev["notes"] = [flag_line_v2(n) for n in ev["notes"]]
    for cp in (ev.get("benchmark_points") or {}).values():
        _points_v3(cp)
    if isinstance(ev.get("independence_flags"), list):
        from .findings import Finding  # its English is the one /3 sheets recorded (the catalogue keeps it)

        ev["independence_flags"] = [Finding.model_validate(f).text("en") if isinstance(f, dict) else f
                                    for f in ev["independence_flags"]]


def _points_v3(cp: Any) -> None:
    if isinstance(cp, dict) and isinstance(cp.get("flags"), list):
        cp["flags"] = [bench_flag_v3(f) if isinstance(f, dict) else f for f in cp["flags"]]


def sheet_as_signed(recomputed: Data, signed_version: int) -> Data:
    """A re-run sheet (current shape, JSON data) in the shape of a sheet signed as ``signed_version`` and read
    by :func:`upgrade`: findings as the English lines /3 signed (benchmark and independence flags), and the
    records added since (the codes of evidence problems, /4) left out."""
    out = copy.deepcopy(recomputed)
    if signed_version < 4:
        _evidence_v3(out.get("evidence"))
        for c in (out.get("computed") or {}).values():
            _points_v3(c.get("detail") if isinstance(c, dict) else None)
    return out
