"""Cost efficiency: points per active parameter and per declared inference cost, from model-card data.

Public API: :class:`ModelCost`, :func:`load_model_cost`, :func:`cost_efficiency`, :class:`CostEfficiency`,
:class:`CostRow`, :func:`cost_chart`.

The model-card data a team declares (YAML or JSON)::

    model: Hanbit-100B            # the model's name
    active_parameters: 12.0e9     # parameters used per token (MoE: the active experts), a count
    total_parameters: 100.0e9     # all parameters, a count (>= active)
    inference_cost:               # optional: the declared serving cost
      value: 0.40
      unit: USD per 1M output tokens

Ratios: ``points / (active_parameters / 1e9)`` (points per billion active parameters) and
``points / inference_cost.value``. Costs declared in different units cannot be compared: the ratio is
still computed and the result is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..core.base import Model
from ..core.charts import altair, style
from ..core.errors import EvidenceError
from ..core.files import line_for, load_json, load_yaml
from ..core.findings import Finding
from ..core.messages import msg

if TYPE_CHECKING:
    import altair as alt

__all__ = ["CostEfficiency", "CostRow", "ModelCost", "cost_chart", "cost_efficiency", "load_model_cost"]

MAX_CARD_BYTES = 1024 * 1024


class InferenceCost(Model):
    """A declared serving cost and its unit."""


    value: float = Field(gt=0, allow_inf_nan=False)
    unit: str = Field(min_length=1)


class ModelCost(Model):
    """The cost-relevant facts of one team's model card."""


    team: str
    model: str
    active_parameters: float = Field(gt=0, allow_inf_nan=False)
    total_parameters: float = Field(gt=0, allow_inf_nan=False)
    inference_cost: InferenceCost | None = None

    @model_validator(mode="after")
    def _active_within_total(self) -> ModelCost:
        if self.active_parameters > self.total_parameters:
            raise ValueError("active_parameters exceeds total_parameters")
        return self


def load_model_cost(path: str | Path, team: str) -> ModelCost:
    """Load a team's model-card cost data (``.json`` or YAML, bounded); errors name the key and line."""
    p = Path(path)
    if p.suffix == ".json":
        data, lines = load_json(p, MAX_CARD_BYTES), {}
    else:
        data, lines = load_yaml(p, MAX_CARD_BYTES)
    if not isinstance(data, dict):
        raise EvidenceError("not a mapping", file=p, expected="keys model, active_parameters, total_parameters")
    if "team" in data:
        # the team is who submitted the file (the round's teams.yaml), never what the file says
        raise EvidenceError(f"the card names a team ({str(data['team'])[:64]!r})", file=p, line=line_for(lines, ("team",)),
                            place="team", expected="no 'team' key: the round knows whose card this is")
    try:
        return ModelCost.model_validate({**data, "team": team})
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(x for x in err["loc"])
        raise EvidenceError(err["msg"].removeprefix("Value error, "), file=p, line=line_for(lines, loc), place=".".join(map(str, loc)) or None,
                            expected="model, active_parameters (> 0), total_parameters (>= active), "
                                     "optional inference_cost {value > 0, unit}") from None


class CostRow(BaseModel):
    """One team's points and their ratios to size and cost."""

    model_config = ConfigDict(frozen=True)

    team: str
    model: str
    points: float
    active_billions: float
    total_billions: float
    points_per_billion_active: float
    inference_cost: float | None
    cost_unit: str | None
    points_per_cost: float | None


class CostEfficiency(BaseModel):
    """Cost-efficiency rows for every team, with flags."""

    model_config = ConfigDict(frozen=True)

    points_label: str
    rows: tuple[CostRow, ...]
    flags: tuple[Finding, ...]  # codes cost_*

    def table(self) -> pd.DataFrame:
        """One row per team."""
        return pd.DataFrame([r.model_dump() for r in self.rows])

    def to_summary(self) -> dict[str, Any]:
        """JSON-able summary (ratios rounded to 4 decimals)."""
        return {
            "points_label": self.points_label,
            "rows": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.model_dump().items()}
                     for r in self.rows],
            "flags": [f.model_dump(mode="json") for f in self.flags],
        }


def cost_efficiency(
    costs: Sequence[ModelCost], points: Mapping[str, float], *, points_label: str = "points"
) -> CostEfficiency:
    """Points per billion active parameters and per unit of declared cost, one row per team (sorted).

    ``points`` maps team -> the points being related to cost (e.g. benchmark points). Every team must have
    both a card and points; a team twice is an error.
    """
    by_team: dict[str, ModelCost] = {}
    for c in costs:
        if c.team in by_team:
            raise EvidenceError(f"two model cards for team {c.team}", expected="one per team")
        by_team[c.team] = c
    if set(by_team) != set(points):
        raise EvidenceError(f"teams with cards ({', '.join(sorted(by_team))}) differ from teams with points "
                            f"({', '.join(sorted(points))})", expected="the same teams")
    bad = sorted(t for t, v in points.items() if not math.isfinite(v))
    if bad:
        raise EvidenceError(f"points not finite for {', '.join(bad)}", expected="finite numbers")
    rows = []
    for team in sorted(by_team):
        c, pts = by_team[team], float(points[team])
        active = c.active_parameters / 1e9
        cost = c.inference_cost
        rows.append(CostRow(team=team, model=c.model, points=pts, active_billions=active,
                            total_billions=c.total_parameters / 1e9, points_per_billion_active=pts / active,
                            inference_cost=cost.value if cost else None, cost_unit=cost.unit if cost else None,
                            points_per_cost=pts / cost.value if cost else None))
    flags = [Finding(code="cost_undeclared", params={"team": r.team}) for r in rows if r.inference_cost is None]
    units = sorted({r.cost_unit for r in rows if r.cost_unit})
    if len(units) > 1:
        flags.append(Finding(code="cost_units", params={"units": units}))
    return CostEfficiency(points_label=points_label, rows=tuple(rows), flags=tuple(flags))


# the points a cost table is about (its data says which), as a chart's axis says them
POINTS_LABELS = {"benchmark points": "chart_bench_points", "points": "chart_points"}


def cost_chart(result: CostEfficiency, lang: str = "ko", names: Mapping[str, str] | None = None) -> alt.TopLevelMixin:
    """Points against active parameters (log axis, plain-number ticks), one dot per team labelled with its name
    (``names``: team id -> name; the id where none is given). The labels name the dots, so there is no legend."""
    alt = altair()
    data = result.table()
    data["label"] = [(names or {}).get(t, t) for t in data["team"]]
    key = POINTS_LABELS.get(result.points_label)
    base = alt.Chart().encode(
        x=alt.X("active_billions:Q", scale=alt.Scale(type="log"), title=msg("chart_active_params", lang),
                axis=alt.Axis(format=",.1~f")),  # "10", not the log scale's default "1e+1"
        y=alt.Y("points:Q", title=msg(key, lang) if key else result.points_label, axis=alt.Axis(format=",.1~f")),
    )
    dots = base.mark_point(filled=True, size=80, color="#1f4e8c").encode(
        tooltip=["label", "model", "points", "active_billions", "points_per_billion_active", "points_per_cost"])
    text = base.mark_text(align="left", dx=7).encode(text="label:N")
    return style(alt.layer(dots, text, data=data).properties(title=msg("chart_cost_title", lang), width=360, height=260))
