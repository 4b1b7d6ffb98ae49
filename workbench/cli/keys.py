"""Keys and signatures: ``keys new``, ``sign``, ``verify``."""

from __future__ import annotations

import argparse

from ..core.errors import WorkbenchError
from ._common import STDOUT, _load_signing_key, _passphrase, _say, _write_out


def _add_keys(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="manage signing keys")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    n = ks.add_parser("new", help="create an Ed25519 key pair: ID.key (mode 0600) and ID.pub")
    n.add_argument("id", metavar="ID")
    n.add_argument("--dir", default=".", help="folder for the key files (default: current folder)")
    n.add_argument("--encrypt", action="store_true", help="encrypt the private key; the passphrase is prompted for")
    n.add_argument("--passphrase-env", metavar="VAR", help="encrypt with the passphrase in this environment variable")
    n.set_defaults(func=_cmd_keys_new)

def _cmd_keys_new(args: argparse.Namespace) -> int:
    from ..core.files import check_output_dir
    from ..core.signing import generate_keypair, key_id, load_public_key

    check_output_dir(args.dir)
    passphrase = None
    if args.passphrase_env or args.encrypt:
        passphrase = _passphrase(args.passphrase_env, confirm=True)
    priv, pub = generate_keypair(args.id, args.dir, passphrase)
    print(f"private key: {priv} (mode 0600{', encrypted' if passphrase else ''})")
    print(f"public key:  {pub}")
    print(f"key id:      {key_id(load_public_key(pub))}")
    return 0

def _add_sign(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="sign a score sheet (JSON) into a DSSE envelope")
    p.add_argument("sheet", metavar="SHEET")
    p.add_argument("--key", required=True, help="private key file")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")
    p.add_argument("--rubric", help="also validate the sheet against this rubric")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="the envelope file (- for standard output)")
    p.set_defaults(func=_cmd_sign)

def _cmd_sign(args: argparse.Namespace) -> int:
    from ..core.files import check_output_path, read_bounded
    from ..core.signing import SHEET_TYPE, envelope_bytes, key_id, sign_payload
    from ..model.rubric import load_rubric
    from ..model.sheet import parse_sheet, sheet_bytes, validate_sheet

    if args.output != STDOUT:
        check_output_path(args.output)  # before the passphrase is asked for
    sheet = parse_sheet(read_bounded(args.sheet), args.sheet)
    if args.rubric:
        validate_sheet(sheet, load_rubric(args.rubric), args.sheet)
    key = _load_signing_key(args.key, args.passphrase_env)
    kid = key_id(key.public_key())
    if sheet.reviewer.key_id and sheet.reviewer.key_id != kid:
        raise WorkbenchError(
            f"sheet names key {sheet.reviewer.key_id[:16]} but {args.key} is {kid[:16]}",
            file=args.sheet, place="reviewer.key_id", expected="the reviewer's own key",
        )
    _write_out(args.output, envelope_bytes(sign_payload(sheet_bytes(sheet), SHEET_TYPE, key)))
    _say(args.output, f"signed {args.sheet} with key {kid[:16]} -> {args.output}")
    return 0

def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify a DSSE envelope with a public key (never one inside the envelope)")
    p.add_argument("envelope", metavar="ENVELOPE")
    p.add_argument("--pubkey", required=True, help="the signer's public key file")
    p.add_argument("--type", dest="payload_type", help="require this payload type")
    p.set_defaults(func=_cmd_verify)

def _cmd_verify(args: argparse.Namespace) -> int:
    from ..core.files import read_bounded
    from ..core.signing import MAX_ENVELOPE_BYTES, key_id, load_public_key, verify_envelope

    pub = load_public_key(args.pubkey)
    payload = verify_envelope(read_bounded(args.envelope, MAX_ENVELOPE_BYTES), pub, args.payload_type, args.envelope)
    print(f"valid: {args.envelope} signed by {key_id(pub)[:16]} ({len(payload)} byte payload)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_keys(sub)
    _add_sign(sub)
    _add_verify(sub)
