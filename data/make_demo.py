"""Generate the embedded demo round's inputs (fictional; deterministic, seeded).

    python data/make_demo.py            # rewrites data/demo/ and data/rechallenge/

``data/demo`` and ``data/rechallenge`` are the one copy of these inputs: the wheel ships them as
``workbench/data/demo`` and ``workbench/data/rechallenge`` (pyproject.toml, ``force-include``).

Writes (about 0.5 MB in all):
- teams.yaml: 5 fictional consortia, their models, declared targets (every NIA, common and individual
  benchmark, on the metric's native 0..1 scale), individual benchmarks, declared training facts
  (vocabulary, tokens, GPU, GPU-hours) and evidence paths;
- evidence/<team>/: what each team submits (see docs/coordinator-guide.md, "Evidence files"):
  results.json (lm-evaluation-harness 0.4 format, with stderr and item counts: score = target x the
  team's achievement, 'quality' + noise), model-card.yaml (parameters, inference cost), training-log.csv
  (a from-scratch curve starting at ln V and falling as a power law; no restarts, no flags),
  tokenizer.json (a small byte-level BPE vocabulary drawn from a shared Zipf pool, so independent
  tokenizers share 30-50% of tokens, like real ones of different families), config.json, licences.yaml,
  weights.fingerprint (the fingerprint of a tiny generated model, tests/synthetic.py; the model itself
  is not kept) and technical-report.md;
- references/: references.yaml and the fictional foreign open model "Foreign-VL" (fingerprint,
  tokenizer.json, config.json). team-cheonma's vision encoder is Foreign-VL's, renamed and slightly
  fine-tuned (noise of 5% of each tensor's norm); its licences.yaml declares Foreign-VL's code only, not
  its weights: the provenance check says 'derived' for vision_encoder and the licence check flags
  undeclared weights. team-aurora has a vision encoder of the same shape trained on its own;
- answers/expert-0N/<team>.yaml: each of 5 experts' judgments of each team (expert rubric), for batches
  without a person. Team 'team-cheonma' reused a foreign vision encoder: 3 of 5 experts give the
  independence gate 'fail', so it is excluded whatever its points;
- users/survey.csv (user_id, team, item, value, comment) and users/votes.csv (user_id, prompt_id, model_a,
  model_b, winner) from 49 user evaluators (each signs their own rows in the demo: workbench users sign).

And the re-challenge round (data/rechallenge): after stage 1 one more team
may be selected by a committee of 7, only if more than half approve, and only at 95% or more of the latest
global models: rubrics/ (the committee's review with an approval gate, and one frontier criterion), teams.yaml
(2 candidates), references/references.yaml (the fictional frontier model's scores), evidence/<team>/,
answers/committee-0N/<team>.yaml and committee.yaml (members, one declared conflict). team-daehan is approved by
5 of 7; team-hanbit gets 3 of 6 (committee-07 declared a conflict): a tie, which fails.

Every value follows from SEED and each team's fictional 'quality'; nothing here is real data.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the model generators are test fixtures

from synthetic import make_model, make_vision, perturb, save_model  # noqa: E402

from workbench.evidence.benchmarks import load_benchmark_sets  # noqa: E402
from workbench.evidence.weights import fingerprint_model, write_fingerprint  # noqa: E402
from workbench.model.rubric import AnchoredScale, GateScale, load_rubric  # noqa: E402

SEED = 20260115
OUT = ROOT / "data" / "demo"
N_EXPERTS = 5
N_USERS = 49

TEAMS = [
    # id, name, model, active B, total B, target, individual benchmarks, quality
    ("team-aurora", "Aurora Consortium", "Aurora-70B", 70, 70, "Frontier-A 70B", ["textvqa", "docvqa"], 0.86),
    ("team-baekdu", "Baekdu AI", "Baekdu-MoE-100B", 12, 100, "Frontier-B MoE", ["bbh", "kormedmcqa"], 0.78),
    ("team-cheonma", "Cheonma Labs", "Cheonma-VL-32B", 32, 32, "Frontier-C VL", ["textvqa", "chartqa"], 0.80),
    ("team-daehan", "Daehan Foundation", "Daehan-14B", 14, 14, "Frontier-D 14B", ["kormedmcqa", "wikitext"], 0.64),
    ("team-eoullim", "Eoullim Alliance", "Eoullim-8B", 8, 8, "Frontier-E 8B", ["bbh", "wikitext"], 0.55),
]
COPIED_ENCODER = "team-cheonma"
VISION_TEAMS = ("team-aurora", "team-cheonma")
# declared training facts: vocabulary of the tiny tokenizer, tokens (x 1e12), GPU, utilisation of the peak
TRAINING = {"team-aurora": (1.8, "H100-SXM", 0.38), "team-baekdu": (2.4, "H200", 0.31),
            "team-cheonma": (1.5, "H100-SXM", 0.42), "team-daehan": (1.2, "A100", 0.45),
            "team-eoullim": (0.9, "A100", 0.40)}
PEAK_TFLOPS = {"H100-SXM": 989.4, "H200": 989.4, "A100": 312}  # workbench/data/accelerators.yaml
FOREIGN = {"id": "foreign-vl", "name": "Foreign-VL", "seed": 777}
D_MODEL, LAYERS, FF, HEADS = 64, 3, 256, 4
LOG_ROWS = 240
ITEMS_PER_BENCHMARK = 1000


# ---------------------------------------------------------------- evidence generators

def _tokenizer(rng: np.random.Generator, pool: list[str], weights: np.ndarray, words: int) -> dict:
    """A byte-level BPE tokenizer.json: single characters, then words drawn from the shared pool with every
    prefix (so each merge joins two tokens that exist)."""
    alphabet = sorted({ch for w in pool for ch in w})
    chosen = rng.choice(len(pool), size=words, replace=False, p=weights)
    tokens = list(alphabet)
    merges = []
    seen = set(tokens)
    for i in sorted(chosen):
        w = pool[i]
        for k in range(2, len(w) + 1):
            t = w[:k]
            if t not in seen:
                seen.add(t)
                tokens.append(t)
                merges.append([w[: k - 1], w[k - 1]])
    vocab = {t: i for i, t in enumerate(tokens)}
    return {"version": "1.0", "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "special": True}],
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
            "model": {"type": "BPE", "vocab": vocab, "merges": merges}}


def _word_pool(rng: np.random.Generator, n: int) -> list[str]:
    latin = list("etaoinshrdlucmfwypvbgk")
    hangul = [chr(0xAC00 + int(i)) for i in rng.choice(11172, size=60, replace=False)]  # 60 common-ish syllables
    out = set()
    while len(out) < n:
        if rng.random() < 0.5:
            w = "Ġ" + "".join(rng.choice(latin, size=int(rng.integers(2, 6))))
        else:
            w = "".join(rng.choice(hangul, size=int(rng.integers(2, 4))))
        out.add(w)
    return sorted(out)


def _config(vocab: int, vision: bool, arch: str) -> dict:
    cfg = {"architectures": [arch], "model_type": arch.lower().removesuffix("forcausallm"),
           "hidden_size": D_MODEL, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
           "intermediate_size": FF, "vocab_size": vocab, "max_position_embeddings": 4096,
           "rope_theta": 10000.0, "hidden_act": "silu", "rms_norm_eps": 1e-5, "tie_word_embeddings": False}
    if vision:
        cfg["vision_config"] = {"hidden_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
                                "intermediate_size": 192, "patch_size": 4, "image_size": 224, "hidden_act": "gelu"}
    return cfg


def _fingerprint(tensors: dict, folder: Path, name: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = save_model(tensors, Path(tmp) / name)
        write_fingerprint(fingerprint_model(d, executor="serial"), out)


def _harness(rng: np.random.Generator, model: str, specs, targets: dict[str, float], q: float) -> dict:
    results, n_samples = {}, {}
    for s in specs:
        achievement = float(np.clip(q + 0.12 + rng.normal(0, 0.06), 0.3, 1.08))
        t = targets[s.id]
        value = t * achievement if s.higher_is_better else t / achievement
        value = float(np.clip(value, s.min if s.min is not None else -np.inf, s.max if s.max is not None else np.inf))
        n = ITEMS_PER_BENCHMARK
        se = math.sqrt(value * (1 - value) / n) if s.proportion else abs(value) * 0.02
        name, filt = s.metric.split(",", 1)
        results[s.task] = {"alias": s.task, s.metric: round(value, 4), f"{name}_stderr,{filt}": round(se, 4)}
        n_samples[s.task] = {"original": n, "effective": n}
    return {"results": results, "n-samples": n_samples, "config": {"model": "hf", "model_args": f"pretrained={model}"},
            "lm_eval_version": "0.4.5"}


def _training_log(rng: np.random.Generator, vocab: int, tokens: float) -> str:
    ln_v = math.log(vocab)
    steps = np.arange(LOG_ROWS) * 50
    floor = 2.0 + 0.5 * rng.random()
    loss = floor + (ln_v + 0.02 - floor) * (1 + steps / 400.0) ** -0.6 + rng.normal(0, 0.01, LOG_ROWS)
    lr = np.minimum(steps / 500.0, 1.0) * 3e-4
    rows = ["step,tokens,loss,lr"]
    rows += [f"{s},{tokens * s / steps[-1]:.6g},{v:.4f},{r:.3g}" for s, v, r in zip(steps, loss, lr, strict=True)]
    return "\n".join(rows) + "\n"


def _licences(tid: str, model: str) -> dict:
    comps = [{"name": "vLLM", "source": "https://github.com/vllm-project/vllm", "version": "0.6.3",
              "licence": "Apache-2.0", "use": "inference-only"},
             {"name": "Megatron-LM", "source": "https://github.com/NVIDIA/Megatron-LM", "version": "core_r0.9.0",
              "licence": "BSD-3-Clause AND Apache-2.0", "use": "code"}]
    if tid == COPIED_ENCODER:
        # the modelling code is declared; the encoder weights taken from the same model are not
        comps.append({"name": "Foreign-VL", "source": "https://example.org/foreign-lab/Foreign-VL", "version": "1.0",
                      "licence": "Apache-2.0", "use": "code", "notes": "vision tower modelling code"})
    return {"manifest_version": 1, "model": model, "components": comps}


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(obj, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    else:
        path.write_text(yaml.safe_dump(obj, allow_unicode=True, sort_keys=False))


def _evidence(rng: np.random.Generator, teams: list[dict]) -> None:
    """Every team's evidence files and the references (see the module docstring)."""
    sets = load_benchmark_sets()
    by_id = sets.by_id()
    pool = _word_pool(rng, 6000)
    zipf = 1.0 / np.arange(1, len(pool) + 1) ** 0.9
    zipf = zipf[rng.permutation(len(pool))]
    zipf /= zipf.sum()

    ref = OUT / "references" / FOREIGN["id"]
    ref_tok = _tokenizer(rng, pool, zipf, 700)
    _dump(ref / "tokenizer.json", ref_tok)
    _dump(ref / "config.json", _config(len(ref_tok["model"]["vocab"]) + 1, True, "ForeignVLForCausalLM"))
    foreign_vision = make_vision(FOREIGN["seed"] + 1, prefix="visual.")
    _fingerprint({**make_model(FOREIGN["seed"], layers=LAYERS, d=D_MODEL, ff=FF, heads=HEADS, vocab=512),
                  **foreign_vision}, ref, "Foreign-VL", ref / "fingerprint.safetensors")
    _dump(OUT / "references" / "references.yaml", {"references": [
        {"id": FOREIGN["id"], "name": FOREIGN["name"], "fingerprint": f"{FOREIGN['id']}/fingerprint.safetensors",
         "tokenizer": f"{FOREIGN['id']}/tokenizer.json", "config": f"{FOREIGN['id']}/config.json"}]})

    for i, t in enumerate(teams):
        tid, q = t["id"], t.pop("_quality")
        ev = OUT / "evidence" / tid
        tok = _tokenizer(rng, pool, zipf, 700)
        vocab = len(tok["model"]["vocab"]) + 1  # with the special token
        tokens_t, gpu, util = TRAINING[tid]
        tokens = tokens_t * 1e12
        params = t["active_params_b"] * 1e9
        specs = [*sets.nia, *sets.common, *(by_id[b] for b in t["individual_benchmarks"])]
        # declared target-model scores: a benchmark's difficulty, and a stronger target for a stronger team
        targets = {}
        for s in specs:
            base = 0.35 + 0.5 * rng.random()
            targets[s.id] = round(base * (0.9 + 0.15 * q) if s.higher_is_better else 8 + 10 * rng.random(), 4)
        t.update({"targets": targets, "vocab_size": vocab, "training_tokens": tokens, "gpu": gpu,
                  "gpu_hours": round(6 * params * tokens / (PEAK_TFLOPS[gpu] * 1e12 * util) / 3600, -2)})
        t["evidence"] = {"benchmark_results": "results.json", "model_card": "model-card.yaml",
                         "training_log": "training-log.csv", "tokenizer": "tokenizer.json", "config": "config.json",
                         "licences": "licences.yaml", "weights": "weights.fingerprint",
                         "technical_report": "technical-report.md"}
        _dump(ev / "results.json", _harness(rng, t["model"], specs, targets, q))
        _dump(ev / "model-card.yaml", {"model": t["model"], "active_parameters": params,
                                       "total_parameters": t["total_params_b"] * 1e9,
                                       "inference_cost": {"value": round(0.05 * t["active_params_b"] ** 0.8, 3),
                                                          "unit": "USD per 1M output tokens"}})
        (ev / "training-log.csv").write_text(_training_log(rng, vocab, tokens))
        _dump(ev / "tokenizer.json", tok)
        vision = tid in VISION_TEAMS
        _dump(ev / "config.json", _config(vocab, vision, t["model"].split("-")[0] + "ForCausalLM"))
        _dump(ev / "licences.yaml", _licences(tid, t["model"]))
        weights = make_model(1000 + i, layers=LAYERS, d=D_MODEL, ff=FF, heads=HEADS, vocab=vocab)
        if tid == COPIED_ENCODER:
            copied = perturb(foreign_vision, seed=2000 + i, relative=0.05)
            weights |= {k.replace("visual.", "vision_tower.", 1): v for k, v in copied.items()}
        elif vision:
            weights |= make_vision(3000 + i, prefix="vision_tower.")
        _fingerprint(weights, ev, t["model"], ev / "weights.fingerprint")
        note = ("The vision encoder was initialised from a foreign open model's weights and fine-tuned."
                if tid == COPIED_ENCODER else "All components were trained from scratch.")
        (ev / "technical-report.md").write_text(f"# {t['model']} technical report (fictional)\n\n{note}\n")
