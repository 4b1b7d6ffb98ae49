"""The hash-chained, signed ledger."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.core.errors import RoundError
from workbench.round.ledger import GENESIS, append, entry_hash, read_entries, verify_chain

H = "a" * 64


@pytest.fixture
def key():
    return Ed25519PrivateKey.generate()


def test_chain_links_and_signatures(tmp_path, key):
    p = tmp_path / "ledger.jsonl"
    e1 = append(p, actor="coord", key=key, type="freeze", payload_sha256=H, data={"version": 1}, time="2026-01-01T00:00:00Z")
    e2 = append(p, actor="coord", key=key, type="amend", payload_sha256=H, data={"reason": "x"})
    assert (e1.seq, e1.prev) == (1, GENESIS)
    assert (e2.seq, e2.prev) == (2, entry_hash(e1))
    assert [e.seq for e in verify_chain(p, {"coord": key.public_key()})] == [1, 2]
    assert len(p.read_bytes().splitlines()) == 2


def test_edited_line_is_named(tmp_path, key):
    p = tmp_path / "ledger.jsonl"
    for i in range(3):
        append(p, actor="coord", key=key, type="amend", payload_sha256=H, data={"reason": f"r{i}"})
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace('"r0"', '"changed"')
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(RoundError, match=r"ledger.jsonl:2: hash chain broken"):
        verify_chain(p, {"coord": key.public_key()})
    # the last line has no successor: its signature catches the edit
    lines = p.read_text().splitlines()
    p.write_text("\n".join([*lines[:2], lines[2].replace('"r2"', '"other"')]) + "\n")
    with pytest.raises(RoundError, match="hash chain broken|signature does not verify"):
        verify_chain(p, {"coord": key.public_key()})


def test_removed_line_and_foreign_key(tmp_path, key):
    p = tmp_path / "ledger.jsonl"
    for _ in range(3):
        append(p, actor="coord", key=key, type="submit", payload_sha256=H)
    other = Ed25519PrivateKey.generate()
    with pytest.raises(RoundError, match="not coord's roster key"):
        verify_chain(p, {"coord": other.public_key()})
    with pytest.raises(RoundError, match="unknown actor"):
        verify_chain(p, {})
    lines = p.read_text().splitlines()
    p.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(RoundError, match=r":2: entry has sequence 3"):
        verify_chain(p, {"coord": key.public_key()})
    with pytest.raises(RoundError):  # appending refuses to extend a broken chain
        append(p, actor="coord", key=key, type="submit", payload_sha256=H)


def test_parallel_appends_never_interleave(tmp_path, key):
    p = tmp_path / "ledger.jsonl"

    def work(n):
        for i in range(5):
            append(p, actor="coord", key=key, type="collect", payload_sha256=H, data={"w": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = verify_chain(p, {"coord": key.public_key()})
    assert [e.seq for e in entries] == list(range(1, 21))
    assert sorted((e.data["w"], e.data["i"]) for e in entries) == [(n, i) for n in range(4) for i in range(5)]


def test_malformed_line(tmp_path):
    p = tmp_path / "ledger.jsonl"
    p.write_text('{"seq": 1}\n')
    with pytest.raises(RoundError, match=r"ledger.jsonl:1: .*malformed ledger entry"):
        read_entries(p)
