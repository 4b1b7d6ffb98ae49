"""Test helper: a minimal round folder for the reviewer notebook (the real one comes from `workbench round init`).

It follows the round-folder contract: rules.yaml, frozen rubric copies, a roster with generated keys, one team
with two evidence files (and one declared file that is missing), assignments and answers files. Keys live
outside the round, as a reviewer's key would.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from judgments import demo_judgments

from workbench.core.signing import generate_keypair, load_public_key
from workbench.model.rubric import load_rubric
from workbench.round.lifecycle import init_round

ROOT = Path(__file__).resolve().parent.parent
TEAM = "team-aurora"
EXPERT = "expert-01"
USER = "user-01"


@dataclass(frozen=True)
class Kit:
    round_dir: Path
    keys: Path
    expert_key: Path
    user_key: Path

    def answers(self, reviewer: str) -> Path:
        return self.round_dir / "answers" / reviewer / f"{TEAM}.yaml"


def _dump(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def answers_for(rubric) -> dict:
    """Complete answers for a rubric (deterministic, via the demo's judgments)."""
    js = demo_judgments(rubric)
    return {
        "judgments": {cid: j.model_dump(exclude_none=True) for cid, j in js.items()},
        "coi": {"has_conflict": False, "statement": ""},
    }


def make_round(base: Path, passphrase: bytes | None = None, demo_evidence: bool | str = False) -> Kit:
    """Write a round under ``base/round`` (via ``init_round``) and keys under ``base/keys``.

    By default the team submits two small files (one unreadable as results) and declares a missing one;
    with ``demo_evidence`` it submits the demo's complete evidence for team-aurora, with the reference model
    (``demo_evidence="team-cheonma"``: that demo team's evidence, under the round's one team id).
    """
    rd, keys = base / "round", base / "keys"
    ck, cp = generate_keypair("coordinator", keys)
    # one expert and one team: rules that can work with them (freeze refuses a min_reviewers, trim or cut that cannot)
    init_round(rd, round_id="test-2026-stage1", stage=1, rubrics_dir=ROOT / "rubrics", coordinator_id="coordinator",
               coordinator_key=load_public_key(cp),
               rules_overrides={"cut": 1, "aggregation": {"expert": "mean", "trim": 0, "min_reviewers": 1}})
    ek, ep = generate_keypair(EXPERT, keys, passphrase)
    uk, up = generate_keypair(USER, keys, passphrase)
    _dump(rd / "roster.yaml", {"reviewers": [
        {"id": "coordinator", "role": "coordinator", "name": "", "public_key": cp.read_text(), "coi": []},
        {"id": EXPERT, "role": "expert", "name": "Expert One", "public_key": ep.read_text(), "coi": []},
        {"id": USER, "role": "user", "name": "User One", "public_key": up.read_text(), "coi": []},
    ]})
    _dump(rd / "teams.yaml", {"teams": [{
        "id": TEAM, "name": "Aurora (fictional)", "model": "Aurora-32B", "active_params_b": 32,
        "total_params_b": 32, "target_model": "Frontier-X",
        "targets": {"kmmlu": 60.0, "gsm8k": 80.0, "textvqa": 70.0, "docvqa": 75.0},
        "individual_benchmarks": ["textvqa", "docvqa"],
        # the results file is not in a supported format and the weights are missing: both are shown as
        # evidence problems, never a crash
        "evidence": {"benchmark_results": "benchmarks.json", "training_log": "logs/train.jsonl",
                     "weights": "weights/model.safetensors"},
    }]})
    _dump(rd / "assignments.yaml", {"assignments": [{"reviewer": EXPERT, "team": TEAM}, {"reviewer": USER, "team": TEAM}]})
    ev = rd / "evidence" / TEAM
    if demo_evidence:
        demo = ROOT / "data" / "demo"
        source = demo_evidence if isinstance(demo_evidence, str) else TEAM
        team = next(t for t in yaml.safe_load((demo / "teams.yaml").read_text())["teams"] if t["id"] == source)
        _dump(rd / "teams.yaml", {"teams": [{**team, "id": TEAM}]})
        shutil.copytree(demo / "evidence" / source, ev)
        shutil.copytree(demo / "references", rd / "references")
    else:
        _write_small_evidence(ev)
    _dump(rd / "answers" / EXPERT / f"{TEAM}.yaml", answers_for(load_rubric(rd / "rubrics" / "expert.yaml")))
    _dump(rd / "answers" / USER / f"{TEAM}.yaml", answers_for(load_rubric(rd / "rubrics" / "user.yaml")))
    return Kit(rd, keys, ek, uk)


def _write_small_evidence(ev: Path) -> None:
    (ev / "logs").mkdir(parents=True)
    (ev / "benchmarks.json").write_text('{"kmmlu": 58.1, "gsm8k": 79.0}\n')
    (ev / "logs" / "train.jsonl").write_text('{"step": 0, "loss": 11.2}\n{"step": 100, "loss": 6.1}\n')


def fill_like_a_person(form, answers: dict) -> None:
    """Set every widget of a :class:`ScoringForm` one by one, as clicks and typing would."""
    for cid, a in answers["judgments"].items():
        ctl = form.controls[cid]
        ctl.choice.value = a.get("verdict", a.get("level"))
        ctl.comment.value = a.get("comment", "")
    form.coi_choice.value = answers["coi"]["has_conflict"]
    form.coi_statement.value = answers["coi"]["statement"]
