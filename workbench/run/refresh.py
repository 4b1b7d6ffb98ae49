"""Evidence that changed after sheets were signed: find those sheets, re-run exactly their notebooks.

A sheet records the SHA-256 of every input it was made from. When a team's evidence is fixed after the
batch (a corrected results file, say), the accepted sheets made from the old file no longer describe the
round: :func:`stale_sheets` finds them, and the aggregate refuses to sign while any remain
(:func:`workbench.publish.aggregate.point_problems`). :func:`rerun_changed` is the one documented way out:

1. it re-runs exactly those notebooks through the batch (answers files and keys: a new sheet version,
   chained to the old one; a reviewer without an answers file gets a fresh notebook and must sign again);
2. it records a ``rerun`` ledger entry naming every changed file (old and new hash) and every sheet re-run;
3. it collects the new versions.

Public API: :class:`StaleSheet`, :func:`stale_sheets`, :func:`rerun_changed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.base import Model
from ..core.files import canonical_json, sha256_bytes, sha256_file
from ..model.round import Round, load_round, require_coordinator
from ..model.sheet import ScoreSheet
from ..round import ledger
from ..round.collect import CollectResult, accepted_sheets, collect
from ..round.lifecycle import check_frozen
from .batch import TaskResult, run_batch

__all__ = ["StaleSheet", "rerun_changed", "stale_sheets"]


class StaleSheet(Model):
    """An accepted sheet version made from inputs that have changed since: path -> (signed, now) sha256."""

    reviewer: str
    team: str
    version: int
    changed: dict[str, tuple[str, str | None]]

    def line(self) -> str:
        """One line for people: who, which version, which files changed."""
        files = ", ".join(f"{p} ({'removed' if now is None else 'changed'})" for p, (_, now) in sorted(self.changed.items()))
        return f"{self.reviewer} x {self.team}: sheet v{self.version} was made from {files}"


def stale_sheets(r: Round, sheets: Mapping[tuple[str, str], ScoreSheet] | None = None) -> list[StaleSheet]:
    """The accepted sheets (``sheets``, else :func:`~workbench.round.collect.accepted_sheets`) whose inputs changed."""
    if sheets is None:
        sheets = accepted_sheets(r)[0]
    now: dict[str, str | None] = {}
    out = []
    for (rev, team), s in sorted(sheets.items()):
        changed = {}
        for inp in s.inputs:
            if inp.path not in now:
                f = r.path / inp.path
                now[inp.path] = sha256_file(f) if f.is_file() else None
            if now[inp.path] != inp.sha256:
                changed[inp.path] = (inp.sha256, now[inp.path])
        if changed:
            out.append(StaleSheet(reviewer=rev, team=team, version=s.version, changed=changed))
    return out


def rerun_changed(round_dir: str | Path, key: Ed25519PrivateKey, actor: str, *, keys_dir: str | Path | None = None,
                  notebook: str | Path | None = None, jobs: int = 2, executor: str = "local", lang: str | None = None,
                  progress: bool = True) -> tuple[list[StaleSheet], list[TaskResult], list[CollectResult]]:
    """Re-run the notebooks of every stale sheet, record it in the ledger, and collect the new versions.

    Returns the stale sheets found, the batch results of their notebooks and the collection's decisions
    (empty lists when nothing changed).
    """
    r = load_round(round_dir)
    check_frozen(r)
    require_coordinator(r, actor, key)
    sheets = accepted_sheets(r)[0]
    stale = stale_sheets(r, sheets)
    if not stale:
        return [], [], []
    # exactly the stale sheets a notebook made: a user's sheet signed from a survey export (workbench users
    # sign) was made by no notebook, and its user signs again; no other assignment runs
    pairs = {(s.reviewer, s.team) for s in stale if "survey_sha256" not in sheets[(s.reviewer, s.team)].parameters}
    results = [res for res in run_batch(r.path, notebook=notebook, keys_dir=keys_dir, jobs=jobs, executor=executor,
                                        lang=lang, progress=progress, again=pairs, only=pairs)
               if (res.reviewer, res.team) in pairs] if pairs else []
    files: dict[str, dict[str, Any]] = {}
    for s in stale:
        for p, (old, new) in s.changed.items():
            files[p] = {"old": old, "new": new}
    data = {"files": dict(sorted(files.items())),
            "sheets": [{"reviewer": s.reviewer, "team": s.team, "version": s.version} for s in stale],
            "results": {f"{res.reviewer}/{res.team}": res.state for res in results}}
    ledger.append(r.ledger_path, actor=actor, key=key, type="rerun", payload_sha256=sha256_bytes(canonical_json(data)),
                  data=data)
    return stale, results, collect(r.path, key, actor)
