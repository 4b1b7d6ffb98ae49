"""The embedded demo round: ``demo``."""

from __future__ import annotations

import argparse


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on the embedded demo data")
    p.add_argument("--out", default="demo-round", help="output folder (default: demo-round)")
    p.add_argument("--fresh", action="store_true",
                   help="replace earlier demo rounds even when they hold drafts or sheets (default: keep them aside)")
    p.set_defaults(func=_cmd_demo)

def _cmd_demo(args: argparse.Namespace) -> int:
    import time

    from ..demo.run import next_steps, run_demo, run_rechallenge

    t0 = time.monotonic()
    run_demo(args.out, echo=print, progress=True, fresh=args.fresh)
    print("")
    run_rechallenge(args.out, echo=print, progress=True, fresh=args.fresh)
    print("")
    print("\n".join(next_steps(args.out)))
    print(f"demo finished in {time.monotonic() - t0:.0f} s (stage 1 and the re-challenge)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands."""
    _add_demo(sub)
