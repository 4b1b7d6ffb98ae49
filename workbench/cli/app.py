"""The ``workbench`` command: the parser, :func:`main` and logging. Each command group is a module of this
package (:data:`GROUPS`) whose ``add_commands(sub)`` adds its sub-commands; each sub-command is a small function
over the package's public API.

Errors the user can cause (:class:`WorkbenchError`) print one line and exit 1; other exceptions are bugs
and keep their traceback. A command's results go to standard output; the library's log (the ``workbench``
logger: progress, retries, warnings) goes to standard error, one plain line per record, at INFO (``-v``:
DEBUG).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import NoReturn

from .. import __version__
from ..core.errors import WorkbenchError


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: ``--passphrase`` must never be taken as a prefix of ``--passphrase-env``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        # a mistyped option's value may be a passphrase: name the options, never echo their values
        head = "unrecognized arguments: "
        if message.startswith(head):
            names = [t.split("=", 1)[0] for t in message[len(head):].split() if t.startswith("-")]
            message = head + (" ".join(names) if names else "(values not shown)")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered (sub-parsers inherit the parser class)."""
    parser = _Parser(
        prog="workbench",
        description="Score, sign, publish and audit a national evaluation of AI foundation models.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details (DEBUG) as well as progress")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        importlib.import_module(f".{group}", __package__).add_commands(sub)
    # a third party's commands: an entry point in the group "workbench.commands" naming an add_commands(sub)
    for ep in entry_points(group="workbench.commands"):
        ep.load()(sub)
    return parser


# the command groups, one module each (workbench/cli/<group>.py with add_commands(sub)), in the help's order
GROUPS = ("rubric", "keys", "demo", "evidence", "round", "sheets", "ledger", "publish", "hub")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


class _CLIHandler(logging.StreamHandler):
    """The handler :func:`configure_logging` installs (replaced, not stacked, when main runs again).

    It writes to whatever ``sys.stderr`` is at the time of each record (tests and notebooks swap it).
    """

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send the ``workbench`` logger's records at ``level`` and above to standard error, one plain line each."""
    logger = logging.getLogger("workbench")
    for h in [h for h in logger.handlers if isinstance(h, _CLIHandler)]:
        logger.removeHandler(h)
    handler = _CLIHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)


# --- weight provenance


# --- audit


# --- hub


