"""A frozen round the size of stage 1 (5 teams, 10 experts, 49 user evaluators: 295 notebooks), for benchmarks.

    python data/make_stage1.py [--out DIR] [--experts 10] [--users 49]   # default: a new temporary folder

Built from the embedded demo round's inputs (its five teams, their evidence and references, the rubrics), so
every notebook shows real evidence panels and charts. Every reviewer has answers and a key, so a batch signs a
sheet per notebook; unlike the demo, the user evaluators review in notebooks too (with the user rubric), as a
round without a survey tool would. Experts beyond the demo's five reuse the demo experts' answers in turn;
user evaluators' answers are the deterministic sample judgments of ``tests/judgments.py``, one seed per user.
Writes ``DIR/round`` (frozen) and ``DIR/keys`` (unencrypted; benchmark only); prints DIR.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the sample judgments are a test fixture

from judgments import demo_judgments  # noqa: E402

from workbench.demo.run import COORDINATOR, default_demo_data, write_demo_round  # noqa: E402
from workbench.core.files import load_yaml  # noqa: E402
from workbench.round.lifecycle import freeze  # noqa: E402
from workbench.model.rubric import load_rubric  # noqa: E402
from workbench.core.signing import generate_keypair, load_private_key  # noqa: E402


@dataclass(frozen=True)
class Stage1:
    """Where the generated round and its reviewers' keys are."""

    round_dir: Path
    keys_dir: Path
    experts: list[str]
    users: list[str]
    teams: list[str]


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=110), encoding="utf-8")


def make_stage1_round(base: str | Path, n_experts: int = 10, n_users: int = 49) -> Stage1:
    """Write a frozen stage-1-sized round into ``base/round`` with keys in ``base/keys``; return where."""
    base = Path(base)
    data = default_demo_data()
    teams = load_yaml(data / "teams.yaml")[0]["teams"]
    team_ids = [t["id"] for t in teams]
    demo_experts = sorted(p.name for p in (data / "answers").iterdir() if p.is_dir())
    experts = [f"expert-{i:02d}" for i in range(1, n_experts + 1)]
    users = [f"user-{i:02d}" for i in range(1, n_users + 1)]
    keys = base / "keys"
    for i in (COORDINATOR, *experts, *users):
        generate_keypair(i, keys)
    rd = base / "round"
    write_demo_round(rd, keys, round_id="stage1-bench", experts=experts, users=users, teams=teams, label="Bench",
                     copy=("evidence", "references"))
    for n, e in enumerate(experts):
        src = data / "answers" / demo_experts[n % len(demo_experts)]
        for t in team_ids:
            (rd / "answers" / e).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / f"{t}.yaml", rd / "answers" / e / f"{t}.yaml")
    user_rubric = load_rubric(rd / "rubrics" / "user.yaml")
    for n, u in enumerate(users):
        judgments = {k: v.model_dump(exclude_none=True) for k, v in demo_judgments(user_rubric, seed=n).items()}
        for t in team_ids:
            _dump(rd / "answers" / u / f"{t}.yaml", {"judgments": judgments, "coi": {"has_conflict": False, "statement": ""}})
    freeze(rd, load_private_key(keys / f"{COORDINATOR}.key"), COORDINATOR)
    return Stage1(rd, keys, experts, users, team_ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="an empty or new folder (default: a new temporary one)")
    ap.add_argument("--experts", type=int, default=10)
    ap.add_argument("--users", type=int, default=49)
    a = ap.parse_args()
    out = a.out or Path(tempfile.mkdtemp(prefix="wb-stage1-"))
    s = make_stage1_round(out, a.experts, a.users)
    print(f"{out}: {len(s.teams)} teams, {len(s.experts)} experts, {len(s.users)} users, "
          f"{len(s.teams) * (len(s.experts) + len(s.users))} notebooks; round {s.round_dir}, keys {s.keys_dir}")


if __name__ == "__main__":
    main()