HARSH_EXPERT = "expert-05"  # scores one level lower: shows up in the spread, not as an error


def _level(rng: np.random.Generator, q: float, lo: int, hi: int, offset: int = 0) -> int:
    return int(np.clip(round(lo + (hi - lo) * q + rng.normal(0, 0.6)) + offset, lo, hi))


def main() -> None:
    rng = np.random.default_rng(SEED)
    expert = load_rubric(ROOT / "rubrics" / "expert.yaml")
    user = load_rubric(ROOT / "rubrics" / "user.yaml")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)

    teams = [{"id": tid, "name": name, "model": model, "active_params_b": active, "total_params_b": total,
              "target_model": target, "individual_benchmarks": indiv, "_quality": q}
             for tid, name, model, active, total, target, indiv, q in TEAMS]
    _evidence(rng, teams)
    (OUT / "teams.yaml").write_text(yaml.safe_dump({"teams": teams}, allow_unicode=True, sort_keys=False))

    for e in range(1, N_EXPERTS + 1):
        eid = f"expert-{e:02d}"
        for tid, *_, q in TEAMS:
            judgments = {}
            for _, c in expert.criteria():
                if isinstance(c.scale, AnchoredScale):
                    values = [lv.value for lv in c.scale.levels]
                    lv = _level(rng, q, min(values), max(values), -1 if eid == HARSH_EXPERT else 0)
                    judgments[c.id] = {"level": lv, "comment": f"{eid}: level {lv} from the technical report and logs."}
                elif isinstance(c.scale, GateScale):
                    fail = tid == COPIED_ENCODER and e <= 3
                    concern = tid == COPIED_ENCODER and not fail
                    judgments[c.id] = {
                        "verdict": "fail" if fail else "concern" if concern else "pass",
                        "comment": ("Vision encoder weights match a foreign open model (copied, then fine-tuned)." if fail
                                    else "Encoder provenance insufficiently documented." if concern
                                    else "Training logs and checkpoints support training from scratch."),
                    }
            p = OUT / "answers" / eid / f"{tid}.yaml"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(yaml.safe_dump({"judgments": judgments, "coi": {"has_conflict": False, "statement": ""}},
                                        allow_unicode=True, sort_keys=True))

    items = [c for _, c in user.criteria() if isinstance(c.scale, AnchoredScale)]
    (OUT / "users").mkdir()
    with (OUT / "users" / "survey.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["user_id", "team", "item", "value", "comment"])
        for u in range(1, N_USERS + 1):
            for tid, *_, q in TEAMS:
                for c in items:
                    lv = _level(rng, q, 1, 5)
                    # the user rubric asks for a comment at an extreme level, as the notebook does
                    note = {1: "Not usable for our work yet.", 5: "Better than the tools we use today."}.get(lv, "")
                    w.writerow([f"user-{u:02d}", tid, c.id, lv, note])
    quality = {t[0]: t[-1] for t in TEAMS}
    with (OUT / "users" / "votes.csv").open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["user_id", "prompt_id", "model_a", "model_b", "winner"])
        for u in range(1, N_USERS + 1):
            for k in range(1, 6):
                a, b = rng.choice(sorted(quality), size=2, replace=False)
                pa = 1 / (1 + np.exp(-6 * (quality[a] - quality[b])))  # Bradley-Terry style preference
                r = rng.random()
                winner = "tie" if abs(r - pa) < 0.05 else "A" if r < pa else "B"
                w.writerow([f"user-{u:02d}", f"p{k:02d}", a, b, winner])
    print(f"wrote {OUT} (seed {SEED})")
    rechallenge(np.random.default_rng(SEED + 1))


