"""The ``workbench`` command: :func:`main` (in :mod:`.app`) parses the arguments and dispatches to a command.

One module per command group, each with ``add_commands(sub)``: :mod:`.rubric` (rubric, schema), :mod:`.keys`
(keys, sign, verify), :mod:`.demo`, :mod:`.evidence` (weights, evidence), :mod:`.round` (round, roster,
assignments), :mod:`.sheets` (batch, collect, set-aside, users, rerun), :mod:`.ledger` (checkpoint, cosign,
tlog), :mod:`.publish` (aggregate, audit), :mod:`.hub` (lab, hub). A third party adds a group with an entry
point in the group ``workbench.commands``.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "main": "app",
}

__all__ = [
    "main",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="app")
