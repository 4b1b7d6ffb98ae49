"""Bradley-Terry fit + bootstrap on 1,000,000 synthetic votes among 20 models, against Chatbot Arena's approach.

Ours: :func:`workbench.evidence.users.bradley_terry` (pair counts, Newton, multinomial bootstrap over votes).
Baseline: the logistic regression that Chatbot Arena published (its "compute_mle_elo" notebook): one design
row per vote, each vote duplicated, +1 for model A and -1 for model B, no intercept, no penalty; an A win
gives two 1-rows, a B win two 0-rows, a tie one of each; the bootstrap resamples the votes with replacement
and refits. The natural-log (logit) scale is used on both sides (the notebook multiplies by ln 10 / 400
for Elo points, which only rescales). Both fits are anchored at the same model before comparing.

200 scikit-learn refits of 2,000,000 rows do not fit in a few minutes on 2 cores, so the baseline runs the
full fit plus ``--baseline-resamples`` refits and extrapolates the mean refit time to ``--resamples``; the
printout says so. Goal: ratio >= 10x, max |difference| <= 1e-3.

Run: ``python benchmarks/bench_bradley_terry.py [--votes 1000000] [--baseline-resamples 3]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from workbench.evidence.users import bradley_terry, fit_strengths, validate_votes


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


def counts_fit(df: pd.DataFrame, models: pd.Series) -> np.ndarray:
    """Our fit on exactly the votes of ``df`` (used to compare one bootstrap resample)."""
    k = len(models)
    a, b = models[df["model_a"]].to_numpy(), models[df["model_b"]].to_numpy()
    w = df["winner"].to_numpy()
    wins = np.zeros((k, k))
    np.add.at(wins, (a, b), np.where(w == "A", 1.0, np.where(w == "tie", 0.5, 0.0)))
    np.add.at(wins, (b, a), np.where(w == "B", 1.0, np.where(w == "tie", 0.5, 0.0)))
    return fit_strengths(wins)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--resamples", type=int, default=200)
    ap.add_argument("--baseline-resamples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    frame, _ = synthetic_votes(args.votes, args.models, args.seed)
    print(f"{args.votes:,} synthetic votes among {args.models} models (seed {args.seed}); "
          f"{args.resamples} bootstrap resamples")

    t = time.perf_counter()
    votes = validate_votes(frame, source="synthetic")
    t_validate = time.perf_counter() - t
    t = time.perf_counter()
    bt = bradley_terry(votes, resamples=args.resamples, seed=args.seed)
    t_ours = time.perf_counter() - t
    print(f"ours:     fit + {args.resamples} resamples {t_ours:8.2f} s   (input validation, not in the ratio: "
          f"{t_validate:.2f} s; failed resamples: {bt.failed_resamples})")

    models = pd.Series(np.arange(args.models), index=sorted(set(frame["model_a"]) | set(frame["model_b"])))
    t = time.perf_counter()
    coef = arena_fit(frame, models)
    t_fit = time.perf_counter() - t
    rng = np.random.default_rng(args.seed)
    refit_times, resample_diffs = [], []
    for _ in range(args.baseline_resamples):
        t = time.perf_counter()
        sample = frame.sample(frac=1.0, replace=True, random_state=rng)
        boot = arena_fit(sample, models)
        refit_times.append(time.perf_counter() - t)
        mine = counts_fit(sample, models)
        resample_diffs.append(np.max(np.abs((boot - boot[0]) - (mine - mine[0]))))
    per_refit = float(np.mean(refit_times)) if refit_times else float("nan")
    t_base = t_fit + per_refit * args.resamples
    print(f"baseline: fit {t_fit:.2f} s + {args.resamples} x {per_refit:.2f} s per resample "
          f"= {t_base:8.2f} s   (EXTRAPOLATED from {args.baseline_resamples} timed resamples)")

    ours = np.array([{s.model: s.strength for s in bt.strengths}[m] for m in models.index])
    anchor = models.index[0]
    diff = np.max(np.abs((ours - ours[0]) - (coef - coef[0])))
    print(f"speed-up: {t_base / t_ours:,.1f}x   (goal >= 10x; {t_base / (t_ours + t_validate):,.1f}x counting "
          "our input validation too)")
    print(f"max |strength difference|, full data, anchored at {anchor}: {diff:.2e} logit   (goal <= 1e-3)")
    if resample_diffs:
        print(f"max |strength difference| on the {len(resample_diffs)} baseline resamples (same votes): "
              f"{max(resample_diffs):.2e} logit")


if __name__ == "__main__":
    main()
