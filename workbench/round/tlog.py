"""The round's ledger as a Merkle tree (RFC 6962 / RFC 9162): tree heads, inclusion and consistency proofs.

The ledger stays a readable, hash-chained JSON Lines file (:mod:`workbench.round.ledger`); this module reads the
same entries as the leaves of a transparency log, so a reviewer can prove their sheet is in the log and a
witness can prove a later tree extends an earlier one, each with a few hashes instead of the whole ledger.

**Leaves.** Leaf ``i`` (0-based) is ledger entry ``seq = i + 1``, and its bytes are the entry's RFC 8785
canonical JSON *with* its signature: exactly the bytes whose SHA-256 the next entry's ``prev`` names
(:func:`workbench.round.ledger.entry_hash`), and exactly the JSONL line without its newline for every line the
workbench wrote. The chain and the tree therefore commit to the same bytes.

**Hashing** (RFC 6962 §2.1, RFC 9162 §2.1.1): ``leaf_hash(d) = SHA-256(0x00 || d)``,
``node_hash(l, r) = SHA-256(0x01 || l || r)``; the tree head of ``n`` leaves splits at the largest power of
two smaller than ``n``; the empty tree's head is ``SHA-256("")``.

**Proofs** are lists of 32-byte hashes, generated as RFC 6962 §2.1.1 (``PATH``) and §2.1.2 (``PROOF``) and
checked with the verification algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, so they are the proofs Go's
``golang.org/x/mod/sumdb/tlog`` (``ProveRecord``/``CheckRecord``, ``ProveTree``/``CheckTree``) and
certificate-transparency tooling produce and accept. :class:`InclusionProof` and :class:`ConsistencyProof`
are their JSON form (hashes in standard base64, as a checkpoint's root hash is).

Every computation here is a pure function of its arguments; only :func:`ledger_leaves` and
:meth:`MerkleTree.of_ledger` read a file.

Public API: :data:`HASH_SIZE`, :data:`EMPTY_ROOT`, :func:`leaf_hash`, :func:`node_hash`, :func:`tree_head`,
:func:`inclusion_proof`, :func:`consistency_proof`, :func:`verify_inclusion`, :func:`verify_consistency`,
:func:`entry_leaf`, :func:`ledger_leaves`, :class:`InclusionProof`, :class:`ConsistencyProof`,
:func:`parse_proof`, :class:`MerkleTree`, :func:`checkpoint_of`, :func:`witness_check`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import ConfigDict, Field

from ..core.base import Model, from_pydantic
from ..core.errors import InputFileError, SignatureError
from ..core.files import canonical_json, parse_json
from . import ledger, note

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "ConsistencyProof",
    "InclusionProof",
    "MerkleTree",
    "checkpoint_of",
    "consistency_proof",
    "entry_leaf",
    "inclusion_proof",
    "leaf_hash",
    "ledger_leaves",
    "node_hash",
    "parse_proof",
    "tree_head",
    "verify_consistency",
    "verify_inclusion",
    "witness_check",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
# a tree of 2**63 leaves needs 63 hashes for an inclusion proof and about twice that for a consistency proof;
# anything longer is not a proof of any tree this log can hold
MAX_TREE_SIZE = 2**63 - 1
MAX_PROOF_HASHES = 128
MAX_PROOF_BYTES = 64 * 1024


# ---------------------------------------------------------------- hashing

def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


Memo = dict[tuple[int, int], bytes]


def _mth(hashes: Sequence[bytes], lo: int, hi: int, memo: Memo | None = None) -> bytes:
    """Merkle tree hash of the leaves ``lo..hi-1`` (``hi > lo``), given their leaf hashes. ``memo`` keeps the
    heads of complete subtrees (power-of-two ranges): the only ones every later size and proof reuses."""
    n = hi - lo
    if n == 1:
        return hashes[lo]
    k = _split(n)
    if memo is None or n & (n - 1):
        return node_hash(_mth(hashes, lo, lo + k, memo), _mth(hashes, lo + k, hi, memo))
    h = memo.get((lo, hi))
    if h is None:
        h = memo[(lo, hi)] = node_hash(_mth(hashes, lo, lo + k, memo), _mth(hashes, lo + k, hi, memo))
    return h


def _check_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for i, h in enumerate(leaf_hashes):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise InputFileError(f"leaf hash {i} is not {HASH_SIZE} bytes", expected="leaf_hash() of each leaf")


def tree_head(leaf_hashes: Sequence[bytes], size: int | None = None, *, memo: Memo | None = None) -> bytes:
    """The Merkle tree hash (RFC 6962 ``MTH``) of the first ``size`` leaves (all by default), given their
    leaf hashes; the empty tree's head is :data:`EMPTY_ROOT`."""
    n = len(leaf_hashes) if size is None else size
    if not 0 <= n <= len(leaf_hashes):
        raise InputFileError(f"tree size {n} is outside the log", expected=f"0..{len(leaf_hashes)}")
    if memo is None:  # a MerkleTree (the memo's owner) checked its leaves once
        _check_hashes(leaf_hashes[:n])
    return EMPTY_ROOT if n == 0 else _mth(leaf_hashes, 0, n, memo)


