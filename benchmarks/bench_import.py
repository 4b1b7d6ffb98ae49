"""The notebook's first cell, ``from workbench.review import open_review`` (through the alias of the flat path), against ``import pandas`` measured in the same run.

    python benchmarks/bench_import.py [--runs 7] [--top 15] [--module workbench.review]

Each import runs in a fresh interpreter (``python -c "import X"``), alternating between the two so that load
changes hit both alike; every run is timed (wall clock around the subprocess, interpreter start included for
both) and the median is compared. Goal: ``import workbench.review`` <= 2.5x ``import pandas``. Then one
``python -X importtime`` run of the module prints the top entries by cumulative time, to name what to defer
(the notebook needs ml_dtypes, altair and the weight readers only when it uses them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 2.5


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def time_import(module: str) -> float:
    """Seconds for a fresh interpreter to import ``module`` and exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=_env())
    return time.perf_counter() - t0


def importtime_top(module: str, top: int) -> list[tuple[int, int, str]]:
    """``(cumulative us, self us, name)`` of the ``top`` slowest entries of ``-X importtime``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], check=True,
                         capture_output=True, text=True, env=_env()).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cum, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(cum), int(own), name))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--module", default="workbench.review")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.runs} runs each, alternating")
    time_import("pandas")  # warm the file cache for both sides
    time_import(args.module)
    ours, base = [], []
    for _ in range(args.runs):
        base.append(time_import("pandas"))
        ours.append(time_import(args.module))
    fmt = " ".join
    print(f"import {'pandas':<17}runs {fmt(f'{t:.2f}' for t in base)} s; median {statistics.median(base):.3f} s")
    print(f"import {args.module:<17}runs {fmt(f'{t:.2f}' for t in ours)} s; "
          f"median {statistics.median(ours):.3f} s")
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"ratio {ratio:.2f}x (goal <= {GOAL}x): {'met' if ratio <= GOAL else 'MISSED'}")
    print(f"\n-X importtime, top {args.top} by cumulative time (one run):")
    print(f"{'cumulative':>12} {'self':>10}  module")
    for cum, own, name in importtime_top(args.module, args.top):
        print(f"{cum / 1e3:10.1f} ms {own / 1e3:8.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
