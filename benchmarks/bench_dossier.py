"""Time to build the demo round's dossiers (every evidence part of 5 teams), against reading their inputs.

- Dossiers: ``build_dossier`` for the 5 demo teams of ``data/demo`` (harness results with 3 seeded
  bootstraps of 2000 resamples, training logs, tokenizer/config/licence checks, weight provenance against
  the Foreign-VL fingerprint), i.e. what ``aggregate_round`` adds to a round.
- Baseline: SHA-256 of the same input files (the floor: every file must be read and hashed anyway).

Goal: the dossiers add well under 10 s to the demo (which must stay under 60 s on 2 cores).

Run: ``python benchmarks/bench_dossier.py``. Prints seconds and the ratio to the baseline.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.core.files import sha256_file  # noqa: E402
from workbench.core.signing import generate_keypair, load_public_key  # noqa: E402
from workbench.evidence.dossier import build_dossier  # noqa: E402
from workbench.model.round import load_round  # noqa: E402
from workbench.round.lifecycle import init_round  # noqa: E402


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    data = ROOT / "data" / "demo"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        generate_keypair("coord", base / "keys")
        rd = base / "round"
        init_round(rd, round_id="bench", stage=1, rubrics_dir=ROOT / "rubrics", coordinator_id="coord",
                   coordinator_key=load_public_key(base / "keys" / "coord.pub"))
        shutil.copy(data / "teams.yaml", rd / "teams.yaml")
        for sub in ("evidence", "references"):
            shutil.copytree(data / sub, rd / sub, dirs_exist_ok=True)
        r = load_round(rd)
        teams = [t.id for t in r.teams.teams]
        dossiers = {t: build_dossier(r, t) for t in teams}
        files = sorted({rd / i.path for d in dossiers.values() for i in d.inputs})
        size = sum(f.stat().st_size for f in files)

        t_base = best_of(lambda: [sha256_file(f) for f in files])
        t_doss = best_of(lambda: [build_dossier(r, t) for t in teams])
    print(f"inputs: {len(files)} files, {size / 1e6:.2f} MB, {len(teams)} teams")
    print(f"baseline (sha256 of the inputs): {t_base * 1000:.1f} ms")
    print(f"build_dossier x {len(teams)}:        {t_doss:.2f} s ({t_doss / len(teams):.2f} s per team)")
    print(f"ratio to baseline: {t_doss / t_base:.0f}x")


if __name__ == "__main__":
    main()
