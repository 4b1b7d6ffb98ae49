"""The embedded demo: runs what the workbench does end to end on fictional data.

Everything in the demo is fictional. It checks the shipped rubrics, creates demo keys, builds a score
sheet for a fictional team, signs it and verifies the signature, printing each step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .errors import WorkbenchError
from .files import atomic_write_bytes
from .rubric import AnchoredScale, GateScale, Rubric, check_files
from .sheet import COI, Judgment, Reviewer, build_sheet, sheet_bytes, validate_sheet
from .signing import (
    SHEET_TYPE,
    envelope_bytes,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign_payload,
    verify_envelope,
)

__all__ = ["default_rubrics_dir", "demo_judgments", "run_demo"]


def default_rubrics_dir() -> Path:
    """The shipped rubrics: ``$WORKBENCH_RUBRICS``, else ``rubrics/`` beside the package in a checkout."""
    env = os.environ.get("WORKBENCH_RUBRICS")
    d = Path(env) if env else Path(__file__).resolve().parent.parent / "rubrics"
    if not d.is_dir():
        raise WorkbenchError("rubrics folder not found", file=d, expected="set WORKBENCH_RUBRICS to the rubrics/ folder")
    return d


def demo_judgments(rubric: Rubric, seed: int = 0) -> dict[str, Judgment]:
    """Deterministic, plausible judgments for every person-scored criterion of ``rubric``."""
    out: dict[str, Judgment] = {}
    for i, (_, c) in enumerate(rubric.criteria()):
        if isinstance(c.scale, AnchoredScale):
            values = [lv.value for lv in c.scale.levels]
            level = values[-2 - (i + seed) % 2]  # the second or third level from the top
            comment = "" if not c.needs_comment(level) else f"Demo justification for {c.id}."
            out[c.id] = Judgment(level=level, comment=comment)
        elif isinstance(c.scale, GateScale):
            out[c.id] = Judgment(verdict=c.scale.options[0].value, comment="Demo: evidence reviewed, no reuse found.")
    return out


def run_demo(out: str | Path, echo: Callable[[str], None] = print) -> Path:
    """Run the demo into folder ``out`` and return the signed sheet's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rubric_files = sorted(default_rubrics_dir().glob("*.yaml"))
    rubrics, problems = check_files(rubric_files)
    if problems:
        raise problems[0]
    for r in rubrics:
        echo(f"rubric ok: {r.id} {r.version}, {r.total_points:g} points, sha256 {r.sha256[:16]}")
    expert = next(r for r in rubrics if r.part == "expert")

    keys = out / "keys"
    if not (keys / "expert-01.key").exists():
        generate_keypair("expert-01", keys)
    priv = load_private_key(keys / "expert-01.key")
    pub = load_public_key(keys / "expert-01.pub")
    echo(f"demo key: {keys / 'expert-01.key'} (id {key_id(pub)[:16]})")

    sheet = build_sheet(
        expert,
        round_id="demo-2026-stage1",
        team_id="team-aurora",
        reviewer=Reviewer(id="expert-01", role="expert", key_id=key_id(pub)),
        judgments=demo_judgments(expert),
        coi=COI(has_conflict=False),
        parameters={"lang": "en"},
    )
    validate_sheet(sheet, expert)
    echo(f"sheet built: team-aurora by expert-01, total {sheet.totals.total:g} / {sheet.totals.max:g}")
    env = sign_payload(sheet_bytes(sheet), SHEET_TYPE, priv)
    path = atomic_write_bytes(out / "sheets" / "expert-01" / "team-aurora.v1.dsse.json", envelope_bytes(env))
    verify_envelope(path.read_bytes(), pub, SHEET_TYPE, str(path))
    echo(f"signed and verified: {path}")
    return path
