"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUBRICS = ROOT / "rubrics"


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
