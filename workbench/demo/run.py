"""The embedded demo: a whole stage evaluation of 5 fictional consortia, end to end.

Steps (each printed): check the shipped rubrics; create demo keys (unencrypted, demo only) for a
coordinator, 5 experts and 49 user evaluators; create the round from the shipped demo inputs (``workbench/data/demo``,
made by ``data/make_demo.py``); freeze the rules (cut: 4 teams); run the review notebook for 5 experts x 5 teams
with 2 jobs from the shipped answers; each of the 49 users signs their own survey answers and pairwise
votes (user sheets); collect and verify the sheets; amend the rules after the first
submission (cut 4 -> 3 and a re-challenge rule, as happened in the real stage 1, recorded and flagged);
aggregate (benchmark points computed from each team's evidence dossier, trimmed-mean expert points,
user points from the users' signed sheets, vote strengths, gates, ranking, indices); write and sign the report; print the
ranking, one line of independence evidence per team and the report's path.

Everything in the demo is fictional.

Public API: :func:`run_demo`, :func:`write_demo_round`, :func:`default_rubrics_dir`, :func:`default_demo_data`.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from ..audit.checks import audit_round
from ..audit.render import write_audit
from ..core.files import atomic_write_bytes, atomic_write_text, check_output_dir, load_yaml
from ..core.shipped import demo_data, rechallenge_data, rubrics_dir
from ..core.signing import generate_keypair, load_private_key, load_public_key, public_key_pem
from ..model.round import load_round
from ..model.rubric import check_files
from ..publish.aggregate import aggregate_round
from ..publish.report import status_text, write_report
from ..round.checkpoint import add_cosignatures, checkpoint_round, cosign_note, log_key
from ..round.collect import collect
from ..round.lifecycle import amend, freeze, init_round
from ..round.survey import sign_survey
from ..run.batch import run_batch

log = logging.getLogger(__name__)

__all__ = ["default_demo_data", "default_rubrics_dir", "next_steps", "rechallenge_round", "run_demo", "run_rechallenge",
           "write_demo_round"]

COORDINATOR = "coordinator"
ROUND_ID = "demo-2026-stage1"
# the demo's witnesses: a newspaper and the teams' association each keep a copy of every checkpoint they cosign
# (out/witnesses/<witness>/<round id>/), and the rules need both (quorum 2)
WITNESSES = ("witness-press", "witness-teams")


def default_rubrics_dir() -> Path:
    """The shipped rubrics: ``$WORKBENCH_RUBRICS``, else the package's own (``workbench/data/rubrics``)."""
    return rubrics_dir()


def default_demo_data() -> Path:
    """The demo inputs: ``$WORKBENCH_DEMO_DATA``, else the package's own (``workbench/data/demo``)."""
    return demo_data()


def _keys(d: Path, ids: list[str]) -> None:
    for i in ids:
        if not (d / f"{i}.key").exists():
            generate_keypair(i, d)


def _write_yaml(path: Path, obj: object) -> None:
    atomic_write_text(path, yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=110))


def _holds_work(rd: Path) -> bool:
    """Whether a round folder holds what people made: drafts or signed sheets."""
    return any((rd / "drafts").glob("*/*.json")) or any((rd / "sheets").glob("*/*.dsse.json"))


def _make_room(rd: Path, fresh: bool, echo: Callable[[str], None]) -> None:
    """The demo starts a new round at ``rd``: an earlier one holding drafts or sheets is kept aside (renamed with
    the time), never deleted, unless ``fresh`` says so."""
    if not rd.exists():
        return
    if fresh or not _holds_work(rd):
        shutil.rmtree(rd)
        return
    kept = rd.with_name(f"{rd.name}.previous-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}")
    rd.rename(kept)
    echo(f"the earlier {rd.name} holds drafts or sheets: kept as {kept} (--fresh replaces it instead)")


def workbench_command() -> str:
    """How to run this workbench from a fresh shell: the ``workbench`` script beside this Python (the venv's, which
    need not be on PATH), else this Python with ``-m workbench``; quoted for a POSIX shell."""
    script = Path(sys.executable).parent / "workbench"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m workbench"


