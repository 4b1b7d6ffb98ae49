"""Entry points of installed packages, read through one checked loader (workbench.core.registry)."""

from __future__ import annotations

import pytest

import workbench.core.registry as registry
import workbench.model.formulas as F
from workbench.core.errors import RubricError
from workbench.model.formulas import Formula

SQUARE = Formula("square_ratio", "the achievement ratio, squared", "math:pow")


class _EP:
    def __init__(self, name: str, obj: object) -> None:
        self.name, self.value, self._obj = name, f"plugin:{name}", obj

    def load(self) -> object:
        return self._obj


@pytest.fixture
def entry_points(monkeypatch):
    """Set what the installed packages' entry points of one group are, for this test only."""
    def use(group: str, eps: list[_EP]) -> None:
        monkeypatch.setattr(registry, "entry_points", lambda group=None, _mine=group: eps if group == _mine else [])
    monkeypatch.setattr(F, "_from_entry_points", None)
    return use


def test_a_formula_of_an_installed_package_is_found_by_name(entry_points):
    entry_points(F.ENTRY_POINT_GROUP, [_EP("square_ratio", SQUARE)])
    assert F.get_formula("square_ratio") is SQUARE
    assert "achievement_ratio" in F.formulas()  # the built-ins stay


@pytest.mark.parametrize("name, obj", [("square_ratio", "not a formula"), ("cube_ratio", SQUARE)],
                         ids=["not a Formula", "named otherwise"])
def test_a_broken_entry_point_is_one_error_naming_it(entry_points, name, obj):
    entry_points(F.ENTRY_POINT_GROUP, [_EP(name, obj)])
    with pytest.raises(RubricError, match=f"entry point {name} = plugin:{name} of {F.ENTRY_POINT_GROUP} is not a "
                                          f"Formula named '{name}'") as e:
        F.formulas()
    assert e.value.expected == "workbench.model.formulas.Formula(name=...)"


def test_a_built_in_formula_cannot_be_replaced_by_an_entry_point(entry_points):
    fake = Formula("achievement_ratio", "something else", "math:pow")
    entry_points(F.ENTRY_POINT_GROUP, [_EP("achievement_ratio", fake)])
    assert F.get_formula("achievement_ratio") is not fake
