"""Reviewers' receipts: proof that a sheet's ledger entries are in the round's log, checkable without the ledger.

``workbench collect`` writes one receipt per newly collected sheet version, ``receipts/<reviewer>/<team>.v<N>.json``
(the reviewer keeps theirs; it is :class:`Receipt`, shipped schema ``receipt``). It holds:

- the sheet's ``submit`` and ``collect`` ledger entries, whole (the collect entry's ``data.decision`` is the
  decision; both are signed by the coordinator who collected);
- for each, an RFC 6962 inclusion proof (:class:`workbench.round.tlog.InclusionProof`) of its leaf (the entry's
  canonical JSON) in the tree of the checkpoint below;
- the coordinator's format-2 checkpoint (C2SP signed note) made right after the collection.

:func:`verify_receipt` needs only the receipt and the coordinator's public key (``workbench verify-receipt
RECEIPT --key coord.pub``): the checkpoint's signature, each inclusion proof against its root, each entry's
signature, and that the entries are this sheet's submit and collect. With the sheet file too (``--sheet``), that
its hash is the one recorded. A witness's cosigned copy of a later checkpoint and a consistency proof take it
from there (``workbench audit ROUND --receipt RECEIPT`` checks receipts against the ledger too).

Public API: :class:`Receipt`, :class:`ReceiptEntry`, :class:`ReceiptCheck`, :data:`MAX_RECEIPT_BYTES`,
:func:`make_receipt`, :func:`write_receipts`, :func:`parse_receipt`, :func:`verify_receipt`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ConfigDict, Field

from ..core.base import Hex64, Id, Model, from_pydantic
from ..core.errors import InputFileError, SignatureError
from ..core.files import atomic_write_bytes, parse_json, sha256_bytes
from ..core.signing import key_id
from . import ledger, note, tlog
from .checkpoint import log_key

__all__ = ["MAX_RECEIPT_BYTES", "Receipt", "ReceiptCheck", "ReceiptEntry", "make_receipt", "parse_receipt",
           "verify_receipt", "write_receipts"]

MAX_RECEIPT_BYTES = 256 * 1024


class ReceiptEntry(Model):
    """A ledger entry and the inclusion proof of its leaf in the receipt's checkpoint."""

    entry: ledger.Entry
    proof: tlog.InclusionProof


RECEIPT_SCHEMA = "workbench.receipt/1"  # the convention of workbench.core.versions


class Receipt(Model):
    """A reviewer's receipt for one collected sheet version (see the module doc)."""

    model_config = ConfigDict(**Model.model_config, populate_by_name=True, serialize_by_alias=True)

    schema_: Literal["workbench.receipt/1"] = Field(RECEIPT_SCHEMA, alias="schema")
    round_id: Id
    reviewer: Id
    team: Id
    version: Annotated[int, Field(ge=1)]
    sheet: Annotated[str, Field(max_length=300)]
    entries: Annotated[list[ReceiptEntry], Field(min_length=2, max_length=2)]
    checkpoint: Annotated[str, Field(max_length=note.MAX_NOTE_BYTES)]


class ReceiptCheck(Model):
    """What a receipt proved: this sheet's entries are entries ``seqs`` of the log of ``origin``, whose
    checkpoint of ``size`` entries the coordinator with key ``key_id`` signed; the sheet (the envelope file of
    SHA-256 ``sheet_sha256``) was ``decision``."""

    round_id: str
    origin: str
    reviewer: str
    team: str
    version: int
    sheet: str
    sheet_sha256: Hex64
    decision: str
    seqs: list[int]
    size: int
    key_id: Hex64


def make_receipt(round_id: str, entries: Sequence[ledger.Entry], tree: tlog.MerkleTree, checkpoint: bytes,
                 submit: ledger.Entry, collected: ledger.Entry) -> Receipt:
    """The receipt of one sheet: its ``submit`` and ``collect`` entries with their inclusion proofs in the
    tree of ``checkpoint`` (whose size ``tree`` must have)."""
    size = note.parse_checkpoint_text(note.parse_note(checkpoint).text).size
    d = collected.data
    return Receipt(round_id=round_id, reviewer=d["reviewer"], team=d["team"], version=d["version"], sheet=d["path"],
                   checkpoint=checkpoint.decode(),
                   entries=[ReceiptEntry(entry=e, proof=tlog.InclusionProof.make(tree.leaf_hashes, e.seq - 1, size))
                            for e in (submit, collected)])


