"""A round's lifecycle: create it, freeze its rules, amend them in the open, and report its status.

The *state* of a round (:func:`workbench.model.round.round_state`) is the validated content of rules, roster,
teams and assignments plus the rubric hashes and the benchmark scheme (``rubrics/benchmarks.yaml``). :func:`freeze` signs the state with the coordinator's key,
writes it as ``frozen/v1.dsse.json`` and records its hash in the ledger. After that any change needs
:func:`amend` with a reason: it writes the next signed version, and the ledger entry lists every changed
value and whether the change came after the first sheet was submitted. :func:`check_frozen` refuses a round
whose files no longer match the last signed state (a hand edit).

Public API: :func:`init_round`, :func:`default_rules`, :func:`freeze`, :func:`amend`, :func:`signed_state`,
:func:`verify_state`, :func:`check_frozen`, :func:`status`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.base import Model, require_safe_text
from ..core.diff import json_diff
from ..core.errors import RoundError, WorkbenchError
from ..core.files import (
    atomic_write_bytes,
    atomic_write_text,
    canonical_json,
    decode_text,
    parse_json,
    read_bounded,
    sha256_bytes,
)
from ..core.signing import RULES_TYPE, envelope_bytes, key_id, public_key_pem, sign_payload, verify_envelope
from ..model.round import (
    PARTS,
    Aggregation,
    Round,
    load_round,
    load_round_with_problems,
    pinned_keys,
    require_coordinator,
    round_state,
    state_hash,
)
from ..model.rubric import GateScale, Rubric, load_rubric
from ..model.scheme import (
    SCHEME_FILE,
    BenchmarkSets,
    load_benchmark_sets,
    package_scheme_text,
    parse_benchmark_sets,
)
from . import authority, ledger
from .readiness import require_ready

__all__ = ["PendingAmendment", "amend", "check_frozen", "default_rules", "freeze", "init_round", "signed_state", "status",
           "verify_state"]


def default_title(stage: int) -> dict[str, str]:
    """A new round's title in both languages."""
    return {"ko": f"{stage}단계 평가", "en": f"Stage {stage} evaluation"}


def default_rules(round_id: str, stage: int, rubrics: dict[str, Rubric], scheme: BenchmarkSets | None = None) -> dict[str, Any]:
    """Stage-1 style rules for the given rubrics and benchmark scheme (default: the package's), which the
    coordinator edits before freezing."""
    scheme = scheme or load_benchmark_sets()
    gate_ids = [c.id for _, c in rubrics["expert"].criteria() if isinstance(c.scale, GateScale)] if "expert" in rubrics else []
    have = {c for r in rubrics.values() for c in r.ids()}
    frontier = [c for c in ("bench.nia", "bench.common", "bench.individual", "expert.strategy.performance") if c in have]
    diffusion = [c for c in ("expert.diffusion.applicability", "expert.diffusion.cost_efficiency",
                             "expert.diffusion.ecosystem", "user.applicability", "user.cost_efficiency") if c in have]
    return {
        "round_id": round_id,
        "stage": stage,
        "title": default_title(stage),
        "lang": "ko",
        "rubrics": {p: {"file": f"rubrics/{p}.yaml", **rubrics[p].ref} for p in PARTS if p in rubrics},
        "benchmarks": {"file": SCHEME_FILE, "sha256": scheme.sha256},
        "points": {p: rubrics[p].total_points if p in rubrics else 0 for p in PARTS},
        "aggregation": Aggregation().model_dump(),
        "cut": 4,
        "tie_break": ["expert", "benchmark", "user"],
        "gates": [{"criterion": g, "rule": "majority"} for g in gate_ids],
        "decision_rules": [],
        "indices": {"frontier": frontier or sorted(have)[:1], "diffusion": diffusion or sorted(have)[:1]},
    }


def _dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=110)


