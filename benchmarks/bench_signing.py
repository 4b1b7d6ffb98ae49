"""Signature throughput: verify 10,000 signed score sheets (goal for audits: under 10 s).

Baseline, measured in the same run: parsing the same envelopes and hashing their payloads with SHA-256
(what any integrity check costs without public-key cryptography). Prints both and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the sample judgments fixture

from judgments import demo_judgments  # noqa: E402

from workbench.core.files import sha256_bytes  # noqa: E402
from workbench.core.signing import (
    SHEET_TYPE,
    envelope_bytes,
    generate_keypair,
    key_id,
    load_private_key,
    parse_envelope,
    sign_payload,
    verify_envelope,
)
from workbench.demo.run import default_rubrics_dir  # noqa: E402
from workbench.model.rubric import load_rubric  # noqa: E402
from workbench.model.sheet import COI, Reviewer, build_sheet, parse_sheet, sheet_bytes  # noqa: E402

N = 10_000


def main() -> None:
    rubric = load_rubric(default_rubrics_dir() / "expert.yaml")
    with tempfile.TemporaryDirectory() as d:
        generate_keypair("bench", d)
        key = load_private_key(Path(d) / "bench.key")
    pub = key.public_key()
    base = build_sheet(rubric, round_id="bench", team_id="team-0", reviewer=Reviewer(id="e", role="expert", key_id=key_id(pub)),
                       judgments=demo_judgments(rubric), coi=COI(has_conflict=False), created_at="2026-01-01T00:00:00Z")
    t0 = time.perf_counter()
    envs = [envelope_bytes(sign_payload(sheet_bytes(base.model_copy(update={"team_id": f"team-{i}"})), SHEET_TYPE, key)) for i in range(N)]
    t_sign = time.perf_counter() - t0

    def baseline() -> float:
        t = time.perf_counter()
        for e in envs:
            import base64

            sha256_bytes(base64.b64decode(parse_envelope(e)["payload"]))
        return time.perf_counter() - t

    def verify() -> float:
        t = time.perf_counter()
        for e in envs:
            parse_sheet(verify_envelope(e, pub, SHEET_TYPE))
        return time.perf_counter() - t

    b = statistics.median(baseline() for _ in range(3))
    v = statistics.median(verify() for _ in range(3))
    print(f"sheets: {N}, envelope size: {len(envs[0])} bytes")
    print(f"sign (build payload + Ed25519 + envelope): {t_sign:.2f} s")
    print(f"baseline (parse envelope + SHA-256 payload): {b:.2f} s")
    print(f"verify (parse + Ed25519 verify + parse sheet): {v:.2f} s  goal < 10 s: {'met' if v < 10 else 'MISSED'}")
    print(f"ratio verify / baseline: {v / b:.2f}x")


if __name__ == "__main__":
    main()
