"""Tokenizer evidence: parsing the three model types and vocab.json + merges.txt, overlap, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import EvidenceError
from workbench.core.files import canonical_json
from workbench.evidence.tokenizer import (
    compare_tokenizers,
    load_tokenizer,
    parse_tokenizer,
    tokenizer_chart,
    tokenizer_table,
)

FIX = Path(__file__).parent / "fixtures" / "independence" / "tokenizers"


@pytest.fixture(scope="module")
def toks():
    return {
        "a": load_tokenizer(FIX / "team_a" / "tokenizer.json"),
        "b": load_tokenizer(FIX / "ref_b" / "tokenizer.json"),
        "c": load_tokenizer(FIX / "team_c" / "vocab.json"),
        "u": load_tokenizer(FIX / "ref_u" / "tokenizer.json"),
    }


def test_loading_reads_vocab_added_tokens_merges_and_specials(toks):
    a = toks["a"]
    assert (a.name, a.format, a.kind, a.encoding) == ("team_a/tokenizer.json", "tokenizer.json", "BPE", "plain")
    # 8 model tokens + "</s>", an added token outside the model vocabulary
    assert a.vocab_size == 9 and a.vocab["</s>"] == 8
    assert a.merges == [("a", "b"), ("c", "d"), ("ab", "c")]
    assert a.special_tokens == ["</s>", "<s>"]
    b = toks["b"]
    assert b.merges == [("a", "b"), ("c", "e")]  # the newer pair format
    assert b.encoding == "byte-level"  # from the ByteLevel pre-tokenizer nested in a Sequence


def test_vocab_json_reads_merges_beside_it(toks):
    c = toks["c"]
    assert (c.format, c.kind, c.vocab_size, c.merges) == ("vocab.json", "BPE", 4, [("a", "b")])
    assert [i.name for i in c.inputs] == ["vocab.json", "merges.txt"]  # both hashed


def test_unigram_ids_are_positions(toks):
    u = toks["u"]
    assert (u.kind, u.encoding, u.merges) == ("Unigram", "metaspace", None)
    assert u.vocab == {"<unk>": 0, "▁a": 1, "b": 2, "▁ab": 3, "c": 4}


def test_wordpiece():
    data = json.dumps({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1, "##b": 2}},
                       "added_tokens": [{"id": 0, "content": "[UNK]", "special": True}]}).encode()
    t = parse_tokenizer(data, name="wp.json")
    assert (t.kind, t.vocab_size, t.merges, t.special_tokens) == ("WordPiece", 3, None, ["[UNK]"])


def test_overlap_of_two_tokenizers_of_known_overlap(toks):
    r = compare_tokenizers(toks["a"], [toks["b"]])
    p = r.pairs[0]
    # A = {a b c d ab cd abc <s> </s>} (9), B = {a b c e ab ce <s> <pad>} (8), shared {a b c ab <s>} (5)
    assert (p.vocab_candidate, p.vocab_reference, p.shared) == (9, 8, 5)
    assert p.share_of_candidate == pytest.approx(5 / 9)
    assert p.share_of_reference == pytest.approx(5 / 8)
    assert p.share_of_larger == pytest.approx(5 / 9)
    assert p.jaccard == pytest.approx(5 / 12)
    assert p.same_id == 4  # a, b, c, ab; <s> is 7 vs 6
    assert p.identical_merge_prefix == 1  # "a b" then "c d" vs "c e"
    assert (p.special_shared, p.special_candidate_only, p.special_reference_only) == (["<s>"], ["</s>"], ["<pad>"])
    assert p.notes == ["surface encodings differ (plain vs byte-level): shared strings understate shared words"]


def test_identical_tokenizers_share_everything(toks):
    p = compare_tokenizers(toks["a"], [toks["a"]]).pairs[0]
    assert (p.shared, p.jaccard, p.same_id, p.identical_merge_prefix) == (9, 1.0, 9, 3)


def test_summary_table_and_chart(toks):
    r = compare_tokenizers(toks["a"], [toks["b"], toks["u"]])
    s = r.to_summary()
    assert s["evidence"] == "tokenizer" and s["kind"] == "BPE"
    assert canonical_json(s) == canonical_json(compare_tokenizers(toks["a"], [toks["b"], toks["u"]]).to_summary())
    assert [b[1] for b in s["bands"]] == [0.70, 0.41]
    table = tokenizer_table(r)
    assert list(table["shared"]) == [5, 2] and table["identical merge prefix"].isna().tolist() == [False, True]
    spec = json.dumps(tokenizer_chart(r).to_dict())
    assert "not a verdict" in spec and "about 41%" in spec


# ---------------------------------------------------------------- bad input

def tj(model: dict, **extra) -> bytes:
    return json.dumps({"model": model, **extra}).encode()


@pytest.mark.parametrize(("data", "message"), [
    (tj({"type": "WordLevel", "vocab": {}}), "model.type: unknown tokenizer model type 'WordLevel'"),
    (tj({"type": "BPE"}), "model.vocab: no vocabulary"),
    (tj({"type": "BPE", "vocab": {"a": 0, "b": 0}}), "id 0 is used by 'a' and 'b'"),
    (tj({"type": "BPE", "vocab": {"a": -1}}), r"id -1, expected an integer >= 0"),
    (tj({"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}), r"model.merges\[0\]: merge is 'a b c'"),
    (tj({"type": "Unigram", "vocab": [["a", 0.0], ["a", -1.0]]}), r"model.vocab\[1\]: token 'a' repeated"),
    (tj({"type": "Unigram", "vocab": [["a"]]}), r"model.vocab\[0\]"),
    (tj({"type": "BPE", "vocab": {}}, added_tokens=[{"content": 3}]), r"added_tokens\[0\]: malformed added token"),
    (b'{"a": "x"}', "unknown tokenizer file type"),
    (b"[PAD]\n[UNK]\n", "unknown tokenizer file type: JSON syntax error"),
    (b"\x0a\x05\x0a\x03<s>", "unknown tokenizer file type"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
])
def test_bad_tokenizer(data, message):
    with pytest.raises(EvidenceError, match=message):
        parse_tokenizer(data, name="tok.json")


def test_bad_merges_line_is_named(tmp_path):
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": 1}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\na b\nab\n")
    with pytest.raises(EvidenceError, match=r"merges.txt:3: line is 'ab', expected two tokens"):
        load_tokenizer(tmp_path / "vocab.json")


def test_merges_alone_and_merges_with_tokenizer_json_are_refused(tmp_path):
    with pytest.raises(EvidenceError, match="merges.txt alone"):
        load_tokenizer(FIX / "team_c" / "merges.txt")
    with pytest.raises(EvidenceError, match="merges given with a tokenizer.json"):
        load_tokenizer(FIX / "team_a" / "tokenizer.json", merges=FIX / "team_c" / "merges.txt")


def test_size_bound():
    with pytest.raises(EvidenceError, match="bytes"):
        load_tokenizer(FIX / "team_a" / "tokenizer.json", max_bytes=10)


# ---------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_give_a_tokenizer_or_an_evidence_error(data):
    try:
        t = parse_tokenizer(data, name="x.json", merges=data)
    except EvidenceError:
        return
    assert t.vocab_size == len(t.vocab)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["BPE", "Unigram", "WordPiece", "Other", None]),
    vocab=json_value, merges=json_value, added=json_value,
)
def test_arbitrary_structures_give_a_tokenizer_or_an_evidence_error(kind, vocab, merges, added):
    data = json.dumps({"model": {"type": kind, "vocab": vocab, "merges": merges}, "added_tokens": added}).encode()
    try:
        t = parse_tokenizer(data, name="x.json")
    except EvidenceError:
        return
    assert t.kind == kind and all(isinstance(k, str) for k in t.vocab)


@settings(max_examples=100, deadline=None)
@given(
    a=st.sets(st.text(min_size=1, max_size=3), min_size=1, max_size=20),
    b=st.sets(st.text(min_size=1, max_size=3), min_size=1, max_size=20),
)
def test_overlap_matches_set_arithmetic(a, b):
    ta, tb = (parse_tokenizer(json.dumps({t: i for i, t in enumerate(sorted(v))}).encode(), name=n)
              for v, n in ((a, "a"), (b, "b")))
    p = compare_tokenizers(ta, [tb]).pairs[0]
    assert p.shared == len(a & b)
    assert p.jaccard == pytest.approx(len(a & b) / len(a | b))
    assert p.share_of_larger == pytest.approx(len(a & b) / max(len(a), len(b)))
