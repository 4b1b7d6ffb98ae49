"""Evidence flags as data: a stable code and its parameters, worded in Korean or English by the message table.

Evidence modules and the dossier decide *what* to flag; this module only says how a flag reads. A flag's
code names a message (``flag_<code>`` in :data:`workbench.core.messages.MESSAGES`), so the notebook can show the
same flag in either language, and the English wording stays the one signed sheets already record (the
independence flags in a sheet's evidence are these English texts; changing them would make re-runs of old
sheets differ).

Public API: :class:`Finding`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from .base import Model
from .messages import MESSAGES, msg

__all__ = ["Finding"]


class Finding(Model):
    """One thing the evidence flags: ``code`` (message ``flag_<code>``) and the values its wording uses."""

    code: str
    params: dict[str, Any] = Field(default_factory=dict)

    def text(self, lang: str = "en") -> str:
        """The flag worded in ``lang``; a code without its own message falls back to its family's
        (``training_<x>`` -> ``training``), which words the evidence's own sentence."""
        key = f"flag_{self.code}"
        if key not in MESSAGES:
            key = f"flag_{self.code.split('_', 1)[0]}"
        return msg(key, lang, **self.params)
