"""Builders for small round folders used by the coordinator tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from conftest import RUBRICS
from judgments import demo_judgments

from workbench.core.files import atomic_write_bytes, sha256_file
from workbench.core.signing import (
    SHEET_TYPE,
    envelope_bytes,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_payload,
)
from workbench.evidence.benchmarks import load_benchmark_sets
from workbench.model.rubric import load_rubric
from workbench.model.sheet import COI, Reviewer, build_sheet, sheet_bytes
from workbench.round.lifecycle import freeze, init_round

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "coord"


def write_yaml(path: Path, obj) -> None:
    path.write_text(yaml.safe_dump(obj, allow_unicode=True, sort_keys=False))


INDIVIDUAL = ["textvqa", "docvqa"]


def team(tid: str) -> dict:
    """A team whose declarations pass freeze: a target for every NIA, common and individual benchmark."""
    sets = load_benchmark_sets()
    targets = {s.id: 0.5 for s in (*sets.nia, *sets.common)} | dict.fromkeys(INDIVIDUAL, 0.5)
    return {"id": tid, "name": tid.title(), "model": f"{tid}-7B", "active_params_b": 7, "total_params_b": 7,
            "target_model": "ref", "targets": targets, "individual_benchmarks": list(INDIVIDUAL)}


def make_round(base: Path, experts=("e1", "e2"), teams=("ta", "tb"), users=(), coi=None, answers=True,
               do_freeze=True, **rules) -> Path:
    """A round under base/round with keys in base/keys; every expert assigned to every team without a COI."""
    keys = base / "keys"
    for i in ("coord", *experts, *users):
        generate_keypair(i, keys)
    rd = base / "round"
    # rules that can work with this panel (freeze refuses others): everyone advances, trim only from 3 experts
    smallest = min((sum(t not in (coi or {}).get(e, []) for e in experts) for t in teams), default=0)
    rules.setdefault("cut", len(teams))
    rules.setdefault("aggregation", {"expert": "trimmed_mean", "trim": 1 if smallest >= 3 else 0,
                                     "min_reviewers": max(1, min(3, smallest))})
    init_round(rd, round_id="test-1", stage=1, rubrics_dir=RUBRICS, coordinator_id="coord",
               coordinator_key=load_public_key(keys / "coord.pub"), rules_overrides=rules)
    coi = coi or {}
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"] += [{"id": i, "role": role, "public_key": public_key_pem(load_public_key(keys / f"{i}.pub")),
                             "coi": coi.get(i, [])} for role, ids in (("expert", experts), ("user", users)) for i in ids]
    write_yaml(rd / "roster.yaml", roster)
    write_yaml(rd / "teams.yaml", {"teams": [team(t) for t in teams]})
    write_yaml(rd / "assignments.yaml", {"assignments": [{"reviewer": e, "team": t} for e in (*experts, *users)
                                                         for t in teams if t not in coi.get(e, [])]})
    expert = load_rubric(RUBRICS / "expert.yaml")
    for t in teams:
        (rd / "evidence" / t).mkdir(parents=True, exist_ok=True)
        if answers:
            for e in experts:
                p = rd / "answers" / e / f"{t}.yaml"
                p.parent.mkdir(parents=True, exist_ok=True)
                write_yaml(p, {"judgments": {k: v.model_dump(exclude_none=True) for k, v in demo_judgments(expert).items()},
                               "coi": {"has_conflict": False, "statement": ""}})
    if do_freeze:
        freeze(rd, coord_key(base), "coord")
    return rd


def with_results(rd: Path, ratios: dict[str, float]) -> None:
    """Declare targets of 0.8 on every benchmark (the NIA and common sets, textvqa and docvqa as individual ones)
    for every team, and give each team in ``ratios`` a results file scoring ``ratio`` x 0.8 (no stderr)."""
    sets = load_benchmark_sets()
    specs = [*sets.nia, *sets.common, *(sets.by_id()[b] for b in INDIVIDUAL)]
    teams = yaml.safe_load((rd / "teams.yaml").read_text())
    for t in teams["teams"]:
        t["individual_benchmarks"] = list(INDIVIDUAL)
        t["targets"] = {s.id: 0.8 for s in specs}
        if t["id"] in ratios:
            t["evidence"] = {"benchmark_results": "results.csv"}
            rows = "".join(f'{t["id"]},m,{s.id},"{s.metric}",{0.8 * ratios[t["id"]]},,\n' for s in specs)
            (rd / "evidence" / t["id"] / "results.csv").write_text("team,model,benchmark,metric,value,stderr,n\n" + rows)
    (rd / "teams.yaml").write_text(yaml.safe_dump(teams))


def demo_evidence_round(base: Path) -> Path:
    """An unfrozen round under ``base`` with the shipped demo teams and their evidence and references."""
    data = Path(__file__).resolve().parent.parent / "data" / "demo"
    rd = make_round(base, teams=(), do_freeze=False)
    shutil.copy(data / "teams.yaml", rd / "teams.yaml")
    for sub in ("evidence", "references"):
        shutil.copytree(data / sub, rd / sub, dirs_exist_ok=True)
    return rd


def coord_key(base: Path):
    return load_private_key(base / "keys" / "coord.key")


def sign_sheet(base: Path, reviewer: str, team_id: str, *, key_name: str | None = None, judgments=None,
               version: int = 1, round_id: str = "test-1", coi: COI | None = None) -> Path:
    """Build, sign and file a sheet directly (no notebook); ``key_name`` signs with another key."""
    rd = base / "round"
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    key = load_private_key(base / "keys" / f"{key_name or reviewer}.key")
    sheet = build_sheet(rubric, round_id=round_id, team_id=team_id,
                        reviewer=Reviewer(id=reviewer, role="expert", key_id=key_id(key.public_key())),
                        judgments=judgments or demo_judgments(rubric), coi=coi or COI(has_conflict=False),
                        created_at="2026-01-01T00:00:00Z")
    folder = rd / "sheets" / reviewer
    # a later version names the hash of the file it replaces, as submit_sheet does
    prev = folder / f"{team_id}.v{version - 1}.dsse.json"
    sheet = sheet.model_copy(update={"version": version,
                                     "supersedes": sha256_file(prev) if version > 1 and prev.is_file() else None})
    data = envelope_bytes(sign_payload(sheet_bytes(sheet), SHEET_TYPE, key))
    return atomic_write_bytes(folder / f"{team_id}.v{version}.dsse.json", data, overwrite=False)


USER_ITEMS = ("user.usability", "user.korean_quality", "user.reliability", "user.cost_efficiency", "user.applicability")


def survey_rows(user: str, team_id: str, level: int, comment: str = "") -> list[str]:
    """One CSV row per item of the user rubric, all at ``level`` (an extreme level needs ``comment``)."""
    return [f"{user},{team_id},{item},{level},{comment}" for item in USER_ITEMS]


def sign_user(base: Path, user: str, rows: list[str], votes: list[str] = ()) -> list:
    """The user signs their own survey export (``rows``) and votes, as ``workbench users sign`` does."""
    from workbench.round.survey import sign_survey

    survey = base / f"survey-{user}.csv"
    survey.write_text("user_id,team,item,value,comment\n" + "".join(r + "\n" for r in rows))
    cast = None
    if votes:
        cast = base / f"votes-{user}.csv"
        cast.write_text("user_id,prompt_id,model_a,model_b,winner\n" + "".join(v + "\n" for v in votes))
    return sign_survey(base / "round", user, load_private_key(base / "keys" / f"{user}.key"), survey, cast)