def write_receipts(round_dir: str | Path, round_id: str, sheets: Iterable[tuple[str, str, int]],
                   checkpoint: bytes) -> list[Path]:
    """Write ``receipts/<reviewer>/<team>.v<N>.json`` for each collected sheet version ``(reviewer, team,
    version)`` against ``checkpoint`` (the coordinator's format-2 checkpoint of the ledger as it is now). Existing
    receipts are kept."""
    entries = ledger.read_entries(Path(round_dir) / "ledger.jsonl")
    size = note.parse_checkpoint_text(note.parse_note(checkpoint).text).size
    tree = tlog.MerkleTree([tlog.leaf_hash(tlog.entry_leaf(e)) for e in entries[:size]])
    # collect writes a sheet's submit and its decision as two adjacent entries; the first such pair is the one
    by_sheet: dict[tuple[object, ...], tuple[ledger.Entry, ledger.Entry]] = {}
    for submit, decided in zip(entries[:size], entries[1:size], strict=False):
        facts = [submit.data.get(k) for k in ("path", "reviewer", "team", "version")]
        if (submit.type, decided.type) == ("submit", "collect") and all(
                isinstance(v, str | int) for v in facts) and [decided.data.get(k) for k in
                                                             ("path", "reviewer", "team", "version")] == facts:
            by_sheet.setdefault(tuple(facts[1:]), (submit, decided))
    out = []
    for reviewer, team, version in sheets:
        pair = by_sheet.get((reviewer, team, version))
        p = Path(round_dir) / "receipts" / reviewer / f"{team}.v{version}.json"
        if pair is None or p.exists():
            continue
        r = make_receipt(round_id, entries, tree, checkpoint, *pair)
        out.append(atomic_write_bytes(p, r.model_dump_json(indent=2).encode() + b"\n", mode=0o644, overwrite=False))
    return out


def parse_receipt(data: bytes, name: str = "<receipt>") -> Receipt:
    """A :class:`Receipt` from its JSON (untrusted: size-bounded, validated)."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise InputFileError(f"receipt is {len(data)} bytes", file=name, expected=f"at most {MAX_RECEIPT_BYTES}")
    try:
        return Receipt.model_validate(parse_json(data, name))
    except pydantic.ValidationError as e:
        raise from_pydantic(e, InputFileError, file=name, what="malformed receipt") from None


def verify_receipt(data: bytes, keys: Sequence[Ed25519PublicKey], name: str = "<receipt>",
                   sheet: bytes | None = None) -> ReceiptCheck:
    """Check a receipt with nothing but the coordinator's public key(s) (and optionally the sheet file's bytes):
    the checkpoint is the round's log signed by one of ``keys``; each entry's inclusion proof leads from the
    entry to the checkpoint's root at its own place; both entries are signed with that key; they are the
    ``submit`` and ``collect`` of the sheet the receipt names. Raises :class:`SignatureError` naming what
    failed."""
    r = parse_receipt(data, name)
    origin = note.origin_for(r.round_id)
    tree = signer = None
    for k in keys:
        try:
            tree, _, _ = note.open_checkpoint(r.checkpoint, log_key(r.round_id, k), name=name)
        except SignatureError:
            continue
        signer = k
        break
    if tree is None or signer is None:
        raise SignatureError(f"the receipt's checkpoint is not signed by the coordinator key(s) given for {origin}",
                             file=name, expected="a checkpoint of the round's log signed with the key you hold")
    submit, collected = (x.entry for x in r.entries)
    for x in r.entries:
        e, p = x.entry, x.proof
        if p.size != tree.size or p.index != e.seq - 1:
            raise SignatureError(f"the proof of entry {e.seq} is for leaf {p.index} of a tree of {p.size}", file=name,
                                 expected=f"leaf {e.seq - 1} of the checkpoint's {tree.size}")
        try:
            p.verify(tree.root_hash, tlog.entry_leaf(e))
        except SignatureError as err:
            raise SignatureError(f"entry {e.seq} is not in the log: {err.message}", file=name,
                                 expected=err.expected) from None
        if e.key_id != key_id(signer) or not ledger.signature_ok(e, signer):
            raise SignatureError(f"entry {e.seq}'s signature does not verify with the coordinator's key", file=name)
    facts = {"path": r.sheet, "reviewer": r.reviewer, "team": r.team, "version": r.version}
    if (submit.type, collected.type) != ("submit", "collect") or any(
            {k: e.data.get(k) for k in facts} != facts for e in (submit, collected)) or (
            submit.payload_sha256 != collected.payload_sha256):
        raise SignatureError("the entries are not this sheet's submit and collect", file=name,
                             expected=f"submit and collect of {r.sheet}")
    if sheet is not None and sha256_bytes(sheet) != ledger.envelope_sha256(submit):
        raise SignatureError(f"the sheet file's SHA-256 is not the one recorded for {r.sheet}", file=name,
                             expected=ledger.envelope_sha256(submit))
    return ReceiptCheck(round_id=r.round_id, origin=origin, reviewer=r.reviewer, team=r.team, version=r.version,
                        sheet=r.sheet, sheet_sha256=ledger.envelope_sha256(submit), decision=str(collected.data.get("decision")),
                        seqs=[submit.seq, collected.seq], size=tree.size, key_id=key_id(signer))