# ---------------------------------------------------------------- the re-challenge round

RC_OUT = ROOT / "data" / "rechallenge"
RC_COMMITTEE = 7
# id, name, model, params (B), ratio of the frontier reached, approving members
RC_TEAMS = [
    ("team-daehan", "Daehan Foundation", "Daehan-32B", 32, 0.97, 5),    # approved: 5 of 7
    ("team-hanbit", "Hanbit Consortium", "Hanbit-40B", 40, 0.98, 3),    # a tie: 3 of 6 (one member conflicted)
]
RC_CONFLICT = ("committee-07", "team-hanbit")
RC_LEVELS = [(1, 0.2, "불량", "Poor"), (2, 0.4, "미흡", "Weak"), (3, 0.6, "보통", "Adequate"), (4, 0.8, "우수", "Good"),
             (5, 1.0, "탁월", "Excellent")]


def _anchored(cid: str, ko: str, en: str, dko: str, den: str, points: int) -> dict:
    return {"id": cid, "title": {"ko": ko, "en": en}, "description": {"ko": dko, "en": den}, "points": points,
            "comment_required": "extremes",
            "scale": {"type": "anchored", "levels": [
                {"value": v, "fraction": f, "label": {"ko": lko, "en": len_},
                 "descriptor": {"ko": f"{lko} 수준이다.", "en": f"{len_}."}} for v, f, lko, len_ in RC_LEVELS]}}