def init_round(
    path: str | Path,
    *,
    round_id: str,
    stage: int,
    rubrics_dir: str | Path,
    coordinator_id: str,
    coordinator_key: Ed25519PublicKey,
    rules_overrides: dict[str, Any] | None = None,
    benchmarks: str | Path | None = None,
) -> Round:
    """Create a round folder: rubric copies, the benchmark scheme's copy (``benchmarks``, default the package's
    ``benchmark_sets.yaml``) as ``rubrics/benchmarks.yaml``, default rules pinning them, a roster holding the
    coordinator, no teams.

    A new stage is a new round: nothing is carried over from an earlier one.
    """
    rd = Path(path)
    if (rd / "rules.yaml").exists():
        raise RoundError("round folder exists already", file=rd / "rules.yaml", expected="a new folder (a new stage is a new round)")
    rubrics: dict[str, Rubric] = {}
    for p in PARTS:
        src = Path(rubrics_dir) / f"{p}.yaml"
        if not src.exists():
            continue  # a part this round does not use (e.g. a re-challenge with expert review only)
        rubrics[p] = load_rubric(src)
        (rd / "rubrics").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, rd / "rubrics" / f"{p}.yaml")
    # the scheme is round data: the copy is what is pinned, frozen and amended, not the package file
    if benchmarks is None:
        text, name = package_scheme_text()
    else:
        text, name = decode_text(read_bounded(benchmarks), benchmarks), str(benchmarks)
    scheme = parse_benchmark_sets(text, name)
    atomic_write_text(rd / SCHEME_FILE, text)
    rules = {**default_rules(round_id, stage, rubrics, scheme), **(rules_overrides or {})}
    roster = {"reviewers": [{"id": coordinator_id, "role": "coordinator", "name": "", "coi": [],
                             "public_key": public_key_pem(coordinator_key)}]}
    atomic_write_text(rd / "rules.yaml", _dump_yaml(rules))
    atomic_write_text(rd / "roster.yaml", _dump_yaml(roster))
    atomic_write_text(rd / "teams.yaml", _dump_yaml({"teams": []}))
    atomic_write_text(rd / "assignments.yaml", _dump_yaml({"assignments": []}))
    for d in ("evidence", "answers", "sheets"):
        (rd / d).mkdir(exist_ok=True)
    return load_round(rd)


# ---------------------------------------------------------------- freeze, amend, status

def _versions(ledger_path: Path) -> list[ledger.Entry]:
    return [e for e in ledger.read_entries(ledger_path) if e.type in ("freeze", "amend")]


def _write_version(r: Round, n: int, state: dict[str, Any], key: Ed25519PrivateKey) -> Path:
    env = sign_payload(canonical_json(state), RULES_TYPE, key)
    return atomic_write_bytes(r.path / "frozen" / f"v{n}.dsse.json", envelope_bytes(env), overwrite=False)


def freeze(path: str | Path, key: Ed25519PrivateKey, actor: str) -> ledger.Entry:
    """Sign the round's state as version 1 and record it in the ledger (once per round). The entry's data pins
    the root of trust (:func:`workbench.model.round.pinned_keys`: the coordinators' keys and the witnesses') where a
    reader of the ledger alone finds them.

    Every problem that keeps the round from being frozen is reported in one pass: the round files' cross-checks
    (assignments, roles, criteria) and the readiness checks together."""
    r, problems = load_round_with_problems(path)
    require_coordinator(r, actor, key)
    if _versions(r.ledger_path):
        raise RoundError("round is frozen already", file=r.ledger_path, expected="'workbench round amend --reason ...' for a change")
    if r.rules.coordinator_threshold > len(r.coordinators()):
        raise RoundError(f"coordinator_threshold is {r.rules.coordinator_threshold} but the roster has "
                         f"{len(r.coordinators())} coordinator(s)", file=r.path / "rules.yaml",
                         place="coordinator_threshold", expected="at most the number of coordinators")
    require_ready(r, "freeze", earlier=problems)
    state = round_state(r)
    _write_version(r, 1, state, key)
    # the root of trust, pinned in the first signed entry: the coordinators (id, key id, key) and the witnesses
    return ledger.append(r.ledger_path, actor=actor, key=key, type="freeze", payload_sha256=state_hash(state),
                         data={"version": 1, "round_id": r.rules.round_id, "file": "frozen/v1.dsse.json",
                               **pinned_keys(r)})