# ---------------------------------------------------------------- proofs (RFC 6962 §2.1.1, §2.1.2)

def _path(hashes: Sequence[bytes], m: int, lo: int, hi: int, memo: Memo | None = None) -> list[bytes]:
    """RFC 6962 ``PATH(m, D[lo:hi])``, leaf ``m`` relative to ``lo``: the audit path, lowest level first."""
    if hi - lo == 1:
        return []
    k = _split(hi - lo)
    if m < k:
        return [*_path(hashes, m, lo, lo + k, memo), _mth(hashes, lo + k, hi, memo)]
    return [*_path(hashes, m - k, lo + k, hi, memo), _mth(hashes, lo, lo + k, memo)]


def _subproof(hashes: Sequence[bytes], m: int, lo: int, hi: int, whole: bool, memo: Memo | None = None) -> list[bytes]:
    """RFC 6962 ``SUBPROOF(m, D[lo:hi], b)``: ``whole`` is ``b``, true while ``D[lo:lo+m]`` is the old tree."""
    n = hi - lo
    if m == n:
        return [] if whole else [_mth(hashes, lo, hi, memo)]
    k = _split(n)
    if m <= k:
        return [*_subproof(hashes, m, lo, lo + k, whole, memo), _mth(hashes, lo + k, hi, memo)]
    return [*_subproof(hashes, m - k, lo + k, hi, False, memo), _mth(hashes, lo, lo + k, memo)]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int | None = None, *,
                    memo: Memo | None = None) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of the first ``size`` leaves (all by default)."""
    n = len(leaf_hashes) if size is None else size
    if not 0 <= n <= len(leaf_hashes):
        raise InputFileError(f"tree size {n} is outside the log", expected=f"0..{len(leaf_hashes)}")
    if not 0 <= index < n:
        raise InputFileError(f"leaf index {index} is not in a tree of {n} leaves", expected=f"0..{n - 1}")
    if memo is None:  # a MerkleTree (the memo's owner) checked its leaves once
        _check_hashes(leaf_hashes[:n])
    return _path(leaf_hashes, index, 0, n, memo)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None, *,
                      memo: Memo | None = None) -> list[bytes]:
    """The proof that the tree of ``new_size`` leaves (all by default) extends the tree of ``old_size``.

    Empty when ``old_size`` is 0 or equals ``new_size``: then there is nothing to prove beyond the heads.
    Every function here takes a ``memo``, the dict a :class:`MerkleTree` keeps so that many heads and proofs
    over one ledger hash each complete subtree once (and check the leaf hashes once).
    """
    n = len(leaf_hashes) if new_size is None else new_size
    if not 0 <= n <= len(leaf_hashes):
        raise InputFileError(f"tree size {n} is outside the log", expected=f"0..{len(leaf_hashes)}")
    if not 0 <= old_size <= n:
        raise InputFileError(f"old tree size {old_size} is larger than the new size {n}", expected=f"0..{n}")
    if memo is None:  # a MerkleTree (the memo's owner) checked its leaves once
        _check_hashes(leaf_hashes[:n])
    if old_size in (0, n):
        return []
    return _subproof(leaf_hashes, old_size, 0, n, True, memo)


class MerkleTree:
    """A ledger's leaf hashes with the heads of its complete subtrees kept between calls: a ``collect`` that
    writes a receipt per sheet, or a witness request per checkpoint, hashes the ledger once, not per proof."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        _check_hashes(leaf_hashes)
        self.leaf_hashes = list(leaf_hashes)
        self._memo: Memo = {}

    @classmethod
    def of_ledger(cls, path: str | Path) -> MerkleTree:
        """The tree of the ledger at ``path`` (see :func:`ledger_leaves`)."""
        return cls([leaf_hash(x) for x in ledger_leaves(path)])

    def __len__(self) -> int:
        return len(self.leaf_hashes)

    def head(self, size: int | None = None) -> bytes:
        """:func:`tree_head` of the first ``size`` leaves (all by default)."""
        return tree_head(self.leaf_hashes, size, memo=self._memo)

    def inclusion(self, index: int, size: int | None = None) -> InclusionProof:
        """The :class:`InclusionProof` of leaf ``index`` in the tree of ``size`` leaves (all by default)."""
        n = len(self) if size is None else size
        path = inclusion_proof(self.leaf_hashes, index, n, memo=self._memo)
        return InclusionProof(index=index, size=n, leaf_hash=_b64(self.leaf_hashes[index]),
                              hashes=[_b64(h) for h in path])

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The :class:`ConsistencyProof` from ``old_size`` leaves to ``new_size`` (all by default)."""
        n = len(self) if new_size is None else new_size
        path = consistency_proof(self.leaf_hashes, old_size, n, memo=self._memo)
        return ConsistencyProof(old_size=old_size, new_size=n, hashes=[_b64(h) for h in path])


# ---------------------------------------------------------------- verification (RFC 9162 §2.1.3.2, §2.1.4.2)

def _check_proof_shape(proof: Sequence[bytes], *roots: bytes) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise SignatureError(f"proof has {len(proof)} hashes", expected=f"at most {MAX_PROOF_HASHES}")
    for i, h in enumerate([*roots, *proof]):
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise SignatureError(f"hash {i} of the proof is not {HASH_SIZE} bytes", expected="SHA-256 hashes")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that the leaf with hash ``leaf`` is at ``index`` in the tree of ``size`` leaves whose head is
    ``root`` (RFC 9162 §2.1.3.2); raise :class:`SignatureError` saying why not."""
    _check_proof_shape(proof, leaf, root)
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise SignatureError(f"leaf index {index} is not in a tree of {size} leaves", expected=f"an index below {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise SignatureError(f"inclusion proof is longer than a tree of {size} leaves needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise SignatureError(f"inclusion proof is shorter than a tree of {size} leaves needs")
    if r != root:
        raise SignatureError(f"inclusion proof of leaf {index} does not lead to the tree head of size {size}",
                             expected="the leaf, index, size and head the proof was made for")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` leaves with head ``new_root`` extends the tree of ``old_size``
    leaves with head ``old_root`` (RFC 9162 §2.1.4.2); raise :class:`SignatureError` saying why not.

    A tree is consistent with itself (equal sizes: equal heads, empty proof) and every tree extends the empty
    one (old size 0: head :data:`EMPTY_ROOT`, empty proof).
    """
    _check_proof_shape(proof, old_root, new_root)
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise SignatureError(f"old tree size {old_size} is larger than the new size {new_size}",
                             expected="an old size no larger than the new one")
    if old_size == 0 or old_size == new_size:
        if proof:
            raise SignatureError(f"consistency proof from size {old_size} to {new_size} must be empty")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise SignatureError("the head of the empty tree is not SHA-256 of nothing")
        if old_size == new_size and old_root != new_root:
            raise SignatureError(f"two different tree heads for the same size {old_size}: the log forked")
        return
    if not proof:
        raise SignatureError(f"consistency proof from size {old_size} to {new_size} is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree: its head starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise SignatureError(f"consistency proof is longer than sizes {old_size} and {new_size} need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise SignatureError(f"consistency proof is shorter than sizes {old_size} and {new_size} need")
    if fr != old_root:
        raise SignatureError(f"consistency proof does not lead to the old tree head (size {old_size})",
                             expected="the head the old checkpoint names")
    if sr != new_root:
        raise SignatureError(f"consistency proof does not lead to the new tree head (size {new_size}): the log was "
                             "rewritten or the proof is for another tree", expected="the head the new checkpoint names")


# ---------------------------------------------------------------- the ledger's leaves

def entry_leaf(entry: ledger.Entry) -> bytes:
    """A ledger entry's leaf bytes: its RFC 8785 canonical JSON, signature included (see the module doc)."""
    return canonical_json(entry.model_dump(mode="json"))


def ledger_leaves(path: str | Path) -> list[bytes]:
    """The leaf bytes of every entry of the ledger at ``path``, in order (structure only: verify the chain
    and signatures with :func:`workbench.round.ledger.verify_chain` where that matters)."""
    return [entry_leaf(e) for e in ledger.read_entries(path)]


# ---------------------------------------------------------------- JSON form

Hash64 = Annotated[str, Field(min_length=44, max_length=44, pattern=r"^[A-Za-z0-9+/]{43}=$")]


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


def _unb64(s: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error:  # the pattern admits only valid encodings; kept for a clear error if it changes
        raise SignatureError(f"hash '{s[:16]}' is not base64", expected="standard base64 of 32 bytes") from None


# the proofs' formats, in the convention of workbench.core.versions
INCLUSION_SCHEMA = "workbench.inclusion-proof/1"
CONSISTENCY_SCHEMA = "workbench.consistency-proof/1"


class InclusionProof(Model):
    """An audit path as JSON: leaf ``index`` (0-based: ledger entry ``index + 1``) of the tree of ``size``
    leaves, the leaf's hash, and ``hashes`` (standard base64, lowest level first)."""

    model_config = ConfigDict(**Model.model_config, populate_by_name=True, serialize_by_alias=True)

    schema_: Literal["workbench.inclusion-proof/1"] = Field(INCLUSION_SCHEMA, alias="schema")
    index: Annotated[int, Field(ge=0, le=MAX_TREE_SIZE)]
    size: Annotated[int, Field(ge=1, le=MAX_TREE_SIZE)]
    leaf_hash: Hash64
    hashes: Annotated[list[Hash64], Field(max_length=MAX_PROOF_HASHES)]

    @classmethod
    def make(cls, leaf_hashes: Sequence[bytes], index: int, size: int | None = None) -> InclusionProof:
        """The proof of leaf ``index`` in the tree of the first ``size`` leaves (all by default)."""
        n = len(leaf_hashes) if size is None else size
        path = inclusion_proof(leaf_hashes, index, n)
        return cls(index=index, size=n, leaf_hash=_b64(leaf_hashes[index]), hashes=[_b64(h) for h in path])

    def verify(self, root: bytes, leaf: bytes | None = None) -> None:
        """Check the proof against a tree head (and, when given, the leaf's bytes); raise
        :class:`SignatureError` when it does not hold."""
        if leaf is not None and leaf_hash(leaf) != _unb64(self.leaf_hash):
            raise SignatureError(f"the proof is for another leaf than entry {self.index + 1}",
                                 expected="the leaf hash the proof names")
        verify_inclusion(_unb64(self.leaf_hash), self.index, self.size, [_unb64(h) for h in self.hashes], root)


class ConsistencyProof(Model):
    """A consistency proof as JSON: the tree of ``new_size`` leaves extends the tree of ``old_size``."""

    model_config = ConfigDict(**Model.model_config, populate_by_name=True, serialize_by_alias=True)

    schema_: Literal["workbench.consistency-proof/1"] = Field(CONSISTENCY_SCHEMA, alias="schema")
    old_size: Annotated[int, Field(ge=0, le=MAX_TREE_SIZE)]
    new_size: Annotated[int, Field(ge=0, le=MAX_TREE_SIZE)]
    hashes: Annotated[list[Hash64], Field(max_length=MAX_PROOF_HASHES)]

    @classmethod
    def make(cls, leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """The proof from the first ``old_size`` leaves to the first ``new_size`` (all by default)."""
        n = len(leaf_hashes) if new_size is None else new_size
        path = consistency_proof(leaf_hashes, old_size, n)
        return cls(old_size=old_size, new_size=n, hashes=[_b64(h) for h in path])

    def verify(self, old_root: bytes, new_root: bytes) -> None:
        """Check the proof against the two tree heads; raise :class:`SignatureError` when it does not hold."""
        verify_consistency(self.old_size, self.new_size, old_root, new_root, [_unb64(h) for h in self.hashes])


def parse_proof(data: bytes | str, name: str = "<proof>") -> InclusionProof | ConsistencyProof:
    """An :class:`InclusionProof` or :class:`ConsistencyProof` from its JSON (untrusted: size-bounded,
    validated); a malformed one is an :class:`InputFileError` naming ``name``."""
    if len(data) > MAX_PROOF_BYTES:
        raise InputFileError(f"proof is {len(data)} bytes", file=name, expected=f"at most {MAX_PROOF_BYTES}")
    obj = parse_json(data, name)
    schema = obj.get("schema") if isinstance(obj, dict) else None
    model: type[InclusionProof] | type[ConsistencyProof]
    if schema == INCLUSION_SCHEMA:
        model, kind = InclusionProof, "inclusion"
    elif schema == CONSISTENCY_SCHEMA:
        model, kind = ConsistencyProof, "consistency"
    else:
        raise InputFileError("not a Merkle proof", file=name, expected=f'a JSON object with "schema": '
                             f'"{INCLUSION_SCHEMA}" or "{CONSISTENCY_SCHEMA}"')
    try:
        return model.model_validate(obj)
    except pydantic.ValidationError as e:
        raise from_pydantic(e, InputFileError, file=name, what=f"malformed {kind} proof") from None


# ---------------------------------------------------------------- checkpoints of the tree (format 2)

def checkpoint_of(leaf_hashes: Sequence[bytes], origin: str, size: int | None = None) -> note.Checkpoint:
    """The (unsigned) C2SP checkpoint of the first ``size`` leaves (all by default) of the log ``origin``
    (:func:`workbench.round.note.origin_for`); sign it with :func:`workbench.round.note.sign_checkpoint`."""
    n = len(leaf_hashes) if size is None else size
    return note.Checkpoint(origin, n, tree_head(leaf_hashes, n))


def witness_check(request: note.AddCheckpoint, log_key: note.VerifierKey, last: note.Checkpoint | None,
                  name: str = "<add-checkpoint>") -> note.Checkpoint:
    """What a witness checks before it cosigns (c2sp.org/tlog-witness ``add-checkpoint``), without the ledger:
    the checkpoint is signed by the log's key and names the log of ``last``, the request starts from the
    size the witness last cosigned (``last``; ``None`` before its first), and the consistency proof leads
    from that checkpoint's head to the new one. Returns the new checkpoint; raises
    :class:`SignatureError` naming what failed (a rewritten or forked log among them)."""
    checkpoint, _, _ = note.open_checkpoint(request.checkpoint, log_key, name=name)
    if last is not None and checkpoint.origin != last.origin:
        raise SignatureError(f"checkpoint of the log '{checkpoint.origin}', not '{last.origin}'", file=name,
                             expected="a checkpoint of the log this witness follows")
    if request.old_size > checkpoint.size:
        raise SignatureError(f"old size {request.old_size} is larger than the checkpoint's size {checkpoint.size}",
                             file=name)
    last_size = last.size if last is not None else 0
    if request.old_size != last_size:
        raise SignatureError(f"request starts from size {request.old_size} but this witness last cosigned size "
                             f"{last_size}", file=name, expected=f"'old {last_size}' and a proof from there")
    old_root = last.root_hash if last is not None else EMPTY_ROOT
    try:
        verify_consistency(last_size, checkpoint.size, old_root, checkpoint.root_hash, request.proof)
    except SignatureError as e:
        raise SignatureError(f"the new checkpoint does not extend the one this witness cosigned: {e.message}",
                             file=name, expected=e.expected) from None
    return checkpoint
