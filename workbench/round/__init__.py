"""The life of a round on disk: its ledger and who may sign what, freezing and amending its rules, enrolling and
assigning the panel, sheets coming in (submitted, surveyed, collected) and the transparency log over it all.

- :mod:`.ledger`, :mod:`.authority`: the hash-chained ledger and the authority replayed from it
- :mod:`.lifecycle`, :mod:`.readiness`: init, freeze, amend, status; what freezing would sign
- :mod:`.enrol`, :mod:`.assign`: the roster and the assignments
- :mod:`.submit`, :mod:`.survey`, :mod:`.collect`, :mod:`.userdata`: sheets in, accepted, and the users' part
- :mod:`.note`, :mod:`.tlog`, :mod:`.checkpoint`: signed notes, the transparency log, checkpoints and witnesses

``workbench.round`` was a module before these subpackages: its names (``Round``, ``load_round``, ...) now live
in :mod:`workbench.model.round` and are still served from here for old imports.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "init_round": "lifecycle", "freeze": "lifecycle", "amend": "lifecycle", "check_frozen": "lifecycle",
    "status": "lifecycle", "accepted_sheets": "collect", "submit_sheet": "submit",
}

__all__ = [
    "accepted_sheets", "amend", "check_frozen", "freeze", "init_round", "status",
    "submit_sheet",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback=".model.round")