def next_steps(out: str | Path) -> list[str]:
    """What to open after the demo: the reports, a reviewer's notebook, the sheets, the audit, the verify page.

    Every command is copy-pasteable from a fresh shell in any folder: absolute paths, the venv's own
    ``workbench`` (no activation needed), JupyterLab through ``workbench lab`` (which handles root)."""
    out = Path(out).resolve()
    rd, rc = out / "round", out / "rechallenge"
    wb = workbench_command()
    q = shlex.quote
    lines = ["what to open next:",
             f"  the report (a browser):       {rd / 'report' / 'index.html'} (English: index.en.html)"]
    verify = rd / "report" / "verify.html"
    if verify.is_file():
        lines.append(f"  check its signature:          {q(sys.executable)} -m http.server --bind 127.0.0.1 --directory "
                     f"{q(str(verify.parent))} 8000, then open http://127.0.0.1:8000/verify.html")
    notebook = next(iter(sorted((rd / "notebooks").glob("*/*.ipynb"))), None)
    if notebook is not None:
        lines.append(f"  a reviewer's notebook:        {wb} lab {q(str(rd))} {q(str(notebook))}  (Run All; it finds "
                     "its round)")
    lines += [f"  the signed sheets:            {rd / 'sheets'}/<reviewer>/<team>.v<N>.dsse.json",
              f"  the ledger:                   {rd / 'ledger.jsonl'}",
              f"  audit it yourself:            {wb} audit {q(str(rd))}  (add --rerun to re-run every notebook)",
              f"  round status:                 {wb} round status {q(str(rd))}"]
    if (rc / "report" / "index.html").is_file():
        lines.append(f"  the re-challenge's report:    {rc / 'report' / 'index.html'}")
    return lines


def write_demo_round(rd: Path, keys: Path, *, round_id: str, experts: Sequence[str], users: Sequence[str],
                     teams: list[dict], label: str = "Demo", copy: Sequence[str] = ("evidence", "references", "answers")) -> None:
    """Write a stage-1 round of the demo's kind into ``rd`` (not frozen): the shipped rubrics, the demo's
    coordinator, ``experts`` and ``users`` with their public keys from ``keys`` (names "<label> <role> NN"),
    ``teams`` (entries of the demo's ``teams.yaml``), every reviewer assigned to every team, and the demo data's
    folders named in ``copy``. The demo uses it, and so does the stage-1-sized round of the benchmarks."""
    data = default_demo_data()
    init_round(rd, round_id=round_id, stage=1, rubrics_dir=default_rubrics_dir(), coordinator_id=COORDINATOR,
               coordinator_key=load_public_key(keys / f"{COORDINATOR}.pub"))
    roster = load_yaml(rd / "roster.yaml")[0]
    roster["reviewers"] += [{"id": i, "role": role, "name": f"{label} {role} {i[-2:]}", "coi": [],
                             "public_key": public_key_pem(load_public_key(keys / f"{i}.pub"))}
                            for role, ids in (("expert", experts), ("user", users)) for i in ids]
    _write_yaml(rd / "roster.yaml", roster)
    _write_yaml(rd / "teams.yaml", {"teams": teams})
    _write_yaml(rd / "assignments.yaml", {"assignments": [{"reviewer": e, "team": t["id"]} for e in [*experts, *users]
                                                          for t in teams]})
    for sub in copy:
        shutil.copytree(data / sub, rd / sub, dirs_exist_ok=True)


