"""A stage-1-sized round end to end through ``workbench batch``: wall time, notebooks per minute, peak memory.

    python benchmarks/bench_stage.py [--jobs 2] [--experts 10] [--users 49] [--bare-runs 3]

The round is data/make_stage1.py's (5 teams, 10 experts, 49 user evaluators: 295 notebooks, each signing a
sheet; ``--experts``/``--users`` size a smaller one). Measured in one run, on a fresh frozen round:

1. a bare kernel (IPC start, ``1 + 1``, shutdown; the median of ``--bare-runs``, before and after the batch):
   the floor a notebook cannot go below;
2. :func:`workbench.run.batch.run_batch` (what ``workbench batch ROUND --jobs J --keys DIR`` runs): the teams'
   dossiers computed once (ROUND/cache/dossier), then every notebook on a pool of spare kernels. Reported: wall
   time, notebooks per minute, per-notebook wall time against the bare kernel (goal <= 1.5x), notebooks failed,
   signed sheets, peak RSS of this process and of the largest child (workers, kernels).

Record the load average it prints with the figures (README, Development).

Recorded 2026-12-05 (kernels forked from a template: workbench.run.forkserver), load 1.9-3.0 (another session's
tests beside it): 295 notebooks in 87.5 s (202.2 notebooks/min, 0.30 s/notebook), 0 failed, 295 sheets signed, 5
cached dossiers; 295 bare kernels 2 at a time 97.5 s: 0.90x, goal met; peak RSS 183 MB here, 241 MB the largest
child. Quiet, the same day (load 0.6 at the start): 77.9 s (227.2 notebooks/min), 0 failed; bare kernels 88.7 s:
0.88x. Before (2026-11-30, quiet): 6 min 28 s, 46 notebooks/min.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_batch import bare_batch, bare_kernel  # noqa: E402
from make_stage1 import make_stage1_round  # noqa: E402

from workbench.evidence.dossier_cache import CACHE_DIR  # noqa: E402
from workbench.run.batch import run_batch  # noqa: E402
from workbench.run.kernels import close_spares  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--experts", type=int, default=10)
    ap.add_argument("--users", type=int, default=49)
    ap.add_argument("--bare-runs", type=int, default=3)
    a = ap.parse_args()
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    base = Path(tempfile.mkdtemp(prefix="wb-bench-stage-"))
    try:
        t = time.perf_counter()
        s1 = make_stage1_round(base / "stage1", n_experts=a.experts, n_users=a.users)
        made = time.perf_counter() - t
        load0 = os.getloadavg()
        print(f"machine: {os.cpu_count()} CPU(s), load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
        print(f"round: {len(s1.teams)} teams, {len(s1.experts)} experts, {len(s1.users)} users "
              f"(made and frozen in {made:.1f} s)")
        bare = bare_kernel(a.bare_runs)
        t = time.perf_counter()
        results = run_batch(s1.round_dir, keys_dir=s1.keys_dir, jobs=a.jobs, lang="en", progress=False)
        wall = time.perf_counter() - t
        close_spares()
        bare += bare_kernel(a.bare_runs)
        n = len(results)
        bare_all = bare_batch(n, a.jobs)  # as many bare kernels as notebooks, as many at a time: every one timed
        failed = [f"{r.reviewer}/{r.team}: {r.error}" for r in results if r.state == "failed"]
        signed = len(list((s1.round_dir / "sheets").glob("*/*.dsse.json")))
        cached = sorted(p.relative_to(s1.round_dir).as_posix() for p in (s1.round_dir / CACHE_DIR).glob("*/*.json"))
        med_bare = statistics.median(bare)
        per_nb = wall / n
        load1 = os.getloadavg()
        print(f"bare kernel: median {med_bare:.2f} s (runs {', '.join(f'{x:.2f}' for x in bare)})")
        print(f"batch --jobs {a.jobs}: {n} notebooks in {wall:.1f} s ({wall // 60:.0f} min {wall % 60:.0f} s) = "
              f"{60 * n / wall:.1f} notebooks/min, {per_nb:.2f} s/notebook wall; {len(failed)} failed; "
              f"{signed} sheets signed; {len(cached)} cached dossiers")
        print(f"{n} bare kernels, {a.jobs} at a time: {bare_all:.1f} s = {bare_all / n:.2f} s/kernel wall")
        ratio = wall / bare_all
        print(f"ratio batch wall / {n} bare kernels' wall (same parallelism): {ratio:.2f}x  "
              f"goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISSED'}")
        me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"peak RSS: this process {me:.0f} MB, largest child {kids:.0f} MB")
        print(f"load average at the end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
        for line in failed[:5]:
            print("  failed:", line)
        return 1 if failed else 0
    finally:
        close_spares()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
