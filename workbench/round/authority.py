"""Who may sign what: the one authority model of a round, replayed from the ledger's first entry.

Signatures say *who* signed an entry; this module decides whether that signer *held the authority* for
that kind of entry at that point of the round's history. :func:`replay` walks the ledger in order and keeps
the round's signed state (rules, roster, ...) as the entries make it:

- the first signed entry, ``freeze``, pins the root of trust: the coordinators and their keys, as the
  signed state ``frozen/v1.dsse.json`` names them (and the entry itself lists their key ids). It must be
  signed by one of them.
- every later entry is judged against the roster *as it stood before the entry* (the last signed state),
  never against ``roster.yaml`` on disk, which anyone with write access to the folder can edit: the signer
  must be in that roster, sign with the key it lists (a key an amendment replaced or removed is revoked:
  entries signed with it afterwards are refused), and hold the role :data:`AUTHORITY` requires for the type.
- an ``amend`` moves the state to the next signed version, verified with the signer's key from the state
  before; one that changes the coordinators or any key, points, aggregation, gates, thresholds or the cut
  needs ``rules.coordinator_threshold`` coordinators of the state before (its co-signatures, see
  :func:`proposal_payload`). Its change list is recomputed from the two signed states; a recorded list that
  differs is a finding.
- a sheet's decision is made once: a later ``collect`` that contradicts an earlier one is a finding, not a
  reversal. An accepted sheet leaves the results only by a ``withdraw`` signed by its own reviewer or an
  ``exclude`` signed by a coordinator with a reason; both are listed (:attr:`Authority.exclusions`).
- an entry whose data does not have its type's shape is a finding, never a crash (:data:`DATA_MODELS`).

Every entry that fails is an :class:`~workbench.core.findings.Finding` (code ``authority_<what>``) naming the
entry (``seq``), its type, the signer, the signer's role then and what was required; it does not count for
anything the ledger decides (collect, aggregate, rerun, status and the audit all read :attr:`Authority.valid`).

Public API: :data:`AUTHORITY`, :data:`DATA_MODELS`, :class:`Authority`, :class:`Exclusion`, :func:`replay`,
:func:`require`, :func:`state_changes`, :func:`threshold_needed`, :func:`proposal_payload`,
:func:`cosignature_ok`, :func:`finding_line`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field

from ..core.diff import json_diff
from ..core.errors import RoundError, WorkbenchError
from ..core.files import canonical_json, parse_json, read_bounded, sha256_bytes
from ..core.findings import Finding
from ..core.signing import (
    AMENDMENT_TYPE,
    MAX_ENVELOPE_BYTES,
    RULES_TYPE,
    key_id,
    pae,
    parse_envelope,
    verify_envelope,
)
from ..model.round import Roster, RosterEntry
from . import ledger

__all__ = [
    "AUTHORITY",
    "DATA_MODELS",
    "Authority",
    "Exclusion",
    "cosignature_ok",
    "finding_line",
    "proposal_payload",
    "replay",
    "require",
    "state_changes",
    "threshold_needed",
]

COORDINATOR = "coordinator"
OWN = "own reviewer"
# entry type -> who may sign it: a coordinator, the sheet's own reviewer (data.reviewer), or either
AUTHORITY: dict[str, frozenset[str]] = {
    "freeze": frozenset({COORDINATOR}),
    "amend": frozenset({COORDINATOR}),
    "collect": frozenset({COORDINATOR}),
    "acknowledge": frozenset({COORDINATOR}),
    "users_import": frozenset({COORDINATOR}),
    "rerun": frozenset({COORDINATOR}),
    "report": frozenset({COORDINATOR}),
    "exclude": frozenset({COORDINATOR}),
    # the coordinator's collection records each submission; a reviewer may record their own
    "submit": frozenset({COORDINATOR, OWN}),
    "withdraw": frozenset({OWN}),
}
assert set(AUTHORITY) == set(ledger.ENTRY_TYPES)

# the values of rules and roster whose change needs the threshold of coordinators (paths of state_changes)
GUARDED = ("rules.points", "rules.aggregation", "rules.gates", "rules.thresholds", "rules.cut",
           "rules.coordinator_threshold")


def _required(kinds: frozenset[str]) -> str:
    return {frozenset({COORDINATOR}): "a coordinator", frozenset({OWN}): "the sheet's own reviewer"}.get(
        kinds, "a coordinator or the sheet's own reviewer")


# ---------------------------------------------------------------- entry data, by type

class _Data(BaseModel):
    # strict: a version that is a string or a boolean is not a version; unknown fields are kept (newer writers)
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class _Sheet(_Data):
    path: Annotated[str, Field(min_length=1, max_length=1000)]
    reviewer: Annotated[str, Field(min_length=1, max_length=64)]
    team: str
    version: Annotated[int, Field(ge=0)]
    # the envelope file's SHA-256, on entries whose payload_sha256 is the sheet payload's (workbench.round.ledger)
    envelope_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


class SubmitData(_Sheet):
    pass


class CollectData(_Sheet):
    decision: Literal["accepted", "rejected"]
    reason: str = ""


class WithdrawData(_Sheet):
    reason: str = ""


class ExcludeData(_Sheet):
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=r"\S")]


class PinnedKey(_Data):
    """A coordinator's key as a freeze (or an amendment changing them) pins it: id and key id (the raw public
    key may come with it, for a reader of the ledger alone: the verify page)."""

    id: str
    key_id: str


class FreezeData(_Data):
    version: Literal[1]
    round_id: str
    file: str = ""
    # the root of trust, readable from the ledger alone (the verify page's anchor): the coordinators' keys
    coordinators: list[PinnedKey] | None = None


class Cosignature(_Data):
    actor: Annotated[str, Field(min_length=1, max_length=64)]
    key_id: str
    sig: str


class AmendData(_Data):
    version: Annotated[int, Field(ge=2)]
    reason: Annotated[str, Field(min_length=1)]
    changes: list[dict[str, Any]]
    after_first_submission: bool
    file: str = ""
    cosignatures: list[Cosignature] = Field(default_factory=list)
    # the new coordinators' keys, when the amendment changes them (pinned in the open, as the freeze does)
    coordinators: list[PinnedKey] | None = None


class _Finding(_Data):
    code: str
    params: dict[str, Any]


class AcknowledgeData(_Data):
    problems: list[_Finding] | list[str]  # codes; English lines in entries written before codes
    reason: Annotated[str, Field(min_length=1)]


class _ImportFile(_Data):
    path: str
    sha256: str


class UsersImportData(_Data):
    files: dict[Literal["survey", "votes"], _ImportFile]
    reason: str = ""


class RerunData(_Data):
    files: dict[str, Any]
    sheets: list[dict[str, Any]]


class ReportEntryData(_Data):
    file: str = ""


DATA_MODELS: dict[str, type[_Data]] = {
    "freeze": FreezeData, "amend": AmendData, "submit": SubmitData, "collect": CollectData, "report": ReportEntryData,
    "users_import": UsersImportData, "acknowledge": AcknowledgeData, "rerun": RerunData, "withdraw": WithdrawData,
    "exclude": ExcludeData,
}
assert set(DATA_MODELS) == set(ledger.ENTRY_TYPES)


# ---------------------------------------------------------------- results

class Exclusion(BaseModel):
    """An accepted sheet taken out of the results after the fact: withdrawn by its reviewer or excluded by a
    coordinator, with who, when and why (shown at the top of the report and listed by the audit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    time: str
    actor: str
    kind: Literal["withdrawn", "excluded"]
    path: str
    reviewer: str
    team: str
    version: int
    reason: str
    after_acceptance: bool


@dataclass
class Authority:
    """The ledger replayed: every entry as read, the ones that held authority, the findings, the signed
    states by version, the sheet decisions and the exclusions."""

    entries: list[ledger.Entry]
    valid: list[ledger.Entry] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    states: dict[int, dict[str, Any]] = field(default_factory=dict)
    version: int | None = None
    # path -> envelope sha256 -> the collect entry that decided it (the first one with authority)
    decisions: dict[str, dict[str, ledger.Entry]] = field(default_factory=dict)
    exclusions: list[Exclusion] = field(default_factory=list)
    # every valid amendment with its change list recomputed from the two signed states
    amendments: list[dict[str, Any]] = field(default_factory=list)
    # the root of trust the freeze pinned: coordinator id -> key id (empty before a valid freeze)
    root: dict[str, str] = field(default_factory=dict)
    _rosters: dict[int, Roster | None] = field(default_factory=dict, repr=False)

    @property
    def state(self) -> dict[str, Any] | None:
        """The last signed state (``None`` before a valid freeze)."""
        return self.states.get(self.version) if self.version is not None else None

    def roster(self) -> Roster | None:
        """The roster of the last signed state (validated once per version: keys are parsed once)."""
        if self.version is None:
            return None
        if self.version not in self._rosters:
            self._rosters[self.version] = _roster(self.state)
        return self._rosters[self.version]

    def of_type(self, *types: str) -> list[ledger.Entry]:
        """The valid entries of these types, in ledger order."""
        return [e for e in self.valid if e.type in types]

    def excluded(self) -> dict[str, Exclusion]:
        """Sheet path -> its exclusion (withdrawn or excluded)."""
        return {x.path: x for x in self.exclusions}


def finding_line(f: Finding) -> str:
    """One authority finding in English, for the command line and logs."""
    return f.text("en")


def _roster(state: dict[str, Any] | None) -> Roster | None:
    if not isinstance(state, dict):
        return None
    try:
        return Roster.model_validate(state.get("roster"))
    except pydantic.ValidationError:
        return None


def _coordinators(roster: Roster) -> dict[str, str]:
    """Coordinator id -> key id, of a roster."""
    return {c.id: key_id(k) for c in roster.reviewers if c.role == COORDINATOR and (k := _key(c)) is not None}


def _key(entry: RosterEntry) -> Ed25519PublicKey | None:
    try:
        return entry.key()
    except WorkbenchError:
        return None


# ---------------------------------------------------------------- amendments: changes, threshold, co-signatures

def state_changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Every changed value between two signed states (records matched by identity, see
    :func:`workbench.core.base.json_diff`): what an amendment's ``changes`` must record."""
    return json_diff(old, new)


def threshold_needed(old: dict[str, Any], changes: list[dict[str, Any]]) -> int:
    """How many coordinators of the state ``old`` must sign an amendment with ``changes``: the rules'
    ``coordinator_threshold`` when it touches a coordinator, a key or a guarded value (:data:`GUARDED`), else 1."""
    rules = old.get("rules") if isinstance(old.get("rules"), dict) else {}
    m = rules.get("coordinator_threshold", 1)
    m = m if isinstance(m, int) and not isinstance(m, bool) and m >= 1 else 1
    return m if any(_guarded(c) for c in changes) else 1


def _guarded(change: dict[str, Any]) -> bool:
    path = str(change.get("path", ""))
    if any(path == g or path.startswith((g + ".", g + "[")) for g in GUARDED):
        return True
    if path.startswith("roster."):
        if path.endswith(".public_key") or path.endswith(".role"):
            return True
        return any(isinstance(v, dict) and (v.get("role") == COORDINATOR or "public_key" in v)
                   for v in (change.get("old"), change.get("new")))
    return False


def proposal_payload(round_id: str, version: int, base: str, state: str, reason: str) -> bytes:
    """The bytes each coordinator signs for a proposed amendment: the round, the version it would become, the
    hashes of the state it starts from and of the state it proposes, and the reason (canonical JSON)."""
    return canonical_json({"round_id": round_id, "version": version, "base_sha256": base, "state_sha256": state,
                           "reason": reason})


def cosignature_ok(public_key: Ed25519PublicKey, sig: str, payload: bytes) -> bool:
    """Whether ``sig`` (base64) is ``public_key``'s signature of the amendment ``payload``."""
    try:
        public_key.verify(base64.b64decode(sig, validate=True), pae(AMENDMENT_TYPE, payload))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def sign_proposal(key: Ed25519PrivateKey, payload: bytes) -> str:
    """A coordinator's co-signature (base64) of an amendment ``payload``."""
    return base64.b64encode(key.sign(pae(AMENDMENT_TYPE, payload))).decode()


# ---------------------------------------------------------------- the replay

class _Replay:
    def __init__(self, rd: Path, entries: list[ledger.Entry]) -> None:
        self.rd = rd
        self.out = Authority(entries=entries)
        self.revoked: dict[str, int] = {}  # key id -> the amendment (seq) that revoked it
        self.first_submit: int | None = None

    # the finding names the entry, its type, the signer, the signer's role then and what was required
    def fail(self, e: ledger.Entry, code: str, problem: str, role: str | None = None) -> None:
        required = _required(AUTHORITY.get(e.type, frozenset()))
        if role is None:  # the signer's role in the roster as it stood before the entry, when they are in it
            me = (self.out.roster() or Roster.model_construct(reviewers=[])).get(e.actor)
            role = me.role if me is not None else None
        self.out.findings.append(Finding(code=f"authority_{code}", params={
            "seq": e.seq, "type": e.type, "signer": e.actor, "role": role or "none", "required": required,
            "problem": problem}))

    def state_file(self, e: ledger.Entry, version: int, signer: Ed25519PublicKey | None,
                   ) -> tuple[dict[str, Any] | None, Ed25519PublicKey | None]:
        """The signed state ``version`` (verified with ``signer``; for the freeze, with the signer's key named
        inside it) and the key that verified it; ``(None, None)`` after a finding."""
        f = self.rd / "frozen" / f"v{version}.dsse.json"
        rel = f"frozen/v{version}.dsse.json"
        try:
            data = read_bounded(f, MAX_ENVELOPE_BYTES)
            if signer is None:  # the root: self-certified by a coordinator it names, as TUF's first root
                claimed = parse_json(base64.b64decode(parse_envelope(data, rel)["payload"], validate=True), rel)
                own = _roster(claimed)
                me = own.get(e.actor) if own is not None else None
                if me is None or me.role != COORDINATOR:
                    self.fail(e, "role", f"{rel} does not name {e.actor} as a coordinator", me.role if me else None)
                    return None, None
                signer = _key(me)
                if signer is None:
                    self.fail(e, "key", f"{rel} holds no usable key for {e.actor}", me.role)
                    return None, None
            payload = verify_envelope(data, signer, RULES_TYPE, rel)
        except (WorkbenchError, binascii.Error, ValueError) as err:
            self.fail(e, "state", f"{rel}: {getattr(err, 'message', str(err))[:300]}")
            return None, None
        if sha256_bytes(payload) != e.payload_sha256:
            self.fail(e, "state", f"{rel} is not the state this entry records (sha256 differs)")
            return None, None
        state = parse_json(payload, rel)
        if not isinstance(state, dict) or _roster(state) is None:
            self.fail(e, "state", f"{rel} holds no valid roster")
            return None, None
        return state, signer

    def entry(self, e: ledger.Entry) -> None:
        model = DATA_MODELS[e.type]
        try:
            data = model.model_validate(e.data)
        except pydantic.ValidationError as err:
            bad = "; ".join(f"data.{'.'.join(str(p) for p in x['loc']) or '(all)'}: {x['msg']}" for x in err.errors()[:3])
            self.fail(e, "malformed", f"malformed {e.type} entry: {bad}")
            return
        if e.type == "freeze":
            self.freeze(e, data)  # type: ignore[arg-type]
            return
        if self.out.state is None:
            self.fail(e, "order", "entry before the round was frozen: no signed roster gives anyone authority yet")
            return
        roster = self.out.roster()
        assert roster is not None
        me = roster.get(e.actor)
        if me is None:
            self.fail(e, "role", f"{e.actor} is not in the signed roster of version {self.out.version}")
            return
        pub = _key(me)
        if pub is None or key_id(pub) != e.key_id:
            why = (f"signed with key {e.key_id[:16]}, revoked by the amendment in entry {self.revoked[e.key_id]}"
                   if e.key_id in self.revoked else
                   f"signed with key {e.key_id[:16]}, which is not {e.actor}'s key in the signed roster")
            self.fail(e, "key", why, me.role)
            return
        if not ledger.signature_ok(e, pub):
            self.fail(e, "signature", "the entry's signature does not verify (entry modified)", me.role)
            return
        kinds = AUTHORITY[e.type]
        own = isinstance(data, _Sheet) and data.reviewer == e.actor and me.role != COORDINATOR
        if not ((COORDINATOR in kinds and me.role == COORDINATOR) or (OWN in kinds and own)):
            self.fail(e, "role", f"{e.actor} is {me.role} and may not sign a {e.type} entry", me.role)
            return
        if not getattr(self, f"on_{e.type}", lambda *_: True)(e, data, me):
            return
        self.out.valid.append(e)

    def freeze(self, e: ledger.Entry, data: FreezeData) -> None:
        if self.out.version is not None:
            self.fail(e, "order", f"the round was frozen already (version {self.out.version}): the root of trust "
                      "changes only by amendment")
            return
        state, pub = self.state_file(e, 1, None)
        if state is None or pub is None:
            return
        if key_id(pub) != e.key_id or not ledger.signature_ok(e, pub):
            self.fail(e, "signature", "the freeze entry is not signed with the key its signed state gives "
                      f"{e.actor}", COORDINATOR)
            return
        roster = _roster(state)
        assert roster is not None
        pinned = _coordinators(roster)
        if data.coordinators is not None and {c.id: c.key_id for c in data.coordinators} != pinned:
            self.fail(e, "state", "the coordinators' key ids the entry pins are not those of its signed state",
                      COORDINATOR)
            return
        self.out.states[1], self.out.version, self.out.root = state, 1, pinned
        self.out.valid.append(e)

    def on_amend(self, e: ledger.Entry, data: AmendData, me: RosterEntry) -> bool:
        old = self.out.state
        assert old is not None and self.out.version is not None
        if data.version != self.out.version + 1:
            self.fail(e, "order", f"amendment names version {data.version}, but the next version is "
                      f"{self.out.version + 1}", me.role)
            return False
        new, _ = self.state_file(e, data.version, _key(me))
        if new is None:
            return False
        changes = state_changes(old, new)
        needed = threshold_needed(old, changes)
        roster = self.out.roster()
        assert roster is not None
        signers = {e.actor}
        rules = old.get("rules") if isinstance(old.get("rules"), dict) else {}
        payload = proposal_payload(str(rules.get("round_id", "")), data.version,
                                   sha256_bytes(canonical_json(old)), e.payload_sha256, data.reason)
        for c in data.cosignatures:
            who = roster.get(c.actor)
            pub = _key(who) if who is not None and who.role == COORDINATOR else None
            if pub is None or key_id(pub) != c.key_id or not cosignature_ok(pub, c.sig, payload):
                self.fail(e, "threshold", f"the co-signature of '{c.actor}' is not a valid signature of a "
                          "coordinator of the roster before the amendment", me.role)
                return False
            signers.add(c.actor)
        if len(signers) < needed:
            self.fail(e, "threshold", f"the amendment changes coordinators, keys, points, gates or the cut and is "
                      f"signed by {len(signers)} of the {needed} coordinators the rules require "
                      f"({', '.join(sorted(signers))})", me.role)
            return False
        new_roster = _roster(new)
        if data.coordinators is not None and new_roster is not None and \
                {c.id: c.key_id for c in data.coordinators} != _coordinators(new_roster):
            self.fail(e, "state", "the coordinators' key ids the amendment pins are not those of its signed state",
                      me.role)
            return False
        recorded = [dict(c) for c in data.changes]
        if canonical_json(recorded) != canonical_json(changes):
            # the state moved (a coordinator signed it), but the published account of it is false: an error
            self.fail(e, "changes", f"the recorded change list ({len(recorded)} change(s)) is not the one the two "
                      f"signed states give ({len(changes)}: "
                      + ", ".join(c["path"] for c in changes[:5]) + ")", me.role)
        after = self.first_submit is not None
        self.out.amendments.append({"seq": e.seq, "time": e.time, "actor": e.actor, "version": data.version,
                                    "reason": data.reason, "after_first_submission": after, "changes": changes,
                                    "file": data.file or f"frozen/v{data.version}.dsse.json",
                                    "signers": sorted(signers)})
        # a key the new roster no longer lists (removed or replaced) is revoked from here on
        now = {key_id(k) for r in (_roster(new) or Roster.model_construct(reviewers=[])).reviewers
               if (k := _key(r)) is not None}
        for r in roster.reviewers:
            k = _key(r)
            if k is not None and key_id(k) not in now:
                self.revoked.setdefault(key_id(k), e.seq)
        self.out.states[data.version], self.out.version = new, data.version
        return True

    def on_submit(self, e: ledger.Entry, data: SubmitData, me: RosterEntry) -> bool:
        if self.first_submit is None:
            self.first_submit = e.seq
        return True

    def on_collect(self, e: ledger.Entry, data: CollectData, me: RosterEntry) -> bool:
        before = self.out.decisions.setdefault(data.path, {}).get(ledger.envelope_sha256(e))
        if before is not None:
            if before.data.get("decision") != data.decision:
                self.fail(e, "reversal", f"{data.path} was {before.data.get('decision')} in entry {before.seq}; a "
                          "later collect cannot reverse it (a coordinator excludes an accepted sheet with an "
                          "'exclude' entry and a reason)", me.role)
                return False
            return True  # the same decision again changes nothing
        self.out.decisions[data.path][ledger.envelope_sha256(e)] = e
        return True

    def _set_aside(self, e: ledger.Entry, data: WithdrawData | ExcludeData, me: RosterEntry,
                   kind: Literal["withdrawn", "excluded"]) -> bool:
        decided = self.out.decisions.get(data.path, {}).get(ledger.envelope_sha256(e))
        if decided is None:
            self.fail(e, "order", f"{data.path} with this sha256 was never collected: nothing to {e.type}", me.role)
            return False
        accepted = decided.data.get("decision") == "accepted"
        self.out.exclusions = [x for x in self.out.exclusions if x.path != data.path]
        self.out.exclusions.append(Exclusion(seq=e.seq, time=e.time, actor=e.actor, kind=kind, path=data.path,
                                             reviewer=data.reviewer, team=data.team, version=data.version,
                                             reason=data.reason, after_acceptance=accepted))
        return True

    def on_withdraw(self, e: ledger.Entry, data: WithdrawData, me: RosterEntry) -> bool:
        return self._set_aside(e, data, me, "withdrawn")

    def on_exclude(self, e: ledger.Entry, data: ExcludeData, me: RosterEntry) -> bool:
        return self._set_aside(e, data, me, "excluded")


def replay(round_dir: str | Path, entries: list[ledger.Entry] | None = None) -> Authority:
    """Replay the round's ledger (or ``entries``) from its first entry: see the module docstring.

    Raises :class:`RoundError` only when the ledger cannot be read as entries at all; everything an entry
    says or lacks is a finding.
    """
    rd = Path(round_dir)
    if entries is None:
        entries = ledger.read_entries(rd / "ledger.jsonl")
    rp = _Replay(rd, entries)
    for e in entries:
        rp.entry(e)
    return rp.out


def require(auth: Authority, entry_type: str, actor: str, key: Ed25519PrivateKey, *, file: str | Path = "",
            reviewer: str | None = None) -> RosterEntry:
    """The roster entry of ``actor`` when they may sign an ``entry_type`` entry now (against the last signed
    roster, never the files; ``reviewer``: the sheet's reviewer, for the types its own reviewer may sign),
    with ``key`` being their signed key; else :class:`RoundError` in one line."""
    roster = auth.roster()
    if roster is None:
        raise RoundError("the round has no signed roster yet", file=file or None, expected="'workbench round freeze' first")
    me = roster.get(actor)
    kinds = AUTHORITY[entry_type]
    own = me is not None and me.role != COORDINATOR and reviewer == actor
    if me is None or not ((COORDINATOR in kinds and me.role == COORDINATOR) or (OWN in kinds and own)):
        raise RoundError(f"'{actor}' is {'not in' if me is None else me.role + ' in'} the signed roster of version "
                         f"{auth.version}: a {entry_type} needs {_required(kinds)} of that roster (an edited "
                         "roster.yaml gives no authority)", file=file or None)
    pub = _key(me)
    if pub is None or key_id(pub) != key_id(key.public_key()):
        raise RoundError(f"the key given is not {actor}'s key in the signed roster of version {auth.version}",
                         file=file or None, expected=f"the private key of {key_id(pub)[:16] if pub else '?'}")
    return me
