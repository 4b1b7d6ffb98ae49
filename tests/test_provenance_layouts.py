"""Layouts (issue 23, item 4): GPT-2's Conv1D stores matrices as (in, out); a copy converted to nn.Linear's
(out, in), rotated or with noise, is compared both ways and caught; a stack whose layout cannot be told is
sketched both ways."""

from __future__ import annotations

import numpy as np
import pytest
from conv1d import make_gpt2, rotate_gpt2, to_linear
from synthetic import perturb, save_model

from workbench.evidence._invariants import layout_votes, plan_matrix
from workbench.evidence.provenance import compare
from workbench.evidence.weights import fingerprint_model

VOCAB = '{"model": {"vocab": {' + ", ".join(f'"g{i}": {i}' for i in range(512)) + "}}}"
LAYERS = {f"layers.{i}.{k}" for i in range(3) for k in ("attention", "mlp")}


def fp_of(t, folder):
    return fingerprint_model(save_model(t, folder, tokenizer=VOCAB), executor="serial")


def flagged(report):
    return {c.component for c in report.components if c.verdict in ("identical", "derived")}


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    t = make_gpt2(1)
    return t, fp_of(t, tmp_path_factory.mktemp("gpt2") / "ref")


@pytest.mark.parametrize("how", ["rotated, then nn.Linear layout", "nn.Linear layout + 3% noise",
                                 "rotated + nn.Linear layout + 3% noise"])
def test_a_copy_in_the_other_layout_is_caught(ref, tmp_path, how):
    t, fr = ref
    v = rotate_gpt2(t, 2) if "rotated" in how else t
    v = to_linear(v)
    v = perturb(v, 3, relative=0.03) if "noise" in how else v
    report = compare(fp_of(v, tmp_path / "c"), [fr])
    assert flagged(report) >= LAYERS, [(c.component, c.verdict, c.statistic) for c in report.components]
    where = {c.component: c.reference_component for c in report.components if c.component in LAYERS}
    assert where == {c: c for c in LAYERS}


def test_an_independent_model_in_the_other_layout_is_not_flagged(ref, tmp_path):
    _, fr = ref
    for seed in (5, 6):
        v = to_linear(make_gpt2(seed))
        v = rotate_gpt2(make_gpt2(seed), seed) if seed == 6 else v
        assert not flagged(compare(fp_of(v, tmp_path / str(seed)), [fr]))


def test_the_layout_is_told_from_the_shapes_of_named_readers_and_writers():
    conv = {n: v.shape for n, v in make_gpt2(0).items()}
    assert layout_votes(conv, 64) is True and layout_votes(to_linear_shapes(conv), 64) is False
    assert layout_votes({"a.0.x": (64, 64), "a.0.y": (64, 64)}, 64) is None
    # square, layout unknown: sketched both ways (one more part)
    plan = plan_matrix("blocks.0.attn.proj.weight", (64, 64), [("wte", 512, 64)], {}, None)
    assert plan is not None and plan.both
    assert not plan_matrix("blocks.0.attn.proj.weight", (64, 64), [("wte", 512, 64)], {}, False).both


def to_linear_shapes(shapes):
    return {k: (v[::-1] if len(v) == 2 and ".h." in k else v) for k, v in shapes.items()}


def test_grouped_query_attention_fused_rotated_with_noise_is_caught(tmp_path):
    """What worked must keep working: q/k/v of unequal sizes (4 query heads, 1 key-value head), fused."""
    from synthetic import make_model, rotate_residual

    t = make_model(41)
    for i in range(3):
        for n in ("k_proj", "v_proj"):
            t[f"model.layers.{i}.self_attn.{n}.weight"] = t[f"model.layers.{i}.self_attn.{n}.weight"][:16]
    names = [f"tok{i}" for i in range(512)]
    vocab = '{"model": {"vocab": {' + ", ".join(f'"{n}": {i}' for i, n in enumerate(names)) + "}}}"
    fr = fingerprint_model(save_model(t, tmp_path / "ref", tokenizer=vocab), executor="serial")
    v = rotate_residual(t, 42)
    for i in range(3):
        p = f"model.layers.{i}.self_attn."
        v[p + "qkv_proj.weight"] = np.concatenate([v.pop(p + f"{n}.weight") for n in ("q_proj", "k_proj", "v_proj")])
    v = perturb(v, 43, relative=0.03)
    report = compare(fingerprint_model(save_model(v, tmp_path / "c", tokenizer=vocab), executor="serial"), [fr])
    assert {f"layers.{i}.attention" for i in range(3)} <= flagged(report), report.components
