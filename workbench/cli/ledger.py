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
    p = sub.add_parser("checkpoint", help="sign the ledger's size and head as ROUND/checkpoints/<size, 8 digits>.txt (e.g. 00000543.txt), for witnesses")
    p.add_argument("round", metavar="ROUND")
    _key_args(p)
    p.set_defaults(func=_cmd_checkpoint)

def _cmd_checkpoint(args: argparse.Namespace) -> int:
    key, actor = _coordinator_key(args.round, args.key, args.passphrase_env)
    _print_checkpoint(args.round, key, actor)
    return 0

def _add_cosign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cosign", help="countersign a ledger checkpoint as a witness and keep the copy")
    p.add_argument("file", metavar="FILE", help="a checkpoint file (ROUND/checkpoints/00000543.txt for size 543)")
    p.add_argument("--key", required=True, help="the witness's private key")
    p.add_argument("--name", required=True, help="the witness's name on the signature line")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key's passphrase from this environment variable")
    p.add_argument("-o", "--output", required=True, help="where to keep the countersigned copy (outside the round; - "
                                                         "for standard output)")
    p.add_argument("--round", metavar="ROUND", help="your copy of the round: refuse unless its rules list NAME with "
                   "this key and its ledger has the checkpoint's head")
    p.set_defaults(func=_cmd_cosign)

def _cmd_cosign(args: argparse.Namespace) -> int:
    from ..core.files import check_output_path, read_bounded
    from ..round.checkpoint import MAX_CHECKPOINT_BYTES, cosign, cosign_round, parse_checkpoint

    if args.output != STDOUT:
        check_output_path(args.output)
    data = read_bounded(args.file, MAX_CHECKPOINT_BYTES)
    key = _load_signing_key(args.key, args.passphrase_env)
    text = cosign_round(args.round, data, key, args.name) if args.round else cosign(data, key, args.name)
    _write_out(args.output, text.encode(), mode=0o644)
    cp = parse_checkpoint(text, args.output)
    _say(args.output, f"{args.output}: round {cp.round_id}, ledger size {cp.size}, signed by {', '.join(cp.signers())}")
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


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_checkpoint(sub)
    _add_cosign(sub)
    _add_tlog(sub)
