"""The install metadata: pyproject.toml and environment.yml list the same runtime dependencies."""

from __future__ import annotations

import re
import tomllib

import yaml
from conftest import ROOT


def _name_spec(req: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    py_deps = dict(_name_spec(r) for r in pyproject["project"]["dependencies"])
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    conda_deps = dict(_name_spec(d) for d in conda if not d.startswith(("python", "pip")))
    assert conda_deps == py_deps, (
        f"only in pyproject: {sorted(set(py_deps) - set(conda_deps))}; "
        f"only in environment.yml: {sorted(set(conda_deps) - set(py_deps))}; "
        f"different floors: {sorted(k for k in py_deps if k in conda_deps and py_deps[k] != conda_deps[k])}"
    )
    assert any(d.startswith("python>=3.11") for d in conda)


def test_console_script_and_python_floor():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["workbench"] == "workbench.cli:main"
    assert pyproject["project"]["requires-python"] == ">=3.11"
    assert "torch" not in " ".join(pyproject["project"]["dependencies"])


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_the_wheel_places_the_one_copy_of_the_shipped_data_where_the_lookup_finds_it():
    """The top-level folders are the only copy; pyproject's force-include puts exactly them under workbench/data/
    in the wheel, and shipped_path maps the same pairs back to the checkout."""
    from workbench.core.shipped import SOURCES

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    force = cfg["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force == {src: f"workbench/data/{rel}" for rel, src in SOURCES.items()}
    for rel, src in SOURCES.items():
        assert (ROOT / src).exists(), src
        assert not (ROOT / "workbench" / "data" / rel).exists(), f"workbench/data/{rel} is a second copy of {src}"


def test_shipped_data_is_found_through_importlib_resources(monkeypatch):
    from workbench.core.shipped import rechallenge_data, shipped_path
    from workbench.demo.run import default_demo_data, default_rubrics_dir
    from workbench.run.batch import default_notebook

    for var in ("WORKBENCH_NOTEBOOK", "WORKBENCH_RUBRICS", "WORKBENCH_DEMO_DATA"):
        monkeypatch.delenv(var, raising=False)
    # a checkout: the top-level copies (an installed wheel: workbench/data/, tests/test_demo.py runs one)
    assert default_notebook() == ROOT / "notebooks" / "review.ipynb"
    assert default_rubrics_dir() == ROOT / "rubrics" and default_demo_data() == ROOT / "data" / "demo"
    assert shipped_path("rubrics/expert.yaml") == ROOT / "rubrics" / "expert.yaml"
    assert shipped_path("benchmark_sets.yaml") == ROOT / "workbench" / "data" / "benchmark_sets.yaml"
    assert rechallenge_data() == ROOT / "data" / "rechallenge"
    monkeypatch.setenv("WORKBENCH_NOTEBOOK", "/elsewhere/nb.ipynb")
    monkeypatch.setenv("WORKBENCH_RUBRICS", str(ROOT / "rubrics"))
    assert default_notebook().as_posix() == "/elsewhere/nb.ipynb" and default_rubrics_dir() == ROOT / "rubrics"
