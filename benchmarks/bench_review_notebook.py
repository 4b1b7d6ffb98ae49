"""Reviewer notebook speed: "run all" to an interactive form, and draft save latency.

Goals (issue 3): form ready <= 3 s median after the kernel is up; draft save <= 100 ms median. The baseline,
measured in the same run, is papermill's bare execution of an empty notebook (kernel start included).

    python benchmarks/bench_review_notebook.py [--runs 5] [--saves 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test round kit builds a small round folder
sys.path.insert(0, str(ROOT))

from roundkit import EXPERT, TEAM, make_round  # noqa: E402

from workbench.drafts import DraftStore  # noqa: E402
from workbench.review import open_review  # noqa: E402

NOTEBOOK = ROOT / "notebooks" / "review.ipynb"


def bare_papermill(tmp: Path) -> float:
    """Seconds for papermill to execute an empty notebook (kernel start and shutdown included)."""
    empty = tmp / "empty.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, empty)
    t = time.perf_counter()
    pm.execute_notebook(str(empty), str(tmp / "empty-out.ipynb"), kernel_name="python3", progress_bar=False)
    return time.perf_counter() - t


def form_ready(tmp: Path, round_dir: Path, key: Path) -> float:
    """Seconds from "run all" (kernel already up) until the cell that shows the Sign button has finished."""
    pm.execute_notebook(str(NOTEBOOK), str(tmp / "review.ipynb"), prepare_only=True,
                        parameters={"round_dir": str(round_dir), "reviewer_id": EXPERT, "team_id": TEAM,
                                    "role": "expert", "lang": "ko", "key_file": str(key)})
    nb = nbformat.read(tmp / "review.ipynb", as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp)}})
    last = max(i for i, c in enumerate(nb.cells) if "summary_section" in c.source)
    with client.setup_kernel():
        t = time.perf_counter()
        for i, cell in enumerate(nb.cells[: last + 1]):
            client.execute_cell(cell, i)
        return time.perf_counter() - t


def draft_saves(round_dir: Path, key: Path, n: int) -> tuple[list[float], float]:
    """Latency of single changes (widget value set -> draft on disk) and of the last change of a typing burst."""
    review = open_review(round_dir, EXPERT, TEAM, "expert", "ko", str(key))
    path = DraftStore(round_dir).path(EXPERT, TEAM)
    box = review.form.controls["expert.strategy.plan"].comment
    single = []
    for i in range(n):
        time.sleep(review.autosaver.interval + 0.05)  # an isolated change, as a click is
        text = f"comment {i}"
        t = time.perf_counter()
        box.value = text
        while text not in path.read_text(encoding="utf-8"):
            time.sleep(0.001)
        single.append(time.perf_counter() - t)
    # a reviewer typing: 100 keystrokes 20 ms apart; how long until the last one is on disk?
    time.sleep(review.autosaver.interval + 0.05)
    for i in range(100):
        box.value = "typed " + "x" * i
        time.sleep(0.02)
    t = time.perf_counter()
    final = "typed " + "x" * 99
    while f'"{final}"' not in path.read_text(encoding="utf-8"):
        time.sleep(0.001)
    return single, time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--saves", type=int, default=30)
    args = ap.parse_args()
    os.environ["PYTHONPATH"] = str(ROOT)  # kernels import this checkout's workbench
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        # a team with complete evidence (the demo's): the form is ready only after every evidence panel
        kit = make_round(tmp, demo_evidence=True)
        base = [bare_papermill(tmp) for _ in range(args.runs)]
        ready = [form_ready(tmp, kit.round_dir, kit.expert_key) for _ in range(args.runs)]
        single, burst = draft_saves(kit.round_dir, kit.expert_key, args.saves)
    med_base, med_ready, med_save = statistics.median(base), statistics.median(ready), statistics.median(single)
    print(f"machine: {os.cpu_count()} CPU(s), python {sys.version.split()[0]}; round: one team with the demo's full evidence")
    print(f"baseline  papermill, empty notebook:        median {med_base:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in base)})")
    print(f"run all -> form ready (kernel up):          median {med_ready:.3f} s  (runs: {', '.join(f'{x:.2f}' for x in ready)})"
          f"  goal <= 3 s: {'met' if med_ready <= 3 else 'MISSED'}")
    print(f"  ratio form-ready / baseline:              {med_ready / med_base:.2f}")
    print(f"draft save, single change -> on disk:       median {med_save * 1000:.1f} ms, max {max(single) * 1000:.1f} ms "
          f"over {len(single)}  goal <= 100 ms: {'met' if med_save <= 0.1 else 'MISSED'}")
    print(f"  ratio draft save / baseline:              {med_save / med_base:.4f}")
    print(f"draft save, last keystroke of a burst:      {burst * 1000:.0f} ms (throttle interval 500 ms; goal <= 1 s)")
    return 0 if med_ready <= 3 and med_save <= 0.1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
