"""Audit speed, two figures, each against a baseline measured in the same run.

1. ``workbench audit --rerun`` on the demo round against the batch that produced its sheets (goal: the audit
   takes at most 1.2x the batch). The batch is timed on a copy of the round with its notebooks removed, with
   the same notebook, keys and ``--jobs``; the audit then re-runs all 25 notebooks of the original round.
2. Signature and ledger verification alone (:func:`workbench.audit.checks.verify_sheets`) of a round with 10,000
   signed sheets (100 experts x 100 teams) and their 20,000 ledger entries (goal: under 10 s). Baseline:
   reading every sheet file and the ledger and hashing them with SHA-256 (integrity without signatures).

    python benchmarks/bench_audit.py [--jobs 2] [--experts 100] [--teams 100] [--skip-rerun]

The round is built with ``make_round`` of bench_batch.py; sheets are made as in bench_signing.py (one
sheet built per reviewer, copied per team, signed).
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))  # the sample judgments fixture

from bench_batch import make_round  # noqa: E402
from judgments import demo_judgments  # noqa: E402

from workbench.audit.checks import audit_round, verify_sheets  # noqa: E402
from workbench.core.files import canonical_json, sha256_bytes  # noqa: E402
from workbench.core.signing import (  # noqa: E402
    LEDGER_TYPE,
    SHEET_TYPE,
    envelope_bytes,
    key_id,
    load_private_key,
    pae,
    sign_payload,
)
from workbench.demo.run import run_demo  # noqa: E402
from workbench.model.rubric import load_rubric  # noqa: E402
from workbench.model.sheet import COI, Reviewer, build_sheet, sheet_bytes  # noqa: E402
from workbench.round import ledger  # noqa: E402
from workbench.run.batch import run_batch  # noqa: E402

NOTEBOOK = ROOT / "tests" / "fixtures" / "coord" / "review_fixture.ipynb"


def rerun_vs_batch(jobs: int) -> None:
    nb = ROOT / "notebooks" / "review.ipynb"
    nb = nb if nb.is_file() else NOTEBOOK
    with tempfile.TemporaryDirectory(prefix="wb-bench-audit-") as d:
        run_demo(Path(d), echo=lambda _: None, jobs=jobs, notebook=nb)
        rd = Path(d) / "round"
        copy = Path(d) / "batch-copy"
        shutil.copytree(rd, copy)
        shutil.rmtree(copy / "notebooks")
        t = time.perf_counter()
        results = run_batch(copy, notebook=nb, keys_dir=Path(d) / "keys", jobs=jobs, progress=False, lang="en")
        t_batch = time.perf_counter() - t
        assert all(r.state == "done" for r in results), [r.error for r in results if r.state != "done"]
        t = time.perf_counter()
        res = audit_round(rd, rerun=True, jobs=jobs, notebook=nb)
        t_audit = time.perf_counter() - t
    print(f"notebook: {nb.relative_to(ROOT)}; jobs: {jobs}; notebooks: {len(results)}")
    print(f"batch (demo round, signed sheets): {t_batch:.2f} s")
    print(f"audit --rerun (all checks + {res.rerun_sheets} re-runs): {t_audit:.2f} s; clean: {res.clean}")
    ratio = t_audit / t_batch
    print(f"ratio audit / batch: {ratio:.2f}x  goal <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'}")


def big_round(base: Path, n_experts: int, n_teams: int) -> Path:
    rd = make_round(base, n_experts, n_teams)
    rubric = load_rubric(rd / "rubrics" / "expert.yaml")
    coord = load_private_key(base / "keys" / "coord.key")
    entries = ledger.read_entries(rd / "ledger.jsonl")
    lines = [canonical_json(e.model_dump(mode="json")) for e in entries]
    prev = ledger.entry_hash(entries[-1])

    def add(type_: str, sha: str, data: dict) -> None:  # ledger.append's entry, without re-reading the file
        nonlocal prev
        e = ledger.Entry(seq=len(lines) + 1, prev=prev, time="2026-01-01T00:00:00Z", actor="coord",
                         key_id=key_id(coord.public_key()), type=type_, data=data, payload_sha256=sha)
        sig = base64.b64encode(coord.sign(pae(LEDGER_TYPE, canonical_json(e.unsigned())))).decode()
        e = e.model_copy(update={"sig": sig})
        lines.append(canonical_json(e.model_dump(mode="json")))
        prev = ledger.entry_hash(e)

    for i in range(1, n_experts + 1):
        rid = f"expert-{i:02d}"
        key = load_private_key(base / "keys" / f"{rid}.key")
        one = build_sheet(rubric, round_id="bench-1", team_id="team-01", reviewer=Reviewer(id=rid, role="expert",
                          key_id=key_id(key.public_key())), judgments=demo_judgments(rubric), coi=COI(has_conflict=False),
                          created_at="2026-01-01T00:00:00Z")
        for j in range(1, n_teams + 1):
            tid = f"team-{j:02d}"
            env = envelope_bytes(sign_payload(sheet_bytes(one.model_copy(update={"team_id": tid})), SHEET_TYPE, key))
            path = rd / "sheets" / rid / f"{tid}.v1.dsse.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(env)
            facts = {"path": path.relative_to(rd).as_posix(), "reviewer": rid, "team": tid, "version": 1}
            add("submit", sha256_bytes(env), facts)
            add("collect", sha256_bytes(env), {**facts, "decision": "accepted", "reason": ""})
    (rd / "ledger.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    return rd


def verification(n_experts: int, n_teams: int) -> None:
    with tempfile.TemporaryDirectory(prefix="wb-bench-verify-") as d:
        t = time.perf_counter()
        rd = big_round(Path(d), n_experts, n_teams)
        t_build = time.perf_counter() - t

        t = time.perf_counter()
        for f in sorted((rd / "sheets").glob("*/*.dsse.json")):
            sha256_bytes(f.read_bytes())
        sha256_bytes((rd / "ledger.jsonl").read_bytes())
        t_base = time.perf_counter() - t

        t = time.perf_counter()
        res = verify_sheets(rd)
        t_verify = time.perf_counter() - t
    n = n_experts * n_teams
    print(f"round: {n} sheets, {2 * n + 1} ledger entries (built in {t_build:.1f} s)")
    print(f"baseline (read + SHA-256 every sheet and the ledger): {t_base:.2f} s")
    print(f"verify_sheets (load round, ledger chain + signatures, frozen state, every sheet signature + ledger record): {t_verify:.2f} s; "
          f"accepted {res.accepted}, errors {res.counts()['error']}  goal < 10 s: {'met' if t_verify < 10 else 'MISSED'}")
    print(f"ratio verify / baseline: {t_verify / t_base:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--experts", type=int, default=100)
    ap.add_argument("--teams", type=int, default=100)
    ap.add_argument("--skip-rerun", action="store_true")
    args = ap.parse_args()
    if not args.skip_rerun:
        rerun_vs_batch(args.jobs)
    verification(args.experts, args.teams)


if __name__ == "__main__":
    main()
