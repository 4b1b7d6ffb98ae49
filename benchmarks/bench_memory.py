"""Peak memory of the evidence readers on hostile-sized inputs (issue 13): goal < 500 MB each.

Each reader runs in a fresh Python process that prints its own peak RSS (``VmHWM``), and so does the
named baseline on the same file in the same run:

- a 64 MB results CSV (known benchmarks, every row repeated many times: it parses, then is refused for the
  repeats, as a hostile or broken harness export would be): ``read_results_csv`` vs ``pandas.read_csv(dtype=str)``
  (what a user would do first);
- a 200 MB training log (CSV): ``load_training_log`` vs ``pandas.read_csv``;
- a 2 GB safetensors file holding one (1, N) bfloat16 tensor: ``fingerprint_model`` vs
  ``safetensors.numpy.load_file`` (loading the model, the simple way to look at its weights);
- 300,000 empty tensors: ``fingerprint_model`` vs ``safetensors.numpy.load_file``.

Usage: ``python benchmarks/bench_memory.py [--small]`` (``--small`` divides every size by 16 for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 500

READERS = {
    "results_csv": ("from workbench.evidence.benchmarks import read_results_csv; read_results_csv(PATH)",
                    "import pandas as pd; pd.read_csv(PATH, dtype=str)"),
    "training_log": ("from workbench.evidence.training import load_training_log; load_training_log(PATH)",
                     "import pandas as pd; pd.read_csv(PATH)"),
    "one_row_tensor": ("from workbench.evidence.weights import fingerprint_model; "
                       "fingerprint_model(os.path.dirname(PATH), executor='serial')",
                       "import ml_dtypes; from safetensors.numpy import load_file; load_file(PATH)"),
    "empty_tensors": ("from workbench.evidence.weights import fingerprint_model; "
                      "fingerprint_model(os.path.dirname(PATH), executor='serial')",
                      "from safetensors.numpy import load_file; load_file(PATH)"),
}


def make_inputs(d: Path, scale: int) -> dict[str, Path]:
    import numpy as np

    rng = np.random.default_rng(0)
    out = {}
    sys.path.insert(0, str(ROOT))
    from workbench.evidence.benchmarks import load_benchmark_sets

    specs = list(load_benchmark_sets().by_id().values())
    p = d / "results.csv"
    with p.open("w") as f:  # known benchmarks and metrics, unique values: it parses, then repeats are refused
        f.write("team,model,benchmark,metric,value,stderr,n\n")
        size, i = 0, 0
        while size < (64 << 20) // scale - 200:  # just under the reader's 64 MiB bound
            b = specs[i % len(specs)]
            line = f"t{i % 5},model-{i % 5},{b.id},\"{b.metric}\",{rng.random():.6f},{rng.random() / 50:.6f},{1000 + i}\n"
            f.write(line)
            size += len(line)
            i += 1
    out["results_csv"] = p
    p = d / "log.csv"
    with p.open("w") as f:
        f.write("step,tokens,loss,lr,grad_norm,throughput\n")  # two columns the reader ignores, as real logs have
        size, step = 0, 0
        while size < (200 << 20) // scale:
            step += 1
            line = (f"{step},{step * 4096},{10 / (1 + step / 1000) + rng.random() / 100:.6f},{3e-4:.6g},"
                    f"{rng.random():.6f},{1e5 + rng.random():.3f}\n")
            f.write(line)
            size += len(line)
    out["training_log"] = p
    from safetensors.numpy import save_file

    n = (1 << 30) // scale  # bfloat16 elements: 2 GB at scale 1
    (d / "row").mkdir()
    import ml_dtypes

    save_file({"model.embed.weight": np.zeros((1, n), dtype=ml_dtypes.bfloat16)}, d / "row" / "model.safetensors")
    with (d / "row" / "model.safetensors").open("r+b") as f:  # real bytes, not a sparse file of zeros
        f.seek(-8, os.SEEK_END)
        f.write(b"\x3f\x80" * 4)
    out["one_row_tensor"] = d / "row" / "model.safetensors"
    (d / "empty").mkdir()
    save_file({f"t{i}": np.zeros((0,), np.float32) for i in range(300_000 // scale)}, d / "empty" / "model.safetensors")
    out["empty_tensors"] = d / "empty" / "model.safetensors"
    return out


def peak(code: str, path: Path) -> tuple[float, float, str]:
    """Peak RSS (MB) and wall time of ``code`` in a fresh interpreter; the error's last line if it failed."""
    # a typed refusal (EvidenceError) is an answer too: the bound holds for refused inputs as well
    prog = (f"import os, sys\nfrom workbench.core.errors import WorkbenchError\nPATH = {str(path)!r}\n"
            f"try:\n    {code}\nexcept WorkbenchError as e:\n    print('refused:', str(e)[:80], file=sys.stderr)\n"
            # VmHWM: this process's own peak; ru_maxrss would include the benchmark's RSS from before exec
            "print(next(int(ln.split()[1]) for ln in open('/proc/self/status') if ln.startswith('VmHWM')))")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return float("nan"), wall, (r.stderr.strip().splitlines() or ["?"])[-1][:120]
    refused = [ln for ln in r.stderr.splitlines() if ln.startswith("refused:")]
    return int(r.stdout.split()[-1]) / 1024, wall, refused[0][:120] if refused else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="inputs 16 times smaller")
    args = ap.parse_args()
    scale = 16 if args.small else 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="wb-bench-mem-") as tmp:
        inputs = make_inputs(Path(tmp), scale)
        print(f"{'input':16} {'MB':>7} {'ours MB':>8} {'s':>6} {'baseline MB':>12} {'s':>6} {'ratio':>6}  goal")
        for name, (ours, base) in READERS.items():
            size = inputs[name].stat().st_size / 2**20
            m, t, err = peak(ours, inputs[name])
            bm, bt, berr = peak(base, inputs[name])
            ok = m < GOAL_MB
            print(f"{name:16} {size:7.0f} {m:8.0f} {t:6.1f} {bm:12.0f} {bt:6.1f} {m / bm:6.2f}  "
                  f"{'met' if ok else 'NOT met'} (< {GOAL_MB} MB){'  ' + err if err else ''}{'  baseline: ' + berr if berr else ''}")
            rows.append({"input": name, "input_mb": round(size, 1), "peak_mb": round(m, 1), "seconds": round(t, 1),
                         "baseline_peak_mb": round(bm, 1), "baseline_seconds": round(bt, 1), "goal_met": ok})
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
