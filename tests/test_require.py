"""conftest.require: a missing install skips a test locally but fails it under CI=true."""

from __future__ import annotations

import pytest
from conftest import require, require_module


@pytest.mark.parametrize("ci", ["", "false", "1"])
def test_outside_ci_a_missing_install_skips(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    require(True, "never shown")
    with pytest.raises(pytest.skip.Exception, match="^chromium is not installed$"):
        require(False, "chromium is not installed")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_for_the_workbench cannot be imported"):
        require_module("no_such_module_for_the_workbench")


@pytest.mark.parametrize("ci", ["true", "True", " true "])
def test_under_ci_a_missing_install_fails(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    require(True, "never shown")
    with pytest.raises(pytest.fail.Exception, match="^CI=true but chromium is not installed$"):
        require(False, "chromium is not installed")
    with pytest.raises(pytest.fail.Exception, match="^CI=true but the real model is missing$"):
        require_module("no_such_module_for_the_workbench", "the real model is missing")


def test_an_installed_module_is_returned(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert require_module("json").dumps([1]) == "[1]"
