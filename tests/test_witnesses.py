"""Witnesses are named keys: the rules list who may cosign the ledger's checkpoints and how many must, and the
audit (through the CLI) counts only a quorum of listed witnesses whose signatures verify, names who witnessed
which checkpoint, reports a bad or unknown cosignature as an error, and reports two contradicting checkpoints
as a split view naming both and the first entry where the histories part."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from coord_helpers import make_round, sign_sheet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.cli.app import main
from workbench.core.errors import RoundError
from workbench.core.signing import generate_keypair, key_id, load_public_key, public_key_pem
from workbench.model.round import load_round
from workbench.round.checkpoint import check_checkpoints, describe_checkpoint, format_checkpoint
from workbench.round.ledger import read_entries

WITNESSES = ("w1", "w2", "w3")


def _policy(keys: Path, quorum: int, names=WITNESSES) -> dict:
    return {"quorum": quorum, "keys": [{"name": n, "public_key": public_key_pem(load_public_key(keys / f"{n}.pub"))}
                                       for n in names]}


def _round(base: Path, quorum: int = 2, names=WITNESSES) -> Path:
    keys = base / "keys"
    for n in (*names, "mallory"):
        generate_keypair(n, keys)
    rd = make_round(base, witnesses=_policy(keys, quorum, names))
    sign_sheet(base, "e1", "ta")
    assert main(["collect", str(rd), "--key", str(keys / "coord.key")]) == 0
    return rd


def _checkpoint(rd: Path, base: Path) -> Path:
    assert main(["checkpoint", str(rd), "--key", str(base / "keys" / "coord.key")]) == 0
    size = len(read_entries(rd / "ledger.jsonl"))
    return rd / "checkpoints" / f"{size:08d}.txt"


def _cosign(base: Path, src: Path, *signers: str, out: str = "kept.txt", name: dict | None = None) -> Path:
    """Cosign ``src`` as each of ``signers`` in turn (``name`` maps a signer to the name on its line), each as a
    witness's first cosignature of the log (no earlier checkpoint to be consistent with), checking the
    coordinator's signature with their public key."""
    kept = base / "witness" / out
    kept.parent.mkdir(exist_ok=True)
    cur = src
    for s in signers:
        assert main(["cosign", str(cur), "--key", str(base / "keys" / f"{s}.key"), "--name", (name or {}).get(s, s),
                     "-o", str(kept), "--log-key", str(base / "keys" / "coord.pub")]) == 0
        cur = kept
    return kept


def _audit(rd: Path, *kept: Path) -> tuple[int, list[dict]]:
    rc = main(["audit", str(rd), *[a for k in kept for a in ("--witness", str(k))]])
    findings = json.loads((rd / "audit" / "audit.json").read_text())["findings"]
    return rc, [f for f in findings if f["check"] == "ledger.witness"]


def _by(findings: list[dict], severity: str) -> list[dict]:
    return [f for f in findings if f["severity"] == severity]


def test_rules_list_witnesses_and_a_quorum_that_load(tmp_path):
    rd = _round(tmp_path, quorum=2)
    w = load_round(rd).rules.witnesses
    assert w is not None and w.quorum == 2 and list(w.by_name()) == list(WITNESSES)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: {**p, "quorum": 4}, "quorum 4 is more than the 3 listed witness(es)"),
    (lambda p: {**p, "keys": [p["keys"][0], {**p["keys"][1], "name": "w1"}, p["keys"][2]]}, "duplicate witness names: w1"),
    (lambda p: {**p, "keys": [p["keys"][0], {**p["keys"][1], "public_key": p["keys"][0]["public_key"]}]},
     "two witnesses have the same public key"),
    (lambda p: {**p, "keys": [{"name": "w1", "public_key": "not a key"}]}, "public_key"),
])
def test_a_witness_list_that_cannot_work_is_refused_naming_the_problem(tmp_path, edit, message):
    rd = _round(tmp_path)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["witnesses"] = edit(rules["witnesses"])
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules))
    with pytest.raises(RoundError, match="rules.yaml") as e:
        load_round(rd)
    assert message in str(e.value)


def test_a_coordinator_cannot_be_a_witness(tmp_path):
    rd = _round(tmp_path)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    rules["witnesses"]["keys"][0]["public_key"] = public_key_pem(load_public_key(tmp_path / "keys" / "coord.pub"))
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules))
    with pytest.raises(RoundError, match="witness w1 has the key of coordinator coord"):
        load_round(rd)