def run_demo(out: str | Path, echo: Callable[[str], None] | None = None, jobs: int = 2, notebook: str | Path | None = None,
             progress: bool = False, fresh: bool = False) -> Path:
    """Run the demo into folder ``out`` (the round is ``out/round``); return the report's path.

    ``progress`` shows the batch's progress bar (on standard error), as ``workbench demo`` does. An earlier
    round at ``out/round`` that holds drafts or sheets is renamed aside, not deleted, unless ``fresh``. Each step's
    line goes to ``echo`` (``workbench demo`` prints them: they are its output), else to the
    ``workbench.demo`` logger at INFO.
    """
    echo = echo or log.info
    t0 = time.monotonic()
    out = check_output_dir(out)
    data = default_demo_data()
    rubrics_dir = default_rubrics_dir()
    rubrics, problems = check_files(sorted(rubrics_dir.glob("*.yaml")))
    if problems:
        raise problems[0]
    for r in rubrics:
        echo(f"rubric ok: {r.id} {r.version}, {r.total_points:g} points, sha256 {r.sha256[:16]}")

    teams = load_yaml(data / "teams.yaml")[0]["teams"]
    experts = sorted(p.name for p in (data / "answers").iterdir() if p.is_dir())
    users = sorted({line.split(",", 1)[0] for line in (data / "users" / "survey.csv").read_text().splitlines()[1:]})
    keys = out / "keys"
    _keys(keys, [COORDINATOR, *experts, *users, *WITNESSES])
    echo(f"demo keys: {keys} (1 coordinator, {len(experts)} experts, {len(users)} users, {len(WITNESSES)} witnesses; "
         "unencrypted, demo only)")
    coord_key = load_private_key(keys / f"{COORDINATOR}.key")

    rd = out / "round"
    _make_room(rd, fresh, echo)
    write_demo_round(rd, keys, round_id=ROUND_ID, experts=experts, users=users, teams=teams)
    rules = load_yaml(rd / "rules.yaml")[0]
    _write_yaml(rd / "rules.yaml", {**rules, "witnesses": _witness_policy(keys)})
    echo(f"round created: {rd} ({len(teams)} teams, {len(experts)} experts, {len(users)} users, witnesses "
         f"{', '.join(WITNESSES)})")

    e = freeze(rd, coord_key, COORDINATOR)
    echo(f"rules frozen: version 1, cut {load_round(rd).rules.cut} teams, ledger entry {e.seq} (sha256 {e.payload_sha256[:16]})")

    t1 = time.monotonic()
    results = run_batch(rd, notebook=notebook, keys_dir=keys, jobs=jobs, progress=progress, roles=("expert",))
    failed = [x for x in results if x.state == "failed"]
    echo(f"batch: {len(results) - len(failed)} of {len(results)} notebooks done with {jobs} jobs in {time.monotonic() - t1:.1f}s")
    for x in failed:
        echo(f"  failed: {x.reviewer} x {x.team}: {x.error}")

    # the 49 user evaluators answered in a survey tool: each signs their own answers and votes from its export
    t1 = time.monotonic()
    loaded = load_round(rd)
    signed = sum(len(sign_survey(loaded, u, load_private_key(keys / f"{u}.key"), data / "users" / "survey.csv",
                                 data / "users" / "votes.csv")) for u in users)
    echo(f"users: {len(users)} user evaluators signed {signed} survey sheets (answers and pairwise votes) "
         f"in {time.monotonic() - t1:.1f}s")

    decisions = collect(rd, coord_key, COORDINATOR)
    acc = sum(d.decision == "accepted" for d in decisions)
    echo(f"collected: {acc} accepted, {len(decisions) - acc} rejected")
    kept = _witness(rd, out, keys, echo, decisions)

    rules = load_yaml(rd / "rules.yaml")[0]
    rules["cut"] = 3
    rules["decision_rules"] = [{"id": "re-challenge", "text": "One additional team may be selected by expert review "
                                "(written and presentation) only if a majority of the committee approves; possibly none."}]
    _write_yaml(rd / "rules.yaml", rules)
    e = amend(rd, coord_key, COORDINATOR, "Ministry decision: 3 teams advance; a re-challenge for one more team is added")
    echo(f"rules amended: version {e.data['version']}, {len(e.data['changes'])} change(s), "
         f"after first submission: {e.data['after_first_submission']}")

    r = load_round(rd)
    agg = aggregate_round(r)
    paths = write_report(r, agg, coord_key, COORDINATOR)
    kept += _witness(rd, out, keys, echo)
    echo("")
    echo("ranking:")
    for row in agg.scores.sort_values(["rank", "team"], na_position="last").itertuples():
        rank = "-" if row.rank is None or str(row.rank) == "<NA>" else str(row.rank)
        # the report's precision (one decimal), so the terminal and the published page show the same numbers
        echo(f"  {rank:>2}  {row.team:<14} {row.total:5.1f}  (bench {row.benchmark:4.1f}, expert {row.expert:4.1f}, "
             f"user {row.user:4.1f})  {status_text(row.status, row.status_params)}")
    echo("")
    echo("independence evidence:")
    for d in sorted(agg.dossiers.values(), key=lambda d: d.team):
        echo(f"  {d.independence_line()}")
        for p in d.problems:
            echo(f"    evidence problem: {p}")
    echo("")
    _audit_line(rd, echo, kept)
    echo(f"report: {paths['html'].resolve()}")
    echo(f"stage 1 finished in {time.monotonic() - t0:.0f} s")
    return paths["html"]


