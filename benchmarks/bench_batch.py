"""Batch throughput on a stage-1-sized round, against fair baselines measured in the same run.

    python benchmarks/bench_batch.py [--notebooks N] [--jobs 2] [--bare-runs 5] [--repeat R] [--skip-audit]

The round is data/make_stage1.py's: 5 teams, 10 experts, 49 user evaluators (295 notebooks with the demo's
evidence; every notebook signs a sheet). ``--notebooks N`` runs an evenly spread subset of N of them (experts
and users alike; default: all); every figure below is measured on the same notebooks, each in a fresh copy of
the frozen round:

1. ``workbench batch --jobs J`` (the batch's engine, :func:`workbench.run.batch.execute`, with spare kernels):
   per-notebook wall time (the batch's wall time / N) against a bare kernel (start over IPC, one trivial cell,
   shutdown; the median of ``--bare-runs``, one at a time). Goal: within 1.5x.
2. The same batch without spare kernels (each kernel started when its notebook is), to show what the spares buy;
   with ``--repeat R`` both batches run R times in alternating order and the medians are compared.
3. An in-process sequential loop of ``papermill.execute_notebook`` over the same notebooks (one Python process,
   each notebook in its own kernel started in its folder with the same parameters and unattended variable).
   Goal: the batch >= 2x faster.
4. ``workbench audit --rerun`` of the batch's round after ``collect`` (every check, and every signed sheet's
   notebook re-run, on spare kernels). Goal: <= 1.2x the batch.

Recorded 2026-11-30 on the shared 2-core development machine (two other sessions' tests and benchmarks beside
it, load average 1.7-6), 20 of the 295 notebooks (4 expert, 16 user), ``--repeat 2``: bare kernel 1.14 s;
batch with spares 51.1 s = 2.56 s/notebook (23.5 notebooks/min; 2.24x the bare kernel: goal MISSED), without
spares 51.8 s (spares' gain 1.01x: none measurable when both cores are busy anyway); papermill loop 71.2 s =
3.56 s/notebook (speed-up 1.39x: goal MISSED); audit --rerun 62.4 s (1.22x: goal missed by a hair; 0.76x and
0.85x in two earlier runs, load 5-6). The full stage (295 notebooks) was not run here: it takes over 30 minutes.

Recorded 2026-12-05, kernels forked from a template that imported the notebook's modules (workbench.run.forkserver)
and a ready check without jupyter_client's fixed 0.2 s wait, ``--notebooks 40 --skip-audit`` (8 expert, 32 user
notebooks), load 2.2 at the start (another session's tests beside it): bare kernel 0.62 s; batch with spares 21.3 s
= 0.53 s/notebook (112.8 notebooks/min), 1.45x 40 bare kernels 2 at a time (14.6 s): goal met, the batch's fixed
costs (worker and template start) included; without spares 42.7 s (spares' gain 2.01x); papermill loop 64.6 s:
the batch 3.03x faster, goal met. Quiet (load 0.6), ``--notebooks 60`` (11 expert, 49 user): batch 19.2 s = 0.32
s/notebook (187.7 notebooks/min), 1.10x 60 bare kernels 2 at a time (17.5 s); without spares 43.8 s (gain 2.28x);
papermill loop 86.9 s: 4.53x. The whole stage: benchmarks/bench_stage.py.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT / "tests"))  # the sample judgments fixture

from coord_helpers import team  # noqa: E402
from judgments import demo_judgments  # noqa: E402
from make_stage1 import make_stage1_round  # noqa: E402

from workbench.audit.checks import audit_round  # noqa: E402
from workbench.core.files import sha256_file  # noqa: E402
from workbench.core.signing import generate_keypair, load_private_key, load_public_key, public_key_pem  # noqa: E402
from workbench.demo.run import COORDINATOR, default_rubrics_dir  # noqa: E402
from workbench.model.round import load_round  # noqa: E402
from workbench.model.rubric import load_rubric  # noqa: E402
from workbench.round.collect import collect  # noqa: E402
from workbench.round.lifecycle import freeze, init_round  # noqa: E402
from workbench.round.submit import UNATTENDED_ENV, issue_token  # noqa: E402
from workbench.run.batch import Task, default_notebook, execute, plan  # noqa: E402
from workbench.run.kernels import close_spares  # noqa: E402


def make_round(base: Path, n_experts: int, n_teams: int) -> Path:
    """A frozen round of ``n_experts`` x ``n_teams`` with answers (no evidence); bench_audit.py builds on it."""
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


def bare_kernel(n: int) -> list[float]:
    """Seconds for each of ``n`` bare kernels, one at a time: start over IPC, run ``1 + 1``, shut down."""
    from jupyter_client.manager import KernelManager

    times = []
    for _ in range(n):
        d = tempfile.mkdtemp(prefix="wb-b-")
        t = time.perf_counter()
        km = KernelManager(kernel_name="python3", transport="ipc", ip=d + "/k")
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("1 + 1", timeout=60, output_hook=lambda _: None)
        assert reply["content"]["status"] == "ok"
        kc.stop_channels()
        km.shutdown_kernel()
        times.append(time.perf_counter() - t)
        shutil.rmtree(d, ignore_errors=True)
    return times


def bare_batch(n: int, jobs: int) -> float:
    """Seconds for ``n`` bare kernels run ``jobs`` at a time (the batch's own count and parallelism): the
    baseline of a batch, every kernel of it timed, never one kernel's time multiplied."""
    from concurrent.futures import ThreadPoolExecutor

    t = time.perf_counter()
    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(lambda _: bare_kernel(1), range(n)))
    return time.perf_counter() - t


