"""The report's verify page: ``report/verify.html`` checks, in a browser with nothing installed, that
``report.dsse.json`` is signed by a coordinator key of ``keys.json`` (Ed25519 over DSSE's PAE, WebCrypto),
that every file the signed payload names has its signed sha256, and that ``ledger.jsonl`` (the ledger up to
the report entry, copied next to the report) is a hash chain whose entry ``ledger_size`` has the signed
``ledger_head`` and whose next entry is the coordinator-signed ``report`` entry of exactly this payload.

The page fetches the real files relative to itself (served over http, e.g. ``python3 -m http.server`` in the
folder); where a browser refuses ``fetch`` on ``file://`` it asks for the folder's files instead. Nothing is
embedded: what the page checks are the bytes a reader has. The page is static (the same bytes for every
round), so an auditor can tell it is the workbench's own (``workbench audit`` compares it).

It replicates :func:`workbench.round.ledger.entry_hash` (SHA-256 of the entry's RFC 8785 canonical JSON; RFC 8785
is defined by ECMAScript's own ``JSON.stringify`` of strings and numbers, with keys sorted by UTF-16 code
units) and :func:`workbench.core.signing.pae`.

Public API: :data:`LEDGER_COPY`, :func:`keys_json`, :func:`verify_html`.
"""

from __future__ import annotations

from ..core.base import Hex64, Model
from ..core.files import canonical_json
from ..core.signing import LEDGER_TYPE, REPORT_TYPE
from ..core.templating import render
from ..model.round import Round, pinned_keys
from ..round.checkpoint import CHECKPOINT_TYPE
from ..round.note import DEFAULT_AUTHORITY

__all__ = ["CHECKPOINT_COPY", "COORDINATOR_TYPES", "INCLUSION_COPY", "LEDGER_COPY", "KeysFile", "PinnedKey", "keys_json",
           "verify_html"]

LEDGER_COPY = "ledger.jsonl"
# the report's checkpoint beside it, which witnesses cosign after publication (not among the signed files: its
# signature lines authenticate it)
CHECKPOINT_COPY = "checkpoint.txt"
# the inclusion proof of the report's ledger entry in that checkpoint's tree (workbench.round.tlog.InclusionProof)
INCLUSION_COPY = "inclusion.json"
# ledger entry types only a coordinator may sign: the page goes red on one signed by any other key
COORDINATOR_TYPES = ("freeze", "amend", "collect", "acknowledge", "users_import", "rerun", "report", "checkpoint")


class PinnedKey(Model):
    """A coordinator's key as the freeze entry pins it and keys.json repeats it."""

    id: str
    key_id: Hex64
    public_key: str


class KeysFile(Model):
    """``report/keys.json`` (shipped schema ``keys``): the round's coordinators and their keys."""

    coordinators: list[PinnedKey]
    round_id: str


def keys_json(r: Round) -> bytes:
    """The roster's coordinators and their public keys (raw, base64) with key ids, in canonical JSON: the same
    records the freeze entry pins (:func:`workbench.model.round.pinned_keys`). The page trusts the ledger's, and
    only checks that this file agrees with them (one entry per name and key)."""
    doc = {"coordinators": pinned_keys(r)["coordinators"], "round_id": r.rules.round_id}
    return canonical_json(KeysFile.model_validate(doc).model_dump(mode="json"))


def verify_html() -> bytes:
    """The verify page (static: the same bytes for every round)."""
    return render("verify.html.j2", report_type=REPORT_TYPE, ledger_type=LEDGER_TYPE, checkpoint_type=CHECKPOINT_TYPE,
                  ledger_copy=LEDGER_COPY, checkpoint_copy=CHECKPOINT_COPY, inclusion_copy=INCLUSION_COPY,
                  log_authority=DEFAULT_AUTHORITY, coordinator_types=list(COORDINATOR_TYPES)).encode()
