"""Generate the embedded demo round's inputs under data/demo/ (fictional; deterministic, seeded).

    python data/make_demo.py            # rewrites data/demo/ from the seed below

Writes:
- teams.yaml: 5 fictional consortia, their models, targets and individual benchmarks;
- evidence/<team>/benchmark_points.json: precomputed benchmark points (stand-in for the benchmark evidence
  module), and a short technical-report.md;
- answers/expert-0N/<team>.yaml: each of 5 experts' judgments of each team (expert rubric), for batches
  without a person. Team 'team-cheonma' reused a foreign vision encoder: 3 of 5 experts give the
  independence gate 'fail', so it is excluded whatever its points;
- users/survey.csv (user_id, team, item, value, comment) and users/votes.csv (user_id, prompt_id, model_a,
  model_b, winner) from 49 user evaluators.

Every value follows from SEED and each team's fictional 'quality'; nothing here is real data.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.rubric import AnchoredScale, GateScale, load_rubric  # noqa: E402

SEED = 20260115
OUT = ROOT / "data" / "demo"
N_EXPERTS = 5
N_USERS = 49

TEAMS = [
    # id, name, model, active B, total B, target, individual benchmarks, quality
    ("team-aurora", "Aurora Consortium", "Aurora-70B", 70, 70, "Frontier-A 70B", ["textvqa", "docvqa"], 0.86),
    ("team-baekdu", "Baekdu AI", "Baekdu-MoE-100B", 12, 100, "Frontier-B MoE", ["humaneval-ko", "mbpp"], 0.78),
    ("team-cheonma", "Cheonma Labs", "Cheonma-VL-32B", 32, 32, "Frontier-C VL", ["textvqa", "chartqa"], 0.80),
    ("team-daehan", "Daehan Foundation", "Daehan-14B", 14, 14, "Frontier-D 14B", ["kmmlu-hard", "gsm8k-ko"], 0.64),
    ("team-eoullim", "Eoullim Alliance", "Eoullim-8B", 8, 8, "Frontier-E 8B", ["ifeval-ko", "mt-bench-ko"], 0.55),
]
COPIED_ENCODER = "team-cheonma"
HARSH_EXPERT = "expert-05"  # scores one level lower: shows up in the spread, not as an error


def _level(rng: np.random.Generator, q: float, lo: int, hi: int, offset: int = 0) -> int:
    return int(np.clip(round(lo + (hi - lo) * q + rng.normal(0, 0.6)) + offset, lo, hi))


def main() -> None:
    rng = np.random.default_rng(SEED)
    expert = load_rubric(ROOT / "rubrics" / "expert.yaml")
    user = load_rubric(ROOT / "rubrics" / "user.yaml")
    bench = load_rubric(ROOT / "rubrics" / "benchmark.yaml")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)

    teams = []
    for tid, name, model, active, total, target, indiv, q in TEAMS:
        teams.append({"id": tid, "name": name, "model": model, "active_params_b": active, "total_params_b": total,
                      "target_model": target, "targets": {"kmmlu": round(60 + 20 * q, 1), "gsm8k": round(70 + 20 * q, 1)},
                      "individual_benchmarks": indiv,
                      "evidence": {"benchmark_points": "benchmark_points.json", "technical_report": "technical-report.md"}})
        ev = OUT / "evidence" / tid
        ev.mkdir(parents=True)
        pts = {c.id: round(c.points * float(np.clip(q + 0.12 + rng.normal(0, 0.05), 0, 1)), 2) for _, c in bench.criteria()}
        (ev / "benchmark_points.json").write_text(json.dumps({"points": pts}, indent=2, sort_keys=True) + "\n")
        note = ("The vision encoder was initialised from a foreign open model's weights and fine-tuned."
                if tid == COPIED_ENCODER else "All components were trained from scratch.")
        (ev / "technical-report.md").write_text(f"# {model} technical report (fictional)\n\n{note}\n")
    (OUT / "teams.yaml").write_text(yaml.safe_dump({"teams": teams}, allow_unicode=True, sort_keys=False))

    for e in range(1, N_EXPERTS + 1):
        eid = f"expert-{e:02d}"
        for tid, *_, q in TEAMS:
            judgments = {}
            for _, c in expert.criteria():
                if isinstance(c.scale, AnchoredScale):
                    values = [lv.value for lv in c.scale.levels]
                    lv = _level(rng, q, min(values), max(values), -1 if eid == HARSH_EXPERT else 0)
                    judgments[c.id] = {"level": lv, "comment": f"{eid}: level {lv} from the technical report and logs."}
                elif isinstance(c.scale, GateScale):
                    fail = tid == COPIED_ENCODER and e <= 3
                    concern = tid == COPIED_ENCODER and not fail
                    judgments[c.id] = {
                        "verdict": "fail" if fail else "concern" if concern else "pass",
                        "comment": ("Vision encoder weights match a foreign open model (copied, then fine-tuned)." if fail
                                    else "Encoder provenance insufficiently documented." if concern
                                    else "Training logs and checkpoints support training from scratch."),
                    }
            p = OUT / "answers" / eid / f"{tid}.yaml"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(yaml.safe_dump({"judgments": judgments, "coi": {"has_conflict": False, "statement": ""}},
                                        allow_unicode=True, sort_keys=True))

    items = [c for _, c in user.criteria() if isinstance(c.scale, AnchoredScale)]
    (OUT / "users").mkdir()
    with (OUT / "users" / "survey.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["user_id", "team", "item", "value", "comment"])
        for u in range(1, N_USERS + 1):
            for tid, *_, q in TEAMS:
                for c in items:
                    w.writerow([f"user-{u:02d}", tid, c.id, _level(rng, q, 1, 5), ""])
    quality = {t[0]: t[-1] for t in TEAMS}
    with (OUT / "users" / "votes.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["user_id", "prompt_id", "model_a", "model_b", "winner"])
        for u in range(1, N_USERS + 1):
            for k in range(1, 6):
                a, b = rng.choice(sorted(quality), size=2, replace=False)
                pa = 1 / (1 + np.exp(-6 * (quality[a] - quality[b])))  # Bradley-Terry style preference
                r = rng.random()
                winner = "tie" if abs(r - pa) < 0.05 else "A" if r < pa else "B"
                w.writerow([f"user-{u:02d}", f"p{k:02d}", a, b, winner])
    print(f"wrote {OUT} (seed {SEED})")


if __name__ == "__main__":
    main()