RECHALLENGE_ID = "demo-2026-rechallenge"


def rechallenge_round(out: str | Path, *, fresh: bool = False, echo: Callable[[str], None] | None = None) -> Path:
    """Create and freeze the re-challenge round at ``out/rechallenge`` (keys in ``out/keys``); return its path.

    An earlier one holding drafts or sheets is renamed aside unless ``fresh``."""
    out = check_output_dir(out)
    data = rechallenge_data()
    members = load_yaml(data / "committee.yaml")[0]
    committee, conflicts = members["committee"], {(c["member"], c["team"]) for c in members["conflicts"]}
    teams = load_yaml(data / "teams.yaml")[0]["teams"]
    keys = out / "keys"
    _keys(keys, [COORDINATOR, *committee, *WITNESSES])
    rd = out / "rechallenge"
    _make_room(rd, fresh, echo or log.info)
    rules = {"title": "Re-challenge: one additional team (패자부활전)", "cut": 1,
             "aggregation": {"expert": "trimmed_mean", "trim": 1, "min_reviewers": 5},
             "gates": [{"criterion": "committee.approval", "rule": "majority_approve"}],
             "thresholds": [{"criterion": "bench.frontier", "min_share": 1.0,
                             "text": "at least 95% of the latest global models on every common benchmark"}],
             "indices": {"frontier": ["bench.frontier", "committee.presentation.capability"],
                         "diffusion": ["committee.presentation.impact"]},
             "decision_rules": [{"id": "re-challenge", "text": "One additional team, selected by the expert committee "
                                 "only if more than half approve; the team must reach 95% of the latest global models; "
                                 "possibly none."}],
             "witnesses": _witness_policy(keys)}
    init_round(rd, round_id=RECHALLENGE_ID, stage=1, rubrics_dir=data / "rubrics", coordinator_id=COORDINATOR,
               coordinator_key=load_public_key(keys / f"{COORDINATOR}.pub"), rules_overrides=rules)
    roster = load_yaml(rd / "roster.yaml")[0]
    roster["reviewers"] += [{"id": m, "role": "committee", "name": f"Committee member {m[-2:]}",
                             "coi": sorted(t for mm, t in conflicts if mm == m),
                             "public_key": public_key_pem(load_public_key(keys / f"{m}.pub"))} for m in committee]
    _write_yaml(rd / "roster.yaml", roster)
    _write_yaml(rd / "teams.yaml", {"teams": teams})
    _write_yaml(rd / "assignments.yaml", {"assignments": [{"reviewer": m, "team": t["id"]} for m in committee
                                                          for t in teams if (m, t["id"]) not in conflicts]})
    for sub in ("evidence", "references", "answers"):
        shutil.copytree(data / sub, rd / sub, dirs_exist_ok=True)
    freeze(rd, load_private_key(keys / f"{COORDINATOR}.key"), COORDINATOR)
    return rd


def run_rechallenge(out: str | Path, echo: Callable[[str], None] | None = None, jobs: int = 2,
                    notebook: str | Path | None = None, progress: bool = False, fresh: bool = False) -> Path:
    """Run the re-challenge example into ``out/rechallenge``; return the report's path.

    After stage 1 the ministry added one more place: a team is selected by a committee of 7 (written review and
    presentation) only if more than half approve (a tie fails), and only if it reaches at least 95% of the latest
    global models on every common benchmark; possibly none. The round scores no user part. ``team-daehan`` is
    approved by 5 of 7; ``team-hanbit`` gets 3 of 6 (one member declared a conflict): a tie, so not selected.
    """
    echo = echo or log.info
    t0 = time.monotonic()
    rd = rechallenge_round(out, fresh=fresh, echo=echo)
    r = load_round(rd)
    echo(f"re-challenge round created and frozen: {rd} ({len(r.teams.teams)} candidate teams, a committee of "
         f"{sum(e.role == 'committee' for e in r.roster.reviewers)}, no user part)")
    keys = Path(out) / "keys"
    coord_key = load_private_key(keys / f"{COORDINATOR}.key")
    results = run_batch(rd, notebook=notebook, keys_dir=keys, jobs=jobs, progress=progress)
    failed = [x for x in results if x.state == "failed"]
    echo(f"batch: {len(results) - len(failed)} of {len(results)} notebooks done")
    for x in failed:
        echo(f"  failed: {x.reviewer} x {x.team}: {x.error}")
    decisions = collect(rd, coord_key, COORDINATOR)
    echo(f"collected: {sum(d.decision == 'accepted' for d in decisions)} accepted, "
         f"{sum(d.decision == 'rejected' for d in decisions)} rejected")
    kept = _witness(rd, Path(out), keys, echo, decisions)
    r = load_round(rd)
    agg = aggregate_round(r)
    paths = write_report(r, agg, coord_key, COORDINATOR)
    kept += _witness(rd, Path(out), keys, echo)
    echo("outcome:")
    for row in agg.scores.sort_values("team").itertuples():
        echo(f"  {row.team:<14} {row.total:5.1f}  {status_text(row.status, row.status_params)}")
    selected = agg.scores[agg.scores["status"] == "advances"]["team"].tolist()
    echo(f"selected: {', '.join(selected) if selected else 'none'}")
    _audit_line(rd, echo, kept)
    echo(f"report: {paths['html'].resolve()}")
    echo(f"re-challenge finished in {time.monotonic() - t0:.1f}s")
    return paths["html"]


