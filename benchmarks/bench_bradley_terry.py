"""Bradley-Terry fit + bootstrap on 1,000,000 synthetic votes among 20 models, against scikit-learn.

Ours: :func:`workbench.evidence.users.count_votes` then :func:`~workbench.evidence.users.bradley_terry_counts`
(pair counts, Newton, multinomial bootstrap over votes); :func:`~workbench.evidence.users.bradley_terry` is
the two in a row.
Baseline: the strongest simple way to do the same with scikit-learn: the votes aggregated with pandas into
one row per (model A, model B, outcome) cell, +1 for model A and -1 for model B, no intercept, no penalty,
the cell's vote count as ``sample_weight`` (a tie gives half a win to each side); the bootstrap draws the
cells' counts from a multinomial over the votes, exactly as ours does, and refits. Every one of the
``--resamples`` refits is timed, on both sides: nothing is extrapolated. The natural-log (logit) scale is
used on both sides; both fits are anchored at the same model before comparing.

Two phases are timed on both sides and printed apart: counting the votes into cells (the same work for
either method: one pass over a million strings) and fitting with the bootstrap from the cells (where the
methods differ; the goal's ratio). The end-to-end ratio is printed too.

Both sides run with one BLAS/OpenMP thread (``threadpoolctl``, which scikit-learn ships with): on problems
this small threads do not help scikit-learn on a quiet machine, and on a busy one they slow it down by up
to ten times, which would flatter us.

For context, Chatbot Arena's published per-vote regression (one design row per vote, each vote duplicated)
is fitted once on the full data and timed; its 200 refits are not run (each refits two million rows).

Goal: fit + bootstrap ratio >= 10x, max |difference| <= 1e-3.

Run: ``python benchmarks/bench_bradley_terry.py [--votes 1000000] [--resamples 200]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from workbench.evidence.users import bradley_terry_counts, count_votes, fit_strengths, validate_votes


def synthetic_votes(n: int, k: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Votes among ``k`` models with normal true strengths; 10% ties; one prompt per vote (no duplicates)."""
    rng = np.random.default_rng(seed)
    true = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    u = rng.random(n)
    winner = np.where(u < 0.9 * p, "A", np.where(u < 0.9, "B", "tie"))
    names = np.array([f"model-{i:02d}" for i in range(k)], dtype=object)
    frame = pd.DataFrame({
        "user_id": pd.array(np.char.add("u", rng.integers(0, 1000, n).astype(str)), dtype=object),
        "prompt_id": pd.array(np.char.add("p", np.arange(n).astype(str)), dtype=object),
        "model_a": names[a], "model_b": names[b], "winner": pd.array(winner, dtype=object),
    })
    return frame, true