def subset(tasks: list[Task], n: int) -> list[Task]:
    """``n`` tasks spread evenly over the plan (experts and users, every team)."""
    if n >= len(tasks):
        return tasks
    step = len(tasks) / n
    return [tasks[math.floor(i * step)] for i in range(n)]


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of every process it started and waited for (workers,
    their templates and kernels: each parent reaps its children, so their time adds up the chain)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_engine(rd: Path, nb: Path, tasks: list[Task], jobs: int, pool: bool) -> float:
    t = time.perf_counter()
    res = execute([(x, 0) for x in tasks], rd, nb, jobs=jobs, progress=False, pool=pool)
    s = time.perf_counter() - t
    bad = [f"{r.reviewer}/{r.team}: {r.error}" for r in res.values() if r.state != "done"]
    assert not bad, bad
    return s


def papermill_loop(rd: Path, nb: Path, tasks: list[Task]) -> float:
    """The simple way: papermill.execute_notebook in this process, one notebook after another."""
    import papermill as pm

    nb_hash = sha256_file(nb)
    t = time.perf_counter()
    for x in tasks:
        folder = rd / x.folder
        folder.mkdir(parents=True, exist_ok=True)
        # the kernel inherits it: this notebook signs, with a one-use token as the batch hands its kernels
        os.environ[UNATTENDED_ENV] = issue_token(folder, x.reviewer, x.team)[0]
        try:
            pm.execute_notebook(str(nb), str(folder / f"{x.team}.ipynb"), kernel_name="python3", progress_bar=False,
                                cwd=str(folder), parameters={
                                    "round_dir": "../..", "reviewer_id": x.reviewer, "team_id": x.team, "role": x.role,
                                    "lang": x.lang, "key_file": x.key_file, "answers_file": x.answers_file,
                                    "output_dir": "", "notebook_sha256": nb_hash})
        finally:
            os.environ.pop(UNATTENDED_ENV, None)
    return time.perf_counter() - t


