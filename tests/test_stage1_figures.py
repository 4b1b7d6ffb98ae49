"""The stage-1 published figures reproduced from signed inputs (issue 12).

Published for the top team: benchmark 9.2 (NIA) / 14.4 (common) / 10.0 (individual) = 33.6 of 40, expert
31.6 of 35, user 25.0 of 25, total 90.2; across the five teams the expert mean was 28.56 and the user mean
20.76. The inputs below are chosen to give exactly those (10 experts, 49 user evaluators, 5 teams); the test
reads the figures back from the signed report, as a journalist would.
"""

from __future__ import annotations

import base64
import json

import yaml
from coord_helpers import USER_ITEMS, coord_key, make_round, sign_sheet

from workbench.core.signing import load_private_key
from workbench.evidence.benchmarks import load_benchmark_sets
from workbench.model.round import load_round
from workbench.model.rubric import AnchoredScale, GateScale, load_rubric
from workbench.model.sheet import Judgment
from workbench.publish.aggregate import aggregate_round
from workbench.publish.report import write_report
from workbench.round.collect import collect
from workbench.round.lifecycle import freeze
from workbench.round.survey import sign_survey

TEAMS = ("team-a", "team-b", "team-c", "team-d", "team-e")
EXPERTS = tuple(f"e{i:02d}" for i in range(1, 11))
USERS = tuple(f"u{i:02d}" for i in range(1, 50))
# benchmark achievement ratios (NIA, common, individual) against targets of 0.8
RATIOS = {"team-a": (0.92, 0.72, 1.0), "team-b": (0.8, 0.7, 0.9), "team-c": (0.75, 0.65, 0.85),
          "team-d": (0.7, 0.6, 0.8), "team-e": (0.6, 0.55, 0.7)}
# expert totals: 0.2 x sum(points x level) of the expert rubric; mean 142.8 / 5 = 28.56
EXPERT_TOTALS = {"team-a": 31.6, "team-b": 29.4, "team-c": 28.0, "team-d": 27.4, "team-e": 26.4}
# user answers as quarter-sums per item over the 49 users (a level l adds l - 1 quarters), items in rubric
# order with points 5, 6, 4, 5, 5: team-a all 5s = 25.0; the five teams sum to (4900 + 15445) / 196
QUARTERS = {"team-a": (196,) * 5, "team-b": (160,) * 5, "team-c": (155,) * 5, "team-d": (150,) * 5,
            "team-e": (152, 150, 160, 152, 152)}


def _levels_for(rubric, total: float) -> dict[str, Judgment]:
    """Levels whose points add up to ``total``: start from all 5s and step criteria down (a small DP)."""
    crits = [c for _, c in rubric.criteria() if isinstance(c.scale, AnchoredScale)]
    deficit = round(sum(c.points for c in crits) * 5 - total * 5)
    reach = {0: []}  # deficit reached -> steps per criterion
    for c in crits:
        nxt = {}
        for d, steps in reach.items():
            for s in range(5):
                nxt.setdefault(d + int(c.points) * s, steps + [s])
        reach = nxt
    steps = reach[deficit]
    out = {c.id: Judgment(level=5 - s, comment=f"level {5 - s}") for c, s in zip(crits, steps, strict=True)}
    for _, c in rubric.criteria():
        if isinstance(c.scale, GateScale):
            out[c.id] = Judgment(verdict="pass", comment="trained from scratch")
    return out


def _survey_rows() -> list[str]:
    rows = []
    for t in TEAMS:
        for item, q in zip(USER_ITEMS, QUARTERS[t], strict=True):
            base, extra = divmod(q, len(USERS))
            for k, u in enumerate(USERS):
                level = base + (1 if k < extra else 0) + 1
                rows.append(f"{u},{t},{item},{level},level {level}")
    return rows


def test_the_published_stage1_figures_follow_from_signed_inputs(tmp_path):
    rd = make_round(tmp_path, experts=EXPERTS, teams=TEAMS, users=USERS, answers=False, do_freeze=False, cut=3)
    sets = load_benchmark_sets()
    members = {"nia": sets.nia, "common": sets.common, "individual": [sets.by_id()[b] for b in ("textvqa", "docvqa")]}
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    for t in teams["teams"]:
        t["individual_benchmarks"] = ["textvqa", "docvqa"]
        t["targets"] = {s.id: 0.8 for specs in members.values() for s in specs}
        t["evidence"] = {"benchmark_results": "results.csv"}
        rows = [f'{t["id"]},m,{s.id},"{s.metric}",{0.8 * ratio:.6f},,'
                for (name, specs), ratio in zip(members.items(), RATIOS[t["id"]], strict=True) for s in specs]
        (rd / "evidence" / t["id"] / "results.csv").write_text("team,model,benchmark,metric,value,stderr,n\n" + "\n".join(rows) + "\n")
    (rd / "teams.yaml").write_text(yaml.safe_dump(teams))
    freeze(rd, coord_key(tmp_path), "coord")

    expert = load_rubric(rd / "rubrics" / "expert.yaml")
    for t, total in EXPERT_TOTALS.items():
        judgments = _levels_for(expert, total)
        for e in EXPERTS:
            sign_sheet(tmp_path, e, t, judgments=judgments)
    survey = tmp_path / "survey-export.csv"
    survey.write_text("user_id,team,item,value,comment\n" + "\n".join(_survey_rows()) + "\n")
    r = load_round(rd)
    for u in USERS:  # each user signs their own rows of the survey tool's export
        sign_survey(r, u, load_private_key(tmp_path / "keys" / f"{u}.key"), survey)
    decisions = collect(rd, coord_key(tmp_path), "coord")
    assert len(decisions) == 50 + 245 and {d.decision for d in decisions} == {"accepted"}

    agg = aggregate_round(load_round(rd))
    assert agg.problems == []
    paths = write_report(load_round(rd), agg, coord_key(tmp_path), "coord")
    signed = json.loads(base64.b64decode(json.loads(paths["signed"].read_bytes())["payload"]))
    rows = {s["team"]: s for s in signed["scores"]}
    top = rows["team-a"]
    bench = signed["evidence"]["team-a"]["benchmark_points"]
    assert [round(bench[c]["points"], 1) for c in ("bench.nia", "bench.common", "bench.individual")] == [9.2, 14.4, 10.0]
    assert (round(top["benchmark"], 1), round(top["expert"], 1), round(top["user"], 1), round(top["total"], 1)) == \
        (33.6, 31.6, 25.0, 90.2)
    assert top["rank"] == 1 and top["status"] == "advances"
    assert round(sum(s["expert"] for s in rows.values()) / 5, 2) == 28.56
    assert round(sum(s["user"] for s in rows.values()) / 5, 2) == 20.76
    assert signed["users"]["source"] == {"kind": "sheets", "sheets": 245, "users": 49, "ledger_seq": None, "actor": None,
                                         "reason": None, "files": {}}
    csv_rows = {line.split(",")[1]: line.split(",") for line in paths["csv"].read_text().splitlines()[1:]}
    assert round(float(csv_rows["team-a"][6]), 1) == 90.2  # rank,team,name,benchmark,expert,user,total
