"""The evidence CSV reader against ``pandas.read_csv`` on a 64 MB results file, in the same run.

    python benchmarks/bench_csv.py [--runs 3] [--mb 64] [--exact]

The file is bench_memory.py's: known benchmarks and metrics (the metric quoted, holding a comma: "acc,none"),
unique values, just under the reader's 64 MiB bound. Timed, alternating, ``--runs`` times each (median):

- ``pandas.read_csv(PATH, dtype=str)``: the baseline;
- ``workbench.evidence._csv.read_csv``: the reader every evidence CSV goes through (bounds, header check,
  field counts, strict quoting, stripped cells, each row's line number). Goal: within 1.5x of the baseline;
- ``read_results_csv`` (the reader above, then every cell checked: filled, numbers, metric, range): reported; on
  this file it parses everything and converts the numbers, then refuses a value out of range on line 29, as a
  broken export would be;
- with ``--exact``: the exact line-by-line reader alone (Python's csv module), what every file took before the
  fast path (and what a file the fast path cannot read still takes).

Both readers' frames are compared once (they must be equal, line numbers included).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from workbench.core.errors import EvidenceError  # noqa: E402
from workbench.evidence import _csv  # noqa: E402
from workbench.evidence._inputs import decoded_lines  # noqa: E402
from workbench.evidence.benchmarks import RESULT_COLUMNS, load_benchmark_sets, read_results_csv  # noqa: E402

GOAL = 1.5


def make_results(path: Path, mb: int) -> int:
    """Write the results CSV (``mb`` MiB, just under); returns its rows."""
    rng = np.random.default_rng(0)
    specs = list(load_benchmark_sets().by_id().values())
    with path.open("w") as f:
        f.write("team,model,benchmark,metric,value,stderr,n\n")
        size, i = 0, 0
        while size < (mb << 20) - 200:
            b = specs[i % len(specs)]
            line = f"t{i % 5},model-{i % 5},{b.id},\"{b.metric}\",{rng.random():.6f},{rng.random() / 50:.6f},{1000 + i}\n"
            f.write(line)
            size += len(line)
            i += 1
    return i


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=64)
    ap.add_argument("--exact", action="store_true", help="also time the exact (line-by-line) reader")
    args = ap.parse_args()
    req, opt = RESULT_COLUMNS[:5], RESULT_COLUMNS[5:]
    with tempfile.TemporaryDirectory(prefix="wb-bench-csv-") as tmp:
        path = Path(tmp) / "results.csv"
        rows = make_results(path, args.mb)
        load = os.getloadavg()
        print(f"{path.stat().st_size / 2**20:.1f} MiB, {rows} rows; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        base, ours, full, exact = [], [], [], []
        frame = None

        def results() -> None:
            with contextlib.suppress(EvidenceError):  # refused on line 29, after every cell is converted
                read_results_csv(path)

        for _ in range(args.runs):
            base.append(_timed(lambda: pd.read_csv(path, dtype=str))[0])
            t, frame = _timed(lambda: _csv.read_csv(path, req, opt))
            ours.append(t)
            full.append(_timed(results)[0])
        if args.exact:
            for _ in range(args.runs):
                t, slow = _timed(lambda: _csv.parse_csv(decoded_lines(io.BytesIO(path.read_bytes()), path), str(path),
                                                        req, opt))
                exact.append(t)
            pd.testing.assert_frame_equal(frame, slow)
            print("the fast and the exact reader give equal frames (line numbers included)")
        assert frame is not None and list(frame["line"][:2]) == [2, 3] and len(frame) == rows
    fmt = " ".join
    print(f"pandas.read_csv(dtype=str)  runs {fmt(f'{t:.2f}' for t in base)} s; median {statistics.median(base):.2f} s")
    print(f"workbench read_csv          runs {fmt(f'{t:.2f}' for t in ours)} s; median {statistics.median(ours):.2f} s")
    ratio = statistics.median(ours) / statistics.median(base)
    print(f"ratio {ratio:.2f}x (goal <= {GOAL}x): {'met' if ratio <= GOAL else 'MISSED'}")
    print(f"read_results_csv            runs {fmt(f'{t:.2f}' for t in full)} s; median {statistics.median(full):.2f} s "
          f"({statistics.median(full) / statistics.median(base):.2f}x pandas; reported)")
    if exact:
        print(f"exact reader alone          runs {fmt(f'{t:.2f}' for t in exact)} s; median {statistics.median(exact):.2f} s "
              f"({statistics.median(exact) / statistics.median(base):.2f}x pandas)")
    load = os.getloadavg()
    print(f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
