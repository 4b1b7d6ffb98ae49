"""Batch throughput: 50 notebooks (10 experts x 5 teams) with `workbench batch --jobs 2` against a
sequential loop of `papermill` CLI calls on the same notebooks, in the same run.

    python benchmarks/bench_batch.py [--experts 10] [--teams 5] [--jobs 2]

Prints both times, the ratio (goal >= 1.8x), and the per-notebook overhead of the batch over a bare kernel
start (start + shutdown of an IPC kernel, measured here too). Uses notebooks/review.ipynb when present,
else the test fixture with the same parameters (the output says which).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the sample judgments fixture

from coord_helpers import team  # noqa: E402
from judgments import demo_judgments  # noqa: E402

from workbench.batch import default_notebook, run_batch  # noqa: E402
from workbench.demo import default_rubrics_dir  # noqa: E402
from workbench.lifecycle import freeze, init_round  # noqa: E402
from workbench.rubric import load_rubric  # noqa: E402
from workbench.signing import generate_keypair, load_private_key, load_public_key, public_key_pem  # noqa: E402


def make_round(base: Path, n_experts: int, n_teams: int) -> Path:
    experts = [f"expert-{i:02d}" for i in range(1, n_experts + 1)]
    teams = [f"team-{i:02d}" for i in range(1, n_teams + 1)]
    keys = base / "keys"
    for i in ("coord", *experts):
        generate_keypair(i, keys)
    rd = base / "round"
    init_round(rd, round_id="bench-1", stage=1, rubrics_dir=default_rubrics_dir(), coordinator_id="coord",
               coordinator_key=load_public_key(keys / "coord.pub"))
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"] += [{"id": e, "role": "expert", "coi": [], "public_key": public_key_pem(load_public_key(keys / f"{e}.pub"))}
                            for e in experts]
    (rd / "roster.yaml").write_text(yaml.safe_dump(roster))
    # declarations that pass freeze (a target for every benchmark the rubric's sets use)
    (rd / "teams.yaml").write_text(yaml.safe_dump({"teams": [team(t) for t in teams]}))
    (rd / "assignments.yaml").write_text(yaml.safe_dump({"assignments": [{"reviewer": e, "team": t} for e in experts for t in teams]}))
    judgments = {k: v.model_dump(exclude_none=True) for k, v in demo_judgments(load_rubric(rd / "rubrics" / "expert.yaml")).items()}
    for e in experts:
        for t in teams:
            p = rd / "answers" / e / f"{t}.yaml"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(yaml.safe_dump({"judgments": judgments, "coi": {"has_conflict": False, "statement": ""}}))
    freeze(rd, load_private_key(keys / "coord.key"), "coord")
    return rd


def bare_kernel_seconds(n: int = 3) -> float:
    from jupyter_client.manager import KernelManager

    times = []
    for _ in range(n):
        t = time.perf_counter()
        km = KernelManager(kernel_name="python3", transport="ipc", ip=tempfile.mkdtemp(prefix="wb-b-") + "/k")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        times.append(time.perf_counter() - t)
    return sum(times) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experts", type=int, default=10)
    ap.add_argument("--teams", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    nb = default_notebook()
    which = "notebooks/review.ipynb"
    n = a.experts * a.teams
    base = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        rd = make_round(base, a.experts, a.teams)
        print(f"notebook: {which}; {n} notebooks ({a.experts} experts x {a.teams} teams)")
        bare = bare_kernel_seconds()
        print(f"bare kernel start+shutdown (IPC): {bare:.2f} s")

        t = time.perf_counter()
        res = run_batch(rd, notebook=nb, keys_dir=base / "keys", jobs=a.jobs, progress=False)
        batch_s = time.perf_counter() - t
        assert all(r.state == "done" for r in res), [r.error for r in res if r.state != "done"]

        papermill = [sys.executable, "-m", "papermill"]
        t = time.perf_counter()
        for e in range(1, a.experts + 1):
            for k in range(1, a.teams + 1):
                eid, tid = f"expert-{e:02d}", f"team-{k:02d}"
                subprocess.run([*papermill, str(nb), str(base / f"seq-{eid}-{tid}.ipynb"), "--cwd", str(rd), "-k", "python3",
                                "-p", "round_dir", ".", "-p", "reviewer_id", eid, "-p", "team_id", tid, "-p", "role", "expert",
                                "-p", "lang", "ko", "-p", "key_file", str(base / "keys" / f"{eid}.key"),
                                "-p", "answers_file", f"answers/{eid}/{tid}.yaml", "-p", "output_dir", "sequential-sheets"],
                               check=True, capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        seq_s = time.perf_counter() - t

        per_nb = batch_s * a.jobs / n  # worker-seconds per notebook in the batch
        print(f"workbench batch --jobs {a.jobs}: {batch_s:.1f} s ({batch_s / n:.2f} s/notebook wall)")
        print(f"sequential papermill CLI loop: {seq_s:.1f} s ({seq_s / n:.2f} s/notebook)")
        print(f"speed-up: {seq_s / batch_s:.2f}x (goal >= 1.8x)")
        print(f"per-notebook overhead over a bare kernel start: {per_nb - bare:.2f} s "
              f"({per_nb:.2f} worker-s per notebook - {bare:.2f} s bare kernel)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
