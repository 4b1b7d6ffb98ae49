"""Shared fixtures, and :func:`require` for tests that need an optional install."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUBRICS = ROOT / "rubrics"


def in_ci() -> bool:
    """True where CI runs the tests (CI sets ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require(condition: object, reason: str) -> None:
    """Skip the calling test unless ``condition`` holds; under ``CI=true`` fail instead of skipping.

    A developer without Chromium or the real model still gets a green run, but CI must run every test: a
    missing install there is a broken CI image, not a reason to pass.
    """
    __tracebackhide__ = True  # report the skip at the calling test, not here
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_module(name: str, reason: str | None = None) -> ModuleType:
    """Import ``name`` for the calling test, as :func:`require` would (skip locally, fail under ``CI=true``)."""
    __tracebackhide__ = True
    try:
        return importlib.import_module(name)
    except ImportError as e:
        require(False, reason or f"{name} cannot be imported ({e})")
        raise  # not reached: require skipped or failed


@pytest.fixture(scope="session")
def rubrics_dir() -> Path:
    return RUBRICS


@pytest.fixture(scope="session")
def expert_rubric():
    from workbench.rubric import load_rubric

    return load_rubric(RUBRICS / "expert.yaml")


@pytest.fixture(scope="session")
def user_rubric():
    from workbench.rubric import load_rubric

    return load_rubric(RUBRICS / "user.yaml")


@pytest.fixture(scope="session")
def benchmark_rubric():
    from workbench.rubric import load_rubric

    return load_rubric(RUBRICS / "benchmark.yaml")
