"""The ``workbench`` command. Each sub-command is a small function over the package's public API.

Errors the user can cause (:class:`WorkbenchError`) print one line and exit 1; other exceptions are bugs
and keep their traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import WorkbenchError

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Score, sign, publish and audit a national evaluation of AI foundation models.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _REGISTRY:
        add(sub)
    return parser


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []


def register(add: Callable[[argparse._SubParsersAction], None]) -> Callable[[argparse._SubParsersAction], None]:
    """Decorator: ``add(subparsers)`` adds one sub-command and sets ``func`` on it."""
    _REGISTRY.append(add)
    return add


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except WorkbenchError as e:
        print(f"workbench: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
