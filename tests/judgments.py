"""Deterministic sample judgments for tests and benchmarks (formerly ``workbench.demo.run.demo_judgments``).

A test fixture: the demo round itself uses the answers shipped in ``workbench/data/demo/answers``.
"""

from __future__ import annotations

from workbench.model.rubric import AnchoredScale, GateScale, Rubric
from workbench.model.sheet import Judgment

__all__ = ["demo_judgments"]


def demo_judgments(rubric: Rubric, seed: int = 0) -> dict[str, Judgment]:
    """Deterministic, plausible judgments for every person-scored criterion of ``rubric``."""
    out: dict[str, Judgment] = {}
    for i, (_, c) in enumerate(rubric.criteria()):
        if isinstance(c.scale, AnchoredScale):
            values = [lv.value for lv in c.scale.levels]
            level = values[-2 - (i + seed) % 2]  # the second or third level from the top
            comment = "" if not c.needs_comment(level) else f"Demo justification for {c.id}."
            out[c.id] = Judgment(level=level, comment=comment)
        elif isinstance(c.scale, GateScale):
            out[c.id] = Judgment(verdict=c.scale.options[0].value, comment="Demo: evidence reviewed, no reuse found.")
    return out