def _witness_policy(keys: Path) -> dict:
    """The demo rules' witness list: both demo witnesses, both needed."""
    return {"quorum": len(WITNESSES), "keys": [{"name": w, "public_key": public_key_pem(load_public_key(keys / f"{w}.pub"))}
                                              for w in WITNESSES]}


def _witness(rd: Path, out: Path, keys: Path, echo: Callable[[str], None], collected: Sequence = ()) -> list[Path]:
    """The coordinator's C2SP checkpoint of the ledger as it is now, cosigned by each demo witness as a C2SP witness would: from the add-checkpoint request
    (the consistency proof from the checkpoint they last cosigned), never reading the ledger. Each witness keeps
    their copy under ``out/witnesses/<witness>/<round id>/``; the coordinator keeps the copy with every
    cosignature (and, after the report, publishes it as the report's checkpoint), and writes the reviewers'
    receipts of the sheets just ``collected`` against it. Returns the witnesses' copies."""
    from ..publish.verifypage import CHECKPOINT_COPY
    from ..round.receipt import write_receipts

    r = load_round(rd)
    path, view, _, request = checkpoint_round(rd, load_private_key(keys / f"{COORDINATOR}.key"), COORDINATOR)
    assert request is not None  # format 2
    logs = [log_key(r.rules.round_id, c.key()) for c in r.coordinators()]
    kept, copies = [], []
    for w in WITNESSES:
        folder = out / "witnesses" / w / r.rules.round_id
        last = max(folder.glob("*.txt"), default=None)  # 8-digit sizes: the largest name is the latest
        mine = cosign_note(request, load_private_key(keys / f"{w}.key"), w, logs,
                           last.read_bytes() if last is not None else None)
        kept.append(atomic_write_bytes(folder / f"{view.size:08d}.txt", mine, mode=0o644))
        copies.append(mine)
    cosigned = add_cosignatures(path.read_bytes(), *copies)
    atomic_write_bytes(path, cosigned, mode=0o644)
    # the receipts carry the witnessed checkpoint (the CLI's collect writes them before witnesses answer)
    receipts = write_receipts(rd, r.rules.round_id, [(d.reviewer, d.team, d.version) for d in collected if d.new],
                              cosigned)
    if (rd / "report" / CHECKPOINT_COPY).is_file() and (rd / "report" / CHECKPOINT_COPY).read_bytes() != cosigned:
        published = (rd / "report" / CHECKPOINT_COPY).read_bytes()
        atomic_write_bytes(rd / "report" / CHECKPOINT_COPY, add_cosignatures(published, *copies), mode=0o644)
    echo(f"checkpoint: {path.name} (ledger size {view.size}) cosigned by {', '.join(WITNESSES)}"
         + (f"; {len(receipts)} reviewer receipt(s) under {rd.name}/receipts/" if receipts else ""))
    return kept


def _audit_line(rd: Path, echo: Callable[[str], None], witnessed: Sequence[Path] = ()) -> None:
    result = audit_round(rd, witnesses=witnessed)
    write_audit(result, rd)
    c = result.counts
    echo(f"audit: {'CLEAN' if result.clean else 'NOT CLEAN'} ({c['error']} error(s), {c['warning']} warning(s)); "
         f"details: {rd / 'audit' / 'index.html'}")
