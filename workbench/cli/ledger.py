"""The ledger's witnesses and proofs: ``checkpoint``, ``cosign``, ``tlog inclusion|consistency``."""

from __future__ import annotations

import argparse

from ._common import (
    STDOUT,
    _coordinator_key,
    _key_args,
    _load_signing_key,
    _print_checkpoint,
    _say,
    _write_out,
)


def _add_checkpoint(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("checkpoint", help="sign the ledger's size and Merkle root (a C2SP checkpoint) as "
                       "ROUND/checkpoints/<size, 8 digits>.txt (e.g. 00000543.txt), for witnesses, with the "
                       "consistency proof from the last witnessed one")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.add_argument("--witness-request", metavar="FILE", help="also write the tlog-witness add-checkpoint request "
                   "body (POST it to a C2SP witness's <prefix>/add-checkpoint, or hand it to 'workbench cosign'); "
                   "- for standard output")
    p.add_argument("--old-size", type=int, metavar="N", help="the size the witness last cosigned (default: the "
                   "largest checkpoint under ROUND/checkpoints/ a quorum of listed witnesses cosigned, else 0)")
    p.add_argument("--format", type=int, choices=(1, 2), default=2, help="2: a C2SP checkpoint (default); 1: the "
                   "older hash-chain form, for witnesses still on it")
    p.set_defaults(func=_cmd_checkpoint)


def _cmd_checkpoint(args: argparse.Namespace) -> int:
    from ..core.errors import WorkbenchError
    from ..core.files import check_output_path

    if args.witness_request not in (None, STDOUT):
        check_output_path(args.witness_request)
    if args.format == 1 and (args.witness_request or args.old_size is not None):
        raise WorkbenchError("--witness-request and --old-size need a C2SP checkpoint", expected="--format 2")
    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    _, _, _, request = _print_checkpoint(args.round, key, actor, args.format, args.old_size)
    if args.witness_request and request is not None:
        _write_out(args.witness_request, request, mode=0o644)
        _say(args.witness_request, f"add-checkpoint request: {args.witness_request}")
    return 0


def _add_cosign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cosign", help="countersign a ledger checkpoint as a witness (a cosignature/v1 line, after "
                       "checking the consistency proof from the checkpoint you last cosigned) and keep the copy")
    p.add_argument("file", metavar="FILE", help="an add-checkpoint request body ('workbench checkpoint "
                   "--witness-request'), or a checkpoint file (ROUND/checkpoints/00000543.txt for size 543)")
    p.add_argument("--key", required=True, help="the witness's private key")
    p.add_argument("--name", required=True, help="the witness's name on the signature line (as the rules list it)")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key's passphrase from this environment variable")
    p.add_argument("-o", "--output", required=True, help="where to keep the countersigned copy (outside the round; - "
                                                         "for standard output)")
    p.add_argument("--log-key", action="append", default=[], metavar="PUB",
                   help="the coordinator's public key (PEM file) or verifier key (name+hash+key): the checkpoint "
                   "must be signed with it (repeatable: any one of them)")
    p.add_argument("--last", metavar="FILE", help="the checkpoint you last cosigned for this round: the request's "
                   "consistency proof must lead from it (without it, the request must start from size 0)")
    p.add_argument("--proof", metavar="FILE", help="with a checkpoint FILE: the consistency proof from --last to it "
                   "(ROUND/checkpoints/<size>.from-<old>.json)")
    p.add_argument("--round", metavar="ROUND", help="your copy of the round: refuse unless its rules list NAME with "
                   "this key and its ledger has the checkpoint's tree (the coordinators' keys come from its roster)")
    p.set_defaults(func=_cmd_cosign)


def _cmd_cosign(args: argparse.Namespace) -> int:
    import base64

    from ..core.errors import WorkbenchError
    from ..core.files import check_output_path, read_bounded
    from ..round.checkpoint import (
        MAX_CHECKPOINT_BYTES,
        cosign,
        cosign_note,
        cosign_round,
        describe_checkpoint,
        is_format1,
        parse_checkpoint,
    )
    from ..round.note import (
        MAX_NOTE_BYTES,
        VerifierKey,
        format_add_checkpoint,
        parse_add_checkpoint,
        parse_note,
    )
    from ..round.tlog import ConsistencyProof, parse_proof

    if args.output != STDOUT:
        check_output_path(args.output)
    data = read_bounded(args.file, MAX_CHECKPOINT_BYTES + 8192)
    key = _load_signing_key(args.key, args.passphrase_env)
    last = read_bounded(args.last, MAX_NOTE_BYTES) if args.last else None
    if args.proof:
        proof = parse_proof(read_bounded(args.proof, 64 * 1024), args.proof)
        if not isinstance(proof, ConsistencyProof) or data.startswith(b"old "):
            raise WorkbenchError("--proof takes a consistency proof, beside a checkpoint file", file=args.proof)
        data = format_add_checkpoint(proof.old_size, [base64.b64decode(h) for h in proof.hashes], data)
    if is_format1(data):
        text = cosign_round(args.round, data, key, args.name) if args.round else cosign(data, key, args.name)
        _write_out(args.output, text.encode(), mode=0o644)
        cp = parse_checkpoint(text, args.output)
        _say(args.output, f"{args.output}: round {cp.round_id}, ledger size {cp.size}, signed by {', '.join(cp.signers())}")
        return 0
    if args.round:
        out = cosign_round(args.round, data, key, args.name, last).encode()
    else:
        body = data if data.startswith(b"old ") else format_add_checkpoint(0, [], data)
        view = describe_checkpoint(parse_add_checkpoint(body).checkpoint, args.file)
        # a PEM key signs under the checkpoint's own origin (a changed origin fails that signature)
        keys = [k if isinstance(k, VerifierKey) else VerifierKey(view.origin, k) for k in _log_keys(args.log_key)]
        if not keys:
            raise WorkbenchError("no key to check the coordinator's signature with",
                                 expected="--log-key COORDINATOR.pub (or --round ROUND, your copy of the round)")
        out = cosign_note(body, key, args.name, keys, last)
    _write_out(args.output, out, mode=0o644)
    view = describe_checkpoint(out, args.output)
    _say(args.output, f"{args.output}: {view.origin}, ledger size {view.size}, signature lines: "
         f"{', '.join(s.name for s in parse_note(out).signatures)}")
    return 0


def _add_tlog(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tlog", help="the ledger as an RFC 6962 Merkle tree: inclusion and consistency proofs (JSON)")
    ts = p.add_subparsers(dest="tlog_command", metavar="ACTION", required=True)
    i = ts.add_parser("prove-inclusion", help="prove that ledger entry SEQ is in the tree of the first SIZE entries")
    i.add_argument("ledger", metavar="LEDGER", help="a ledger.jsonl")
    i.add_argument("--entry", type=int, required=True, metavar="SEQ", help="the entry's sequence number (from 1)")
    i.add_argument("--size", type=int, metavar="N", help="the tree size a checkpoint names (default: the whole ledger)")
    i.add_argument("-o", "--output", default=STDOUT, help="where to write the proof (default: standard output)")
    i.set_defaults(func=_cmd_tlog_inclusion)
    c = ts.add_parser("prove-consistency", help="prove that the tree of NEW entries extends the tree of OLD entries")
    c.add_argument("ledger", metavar="LEDGER", help="a ledger.jsonl")
    c.add_argument("--old-size", type=int, required=True, metavar="OLD", help="the size of the earlier checkpoint")
    c.add_argument("--new-size", type=int, metavar="NEW", help="the size of the later one (default: the whole ledger)")
    c.add_argument("-o", "--output", default=STDOUT, help="where to write the proof (default: standard output)")
    c.set_defaults(func=_cmd_tlog_consistency)
    s = ts.add_parser("show", help="print a checkpoint file (either format) as JSON (schema: checkpoint), unverified")
    s.add_argument("file", metavar="FILE")
    s.set_defaults(func=_cmd_tlog_show)


def _tlog_leaf_hashes(ledger_path: str) -> list[bytes]:
    from ..round.tlog import leaf_hash, ledger_leaves

    return [leaf_hash(x) for x in ledger_leaves(ledger_path)]

def _cmd_tlog_inclusion(args: argparse.Namespace) -> int:
    import base64

    from ..core.errors import InputFileError
    from ..core.files import check_output_path
    from ..round.tlog import InclusionProof, tree_head

    if args.output != STDOUT:
        check_output_path(args.output)
    hs = _tlog_leaf_hashes(args.ledger)
    size = len(hs) if args.size is None else args.size
    if not 1 <= args.entry <= min(size, len(hs)):
        raise InputFileError(f"no entry {args.entry} in a tree of {size} of the ledger's {len(hs)} entries",
                             file=args.ledger, expected=f"--entry between 1 and {min(size, len(hs))}")
    try:
        proof = InclusionProof.make(hs, args.entry - 1, size)
    except InputFileError as e:
        raise InputFileError(e.message, file=args.ledger, expected=e.expected) from None
    _write_out(args.output, (proof.model_dump_json(indent=2) + "\n").encode(), mode=0o644)
    _say(args.output, f"entry {args.entry} of {size}: tree head {base64.b64encode(tree_head(hs, size)).decode()}")
    return 0

def _cmd_tlog_consistency(args: argparse.Namespace) -> int:
    import base64

    from ..core.errors import InputFileError
    from ..core.files import check_output_path
    from ..round.tlog import ConsistencyProof, tree_head

    if args.output != STDOUT:
        check_output_path(args.output)
    hs = _tlog_leaf_hashes(args.ledger)
    new = len(hs) if args.new_size is None else args.new_size
    try:
        proof = ConsistencyProof.make(hs, args.old_size, new)
    except InputFileError as e:
        raise InputFileError(e.message, file=args.ledger, expected=e.expected) from None
    _write_out(args.output, (proof.model_dump_json(indent=2) + "\n").encode(), mode=0o644)
    heads = [base64.b64encode(tree_head(hs, n)).decode() for n in (args.old_size, new)]
    _say(args.output, f"size {args.old_size} (tree head {heads[0]}) to size {new} (tree head {heads[1]})")
    return 0


def _log_keys(values: list[str]):
    from pathlib import Path

    from ..core.signing import load_public_key
    from ..round.note import parse_verifier_key

    out = []
    for v in values:
        if "+" in v and not Path(v).exists():
            out.append(parse_verifier_key(v.strip()))
        else:  # a PEM key: its key name is the round's origin, which the checkpoint names
            out.append(load_public_key(v))
    return out


def _cmd_tlog_show(args: argparse.Namespace) -> int:
    from ..core.files import read_bounded
    from ..round.checkpoint import MAX_CHECKPOINT_BYTES, describe_checkpoint

    print(describe_checkpoint(read_bounded(args.file, MAX_CHECKPOINT_BYTES), args.file).model_dump_json(indent=2))
    return 0


def _add_verify_receipt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify-receipt", help="check a reviewer's receipt without the ledger: the coordinator's "
                       "signed checkpoint, the inclusion proofs of the sheet's submit and collect entries")
    p.add_argument("receipt", metavar="RECEIPT", help="receipts/<reviewer>/<team>.v<N>.json")
    p.add_argument("--key", action="append", required=True, metavar="PUB",
                   help="the coordinator's public key (PEM), as published (repeatable: any one of them)")
    p.add_argument("--sheet", metavar="FILE", help="the sheet file: its SHA-256 must be the one recorded")
    p.add_argument("--json", action="store_true", help="print what was proved as JSON")
    p.set_defaults(func=_cmd_verify_receipt)


def _cmd_verify_receipt(args: argparse.Namespace) -> int:
    from ..core.files import read_bounded
    from ..core.signing import MAX_ENVELOPE_BYTES, load_public_key
    from ..round.receipt import MAX_RECEIPT_BYTES, verify_receipt

    keys = [load_public_key(k) for k in args.key]
    sheet = read_bounded(args.sheet, MAX_ENVELOPE_BYTES) if args.sheet else None
    res = verify_receipt(read_bounded(args.receipt, MAX_RECEIPT_BYTES), keys, args.receipt, sheet)
    if args.json:
        print(res.model_dump_json(indent=2))
    else:
        print(f"OK: {res.sheet} ({res.decision}) is entries {res.seqs[0]} and {res.seqs[1]} of {res.origin}, in the "
              f"checkpoint of {res.size} entries signed by coordinator key {res.key_id[:16]}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_checkpoint(sub)
    _add_cosign(sub)
    _add_tlog(sub)
    _add_verify_receipt(sub)