def test_a_quorum_of_listed_witnesses_makes_a_checkpoint_witnessed_and_the_audit_names_them(tmp_path, capsys):
    rd = _round(tmp_path, quorum=2)
    cp = _checkpoint(rd, tmp_path)
    size = describe_checkpoint(cp.read_bytes()).size
    one = _cosign(tmp_path, cp, "w1", out="one.txt")
    rc, found = _audit(rd, one)
    # one of two: the audit says the checkpoint is not witnessed, and counts no witnessed checkpoint
    assert rc == 0 and _by(found, "error") == []
    assert sorted(f["message"] for f in _by(found, "warning")) == [
        f"checkpoint of size {size} is not witnessed (cosigned by 1 of the 2 listed witness(es) needed): it counts "
        "as the coordinator's own commitment only",
        "no checkpoint given was witnessed (cosigned by a quorum of the witnesses the rules list): a ledger "
        "rewritten by the coordinator cannot be told from the original"]
    two = _cosign(tmp_path, cp, "w1", "w3", out="two.txt")
    capsys.readouterr()
    rc, found = _audit(rd, two)
    assert rc == 0 and _by(found, "error") == [] and _by(found, "warning") == []
    named = [f for f in _by(found, "info") if f["file"].endswith("two.txt")]
    assert [f["message"] for f in named] == [f"checkpoint of size {size} witnessed by w1, w3 (quorum 2)"]
    assert named[0]["detail"]["size"] == size and named[0]["detail"]["witnesses"] == ["w1", "w3"]
    assert "witnessed by w1, w3 (quorum 2)" in capsys.readouterr().out


def test_a_checkpoint_signed_only_by_the_coordinator_is_not_witnessed(tmp_path):
    rd = _round(tmp_path, quorum=1)
    cp = _checkpoint(rd, tmp_path)
    rc, found = _audit(rd, cp)
    assert rc == 0 and _by(found, "info") == []
    warned = " ".join(f["message"] for f in _by(found, "warning"))
    assert "is not witnessed (cosigned by 0 of the 1 listed witness(es) needed)" in warned
    assert "no checkpoint given was witnessed" in warned


def test_an_unknown_cosigner_is_an_error_and_does_not_count(tmp_path):
    rd = _round(tmp_path, quorum=1)
    cp = _checkpoint(rd, tmp_path)
    # a random key under the name of an office the rules do not list
    kept = _cosign(tmp_path, cp, "mallory", name={"mallory": "ministry-office"})
    rc, found = _audit(rd, kept)
    line = next(x for x in describe_checkpoint(kept.read_bytes()).signatures if x.name == "ministry-office")
    assert rc == 1 and [f["message"] for f in _by(found, "error")] == [
        f"unknown cosigner 'ministry-office' (key hash {line.key_hash}): not a witness the rules list"]
    assert _by(found, "error")[0]["detail"]["signer"] == "ministry-office"
    assert _by(found, "info") == []  # not witnessed
    # ...and a listed witness's name on a key that is not theirs
    kept = _cosign(tmp_path, cp, "mallory", name={"mallory": "w2"}, out="impostor.txt")
    rc, found = _audit(rd, kept)
    assert rc == 1 and _by(found, "error")[0]["message"].startswith("cosigned as witness w2 with a key that is not theirs")


def _changed(line: str, at: int) -> str:
    c = line[at]
    return line[:at] + ("B" if c != "B" else "C") + line[at + 1:]


@pytest.mark.parametrize(("where", "message"), [
    ("signature", "the cosignature of witness w1 does not verify"),
    ("key", "cosigned as witness w1 with a key that is not theirs"),
    ("name", "unknown cosigner 'wl'"),
])
def test_a_witness_line_with_one_character_changed_fails(tmp_path, where, message):
    rd = _round(tmp_path, quorum=1)
    kept = _cosign(tmp_path, _checkpoint(rd, tmp_path), "w1")
    assert _audit(rd, kept)[0] == 0
    lines = kept.read_text().split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith("\u2014 w1 "))
    # the line is "— w1 base64(4-byte key hash, 8-byte time, signature)": characters 0-4 of the base64 are the
    # key hash, those from 20 on the Ed25519 signature
    at = {"key": len("\u2014 w1 ") + 1, "signature": len("\u2014 w1 ") + 40}.get(where, 0)
    lines[i] = _changed(lines[i], at) if where != "name" else lines[i].replace("\u2014 w1 ", "\u2014 wl ")
    kept.write_text("\n".join(lines))
    rc, found = _audit(rd, kept)
    assert rc == 1 and any(f["message"].startswith(message) for f in _by(found, "error")), found
    assert _by(found, "info") == []