def signed_state(r: Round, version: int) -> dict[str, Any]:
    """The signed state of ``version``, as the ledger's replay verified it (:func:`workbench.round.authority.replay`:
    each version with the key its signer held in the version before)."""
    auth = authority.replay(r.path)
    if version not in auth.states:
        raise RoundError(f"version {version} is not a signed version of this round", file=r.path / "frozen" / f"v{version}.dsse.json",
                         expected="a version whose freeze or amend entry holds authority"
                         + (f" ({'; '.join(authority.finding_line(f) for f in auth.findings[:2])})" if auth.findings else ""))
    return auth.states[version]


def verify_state(path: str | Path, version: int, keys: Mapping[str, Ed25519PublicKey]) -> dict[str, Any]:
    """The signed state of ``version`` in the round folder ``path``, verified with ``keys`` (actor id -> public
    key) and the hash its ledger entry records. Needs no loadable round files: an audit uses it when they fail."""
    rd = Path(path)
    f = rd / "frozen" / f"v{version}.dsse.json"
    data = read_bounded(f)
    # an edited ledger may hold any JSON as a version: only numbers can name one (no TypeError on a dict)
    entries = {v: e for e in _versions(rd / "ledger.jsonl") if isinstance(v := e.data.get("version"), int)}
    entry = entries.get(version)
    if entry is None:
        raise RoundError(f"version {version} is not in the ledger", file=f)
    if entry.actor not in keys:
        raise RoundError(f"version {version} was signed by '{entry.actor}', who is not in the roster", file=f)
    payload = verify_envelope(data, keys[entry.actor], RULES_TYPE, str(f))
    if sha256_bytes(payload) != entry.payload_sha256:
        raise RoundError(f"version {version} does not match its ledger hash", file=f)
    return parse_json(payload, str(f))


class PendingAmendment(Model):
    """An amendment that needs more coordinators' signatures (``rules.coordinator_threshold``): the proposal
    file they sign, who signed it so far and how many are needed."""

    file: str
    version: int
    signers: list[str]
    needed: int


PROPOSALS = "amendments"


def amend(path: str | Path, key: Ed25519PrivateKey, actor: str, reason: str) -> ledger.Entry | PendingAmendment:
    """Record the edited files as the next signed version, with the reason and every changed value.

    Authority comes from the last signed roster, never the edited files: the signer must be a coordinator
    there, with that roster's key (so adding oneself to ``roster.yaml`` gives no right to amend). An
    amendment that changes the coordinators, a key, points, aggregation, gates, thresholds or the cut needs
    ``coordinator_threshold`` coordinators (:func:`workbench.round.authority.threshold_needed`): each runs this with
    the same files and reason; their signatures gather in ``amendments/v<N>.proposal.json`` and the entry is
    appended, with them, once enough have signed (a :class:`PendingAmendment` until then).
    """
    if not reason.strip():
        raise RoundError("an amendment needs a reason", expected="--reason 'why the rules change'")
    require_safe_text(reason, "--reason")
    r = load_round(path)
    auth = authority.replay(r.path)
    if auth.version is None or auth.state is None:
        raise RoundError("round is not frozen yet", file=r.ledger_path, expected="'workbench round freeze' first")
    authority.require(auth, "amend", actor, key, file=r.path / "roster.yaml")
    old = auth.state
    new = round_state(r)
    changes = authority.state_changes(old, new)
    if not changes:
        raise RoundError("nothing changed since the last frozen version", file=r.path / "rules.yaml",
                         expected="edit rules/roster/teams/assignments first, then amend")
    require_ready(r, "amend")
    version = auth.version + 1
    needed = authority.threshold_needed(old, changes)
    cosigs: list[dict[str, str]] = []
    if needed > 1:
        payload = authority.proposal_payload(r.rules.round_id, version, state_hash(old), state_hash(new), reason.strip())
        pending = _propose(r, version, payload, key, actor)
        if len(pending) < needed:
            return PendingAmendment(file=f"{PROPOSALS}/v{version}.proposal.json", version=version,
                                    signers=sorted(pending), needed=needed)
        cosigs = [{"actor": a, "key_id": k, "sig": sig} for a, (k, sig) in sorted(pending.items()) if a != actor]
    after = any(e.type == "submit" for e in auth.valid)
    _write_version(r, version, new, key)
    data: dict[str, Any] = {"version": version, "reason": reason.strip(), "changes": changes,
                            "after_first_submission": after, "file": f"frozen/v{version}.dsse.json"}
    if cosigs:
        data["cosignatures"] = cosigs
    # an amendment that changes the coordinators or the witnesses pins the new sets in the open
    data.update(_changed_pins([e for e in auth.valid if e.type in ("freeze", "amend")], pinned_keys(r)))
    return ledger.append(r.ledger_path, actor=actor, key=key, type="amend", payload_sha256=state_hash(new), data=data)


