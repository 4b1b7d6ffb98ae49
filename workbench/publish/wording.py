"""How the published report says things in words, in Korean or English: criterion titles instead of ids,
results, gate rules and decisions, amendments and evidence flags as sentences, and every figure at the one
rounding people read (:func:`workbench.core.base.shown`).

Everything here reads the signed report data (:class:`~workbench.publish.aggregate.ReportData` as JSON) and the
round's rubrics; it computes nothing new. Lines the aggregate and the evidence write in English for the
console (a team's status, a gate decision, an evidence flag) are re-said from the structured fields next to
them where there are any, else recognised by their fixed shape; a line of an unknown shape is shown as it
is, never dropped.

Public API: :class:`Wording`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..core.base import shown
from ..core.errors import WorkbenchError
from ..core.messages import msg
from ..model.round import title_in
from ..model.rubric import GateScale, Rubric

__all__ = ["Wording"]

_BELOW = re.compile(r"^below threshold \((?P<crit>[^:]+): (?P<got>\d+%) of its maximum, (?P<need>\d+%) required\)$")
_INCOMPLETE = re.compile(r"^incomplete \((?P<got>\d+) of (?P<need>\d+) expert sheets\)$")
_JUSTIFICATION = re.compile(r"^(?P<who>\S+) \((?P<verdict>[a-z_]+)\): (?P<text>.*)$", re.S)
_NOISE = re.compile(r"^(?P<bench>\S+): misses its reference (?P<ref>\S+) but the (?P<conf>\d+%) interval "
                    r"\[(?P<lo>[^,]+), (?P<hi>[^\]]+)\] reaches it: the miss may be noise$")
_EXACT = re.compile(r"^(?P<bench>\S+): no standard error or item count, treated as exact$")
_FLAGS = (
    (re.compile(r"^(?P<component>\S+) (?P<verdict>identical|derived) from (?P<reference>.+) "
                r"\((?P<share>[\d.]+%) of parameters\)$"), "fl_copied"),
    (re.compile(r"^undeclared weights use: (?P<component>\S+) \((?P<reference>.+)\)$"), "fl_undeclared"),
    (re.compile(r"^licence flag (?P<kind>\S+): (?P<n>\d+) component\(s\)$"), "fl_licence"),
    (re.compile(r"^tokenizer shares (?P<share>\d+%) of the larger vocabulary with (?P<reference>.+) "
                r"\(same-family range\)$"), "fl_tokenizer"),
    (re.compile(r"^training log: (?P<message>.*)$", re.S), "fl_training"),
)
VERDICTS = ("identical", "derived", "no_evidence", "uninformative", "cannot_tell")
KST = timezone(timedelta(hours=9), "KST")  # Korea keeps no daylight saving time
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _score(text: str) -> str:
    """A benchmark score (0-1) as every page shows one: three decimals ("0.4606" and "0.38" were side by side)."""
    try:
        return shown(float(text), 3)
    except ValueError:
        return text


class Wording:
    """The report's words in one language, with the round's rubrics for criterion titles and verdict labels."""

    def __init__(self, rubrics: Mapping[str, Rubric], lang: str) -> None:
        self.lang = lang
        self._criteria = {c.id: c for r in rubrics.values() for _, c in r.criteria()}

    def t(self, key: str, **params: object) -> str:
        """The message ``key`` in this language."""
        return msg(key, self.lang, **params)

    @staticmethod
    def num(x: float | None, digits: int = 1) -> str:
        """A figure as people read it (the report's one rounding)."""
        return shown(x, digits)

    def time(self, iso: str | None) -> str:
        """A signed UTC time (``2026-12-04T16:57:45Z``) as a reader of this language expects it: Korean Standard
        Time in words for Korean (``2026년 12월 5일 오전 1시 57분 (한국 시간)``), KST with UTC beside it in English.
        Text that is not such a time is shown as it is."""
        try:
            t = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
        except ValueError:
            return str(iso or "")
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        k = t.astimezone(KST)
        if self.lang == "ko":
            half = "오전" if k.hour < 12 else "오후"
            return f"{k.year}년 {k.month}월 {k.day}일 {half} {k.hour % 12 or 12}시 {k.minute:02d}분 (한국 시간)"
        u = t.astimezone(UTC)
        return f"{k.day} {MONTHS[k.month - 1]} {k.year}, {k:%H:%M} KST ({u:%H:%M} UTC)"  # no locale involved

    def round_title(self, rules: Mapping[str, Any]) -> str:
        """The round's title (signed rules data) in this language."""
        return title_in(rules.get("title", ""), self.lang)

    def title(self, cid: str) -> str:
        """A criterion's title from its rubric (the id itself only for a criterion no rubric names)."""
        c = self._criteria.get(cid)
        return c.title.get(self.lang) if c is not None else cid

    def titles(self, cids: list[str]) -> str:
        """Criterion titles, comma-separated."""
        return ", ".join(self.title(c) for c in cids)

    def parts(self, parts: list[str]) -> str:
        """Parts (benchmark, expert, user) in words, comma-separated, in the order given."""
        return ", ".join(self.t(f"r_part_{p}") if p in ("benchmark", "expert", "user") else p for p in parts)

    def thresholds(self, thresholds: list[Mapping[str, Any]]) -> str:
        """The rules' thresholds as one phrase (each with its own text, when it has one)."""
        return "; ".join(self.t("r_threshold_item", criterion=self.title(th["criterion"]), share=shown(100 * th["min_share"]))
                         + (f" ({th['text']})" if th.get("text") else "") for th in thresholds)

    def verdict_label(self, cid: str, value: str) -> str:
        """A gate verdict's label from the rubric (``pass`` -> 통과)."""
        c = self._criteria.get(cid)
        if c is not None and isinstance(c.scale, GateScale):
            for o in c.scale.options:
                if o.value == value:
                    return o.label.get(self.lang)
        return value

    def weight_verdict(self, verdict: str) -> str:
        """A weight-provenance verdict (``no_evidence``) in words."""
        return self.t(f"v_{verdict}") if verdict in VERDICTS else verdict

    # -- results and gates
    def gate_rule(self, rule: str) -> str:
        return self.t("gate_rule_approve" if rule == "majority_approve" else "gate_rule_majority")

    def gate_decision(self, g: Mapping[str, Any]) -> str:
        """A gate row's decision as a sentence with its counts."""
        n, excluding = int(g["n"]), int(g["excluding"])
        if g["rule"] == "majority_approve":
            return self.t("gate_not_approved" if g["excluded"] else "gate_approved", n=n, k=n - excluding)
        return self.t("gate_excluded" if g["excluded"] else "gate_kept", n=n, k=excluding)

    def justification(self, cid: str, line: str) -> str:
        """``expert-01 (fail): text`` with the verdict's label (the reviewer's own text stays as written)."""
        m = _JUSTIFICATION.match(line)
        if not m:
            return line
        return f"{m['who']} ({self.verdict_label(cid, m['verdict'])}): {m['text']}"

    def status(self, row: Mapping[str, Any], gates: list[Mapping[str, Any]]) -> str:
        """A team's result: advances, eliminated, or why it is not ranked, in words."""
        s = str(row["status"])
        if s == "advances":
            return self.t("st_advances")
        if s == "eliminated":
            return self.t("st_eliminated")
        if s.startswith("tie at cut line"):
            return self.t("st_tie")
        if s.startswith(("excluded by gate", "not selected")):
            g = next((g for g in gates if g["team"] == row["team"] and g["excluded"]), None)
            if g is not None:  # one sentence: the criterion and the count, not a gate label then a decision label
                n, excluding = int(g["n"]), int(g["excluding"])
                approve = g["rule"] == "majority_approve"
                return self.t("st_not_selected" if approve else "st_excluded", criterion=self.title(g["criterion"]),
                              n=n, k=n - excluding if approve else excluding)
        if m := _BELOW.match(s):
            return self.t("st_below", criterion=self.title(m["crit"]), got=m["got"], need=m["need"])
        if m := _INCOMPLETE.match(s):
            return self.t("st_incomplete", got=m["got"], need=m["need"])
        return s

    # -- amendments
    def amendment_changes(self, changes: list[Mapping[str, Any]]) -> list[str]:
        """Each change of an amendment as a sentence (a change of unknown shape: path, old and new)."""
        return [self._change(str(c["path"]), c.get("old"), c.get("new")) for c in changes]

    def _change(self, path: str, old: Any, new: Any) -> str:
        if path == "rules.cut":
            return self.t("am_cut", old=old, new=new)
        if path.startswith("rules.decision_rules"):
            if old is None and isinstance(new, dict):
                return self.t("am_rule_added", text=new.get("text", new.get("id", "")))
            if new is None and isinstance(old, dict):
                return self.t("am_rule_removed", text=old.get("text", old.get("id", "")))
        if path.startswith("teams.teams") or path.startswith("teams["):
            if old is None and isinstance(new, dict):
                return self.t("am_team_added", name=new.get("name", new.get("id", "")))
            if new is None and isinstance(old, dict):
                return self.t("am_team_removed", name=old.get("name", old.get("id", "")))
        if m := re.fullmatch(r"rules\.points\.(benchmark|expert|user)", path):
            return self.t("am_points", part=self.t(f"r_part_{m[1]}"), old=old, new=new)
        if old is None:
            return self.t("am_added", path=path, new=_short(new))
        if new is None:
            return self.t("am_removed", path=path, old=_short(old))
        return self.t("am_changed", path=path, old=_short(old), new=_short(new))

    # -- evidence
    def flag(self, text: str, names: Mapping[str, str] | None = None) -> str:
        """An evidence flag in words; ``names`` maps benchmark ids to their names in this language."""
        if m := _EXACT.match(text):
            return self.t("fl_exact", bench=(names or {}).get(m["bench"], m["bench"]))
        if m := _NOISE.match(text):
            bench = (names or {}).get(m["bench"], m["bench"])
            return self.t("fl_noise", bench=bench, conf=m["conf"],
                          **{k: _score(m[k]) for k in ("ref", "lo", "hi")})
        for pattern, key in _FLAGS:
            if m := pattern.match(text):
                params = m.groupdict()
                if "verdict" in params:
                    params["verdict"] = self.weight_verdict(params["verdict"])
                return self.t(key, **params)
        return text


def _short(v: Any, limit: int = 120) -> str:
    """A changed value as a person reads it: a record as ``key: value`` pairs, a list comma-separated, a public
    key by its id (never a Python repr with braces and quotes, never a PEM block)."""
    if isinstance(v, str):
        s = _key_name(v) if v.startswith("-----BEGIN") else v
    elif isinstance(v, Mapping):
        s = ", ".join(f"{k}: {_key_name(x) if k == 'public_key' and isinstance(x, str) else _short(x, limit)}"
                      for k, x in v.items() if x not in (None, "", [], {}))
    elif isinstance(v, list | tuple):
        s = "[" + ", ".join(_short(x, limit) for x in v) + "]"
    else:
        s = str(v)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _key_name(pem: str) -> str:
    from ..core.signing import key_id, public_key_from_pem

    try:
        return "key " + key_id(public_key_from_pem(pem))[:16]
    except WorkbenchError:
        return "(an unreadable key)"