def test_cosign_refuses_a_name_or_key_the_rules_do_not_list_and_a_head_it_did_not_see(tmp_path, capsys):
    rd = _round(tmp_path, quorum=1)
    cp = _checkpoint(rd, tmp_path)
    keys = tmp_path / "keys"
    out = tmp_path / "witness.txt"
    assert main(["cosign", str(cp), "--key", str(keys / "mallory.key"), "--name", "mallory", "-o", str(out),
                 "--round", str(rd)]) == 1
    assert "'mallory' with key" in capsys.readouterr().err and not out.exists()
    assert main(["cosign", str(cp), "--key", str(keys / "mallory.key"), "--name", "w1", "-o", str(out),
                 "--round", str(rd)]) == 1
    assert "is not a witness of round test-1" in capsys.readouterr().err
    other = tmp_path / "other"
    shutil.copytree(rd, other)
    sign_sheet(tmp_path, "e2", "ta")  # the round moves on: the witness's copy (other) has not seen it
    newer = _checkpoint(rd, tmp_path) if main(["collect", str(rd), "--key", str(keys / "coord.key")]) == 0 else None
    assert newer is not None and describe_checkpoint(newer.read_bytes()).size == 5
    assert main(["cosign", str(newer), "--key", str(keys / "w1.key"), "--name", "w1", "-o", str(out),
                 "--round", str(other)]) == 1
    assert "does not have this tree at size 5" in capsys.readouterr().err
    assert main(["cosign", str(cp), "--key", str(keys / "w1.key"), "--name", "w1", "-o", str(out),
                 "--round", str(rd)]) == 0
    assert [x.name for x in describe_checkpoint(out.read_bytes()).signatures] == ["workbench.example/rounds/test-1",
                                                                                  "w1"]


def _amend(rd: Path, base: Path, title: str) -> None:
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    (rd / "rules.yaml").write_text(yaml.safe_dump({**rules, "title": title}, sort_keys=False))
    assert main(["round", "amend", str(rd), "--key", str(base / "keys" / "coord.key"), "--reason", title]) == 0


def _fork(base: Path) -> tuple[Path, Path, dict[str, Path]]:
    """A split view: the coordinator shows witness w1 one history and w2 another, from entry 4 on.

    Both see the same first 3 entries (freeze, submit and collect of e1/ta) and cosign that checkpoint. Then
    the folder ``rd`` is amended (title A: entry 4) and collects e2's sheet (entries 5, 6); the fork ``alt``
    is amended otherwise (title B: entry 4, then C: entry 5). Each witness cosigns every checkpoint of the
    history they are shown."""
    rd = _round(base, quorum=1, names=("w1", "w2"))
    common = _checkpoint(rd, base)
    kept = {"w1-3": _cosign(base, common, "w1", out="w1-3.txt"), "w2-3": _cosign(base, common, "w2", out="w2-3.txt")}
    alt = base / "alt"
    shutil.copytree(rd, alt)
    _amend(rd, base, "Stage 1, amended A")
    kept["w1-4"] = _cosign(base, _checkpoint(rd, base), "w1", out="w1-4.txt")
    sign_sheet(base, "e2", "ta")
    assert main(["collect", str(rd), "--key", str(base / "keys" / "coord.key")]) == 0
    kept["w1-6"] = _cosign(base, _checkpoint(rd, base), "w1", out="w1-6.txt")
    _amend(alt, base, "Stage 1, amended B")
    kept["w2-4"] = _cosign(base, _checkpoint(alt, base), "w2", out="w2-4.txt")
    _amend(alt, base, "Stage 1, amended C")
    kept["w2-5"] = _cosign(base, _checkpoint(alt, base), "w2", out="w2-5.txt")
    return rd, alt, kept