def _propose(r: Round, version: int, payload: bytes, key: Ed25519PrivateKey, actor: str) -> dict[str, tuple[str, str]]:
    """Add ``actor``'s co-signature of ``payload`` to the proposal file of ``version``; return every signer's
    (key id, signature) that signs this very payload (a proposal of other files or another reason is started
    afresh: signatures of something else never count)."""
    f = r.path / PROPOSALS / f"v{version}.proposal.json"
    sigs: dict[str, tuple[str, str]] = {}
    if f.is_file():
        try:
            old = parse_json(read_bounded(f, 1 << 20), str(f))
            if isinstance(old, dict) and old.get("payload") == payload.decode():
                for a, v in (old.get("signatures") or {}).items():
                    if isinstance(v, dict) and isinstance(v.get("key_id"), str) and isinstance(v.get("sig"), str):
                        sigs[a] = (v["key_id"], v["sig"])
        except WorkbenchError:
            pass  # an unreadable proposal is started afresh
    sigs[actor] = (key_id(key.public_key()), authority.sign_proposal(key, payload))
    body = {"payload": payload.decode(), "signatures": {a: {"key_id": k, "sig": s} for a, (k, s) in sorted(sigs.items())}}
    atomic_write_bytes(f, canonical_json(body) + b"\n", mode=0o644)
    return sigs


def _changed_pins(versions: list[ledger.Entry], pins: dict[str, Any]) -> dict[str, Any]:
    """The pinned key sets (:func:`workbench.model.round.pinned_keys`) that differ from the ones the ledger pinned last:
    an amendment that changes the coordinators or the witnesses pins the new set in the open, where a reader of
    the ledger alone (the verify page) takes it from."""
    out = {}
    for name in ("coordinators", "witnesses"):
        before = next((e.data[name] for e in reversed(versions) if name in e.data), None)
        if pins.get(name) != before and (name in pins or before is not None):
            out[name] = pins.get(name)
    return out


def check_frozen(r: Round) -> int:
    """The current frozen version; :class:`RoundError` if not frozen or if files differ from it (hand edit).

    The current version is the last one whose freeze or amend entry holds authority
    (:func:`workbench.round.authority.replay`): an amendment appended by someone who may not sign one does not
    make edited files current.
    """
    ledger.check_links(ledger.read_entries(r.ledger_path), str(r.ledger_path))
    auth = authority.replay(r.path)
    if auth.version is None or auth.state is None:
        raise RoundError("round is not frozen", file=r.path / "rules.yaml",
                         expected="'workbench round freeze' before scoring"
                         + (f" ({authority.finding_line(auth.findings[0])})" if auth.findings else ""))
    cur = round_state(r)
    if state_hash(cur) != state_hash(auth.state):
        changed = sorted({c["path"].split(".")[0].split("[")[0] for c in json_diff(auth.state, cur)})
        raise RoundError(f"round files changed after version {auth.version} was frozen: {', '.join(changed)}",
                         file=r.path, expected="the frozen files, or 'workbench round amend --reason ...'")
    return auth.version


