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


def _tree(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()} if d.is_dir() \
        else {"": d.read_bytes()}


def test_top_level_copies_mirror_the_package_data_byte_for_byte():
    """workbench/data/ is the source (a wheel ships it); the top-level folders of the design card mirror it."""
    from workbench.core.shipped import MIRRORS

    for packaged, mirror in MIRRORS.items():
        src, dst = ROOT / "workbench" / "data" / packaged, ROOT / mirror
        a, b = _tree(src), _tree(dst)
        assert sorted(a) == sorted(b), f"{mirror} lists other files than workbench/data/{packaged}"
        differ = sorted(k for k in a if a[k] != b[k])
        assert not differ, (f"{mirror} differs from workbench/data/{packaged} in {differ}: edit the package copy, "
                            f"then mirror it (rm -r {mirror} && cp -r workbench/data/{packaged} {mirror})")


def test_shipped_data_is_found_through_importlib_resources(monkeypatch):
    from workbench.demo.run import default_demo_data, default_rubrics_dir
    from workbench.run.batch import default_notebook

    for var in ("WORKBENCH_NOTEBOOK", "WORKBENCH_RUBRICS", "WORKBENCH_DEMO_DATA"):
        monkeypatch.delenv(var, raising=False)
    pkg = ROOT / "workbench" / "data"
    assert default_notebook() == pkg / "notebooks" / "review.ipynb"
    assert default_rubrics_dir() == pkg / "rubrics" and default_demo_data() == pkg / "demo"
    monkeypatch.setenv("WORKBENCH_NOTEBOOK", "/elsewhere/nb.ipynb")
    monkeypatch.setenv("WORKBENCH_RUBRICS", str(ROOT / "rubrics"))
    assert default_notebook().as_posix() == "/elsewhere/nb.ipynb" and default_rubrics_dir() == ROOT / "rubrics"