def test_two_contradicting_witnessed_checkpoints_are_a_split_view_naming_the_first_differing_entry(tmp_path):
    rd, alt, kept = _fork(tmp_path)
    assert [describe_checkpoint(kept[k].read_bytes()).size for k in ("w1-4", "w2-4")] == [4, 4]
    # w1's witnessed history is the one in the folder: alone, it audits clean
    assert _audit(rd, kept["w1-3"], kept["w1-4"], kept["w1-6"])[0] == 0
    # two checkpoints of one size alone: both verify, they disagree; the ledger follows w1's
    rc, found = _audit(rd, kept["w2-4"], kept["w1-4"])
    errors = _by(found, "error")
    assert rc == 1 and [f["file"] for f in errors] == ["w2-4.txt"]
    assert errors[0]["message"].startswith("split view: this checkpoint (size 4, w2) and w1-4.txt (size 4, w1) record "
                                           "different ledgers; the ledger here follows it")
    assert errors[0]["detail"]["other"] == "w1-4.txt" and errors[0]["detail"]["last_entry"] == 4
    # with every checkpoint each witness cosigned, the audit names the first entry where the histories part:
    # entry 4 (not the last one, 5 or 6)
    rc, found = _audit(rd, *kept.values())
    errors = _by(found, "error")
    assert rc == 1 and sorted(f["file"] for f in errors) == ["w2-4.txt", "w2-5.txt"]
    for f in errors:
        assert f["message"].endswith("first differs from this one at entry 4"), f["message"]
        assert f["detail"]["first_entry"] == f["detail"]["last_entry"] == 4
    four = next(f for f in errors if f["file"] == "w2-4.txt")
    assert four["detail"]["witnesses"] == ["w2"] and four["detail"]["other_witnesses"] == ["w1"]
    assert "w1-4.txt" in four["message"]
    # and the other way round: audited in w2's folder, w1's checkpoints are the ones it does not extend
    rc, found = _audit(alt, *kept.values())
    errors = _by(found, "error")
    assert rc == 1 and sorted(f["file"] for f in errors) == ["w1-4.txt", "w1-6.txt"]
    assert "split view" in next(f for f in errors if f["file"] == "w1-4.txt")["message"]


def test_a_shorter_checkpoint_a_longer_witnessed_one_contradicts_is_a_split_view(tmp_path):
    rd, _, kept = _fork(tmp_path)
    rc, found = _audit(rd, kept["w2-5"], kept["w1-6"])  # w1's 6 should extend w2's 5, and cannot
    errors = _by(found, "error")
    assert rc == 1 and [f["file"] for f in errors] == ["w2-5.txt"]
    assert "split view" in errors[0]["message"] and errors[0]["detail"]["other"] == "w1-6.txt"
    assert "w1-6.txt" in errors[0]["detail"]["contradicts"]
    assert errors[0]["detail"]["first_entry"] == 1 and errors[0]["detail"]["last_entry"] == 5


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 10_000), char=st.sampled_from("AZaz09+/=- \u2014x"))
def test_property_any_one_character_change_of_a_witnessed_checkpoint_is_never_silently_witnessed(pos, char):
    from workbench.round.checkpoint import Checkpoint, _sign

    w = Ed25519PrivateKey.from_private_bytes(bytes(range(3, 35)))
    cp = Checkpoint(round_id="r", size=0, head="0" * 64, time="2026-01-15T09:30:00Z")
    cp = cp.model_copy(update={"signatures": (_sign(cp, KEY, "coord"), _sign(cp, w, "w1"))})
    text = format_checkpoint(cp)
    i = pos % len(text)
    changed = text[:i] + char + text[i + 1:]
    found = check_checkpoints([], "r", {"coord": KEY.public_key()}, [("x.txt", changed.encode())],
                              witnesses={"w1": w.public_key()}, quorum=1)
    witnessed = [f for f in found if f.severity == "info"]
    errors = [f for f in found if f.severity == "error"]
    if changed == text:
        assert witnessed and not errors
        return
    assert errors, (i, char, found)
    if i < text.index("\u2014") or i >= text.index("\u2014 w1"):  # the body or the witness's own line
        assert not witnessed, (i, char, found)