def _rc_rubrics() -> tuple[dict, dict]:
    expert = {
        "id": "rechallenge-2026-committee", "version": "1.0.0", "part": "expert", "role": "expert",
        "title": {"ko": "패자부활전 전문가 위원회 심사 (2026)", "en": "Re-challenge expert committee review (2026)"},
        "description": {"ko": "추가 1개 팀은 전문가 위원회의 서면 및 발표 평가로 선정하며, 위원 과반이 승인한 경우에만 "
                              "선정합니다(선정하지 않을 수 있음).",
                        "en": "One additional team is selected by the expert committee's written and presentation "
                              "review, only if a majority of the committee approves; possibly none."},
        "total_points": 90,
        "sections": [
            {"id": "written", "evidence": "benchmark", "title": {"ko": "서면 평가", "en": "Written review"}, "criteria": [
                _anchored("committee.written.plan", "개발 계획의 타당성", "Soundness of the development plan",
                          "최신 글로벌 모델 성능의 95% 이상을 목표로 하는 계획이 구체적이고 실현 가능한가.",
                          "Is the plan to reach at least 95% of the latest global models specific and feasible?", 25),
                _anchored("committee.written.independence", "독자성 근거", "Evidence of independence",
                          "설계부터 사전학습까지 팀이 직접 수행했다는 근거가 충분한가.",
                          "Is there enough evidence that the team did everything from design through pre-training?", 25)]},
            {"id": "presentation", "evidence": "none", "title": {"ko": "발표 평가", "en": "Presentation review"}, "criteria": [
                _anchored("committee.presentation.capability", "기술 역량", "Technical capability",
                          "발표와 질의응답에서 확인된 팀의 기술 역량.",
                          "The team's technical capability as shown in the presentation and the questions.", 20),
                _anchored("committee.presentation.impact", "파급효과", "Ripple effects",
                          "국내외 생태계에 대한 파급효과와 실제 활용 계획.",
                          "Ripple effects on the domestic and global ecosystem and real-world use plans.", 20),
                {"id": "committee.approval", "title": {"ko": "추가 선정 승인", "en": "Approval of the additional selection"},
                 "description": {"ko": "이 팀을 추가 1개 팀으로 선정하는 데 승인합니까? 위원 과반이 승인해야 선정되며, 동수는 "
                                       "부결입니다. 근거를 반드시 기재하십시오.",
                                 "en": "Do you approve selecting this team as the additional team? More than half of the "
                                       "committee must approve; a tie fails. A justification is required."},
                 "points": 0, "comment_required": "always",
                 "scale": {"type": "gate", "options": [
                     {"value": "approve", "label": {"ko": "승인", "en": "Approve"},
                      "descriptor": {"ko": "추가 선정에 동의한다.", "en": "I approve the additional selection."}},
                     {"value": "reject", "label": {"ko": "부결", "en": "Reject"},
                      "descriptor": {"ko": "추가 선정에 동의하지 않는다.", "en": "I do not approve the additional selection."},
                      "excludes": True}]}}]}]}
    benchmark = {
        "id": "rechallenge-2026-benchmark", "version": "1.0.0", "part": "benchmark", "role": "computed",
        "title": {"ko": "패자부활전 벤치마크 요건 (2026)", "en": "Re-challenge benchmark requirement (2026)"},
        "description": {"ko": "최신 글로벌 모델 성능의 95% 이상 달성 여부(글로벌 공통 벤치마크).",
                        "en": "Whether the model reaches at least 95% of the latest global models (global common benchmarks)."},
        "total_points": 10,
        "sections": [{"id": "frontier", "evidence": "benchmark", "title": {"ko": "최신 글로벌 모델 대비", "en": "Against the frontier"},
                      "criteria": [{"id": "bench.frontier",
                                    "title": {"ko": "최신 글로벌 모델 대비 달성도", "en": "Achievement against the latest global models"},
                                    "description": {"ko": "공통 벤치마크별로 최신 글로벌 모델 점수의 95% 대비 달성률(상한 100%)의 평균 × 배점.",
                                                    "en": "Mean ratio to 95% of the frontier model's score per common benchmark "
                                                          "(capped at 100%) x points."},
                                    "points": 10, "comment_required": "never",
                                    "scale": {"type": "computed", "formula": "frontier_ratio",
                                              "params": {"set": "common", "share": 0.95, "cap": 1.0}}}]}]}
    return expert, benchmark