def arena_fit(df: pd.DataFrame, models: pd.Series) -> np.ndarray:
    """Chatbot Arena's per-vote logistic regression (logit scale); returns coefficients in ``models`` order."""
    df = pd.concat([df, df], ignore_index=True)
    n, p = df.shape[0], len(models)
    x = np.zeros([n, p])
    x[np.arange(n), models[df["model_a"]].to_numpy()] = 1.0
    x[np.arange(n), models[df["model_b"]].to_numpy()] = -1.0
    y = np.zeros(n)
    y[(df["winner"] == "A").to_numpy()] = 1.0
    tie = (df["winner"] == "tie").to_numpy().copy()
    tie[len(tie) // 2:] = False
    y[tie] = 1.0
    # penalty=None in the notebook; C=inf is the same fit and the spelling scikit-learn >= 1.8 asks for
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lr.fit(x, y)
    if any("converge" in str(w.message) for w in caught):
        print("  note: scikit-learn reported a convergence warning")
    return lr.coef_[0]


def cells(df: pd.DataFrame, models: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The votes as (model A index, model B index, outcome code 0=A 1=B 2=tie, count) per distinct cell."""
    code = np.select([df["winner"] == "A", df["winner"] == "B"], [0, 1], 2)
    key = pd.DataFrame({"a": models[df["model_a"]].to_numpy(), "b": models[df["model_b"]].to_numpy(), "o": code})
    g = key.value_counts(sort=False).reset_index()
    return g["a"].to_numpy(), g["b"].to_numpy(), g["o"].to_numpy(), g["count"].to_numpy(dtype=float)


def sklearn_fit(a: np.ndarray, b: np.ndarray, o: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """scikit-learn on the aggregated cells, counts as sample weights; coefficients in model order."""
    rows = len(a)
    x = np.zeros((2 * rows, k))
    x[np.arange(rows), a] = 1.0
    x[np.arange(rows), b] = -1.0
    x[rows:] = x[:rows]
    y = np.r_[np.ones(rows), np.zeros(rows)]  # first copy: A won; second copy: B won
    w = np.r_[np.where(o == 0, counts, np.where(o == 2, counts / 2, 0.0)),
              np.where(o == 1, counts, np.where(o == 2, counts / 2, 0.0))]
    keep = w > 0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lr.fit(x[keep], y[keep], sample_weight=w[keep])
    if any("converge" in str(m.message) for m in caught):
        print("  note: scikit-learn reported a convergence warning")
    return lr.coef_[0]


def cells_fit(a: np.ndarray, b: np.ndarray, o: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """Our Newton fit on exactly these cell counts (to compare one bootstrap resample)."""
    wins = np.zeros((k, k))
    np.add.at(wins, (a, b), np.where(o == 0, counts, np.where(o == 2, counts / 2, 0.0)))
    np.add.at(wins, (b, a), np.where(o == 1, counts, np.where(o == 2, counts / 2, 0.0)))
    return fit_strengths(wins)


def main() -> None:
    with threadpool_limits(limits=1):
        run()


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    frame, _ = synthetic_votes(args.votes, args.models, args.seed)
    print(f"{args.votes:,} synthetic votes among {args.models} models (seed {args.seed}); "
          f"{args.resamples} bootstrap resamples")

    t = time.perf_counter()
    votes = validate_votes(frame, source="synthetic")
    t_validate = time.perf_counter() - t
    t = time.perf_counter()
    names, our_counts = count_votes(votes)
    t_ours_count = time.perf_counter() - t
    t = time.perf_counter()
    bt = bradley_terry_counts(names, our_counts, source="synthetic", resamples=args.resamples, seed=args.seed)
    t_ours_fit = time.perf_counter() - t
    t_ours = t_ours_count + t_ours_fit
    print(f"ours:     count {t_ours_count:6.2f} s   fit + {args.resamples} resamples {t_ours_fit:6.2f} s   "
          f"total {t_ours:6.2f} s   (input validation, in neither: {t_validate:.2f} s; failed resamples: "
          f"{bt.failed_resamples})")

    models = pd.Series(np.arange(args.models), index=sorted(set(frame["model_a"]) | set(frame["model_b"])))
    k = args.models
    t = time.perf_counter()
    a, b, o, counts = cells(frame, models)
    t_base_count = time.perf_counter() - t
    t = time.perf_counter()
    coef = sklearn_fit(a, b, o, counts, k)
    rng = np.random.default_rng(args.seed)
    kept = []
    for i in range(args.resamples):  # every refit timed, like ours
        boot_counts = rng.multinomial(int(counts.sum()), counts / counts.sum()).astype(float)
        boot = sklearn_fit(a, b, o, boot_counts, k)
        if i < 3:
            kept.append((boot_counts, boot))
    t_base_fit = time.perf_counter() - t
    t_base = t_base_count + t_base_fit
    # our fit on the same counts is compared outside the baseline's timing (it is not the baseline's work)
    resample_diffs = []
    for boot_counts, boot in kept:
        mine = cells_fit(a, b, o, boot_counts, k)
        resample_diffs.append(np.max(np.abs((boot - boot[0]) - (mine - mine[0]))))
    print(f"baseline: count {t_base_count:6.2f} s   fit + {args.resamples} resamples {t_base_fit:6.2f} s   "
          f"total {t_base:6.2f} s   (pandas value_counts, scikit-learn on the aggregated cells, every refit timed)")

    t = time.perf_counter()
    arena = arena_fit(frame, models)
    t_arena = time.perf_counter() - t
    print(f"context:  Chatbot Arena's per-vote regression, one fit on the full data {t_arena:.2f} s")

    ours = np.array([{s.model: s.strength for s in bt.strengths}[m] for m in models.index])
    anchor = models.index[0]
    diff = np.max(np.abs((ours - ours[0]) - (coef - coef[0])))
    diff_arena = np.max(np.abs((ours - ours[0]) - (arena - arena[0])))
    print(f"speed-up: fit + bootstrap {t_base_fit / t_ours_fit:,.1f}x (goal >= 10x)   counting "
          f"{t_base_count / t_ours_count:,.1f}x   end to end {t_base / t_ours:,.1f}x")
    print(f"max |strength difference|, full data, anchored at {anchor}: {diff:.2e} logit against scikit-learn, "
          f"{diff_arena:.2e} against the per-vote fit   (goal <= 1e-3)")
    print(f"max |strength difference| on {len(resample_diffs)} bootstrap resamples (same counts): "
          f"{max(resample_diffs):.2e} logit")


if __name__ == "__main__":
    main()
