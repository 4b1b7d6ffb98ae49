"""The layering of docs/architecture.md, enforced: a module imports only from its own layer or below."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import workbench
import workbench.evidence

PKG = Path(workbench.__file__).parent

# lowest first; docs/architecture.md draws the same table
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("_lazy", "errors", "files", "base", "quantities", "messages", "versions", "shipped", "templating", "signing", "rubric", "scheme",
             "sheet", "round", "charts", "executor", "kernels", "findings", "tables", "note"),
    "evidence": ("evidence",),
    "review": ("dossier", "dossier_cache", "panels", "drafts", "widgets", "submit", "review", "survey"),
    "coordination": ("authority", "lifecycle", "readiness", "userdata", "enrol", "assign", "ledger", "tlog", "checkpoint",
                     "batch", "collect", "refresh", "aggregate", "wording",
                     "hub",
                     "verifypage", "report"),
    "audit": ("audit",),
    "interface": ("schemas", "demo", "lab", "cli", "__main__"),
}
RANK = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
FACADES = {"__init__"}  # workbench/__init__.py re-exports from every layer, lazily


def _top(module: str) -> str:
    """``workbench.evidence.weights`` -> ``evidence``; ``workbench.round`` -> ``round``."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        out[".".join(rel.parts)] = p
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every workbench module ``name`` imports, at any depth of the file (function-level imports too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "workbench" or target.startswith("workbench."):
                # "from . import ledger" imports the submodule ledger
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in _modules()]
                out.update(subs or [target])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("workbench"))
    return out


def upward_imports() -> list[str]:
    """``importer -> imported`` for every import from a higher layer (the test's verdict, callable for tools)."""
    bad = []
    for name, path in _modules().items():
        me = _top(name)
        if me in FACADES:
            continue
        for target in sorted(_imports(name, path)):
            there = _top(target)
            if there in FACADES:
                continue  # "from . import __version__": the package's own metadata
            if RANK[there] > RANK[me]:
                bad.append(f"{name} ({_layer(me)}) imports {target} ({_layer(there)})")
    return bad


def _layer(top: str) -> str:
    return next(k for k, v in LAYERS.items() if top in v)


def test_every_module_has_a_layer():
    missing = sorted({_top(m) for m in _modules()} - set(RANK) - FACADES)
    assert not missing, f"place these modules in LAYERS and docs/architecture.md: {missing}"


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_the_graph_check_sees_an_upward_import(tmp_path, monkeypatch):
    # the checker itself must be able to fail: feed it a core module that imports the audit
    fake = tmp_path / "workbench"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "rubric.py").write_text("def f():\n    from .audit import audit_round\n")
    (fake / "audit.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    assert upward_imports() == ["workbench.rubric (core) imports workbench.audit (audit)"]


@pytest.mark.parametrize("package", [workbench, workbench.evidence])
def test_public_api_is_curated_and_resolves(package):
    api = package._API
    assert sorted(n for n in package.__all__ if n != "__version__") == sorted(api)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_private_helpers_are_not_public():
    # a private module (named _...) never appears in a public API
    for package in (workbench, workbench.evidence):
        assert not any(m.startswith("_") for m in package._API.values())


def test_altair_is_imported_without_the_iri_grammars_and_they_stay_importable():
    """Charts import altair through charts.altair(), which keeps jsonschema from compiling rfc3987_syntax's
    grammars (seconds per notebook) yet leaves the module importable for anyone who asks for it later."""
    import subprocess

    code = (
        "import sys\n"
        "from workbench.evidence.users import strengths_chart\n"
        "from workbench.charts import altair, to_svg\n"
        "alt = altair()\n"
        "assert 'jsonschema' in sys.modules and 'rfc3987_syntax' not in sys.modules, sorted(sys.modules)[:5]\n"
        "svg = to_svg(alt.Chart(alt.Data(values=[{'x': 1}])).mark_point().encode(x='x:Q'))\n"
        "assert svg.startswith('<svg'), svg[:40]\n"
        "import rfc3987_syntax\n"
        "assert sys.modules['rfc3987_syntax'] is not None\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_notebooks_first_cell_defers_ml_dtypes_until_a_bf16_lookup():
    """``import workbench.review`` must not pay ml_dtypes' import (0.7-1.4 s); the dtype table still knows every
    name without it, and imports it on the first bfloat16/float8 look-up."""
    import subprocess

    code = (
        "import sys\n"
        "import workbench.review\n"
        "from workbench.evidence._safetensors import DTYPES, ITEMSIZE\n"
        "assert 'ml_dtypes' not in sys.modules, 'imported eagerly'\n"
        "assert 'BF16' in DTYPES and 'F8_E4M3' in DTYPES and [1] not in DTYPES and 'X' not in DTYPES\n"
        "assert len(DTYPES) == len(list(DTYPES)) == len(ITEMSIZE) == 15\n"
        "assert DTYPES['F32'].itemsize == 4 and 'ml_dtypes' not in sys.modules\n"
        "import ml_dtypes\n"
        "assert DTYPES['BF16'] == ml_dtypes.bfloat16 and DTYPES['F8_E5M2'] == ml_dtypes.float8_e5m2\n"
        "assert all(DTYPES[k].itemsize == ITEMSIZE[k] for k in DTYPES)\n"
        "try:\n"
        "    DTYPES['X']\n"
        "except KeyError:\n"
        "    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