def rechallenge(rng: np.random.Generator) -> None:
    """The re-challenge round's inputs: 2 candidate teams, a committee of 7, a tie case and an approval case."""
    shutil.rmtree(RC_OUT, ignore_errors=True)
    expert, benchmark = _rc_rubrics()
    _dump(RC_OUT / "rubrics" / "expert.yaml", expert)
    _dump(RC_OUT / "rubrics" / "benchmark.yaml", benchmark)
    sets = load_benchmark_sets()
    frontier = {s.id: round(0.55 + 0.35 * rng.random(), 4) for s in sets.common}
    _dump(RC_OUT / "references" / "references.yaml",
          {"references": [], "frontier": {"model": "Global-Frontier-2026 (fictional)", "scores": frontier}})
    teams = []
    for tid, name, model, params, ratio, approving in RC_TEAMS:
        ev = RC_OUT / "evidence" / tid
        targets = {s.id: round(frontier[s.id] * 0.95, 4) for s in sets.common}
        results, n_samples = {}, {}
        for s in sets.common:
            value = round(min(frontier[s.id] * (ratio + rng.normal(0, 0.01)), 1.0), 4)
            value = max(value, round(frontier[s.id] * 0.951, 4))  # every benchmark at 95% or more of the frontier
            nm, filt = s.metric.split(",", 1)
            results[s.task] = {"alias": s.task, s.metric: value,
                               f"{nm}_stderr,{filt}": round(math.sqrt(value * (1 - value) / 1000), 4)}
            n_samples[s.task] = {"original": 1000, "effective": 1000}
        _dump(ev / "results.json", {"results": results, "n-samples": n_samples, "lm_eval_version": "0.4.5",
                                    "config": {"model": "hf", "model_args": f"pretrained={model}"}})
        (ev / "technical-report.md").write_text(f"# {model} technical report (fictional)\n\nRe-challenge application: "
                                                 f"trained from scratch; targets 95% of the latest global models.\n")
        teams.append({"id": tid, "name": name, "model": model, "active_params_b": params, "total_params_b": params,
                      "target_model": "Global-Frontier-2026 (fictional)", "targets": targets,
                      "individual_benchmarks": ["textvqa", "docvqa"],
                      "evidence": {"benchmark_results": "results.json", "technical_report": "technical-report.md"}})
        for m in range(1, RC_COMMITTEE + 1):
            cid = f"committee-{m:02d}"
            if (cid, tid) == RC_CONFLICT:
                continue
            voters = [f"committee-{k:02d}" for k in range(1, RC_COMMITTEE + 1) if (f"committee-{k:02d}", tid) != RC_CONFLICT]
            approve = voters.index(cid) < approving
            judgments = {}
            for _, c in ((None, c) for s in expert["sections"] for c in s["criteria"]):
                if c["scale"]["type"] == "anchored":
                    lv = int(np.clip(round(3.5 + (0.8 if approve else -0.8) + rng.normal(0, 0.5)), 2, 4))
                    judgments[c["id"]] = {"level": lv, "comment": f"{cid}: level {lv} from the written review and presentation."}
                else:
                    judgments[c["id"]] = {"verdict": "approve" if approve else "reject",
                                          "comment": "Credible plan to reach the frontier; evidence of training from scratch."
                                          if approve else "The plan does not yet justify an additional selection."}
            _dump(RC_OUT / "answers" / cid / f"{tid}.yaml", {"judgments": judgments,
                                                            "coi": {"has_conflict": False, "statement": ""}})
    _dump(RC_OUT / "teams.yaml", {"teams": teams})
    _dump(RC_OUT / "committee.yaml", {"committee": [f"committee-{m:02d}" for m in range(1, RC_COMMITTEE + 1)],
                                      "conflicts": [{"member": RC_CONFLICT[0], "team": RC_CONFLICT[1]}]})
    print(f"wrote {RC_OUT}")


if __name__ == "__main__":
    main()