def _signed(rd: Path) -> int:
    return len(list((rd / "sheets").glob("*/*.dsse.json")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", type=int, default=0, help="an evenly spread subset of this many (default: all 295)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--bare-runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=1, help="batch runs with and without spares, alternating (medians)")
    ap.add_argument("--skip-audit", action="store_true")
    a = ap.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    nb = default_notebook()
    base = Path(tempfile.mkdtemp(prefix="wb-bench-batch-"))
    try:
        s1 = make_stage1_round(base / "stage1")
        frozen = s1.round_dir
        tasks = plan(load_round(frozen), s1.keys_dir, "en")
        chosen = subset(tasks, a.notebooks or len(tasks))
        n = len(chosen)

        def fresh(name: str) -> Path:
            out = base / name / "round"
            shutil.copytree(frozen, out)
            return out

        print(f"machine: {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; notebook: {nb.name} "
              f"(sha256 {sha256_file(nb)[:12]})")
        print(f"round: {len(s1.teams)} teams, {len(s1.experts)} experts, {len(s1.users)} users = {len(tasks)} notebooks; "
              f"measured on {n} of them{' (an evenly spread subset)' if n < len(tasks) else ''}, "
              f"{sum(x.role == 'expert' for x in chosen)} expert and {sum(x.role == 'user' for x in chosen)} user notebooks")

        bare = bare_kernel(a.bare_runs)
        spares, plain, spares_cpu = [], [], []
        for i in range(a.repeat):  # alternating order (ABBA...), so a busy spell weighs on both alike
            for pool in ((True, False) if i % 2 == 0 else (False, True)):
                rd_run = fresh(f"batch-{i}-{pool}")
                c0 = cpu_seconds()
                (spares if pool else plain).append(run_engine(rd_run, nb, chosen, a.jobs, pool=pool))
                if pool:
                    spares_cpu.append(cpu_seconds() - c0)
                close_spares()
                assert _signed(rd_run) == n
                if pool:
                    rd_batch = rd_run  # the audit re-runs this one
        c0 = cpu_seconds()
        bare_all = bare_batch(n, a.jobs)  # the same number of kernels, as many at a time as the batch
        bare_cpu = cpu_seconds() - c0
        rd_seq = fresh("sequential")
        seq_s = papermill_loop(rd_seq, nb, chosen)
        bare += bare_kernel(a.bare_runs)  # before and after, so a busy spell weighs on both sides
        assert _signed(rd_seq) == n
        batch_s, nopool_s = statistics.median(spares), statistics.median(plain)

        med_bare = statistics.median(bare)
        per_nb = batch_s / n
        print(f"bare kernel (IPC start, '1 + 1', shutdown), one at a time: median {med_bare:.2f} s "
              f"(runs: {', '.join(f'{x:.2f}' for x in bare)})")
        print(f"batch --jobs {a.jobs}, spare kernels:      {batch_s:7.1f} s = {per_nb:.2f} s/notebook wall "
              f"({statistics.median(spares_cpu) / n:.2f} CPU-s/notebook, measured); {60 / per_nb:.1f} notebooks/min  "
              f"(runs: {', '.join(f'{x:.1f}' for x in spares)})")
        print(f"batch --jobs {a.jobs}, no spare kernels:   {nopool_s:7.1f} s = {nopool_s / n:.2f} s/notebook wall  "
              f"(runs: {', '.join(f'{x:.1f}' for x in plain)})")
        print(f"papermill.execute_notebook loop (1 process): {seq_s:7.1f} s = {seq_s / n:.2f} s/notebook")
        print(f"{n} bare kernels, {a.jobs} at a time:      {bare_all:7.1f} s = {bare_all / n:.2f} s/kernel wall "
              f"({bare_cpu / n:.2f} CPU-s/kernel, measured)")
        r1 = batch_s / bare_all
        print(f"ratio batch wall / {n} bare kernels' wall (same parallelism): {r1:.2f}x  "
              f"goal <= 1.5x: {'met' if r1 <= 1.5 else 'MISSED'}")
        r2 = seq_s / batch_s
        print(f"speed-up over the papermill loop: {r2:.2f}x  goal >= 2x: {'met' if r2 >= 2 else 'MISSED'}")
        print(f"spares' gain (no spares / spares): {nopool_s / batch_s:.2f}x")

        if not a.skip_audit:
            coord = load_private_key(s1.keys_dir / f"{COORDINATOR}.key")
            decisions = collect(rd_batch, coord, COORDINATOR)
            accepted = sum(d.decision == "accepted" for d in decisions)
            t = time.perf_counter()
            res = audit_round(rd_batch, rerun=True, jobs=a.jobs, notebook=nb)
            audit_s = time.perf_counter() - t
            rerun_errors = [f for f in res.findings if f.check.startswith("rerun.") and f.severity == "error"]
            print(f"audit --rerun --jobs {a.jobs} ({accepted} accepted sheets, {res.rerun_sheets} re-run; "
                  f"re-run errors: {len(rerun_errors)}): {audit_s:.1f} s")
            r3 = audit_s / batch_s
            print(f"ratio audit --rerun / batch: {r3:.2f}x  goal <= 1.2x: {'met' if r3 <= 1.2 else 'MISSED'}")
            assert not rerun_errors, [f.message for f in rerun_errors[:3]]
    finally:
        close_spares()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
