"""Speed of the independence-evidence parsers on realistic sizes, against plain baselines in the same run.

- Training log: 1,000,000 CSV rows (step, tokens, loss, lr) through ``load_training_log`` +
  ``analyze_training``, against ``pandas.read_csv`` of the same file (no validation).
- Tokenizer: a 200,000-token BPE ``tokenizer.json`` with 200,000 merges through ``load_tokenizer``,
  against ``json.loads`` of the same bytes (no bounds, no validation); then ``compare_tokenizers``.

Run: ``python benchmarks/bench_independence.py``. Prints seconds and the ratio to the baseline.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.evidence.tokenizer import compare_tokenizers, load_tokenizer
from workbench.evidence.training import analyze_training, load_training_log

SEED = 20260115
ROWS = 1_000_000
VOCAB = 200_000


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        step = np.arange(ROWS) * 10
        loss = 2.0 + 9.0 * np.exp(-step / 2e5) + rng.normal(0, 0.02, ROWS).clip(-0.5, 0.5)
        log = d / "log.csv"
        pd.DataFrame({"step": step, "tokens": step * 4_194_304, "loss": loss.round(5), "lr": 3e-4}).to_csv(log, index=False)
        ours = best_of(lambda: analyze_training(load_training_log(log), vocab_size=VOCAB, claimed_tokens=4e13))
        base = best_of(lambda: pd.read_csv(log))
        print(f"training log, {ROWS} rows ({log.stat().st_size / 1e6:.1f} MB): load+analyze {ours:.3f} s, "
              f"pandas.read_csv {base:.3f} s, ratio {ours / base:.2f}")

        vocab = {f"t{i}": i for i in range(VOCAB)}
        merges = [f"t{i} t{i + 1}" for i in range(VOCAB)]
        data = json.dumps({"version": "1.0", "added_tokens": [], "model": {"type": "BPE", "vocab": vocab,
                                                                             "merges": merges}}).encode()
        tj = d / "a" / "tokenizer.json"
        tj.parent.mkdir()
        tj.write_bytes(data)
        ours = best_of(lambda: load_tokenizer(tj))
        base = best_of(lambda: json.loads(data))
        print(f"tokenizer.json, {VOCAB} tokens + {VOCAB} merges ({len(data) / 1e6:.1f} MB): load {ours:.3f} s, "
              f"json.loads {base:.3f} s, ratio {ours / base:.2f}")
        a = load_tokenizer(tj)
        cmp = best_of(lambda: compare_tokenizers(a, [a]))
        print(f"compare_tokenizers, {VOCAB} vs {VOCAB}: {cmp:.3f} s")
        assert math.isclose(compare_tokenizers(a, [a]).pairs[0].jaccard, 1.0)
    print(f"seed {SEED}")


if __name__ == "__main__":
    main()
