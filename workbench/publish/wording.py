"""How the published report says things in words, in Korean or English: criterion titles instead of ids,
results, gate rules and decisions, amendments and evidence flags as sentences, and every figure at the one
rounding people read (:func:`workbench.core.base.shown`).

Everything here reads the signed report data (:class:`~workbench.publish.aggregate.ReportData` as JSON) and the
round's rubrics; it computes nothing new. What the aggregate and the evidence decide (a team's status, a
gate decision, an evidence flag, a problem) is signed as a code with parameters and worded here by the message
catalogue, with criterion titles and benchmark names in this language; nothing is read back from words.
Text a report signed before codes (``workbench.report/2``) holds is shown as it was signed; a reviewer's or
coordinator's own words are quoted as written.

Public API: :class:`Wording`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..core.base import shown
from ..core.errors import WorkbenchError
from ..core.findings import Finding, problem_text
from ..core.messages import MESSAGES, msg
from ..model.round import title_in
from ..model.rubric import GateScale, Rubric

__all__ = ["Wording"]

VERDICTS = ("identical", "derived", "no_evidence", "uninformative", "cannot_tell")
KST = timezone(timedelta(hours=9), "KST")  # Korea keeps no daylight saving time
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


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

    def justification(self, cid: str, j: Mapping[str, Any] | str) -> str:
        """A reviewer's gate verdict with its label from the rubric and their own words, quoted as written (a
        line signed as text before codes is shown as it is)."""
        if isinstance(j, str):
            return j
        return self.t("justification", reviewer=j["reviewer"], verdict=self.verdict_label(cid, j["verdict"]),
                      comment=j["comment"])

    def status(self, row: Mapping[str, Any], gates: list[Mapping[str, Any]] | None = None) -> str:
        """A team's result (its status code and values): advances, eliminated, or why it is not ranked, in words;
        a status signed as text before codes is shown as it is."""
        code = f"status_{row['status']}"
        if code not in MESSAGES:
            return str(row["status"])
        return self.finding({"code": code, "params": row.get("status_params") or {}})

    def finding(self, f: Mapping[str, Any] | str, names: Mapping[str, str] | None = None) -> str:
        """A finding (code and params, JSON data) in words, criteria by their titles and benchmarks by their
        names in this language (``names``: benchmark id -> name); a line signed as text is shown as it is."""
        if isinstance(f, str):
            return f
        params = dict(f.get("params") or {})
        if isinstance(params.get("criterion"), str):
            params["criterion"] = self.title(params["criterion"])
        if isinstance(params.get("criteria"), list):
            params["criteria"] = [self.title(c) for c in params["criteria"]]
        if names and params.get("benchmark") in names:
            params["benchmark"] = names[params["benchmark"]]
        if isinstance(params.get("verdict"), str):
            params["verdict"] = self.weight_verdict(params["verdict"])
        return Finding(code=f["code"], params=params).text(self.lang)

    def problem(self, p: Mapping[str, Any]) -> str:
        """An evidence problem (:class:`~workbench.core.errors.Problem` as JSON data) in words."""
        return problem_text(p, self.lang)

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
        part = path.removeprefix("rules.points.")
        if path.startswith("rules.points.") and part in ("benchmark", "expert", "user"):
            return self.t("am_points", part=self.t(f"r_part_{part}"), old=old, new=new)
        if old is None:
            return self.t("am_added", path=path, new=_short(new))
        if new is None:
            return self.t("am_removed", path=path, old=_short(old))
        return self.t("am_changed", path=path, old=_short(old), new=_short(new))

    # -- evidence
    def flag(self, f: Mapping[str, Any] | str, names: Mapping[str, str] | None = None) -> str:
        """An evidence flag (a finding) in words; ``names`` maps benchmark ids to their names in this language."""
        return self.finding(f, names)


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