class AmendmentStatus(Model):
    """One amendment as ``round status --json`` lists it."""

    seq: int
    time: str
    actor: str
    version: int
    reason: str
    after_first_submission: bool
    changes: list[Any]
    signers: list[str]


class RerunStatus(Model):
    """One re-run entry as ``round status --json`` lists it."""

    seq: int
    time: str
    sheets: int
    files: list[str]


class RoundStatus(Model):
    """What ``workbench round status --json`` prints (shipped schema ``round-status``): :func:`status` and the
    CLI's stale-sheet lines (``stale_sheets`` None, with ``stale_problem``, when they cannot be told)."""

    round_id: str
    stage: int
    teams: int
    reviewers: int
    assignments: int
    frozen_version: int | None
    problem: str | None
    ledger_entries: int
    authority: list[str]
    amendments: list[AmendmentStatus]
    exclusions: list[authority.Exclusion]
    notebooks: dict[str, int]
    sheets: int
    reruns: list[RerunStatus]
    collected: dict[Literal["accepted", "rejected"], int]
    stale_sheets: list[str] | None = None
    stale_problem: str | None = None


def status(path: str | Path) -> dict[str, Any]:
    """A JSON-able summary: frozen version, amendments, drift, ledger check, batch and sheet counts."""
    r = load_round(path)
    out: dict[str, Any] = {"round_id": r.rules.round_id, "stage": r.rules.stage, "teams": len(r.teams.teams),
                           "reviewers": len(r.roster.reviewers), "assignments": len(r.assignments.assignments)}
    entries = ledger.read_entries(r.ledger_path)
    auth = authority.replay(r.path, entries)
    # the last signed version stays the frozen one when the files drifted from it: that is the problem
    out["frozen_version"] = auth.version
    try:
        check_frozen(r)
        out["problem"] = None
    except WorkbenchError as e:
        out["problem"] = str(e)
    out["ledger_entries"] = len(entries)
    # entries whose signer held no authority for them (or malformed ones): named, and counted for nothing
    out["authority"] = [authority.finding_line(f) for f in auth.findings]
    if auth.findings and out["problem"] is None:
        out["problem"] = f"{len(auth.findings)} ledger entr{'y' if len(auth.findings) == 1 else 'ies'} without authority"
    out["amendments"] = [{k: a[k] for k in ("seq", "time", "actor", "version", "reason", "after_first_submission",
                                             "changes", "signers")} for a in auth.amendments]
    out["exclusions"] = [x.model_dump() for x in auth.exclusions]
    counts: dict[str, int] = {}
    for f in sorted((r.path / "notebooks").glob("*/*.status.json")):
        try:
            state = parse_json(read_bounded(f, 1 << 20), str(f)).get("state", "?")
        except WorkbenchError:
            state = "unreadable"
        counts[state] = counts.get(state, 0) + 1
    out["notebooks"] = dict(sorted(counts.items()))
    out["sheets"] = len(list((r.path / "sheets").glob("*/*.dsse.json")))
    out["reruns"] = [{"seq": e.seq, "time": e.time, "sheets": len(e.data.get("sheets", [])),
                      "files": sorted(e.data.get("files", {}))} for e in auth.of_type("rerun")]
    decisions = [e.data.get("decision") for d in auth.decisions.values() for e in d.values()]
    out["collected"] = {"accepted": decisions.count("accepted"), "rejected": decisions.count("rejected")}
    return out
