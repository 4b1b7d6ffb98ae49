"""The ledger as an RFC 6962 Merkle tree (workbench.round.tlog): heads, inclusion and consistency proofs, their
verifiers, the ledger's leaves. Go's own sumdb/tlog checks the same proofs in tests/test_tlog_interop.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import InputFileError, SignatureError, WorkbenchError
from workbench.round import tlog


def _hashes(n: int) -> list[bytes]:
    return [tlog.leaf_hash(b"entry %d" % i) for i in range(n)]


def _naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written out literally on the leaf *data*, as a second opinion on tree_head."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_mth(leaves[:k]) + _naive_mth(leaves[k:])).digest()


def test_hashing_is_rfc6962_domain_separated():
    assert tlog.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = b"a" * 32, b"b" * 32
    assert tlog.node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert tlog.tree_head([]) == tlog.EMPTY_ROOT == hashlib.sha256(b"").digest()
    # a leaf can never pose as a node: the same 64 bytes hash differently as leaf data and as two children
    assert tlog.leaf_hash(a + b) != tlog.node_hash(a, b)


def test_tree_head_known_answers():
    # the RFC 6962 reference vectors (certificate-transparency's merkle_tree_test, Go's sumdb/tlog tests):
    # the empty head, a one-leaf head, and the eight-leaf head over the standard leaf inputs
    leaves = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
    hs = [tlog.leaf_hash(x) for x in leaves]
    assert tlog.tree_head(hs, 0).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tlog.tree_head(hs, 1).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert tlog.tree_head(hs, 8).hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    # every size agrees with the literal definition; Go's TreeHash agrees in the interop test
    for n in range(len(leaves) + 1):
        assert tlog.tree_head(hs, n) == _naive_mth(leaves[:n])


def test_rfc9162_example_tree_proofs():
    # RFC 9162 §2.1.5 (RFC 6962 §2.1.3): the seven-leaf tree, leaves d0..d6, hashes named as in the RFC
    d = [b"d%d" % i for i in range(7)]
    h = [tlog.leaf_hash(x) for x in d]
    a, b, c = tlog.node_hash(h[0], h[1]), tlog.node_hash(h[2], h[3]), tlog.node_hash(h[4], h[5])
    g, i = tlog.node_hash(a, b), tlog.node_hash(c, h[6])
    assert tlog.inclusion_proof(h, 0) == [h[1], b, i]      # PATH(0): b, h, i in the RFC's letters
    assert tlog.inclusion_proof(h, 3) == [h[2], a, i]      # PATH(3): c, g, l
    assert tlog.inclusion_proof(h, 4) == [h[5], h[6], g]   # PATH(4): f, j, k
    assert tlog.inclusion_proof(h, 6) == [c, g]            # PATH(6): i, k
    assert tlog.consistency_proof(h, 3) == [h[2], h[3], a, i]   # PROOF(3, D[7]): c, d, g, l
    assert tlog.consistency_proof(h, 4) == [i]                  # PROOF(4, D[7]): l
    assert tlog.consistency_proof(h, 6) == [c, h[6], g]         # PROOF(6, D[7]): i, j, k


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70))
def test_every_inclusion_proof_verifies_and_no_other_leaf_index_or_size_does(n):
    hs = _hashes(n + 1)
    root = tlog.tree_head(hs, n)
    for i in range(n):
        proof = tlog.inclusion_proof(hs, i, n)
        tlog.verify_inclusion(hs[i], i, n, proof, root)
        with pytest.raises(SignatureError):
            tlog.verify_inclusion(hs[(i + 1) % (n + 1)], i, n, proof, root)   # another leaf
        if n > 1:
            with pytest.raises(SignatureError):
                tlog.verify_inclusion(hs[i], (i + 1) % n, n, proof, root)     # another index
        with pytest.raises(SignatureError):   # another size, with that size's head (as a checkpoint pairs them)
            tlog.verify_inclusion(hs[i], i, n + 1, proof, tlog.tree_head(hs, n + 1))
        with pytest.raises(SignatureError):
            tlog.verify_inclusion(hs[i], i, n, proof, tlog.tree_head(hs, n + 1))   # another head


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=64), st.data())
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(n, data):
    hs = _hashes(n)
    new = tlog.tree_head(hs, n)
    for m in range(n + 1):
        proof = tlog.consistency_proof(hs, m, n)
        old = tlog.tree_head(hs, m)
        tlog.verify_consistency(m, n, old, new, proof)
        if m > 0:
            # the same log with one old entry rewritten: the proof from the honest old head cannot reach it
            j = data.draw(st.integers(0, m - 1), label="rewritten leaf")
            forged = list(hs)
            forged[j] = tlog.leaf_hash(b"rewritten")
            forged_new = tlog.tree_head(forged, n)
            with pytest.raises(SignatureError):
                tlog.verify_consistency(m, n, old, forged_new, tlog.consistency_proof(forged, m, n))
            with pytest.raises(SignatureError):
                tlog.verify_consistency(m, n, old, forged_new, proof)
        if 0 < m < n:
            with pytest.raises(SignatureError):
                tlog.verify_consistency(m + 1, n, old, new, proof)       # wrong old size
            with pytest.raises(SignatureError):
                tlog.verify_consistency(m, n, new, old, proof)           # heads swapped


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=40), st.data())
def test_a_changed_or_reordered_proof_element_fails(n, data):
    hs = _hashes(n)
    i = data.draw(st.integers(0, n - 1), label="index")
    proof = tlog.inclusion_proof(hs, i, n)
    k = data.draw(st.integers(0, len(proof) - 1), label="element")
    changed = list(proof)
    changed[k] = bytes([changed[k][0] ^ 1]) + changed[k][1:]
    with pytest.raises(SignatureError):
        tlog.verify_inclusion(hs[i], i, n, changed, tlog.tree_head(hs))
    for bad in (proof[:-1], [*proof, proof[-1]]):   # one hash short, one too many
        with pytest.raises(SignatureError):
            tlog.verify_inclusion(hs[i], i, n, bad, tlog.tree_head(hs))
    m = data.draw(st.integers(1, n - 1), label="old size")
    cproof = tlog.consistency_proof(hs, m, n)
    if len(cproof) > 1:
        a, b = data.draw(st.lists(st.integers(0, len(cproof) - 1), min_size=2, max_size=2, unique=True))
        if cproof[a] != cproof[b]:
            swapped = list(cproof)
            swapped[a], swapped[b] = swapped[b], swapped[a]
            with pytest.raises(SignatureError):
                tlog.verify_consistency(m, n, tlog.tree_head(hs, m), tlog.tree_head(hs), swapped)
    k = data.draw(st.integers(0, len(cproof) - 1))
    changed = list(cproof)
    changed[k] = hashlib.sha256(changed[k]).digest()
    with pytest.raises(SignatureError):
        tlog.verify_consistency(m, n, tlog.tree_head(hs, m), tlog.tree_head(hs), changed)


def test_edge_cases_of_sizes_and_shapes():
    hs = _hashes(5)
    with pytest.raises(InputFileError, match="leaf index 5"):
        tlog.inclusion_proof(hs, 5)
    with pytest.raises(InputFileError, match="tree size 6"):
        tlog.inclusion_proof(hs, 0, 6)
    with pytest.raises(InputFileError, match="old tree size 6"):
        tlog.consistency_proof(hs, 6)
    with pytest.raises(InputFileError, match="leaf hash 1"):
        tlog.tree_head([hs[0], b"short"])
    assert tlog.inclusion_proof(hs[:1], 0) == []
    tlog.verify_inclusion(hs[0], 0, 1, [], hs[0])
    # every tree extends the empty one, but only the real empty head
    tlog.verify_consistency(0, 5, tlog.EMPTY_ROOT, tlog.tree_head(hs), [])
    with pytest.raises(SignatureError, match="empty tree"):
        tlog.verify_consistency(0, 5, hs[0], tlog.tree_head(hs), [])
    # one size, two heads: a fork
    with pytest.raises(SignatureError, match="forked"):
        tlog.verify_consistency(5, 5, tlog.tree_head(hs), hs[0], [])
    with pytest.raises(SignatureError, match="must be empty"):
        tlog.verify_consistency(5, 5, tlog.tree_head(hs), tlog.tree_head(hs), [hs[0]])
    with pytest.raises(SignatureError, match="larger than the new size"):
        tlog.verify_consistency(6, 5, hs[0], hs[0], [hs[0]])
    with pytest.raises(SignatureError, match="is empty"):
        tlog.verify_consistency(3, 5, tlog.tree_head(hs, 3), tlog.tree_head(hs), [])
    with pytest.raises(SignatureError, match="not 32 bytes"):
        tlog.verify_inclusion(hs[0], 0, 5, [b"x"], hs[0])
    with pytest.raises(SignatureError, match="at most 128"):
        tlog.verify_inclusion(hs[0], 0, 5, [hs[0]] * 129, hs[0])
    with pytest.raises(SignatureError, match="not in a tree"):
        tlog.verify_inclusion(hs[0], 0, 0, [], tlog.EMPTY_ROOT)


def test_proofs_as_json_round_trip_and_check_the_leaf(tmp_path):
    leaves = [b"entry %d" % i for i in range(11)]
    hs = [tlog.leaf_hash(x) for x in leaves]
    p = tlog.InclusionProof.make(hs, 6, 9)
    again = tlog.parse_proof(p.model_dump_json())
    assert again == p and isinstance(again, tlog.InclusionProof)
    again.verify(tlog.tree_head(hs, 9), leaves[6])
    with pytest.raises(SignatureError, match="another leaf"):
        again.verify(tlog.tree_head(hs, 9), leaves[5])
    c = tlog.ConsistencyProof.make(hs, 3, 11)
    again_c = tlog.parse_proof(c.model_dump_json().encode())
    assert again_c == c
    again_c.verify(tlog.tree_head(hs, 3), tlog.tree_head(hs))
    with pytest.raises(SignatureError):
        again_c.verify(tlog.tree_head(hs, 4), tlog.tree_head(hs))
    bad = json.loads(c.model_dump_json())
    bad["hashes"][0] = "not base64"
    with pytest.raises(InputFileError, match="receipt.json: .*malformed consistency proof"):
        tlog.parse_proof(json.dumps(bad), "receipt.json")
    with pytest.raises(InputFileError, match="not a Merkle proof"):
        tlog.parse_proof("[]")
    with pytest.raises(InputFileError, match="at most"):
        tlog.parse_proof(b" " * (tlog.MAX_PROOF_BYTES + 1))


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    st.fixed_dictionaries({"schema": st.sampled_from(["workbench.inclusion-proof/1", "workbench.consistency-proof/1",
                                                      "workbench.inclusion-proof/2", "x"])},
                          optional={"index": st.integers(), "size": st.integers(), "old_size": st.integers(),
                                    "new_size": st.integers(), "leaf_hash": st.text(max_size=50),
                                    "hashes": st.lists(st.text(max_size=50), max_size=3),
                                    "kind": st.text(max_size=10)}).map(json.dumps),
))
def test_proof_parser_never_crashes(data):
    try:
        proof = tlog.parse_proof(data)
    except WorkbenchError:
        return
    try:   # whatever parses, verifying against a head either holds or says why not
        if isinstance(proof, tlog.InclusionProof):
            proof.verify(tlog.EMPTY_ROOT)
        else:
            proof.verify(tlog.EMPTY_ROOT, tlog.EMPTY_ROOT)
    except WorkbenchError:
        pass


def test_ledger_leaves_are_the_chain_hashed_bytes(tmp_path):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from workbench.round import ledger

    key = Ed25519PrivateKey.generate()
    path = tmp_path / "ledger.jsonl"
    for i in range(5):
        ledger.append(path, actor="coord", key=key, type="submit", payload_sha256=f"{i:064x}",
                      data={"reviewer": f"r{i}", "note": "한국어 ünïcode"})
    entries = ledger.read_entries(path)
    leaves = tlog.ledger_leaves(path)
    # a leaf is the JSONL line without its newline, and the next entry's prev is SHA-256 of the same bytes
    assert leaves == path.read_bytes().splitlines()
    for e, nxt, leaf in zip(entries, entries[1:], leaves, strict=False):
        assert hashlib.sha256(leaf).hexdigest() == nxt.prev == ledger.entry_hash(e)
    hs = [tlog.leaf_hash(x) for x in leaves]
    root = tlog.tree_head(hs)
    tlog.InclusionProof.make(hs, 2).verify(root, leaves[2])
    assert tlog.ledger_leaves(tmp_path / "absent.jsonl") == []


def test_cli_writes_proofs_that_verify_against_the_ledgers_heads(tmp_path, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from workbench.cli.app import main
    from workbench.round import ledger

    key = Ed25519PrivateKey.generate()
    path = tmp_path / "ledger.jsonl"
    for i in range(9):
        ledger.append(path, actor="coord", key=key, type="submit", payload_sha256=f"{i:064x}")
    leaves = tlog.ledger_leaves(path)
    hs = [tlog.leaf_hash(x) for x in leaves]
    out = tmp_path / "receipt-proof.json"
    assert main(["tlog", "prove-inclusion", str(path), "--entry", "4", "--size", "7", "-o", str(out)]) == 0
    proof = tlog.parse_proof(out.read_bytes(), str(out))
    assert isinstance(proof, tlog.InclusionProof) and (proof.index, proof.size) == (3, 7)
    proof.verify(tlog.tree_head(hs, 7), leaves[3])      # the leaf and a head of size 7: no ledger needed
    with pytest.raises(SignatureError):
        proof.verify(tlog.tree_head(hs, 9), leaves[3])
    assert "entry 4 of 7: tree head" in capsys.readouterr().out
    assert main(["tlog", "prove-consistency", str(path), "--old-size", "3"]) == 0   # to standard output
    captured = capsys.readouterr()
    proof = tlog.parse_proof(captured.out)
    assert isinstance(proof, tlog.ConsistencyProof) and (proof.old_size, proof.new_size) == (3, 9)
    proof.verify(tlog.tree_head(hs, 3), tlog.tree_head(hs))
    assert "size 3 (tree head" in captured.err
    for argv, what in ((["prove-inclusion", str(path), "--entry", "0"], "no entry 0"),
                       (["prove-inclusion", str(path), "--entry", "8", "--size", "7"], "no entry 8"),
                       (["prove-inclusion", str(path), "--entry", "1", "--size", "10"], "tree size 10"),
                       (["prove-consistency", str(path), "--old-size", "10"], "larger than the new size 9"),
                       (["prove-consistency", str(path), "--old-size", "1", "--new-size", "12"], "tree size 12")):
        assert main(["tlog", *argv]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"workbench: error: {path}: ") and what in err, err
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    assert main(["tlog", "prove-inclusion", str(tmp_path / "bad.jsonl"), "--entry", "1"]) == 1
    assert "bad.jsonl" in capsys.readouterr().err


@settings(max_examples=400, deadline=None)
@given(st.integers(-3, 2**64), st.integers(-3, 2**64),
       st.lists(st.binary(min_size=31, max_size=33), max_size=70), st.binary(min_size=32, max_size=32),
       st.binary(min_size=32, max_size=32))
def test_verifiers_never_crash_on_any_input(a, b, proof, h1, h2):
    for check in (lambda: tlog.verify_inclusion(h1, a, b, proof, h2),
                  lambda: tlog.verify_consistency(a, b, h1, h2, proof)):
        with contextlib.suppress(SignatureError):
            check()


def _witness_ledger(tmp_path, n):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from workbench.round import ledger

    key = Ed25519PrivateKey.from_private_bytes(b"c" * 32)
    path = tmp_path / "ledger.jsonl"
    for i in range(n):
        ledger.append(path, actor="coord", key=key, type="submit", payload_sha256=f"{i:064x}")
    return key, path


def test_a_witness_follows_the_log_with_proofs_and_refuses_a_rewritten_one(tmp_path):
    """The witness protocol end to end on a real ledger, the witness holding only its last checkpoint."""
    from workbench.round import ledger, note

    key, path = _witness_ledger(tmp_path, 4)
    origin = note.origin_for("r1")
    log_key = note.VerifierKey(origin, key.public_key())
    hs = [tlog.leaf_hash(x) for x in tlog.ledger_leaves(path)]
    first = note.sign_checkpoint(tlog.checkpoint_of(hs, origin), key)
    # a witness that never cosigned this log takes 'old 0' and an empty proof
    req = note.parse_add_checkpoint(note.format_add_checkpoint(0, [], first))
    last = tlog.witness_check(req, log_key, None)
    assert (last.size, last.root_hash) == (4, tlog.tree_head(hs))
    # the ledger grows; the coordinator sends the proof from size 4
    for i in range(3):
        ledger.append(path, actor="coord", key=key, type="collect", payload_sha256=f"{i + 9:064x}")
    hs = [tlog.leaf_hash(x) for x in tlog.ledger_leaves(path)]
    second = note.sign_checkpoint(tlog.checkpoint_of(hs, origin), key)
    body = note.format_add_checkpoint(4, tlog.consistency_proof(hs, 4), second)
    assert body.startswith(b"old 4\n") and b"\n\n" + second == body[-len(second) - 2:]
    now = tlog.witness_check(note.parse_add_checkpoint(body), log_key, last)
    assert now.size == 7
    # the same size again with the same head is fine (an empty proof); a stale 'old' is a conflict
    tlog.witness_check(note.parse_add_checkpoint(note.format_add_checkpoint(7, [], second)), log_key, now)
    with pytest.raises(SignatureError, match="last cosigned size 7"):
        tlog.witness_check(note.parse_add_checkpoint(body), log_key, now)
    # the coordinator rewrites entry 2 and re-signs everything after it with their own key: a valid chain,
    # a valid signature, and still the witness refuses, knowing only its checkpoint of size 4
    entries = ledger.read_entries(path)
    rewritten = tmp_path / "rewritten.jsonl"
    for e in entries:
        ledger.append(rewritten, actor="coord", key=key, type=e.type, data=e.data, time=e.time,
                      payload_sha256=("f" * 64) if e.seq == 2 else e.payload_sha256)
    ledger.verify_chain(rewritten, {"coord": key.public_key()})
    forged = [tlog.leaf_hash(x) for x in tlog.ledger_leaves(rewritten)]
    forged_cp = note.sign_checkpoint(tlog.checkpoint_of(forged, origin), key)
    for proof in (tlog.consistency_proof(forged, 4), tlog.consistency_proof(hs, 4)):
        with pytest.raises(SignatureError, match="does not extend the one this witness cosigned"):
            tlog.witness_check(note.parse_add_checkpoint(note.format_add_checkpoint(4, proof, forged_cp)),
                               log_key, last)
    # an unsigned or foreign checkpoint, an old size past the new one, another log
    other = note.sign_checkpoint(tlog.checkpoint_of(hs, note.origin_for("r2")), key)
    with pytest.raises(SignatureError, match="no signature by a known key"):
        tlog.witness_check(note.parse_add_checkpoint(note.format_add_checkpoint(4, [], other)), log_key, last)
    with pytest.raises(SignatureError, match="larger than the checkpoint's size"):
        tlog.witness_check(note.parse_add_checkpoint(note.format_add_checkpoint(9, [], second)), log_key, last)
    other_log = note.VerifierKey(note.origin_for("r2"), key.public_key())
    with pytest.raises(SignatureError, match="not 'workbench.example/rounds/r1'"):
        tlog.witness_check(note.parse_add_checkpoint(note.format_add_checkpoint(4, [], other)), other_log, last)


def test_add_checkpoint_request_parser(tmp_path):
    from workbench.round import note

    key, path = _witness_ledger(tmp_path, 3)
    hs = [tlog.leaf_hash(x) for x in tlog.ledger_leaves(path)]
    cp = note.sign_checkpoint(tlog.checkpoint_of(hs, note.origin_for("r1")), key)
    proof = tlog.consistency_proof(hs, 1)
    req = note.parse_add_checkpoint(note.format_add_checkpoint(1, proof, cp))
    assert (req.old_size, list(req.proof), req.checkpoint) == (1, proof, cp)
    for body, what in ((b"old 01\n\n" + cp, "old size"), (b"new 1\n\n" + cp, "old size"),
                       (b"old 1\n" + cp, "proof line"), (b"old 1\nno blank line\n", "blank line"), (b"old 1\nAAAA\n\n" + cp, "proof line"),
                       (b"old 1\n" + b"\n".join([base64.b64encode(hs[0])] * 64) + b"\n\n" + cp, "64 consistency"),
                       (b"old 1\n\n" + cp[:-1], "final newline"), (b"old 1\n\n" + b"x" * 70000, "bytes")):
        with pytest.raises(InputFileError, match=what):
            note.parse_add_checkpoint(body, "req")
    with pytest.raises(InputFileError):
        note.format_add_checkpoint(1, [b"short"], cp)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.lists(st.binary(min_size=32, max_size=32), max_size=3))
def test_add_checkpoint_parser_never_crashes(data, hashes):
    from workbench.round import note

    for body in (data, b"old 3\n" + b"".join(base64.b64encode(h) + b"\n" for h in hashes) + b"\n" + data):
        with contextlib.suppress(InputFileError):
            note.parse_add_checkpoint(body)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 48), st.data())
def test_a_merkle_tree_answers_as_the_functions_do_however_it_is_asked(n, data):
    hs = _hashes(n)
    tree = tlog.MerkleTree(hs)
    # in any order of questions: the kept subtree heads never change an answer
    for _ in range(12):
        size = data.draw(st.integers(1, n), label="size")
        i = data.draw(st.integers(0, size - 1), label="index")
        m = data.draw(st.integers(0, size), label="old size")
        assert tree.head(size) == tlog.tree_head(hs, size)
        assert tree.inclusion(i, size) == tlog.InclusionProof.make(hs, i, size)
        assert tree.consistency(m, size) == tlog.ConsistencyProof.make(hs, m, size)
    assert len(tree) == n and tree.head() == tlog.tree_head(hs)


def test_a_merkle_tree_checks_its_leaves_and_reads_a_ledger(tmp_path):
    with pytest.raises(InputFileError, match="leaf hash 2"):
        tlog.MerkleTree([*_hashes(2), b"short"])
    with pytest.raises(InputFileError, match="leaf index 3"):
        tlog.MerkleTree(_hashes(3)).inclusion(3)
    key, path = _witness_ledger(tmp_path, 5)
    tree = tlog.MerkleTree.of_ledger(path)
    leaves = tlog.ledger_leaves(path)
    tree.inclusion(4).verify(tree.head(), leaves[4])
    tree.consistency(2).verify(tree.head(2), tree.head())