def test_freeze_pins_the_coordinators_and_witnesses_keys_in_the_first_entry(tmp_path):
    import base64

    from workbench.publish.verifypage import keys_json

    rd = _round(tmp_path, quorum=2)
    first = read_entries(rd / "ledger.jsonl")[0]
    coord = load_public_key(tmp_path / "keys" / "coord.pub")
    assert first.type == "freeze" and first.actor == "coord"
    assert first.data["coordinators"] == [{"id": "coord", "key_id": key_id(coord),
                                           "public_key": base64.b64encode(coord.public_bytes_raw()).decode()}]
    assert first.data["witnesses"]["quorum"] == 2
    assert [(w["name"], w["key_id"]) for w in first.data["witnesses"]["keys"]] == [
        (n, key_id(load_public_key(tmp_path / "keys" / f"{n}.pub"))) for n in WITNESSES]
    # keys.json repeats the pinned records, which the verify page checks it against
    assert json.loads(keys_json(load_round(rd)))["coordinators"] == first.data["coordinators"]


def test_a_round_without_witnesses_keeps_its_rules_state(tmp_path):
    rd = make_round(tmp_path)
    r = load_round(rd)
    assert r.rules.witnesses is None and "witnesses" not in r.rules.model_dump(mode="json")
    assert "witnesses" not in read_entries(rd / "ledger.jsonl")[0].data


def test_an_amendment_that_changes_the_coordinators_pins_the_new_set_and_others_do_not(tmp_path):
    rd = _round(tmp_path, quorum=1)
    _amend(rd, tmp_path, "a new title")
    assert not {"coordinators", "witnesses"} & set(read_entries(rd / "ledger.jsonl")[-1].data)
    generate_keypair("coord-2", tmp_path / "keys")
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    roster["reviewers"].append({"id": "coord-2", "role": "coordinator",
                                "public_key": public_key_pem(load_public_key(tmp_path / "keys" / "coord-2.pub"))})
    (rd / "roster.yaml").write_text(yaml.safe_dump(roster))
    assert main(["round", "amend", str(rd), "--key", str(tmp_path / "keys" / "coord.key"), "--reason", "a deputy"]) == 0
    data = read_entries(rd / "ledger.jsonl")[-1].data
    assert [c["id"] for c in data["coordinators"]] == ["coord", "coord-2"] and "witnesses" not in data


def test_the_split_view_is_bounded_by_any_witnessed_checkpoint_not_only_those_of_the_same_witness(tmp_path):
    from workbench.round import ledger
    from workbench.round.checkpoint import sign_head

    coord = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    ws = {n: Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i, n in enumerate(("w1", "w2", "w3"), 1)}
    books = {}
    for fork in ("a", "b"):  # two ledgers sharing their first 3 entries
        p = tmp_path / f"{fork}.jsonl"
        for i in range(6):
            ledger.append(p, actor="coord", key=coord, type="amend", payload_sha256="0" * 64,
                          data={"i": i, "fork": fork if i >= 3 else "common"}, time="2026-01-01T00:00:00Z")
        books[fork] = ledger.read_entries(p)

    def cp(fork: str, size: int, *witnesses: str) -> tuple[str, bytes]:
        text = format_checkpoint(sign_head("r", size, ledger.entry_hash(books[fork][size - 1]), coord, "coord"))
        for w in witnesses:
            from workbench.round.checkpoint import cosign
            text = cosign(text, ws[w], w)
        return f"{fork}{size}-{'-'.join(witnesses)}.txt", text.encode()

    given = [cp("a", 6, "w1"), cp("b", 3, "w3"), cp("b", 4, "w3"), cp("b", 6, "w2")]
    found = check_checkpoints(books["a"], "r", {"coord": coord.public_key()}, given,
                              witnesses={n: k.public_key() for n, k in ws.items()}, quorum=1)
    errors = {f.file: f for f in found if f.severity == "error"}
    assert sorted(errors) == ["b4-w3.txt", "b6-w2.txt"]
    # w2 saw only the fork's end; w3's checkpoints say where it began: entry 4
    assert errors["b6-w2.txt"].detail["first_entry"] == errors["b6-w2.txt"].detail["last_entry"] == 4
    assert errors["b6-w2.txt"].detail["other"] == "a6-w1.txt"


def test_the_short_form_of_the_witness_list_reads_the_same(tmp_path):
    rd = _round(tmp_path, quorum=2)
    rules = yaml.safe_load((rd / "rules.yaml").read_text())
    long = load_round(rd).rules.witnesses
    rules["witnesses"], rules["witness_quorum"] = rules["witnesses"]["keys"], 2
    (rd / "rules.yaml").write_text(yaml.safe_dump(rules))
    assert load_round(rd).rules.witnesses == long
