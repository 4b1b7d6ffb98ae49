"""Private: what several command groups share: output files and status lines, passphrases, the coordinator's key."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import WorkbenchError

STDOUT = "-"

def _write_out(path: str, data: bytes, mode: int | None = None) -> None:
    """Write a command's output file atomically, or to standard output when ``path`` is ``-``.

    The write path refuses devices, pipes, links and system folders (:func:`workbench.core.files.check_output_path`):
    ``-o /dev/null`` as root once turned /dev/null into a regular file.
    """
    if path == STDOUT:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    from ..core.files import atomic_write_bytes

    atomic_write_bytes(path, data, mode=mode)

def _say(path: str | None, line: str) -> None:
    """A status line: to standard error when the command's output itself goes to standard output."""
    print(line, file=sys.stderr if path == STDOUT else sys.stdout)

def _passphrase(env_var: str | None, *, confirm: bool = False, prompt: bool = True) -> bytes | None:
    """A passphrase from the named environment variable, or from a prompt; never from argv."""
    import getpass
    import os

    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise WorkbenchError(f"environment variable {env_var} is not set", expected="the key passphrase in it")
        return value.encode()
    if not prompt:
        return None
    if not sys.stdin.isatty():
        raise WorkbenchError("a passphrase is needed but there is no terminal to ask on",
                             expected="--passphrase-env VAR")
    first = getpass.getpass("Key passphrase: ")
    if confirm and getpass.getpass("Repeat passphrase: ") != first:
        raise WorkbenchError("passphrases differ")
    return first.encode()

def _load_signing_key(path: str, env_var: str | None):
    from ..core.signing import is_encrypted, load_private_key

    passphrase = _passphrase(env_var) if (env_var or is_encrypted(path)) else None
    return load_private_key(path, passphrase)

def _coordinator_key(round_dir: str, key_file: str, env_var: str | None):
    """The key and the roster coordinator it belongs to."""
    from ..core.signing import key_id
    from ..model.round import load_round_with_problems

    key = _load_signing_key(key_file, env_var)
    kid = key_id(key.public_key())
    # the round's cross-file problems are the command's to report (freeze lists them all at once), not this lookup's
    for c in load_round_with_problems(round_dir)[0].coordinators():
        if key_id(c.key()) == kid:
            return key, c.id
    raise WorkbenchError(f"key {kid[:16]} is not a coordinator's key in the roster", file=key_file,
                         expected="the private key of a roster coordinator")

def _key_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", required=True, help="the coordinator's private key file")
    p.add_argument("--passphrase-env", metavar="VAR", help="read the key passphrase from this environment variable")

def _after_freeze_hint(round_dir: str) -> str:
    from pathlib import Path

    ledger = Path(round_dir) / "ledger.jsonl"
    if ledger.is_file() and ledger.stat().st_size:
        return "; the round is frozen: 'workbench round amend ROUND --reason ... --key KEY' records the change"
    return "; freeze the round when it is complete"

def _print_checkpoint(round_dir: str, key, actor: str, fmt: int = 2, old_size: int | None = None):
    from ..round.checkpoint import checkpoint_round

    path, cp, proof, request = checkpoint_round(round_dir, key, actor, fmt, old_size)
    print(f"checkpoint: {path} (ledger size {cp.size}); give a copy to the witnesses: "
          "'workbench cosign FILE --key KEY --name NAME --log-key COORDINATOR.pub'")
    if proof is not None:
        print(f"consistency proof from the last witnessed checkpoint: {proof}")
    return path, cp, proof, request


