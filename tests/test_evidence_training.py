"""Training-log evidence: loading, the four checks, and refusals of bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json
from workbench.evidence.training import (
    analyze_training,
    load_accelerators,
    load_training_log,
    parse_training_log,
    training_chart,
    training_table,
)

FIX = Path(__file__).parent / "fixtures" / "independence"
LN_32000 = 10.373491181781864  # ln(32000), by hand: ln(2^8 * 125) = 8 ln 2 + 3 ln 5


def csv_log(rows: list[tuple], header: str = "step,loss") -> bytes:
    return (header + "\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)).encode()


def parse_csv(data: bytes):
    return parse_training_log(data, name="log.csv", fmt="csv")


# ---------------------------------------------------------------- initial loss and tokens

def test_from_scratch_curve_starts_near_ln_v():
    log = load_training_log(FIX / "scratch.csv")
    r = analyze_training(log, vocab_size=32000, claimed_tokens=4e8)
    assert r.rows == 40 and (r.first_step, r.last_step) == (0, 390)
    assert r.ln_vocab == pytest.approx(LN_32000)
    assert r.initial_loss == 10.4
    assert r.initial_loss_ratio == pytest.approx(10.4 / LN_32000)
    assert r.initial_reading == "near_ln_v"
    # 390 steps x 2^20 tokens per step
    assert r.tokens_logged == 390 * 2**20
    assert r.token_ratio == pytest.approx(408_944_640 / 4e8)
    assert r.discontinuities == []
    assert r.flags == []  # within 10% of the claim, no jumps, logged from step 0
    assert r.ignored_columns == ["grad_norm"]  # reported, not silently dropped


def test_continued_training_curve_starts_far_below_ln_v():
    log = load_training_log(FIX / "continued.jsonl")
    r = analyze_training(log, vocab_size=32000)
    assert r.initial_loss_ratio == pytest.approx(2.3 / LN_32000)
    assert r.initial_reading == "far_below_ln_v"
    assert [f.code for f in r.flags] == ["initial_loss_far_below_ln_v"]


@pytest.mark.parametrize(("loss", "reading"), [(10.0, "near_ln_v"), (6.0, "between"), (16.0, "above_ln_v")])
def test_initial_reading_bands(loss, reading):
    # ln(e^10) = 10 exactly -> ratio = loss / 10
    vocab = round(math.exp(10))
    log = parse_csv(csv_log([(0, loss), (1, 2.0)]))
    assert analyze_training(log, vocab_size=vocab).initial_reading == reading


def test_late_start_and_missing_tokens_are_flagged():
    log = parse_csv(csv_log([(500, 3.0), (510, 2.9)]))
    r = analyze_training(log, vocab_size=32000, claimed_tokens=1e9)
    codes = [f.code for f in r.flags]
    assert "log_starts_late" in codes and "tokens_not_logged" in codes


def test_tokens_far_from_claim_are_flagged():
    log = parse_csv(csv_log([(0, 0, 10.0), (10, 1000, 9.0)], header="step,tokens,loss"))
    r = analyze_training(log, claimed_tokens=2000)
    assert r.token_ratio == 0.5
    assert [f.code for f in r.flags] == ["tokens_differ_from_claim"]


# ---------------------------------------------------------------- discontinuities

def test_checkpoint_swap_is_found_where_it_happened():
    r = analyze_training(load_training_log(FIX / "swapped.csv"), vocab_size=32000)
    assert len(r.discontinuities) == 1
    d = r.discontinuities[0]
    # the fixture adds +0.5 from step 250; medians of steps 200-240 and 250-290 read off the file
    assert (d.kind, d.step, d.before, d.after) == ("loss_jump", 250, 2.2147, 2.5933)
    assert d.change == pytest.approx(2.5933 / 2.2147 - 1)


def test_clean_level_shift_on_a_flat_curve():
    rows = [(10 * i, 3.0 if i < 15 else 2.4) for i in range(30)]
    r = analyze_training(parse_csv(csv_log(rows)))
    assert [(d.step, d.before, d.after) for d in r.discontinuities] == [(150, 3.0, 2.4)]
    assert r.discontinuities[0].change == pytest.approx(-0.2)


def test_single_spike_is_not_a_jump():
    rows = [(10 * i, 6.0 if i == 15 else 3.0) for i in range(30)]
    assert analyze_training(parse_csv(csv_log(rows))).discontinuities == []


def test_step_gap():
    steps = [*range(0, 100, 10), 160, 170, 180]
    r = analyze_training(parse_csv(csv_log([(s, 3.0) for s in steps])))
    gaps = [d for d in r.discontinuities if d.kind == "step_gap"]
    assert [(d.step, d.before, d.after, d.change) for d in gaps] == [(160, 90.0, 160.0, 7.0)]


def test_token_rate_jump():
    # 100 tokens per step, then 1000 tokens per step from step 80 on: one event, not one per row
    tokens, t = [], 0
    for s in range(0, 150, 10):
        tokens.append(t)
        t += 1000 if s < 70 else 10000
    rows = [(s, tok, 3.0) for s, tok in zip(range(0, 150, 10), tokens, strict=True)]
    r = analyze_training(parse_csv(csv_log(rows, header="step,tokens,loss")))
    jumps = [d for d in r.discontinuities if d.kind == "token_jump"]
    assert [(d.step, d.before, d.after, d.change) for d in jumps] == [(80, 100.0, 1000.0, 10.0)]


# ---------------------------------------------------------------- compute plausibility

@pytest.mark.parametrize(("hours", "reading"), [(1e6, "implausibly_low"), (1e5, "plausible"), (1e4, "implausibly_high")])
def test_compute_claim(hours, reading):
    log = parse_csv(csv_log([(0, 10.0), (1, 9.0)]))
    r = analyze_training(log, claimed_tokens=2e12, params=7e9, gpu="H100", gpu_hours=hours)
    c = r.compute
    assert c.required_flops == pytest.approx(8.4e22)  # 6 * 7e9 * 2e12
    assert c.available_flops == pytest.approx(hours * 3600 * 989.4e12)
    assert c.utilisation == pytest.approx(8.4e22 / (hours * 3600 * 989.4e12))
    assert (c.accelerator, c.tokens_source, c.reading) == ("H100-SXM", "claimed", reading)
    assert (f"compute_{reading}" in [f.code for f in r.flags]) == (reading != "plausible")


def test_compute_uses_logged_tokens_without_a_claim_and_reports_missing_facts():
    log = parse_csv(csv_log([(0, 0, 10.0), (10, 1e12, 9.0)], header="step,tokens,loss"))
    c = analyze_training(log, params=1e9, gpu="mi300x", gpu_hours=2e4).compute
    assert c.tokens_source == "logged" and c.utilisation == pytest.approx(6e21 / (2e4 * 3600 * 1307.4e12))
    r = analyze_training(log, params=1e9)
    assert r.compute is None
    assert [f.message for f in r.flags] == ["compute check skipped: missing gpu, gpu_hours"]


def test_unknown_accelerator_names_the_known_ones():
    log = parse_csv(csv_log([(0, 10.0)]))
    with pytest.raises(EvidenceError, match="unknown accelerator 'TPU v9'.*H100-SXM"):
        analyze_training(log, claimed_tokens=1e9, params=1e9, gpu="TPU v9", gpu_hours=10)


def test_accelerator_table_has_a_source_for_every_entry():
    table = load_accelerators()
    assert {"A100", "H100-SXM", "H100-PCIe", "H200", "B200", "MI300X", "Gaudi2", "Gaudi3"} <= set(table)
    for acc in table.values():
        assert acc.source.strip() and acc.peak_bf16_tflops > 0


# ---------------------------------------------------------------- outputs

def test_summary_is_canonical_json_and_deterministic():
    log = load_training_log(FIX / "swapped.csv")
    a = analyze_training(log, vocab_size=32000, claimed_tokens=4e8, params=1e8, gpu="A100", gpu_hours=100)
    b = analyze_training(load_training_log(FIX / "swapped.csv"), vocab_size=32000, claimed_tokens=4e8,
                         params=1e8, gpu="A100", gpu_hours=100)
    assert canonical_json(a.to_summary()) == canonical_json(b.to_summary())
    s = a.to_summary()
    assert s["inputs"][0]["name"] == "swapped.csv" and len(s["inputs"][0]["sha256"]) == 64
    assert "curve" not in s


def test_table_and_chart_show_the_flags():
    r = analyze_training(load_training_log(FIX / "swapped.csv"), vocab_size=32000)
    table = training_table(r)
    assert list(table["check"]) == ["initial loss", "tokens", "loss_jump"]
    spec = json.dumps(training_chart(r).to_dict())
    assert "loss jump" in spec and "ln V = 10.4" in spec
    ko = json.dumps(training_chart(r, lang="ko").to_dict(), ensure_ascii=False)
    assert "학습 손실 (nats)" in ko and "ln V = 10.4 (무작위 초기화)" in ko and "학습 단계" in ko


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty file"),
    (b"step,loss\n", "no data rows"),
    (b"step,lr\n1,0.1\n", "no 'loss' column"),
    (b"step,loss,lm_loss\n1,2,3\n", "both 'loss' and 'lm_loss'"),
    (b"step,loss\n1,2.0\n2,nan\n", "log.csv:3: loss is nan, expected a finite number"),
    (b"step,loss\n1,2.0\n3,1.9\n2,1.8\n", "log.csv:4: step 2 does not increase"),
    (b"step,loss\n1,2.0\n1,1.9\n", "log.csv:3: step 1 does not increase"),
    (b"step,loss\n1.5,2.0\n", "step is 1.5"),
    (b"step,loss\n1,abc\n", "log.csv:2: loss is 'abc'"),
    (b"step,loss\n1,-2\n", "loss is negative"),
    (b"step,loss\n1,2,3\n", "log.csv:2: 3 fields"),
    (b"step,tokens,loss\n1,100,2\n2,50,2\n", "log.csv:3: tokens decrease"),
    (b"step,loss\n1,\xff\n", "not valid UTF-8"),
    (b'step,loss\n1,"2\n', "CSV syntax error"),
])
def test_bad_csv(data, message):
    with pytest.raises(EvidenceError, match=message.replace("(", r"\(")):
        parse_csv(data)


@pytest.mark.parametrize(("data", "message"), [
    (b'{"step": 1, "loss": 2}\n{"step": 2, "loss": NaN}\n', "log.jsonl:2: loss is nan"),
    (b'{"step": 1, "loss": "2"}\n', "loss is str '2', expected a number"),
    (b'{"step": 1, "loss": true}\n', "loss is bool"),
    (b'[1, 2]\n', "not a JSON object"),
    (b'{"step": 1, "loss": 2}\n{"step": 2}\n', "log.jsonl:2: missing 'loss'"),
    (b'{"step": 1, "loss": 2\n', "log.jsonl:1: not a JSON object"),
    (b"\n\n", "empty file"),
])
def test_bad_jsonl(data, message):
    with pytest.raises(EvidenceError, match=message):
        parse_training_log(data, name="log.jsonl", fmt="jsonl")


def test_tensorboard_and_unknown_types_are_refused_with_advice(tmp_path):
    tb = tmp_path / "events.out.tfevents.1700000000.host"
    tb.write_bytes(b"\x00" * 16)
    with pytest.raises(EvidenceError, match="export|CSV") as e:
        load_training_log(tb)
    assert "step,tokens,loss,lr" in str(e.value)
    other = tmp_path / "log.parquet"
    other.write_bytes(b"PAR1")
    with pytest.raises(EvidenceError, match="unknown training-log type '.parquet'"):
        load_training_log(other)


def test_size_bound(tmp_path):
    p = tmp_path / "big.csv"
    p.write_bytes(b"step,loss\n" + b"1,2\n" * 100)
    with pytest.raises(EvidenceError, match="bytes"):
        load_training_log(p, max_bytes=100)


# ---------------------------------------------------------------- properties

@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), fmt=st.sampled_from(["csv", "jsonl"]))
def test_arbitrary_bytes_give_a_log_or_an_evidence_error(data, fmt):
    try:
        log = parse_training_log(b"step,loss\n" + data if fmt == "csv" else data, name="x", fmt=fmt)
    except EvidenceError:
        return
    assert len(log.step) >= 1 and (log.loss >= 0).all()


cell = st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5))


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(cell, cell), max_size=20))
def test_arbitrary_rows_give_a_log_or_an_evidence_error(rows):
    try:
        log = parse_csv(csv_log(rows))
    except EvidenceError:
        return
    assert (log.step[1:] > log.step[:-1]).all()


@settings(max_examples=100, deadline=None)
@given(
    deltas=st.lists(st.integers(1, 1000), min_size=1, max_size=30),
    losses=st.lists(st.floats(0, 20, allow_nan=False), min_size=30, max_size=30),
)
def test_valid_rows_round_trip_through_both_formats(deltas, losses):
    steps = [sum(deltas[: i + 1]) for i in range(len(deltas))]
    rows = list(zip(steps, losses, strict=False))
    from_csv = parse_csv(csv_log([(s, repr(v)) for s, v in rows]))
    jsonl = "".join(json.dumps({"step": s, "loss": v}) + "\n" for s, v in rows).encode()
    from_jsonl = parse_training_log(jsonl, name="x.jsonl", fmt="jsonl")
    for log in (from_csv, from_jsonl):
        assert log.step.tolist() == steps and log.loss.tolist() == [v for _, v in rows]
