"""The layering of docs/architecture.md, enforced: a module imports only from its own layer or below."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import workbench
from workbench._compat import OLD_PATHS

PKG = Path(workbench.__file__).parent

# lowest first; docs/architecture.md draws the same order. A module's layer is its subpackage (folder); the
# folders of one layer do not import each other.
LAYERS: dict[str, tuple[str, ...]] = {
    "core": ("core",),          # errors, files, signing, words, templates, drawing: no domain knowledge
    "model": ("model",),        # rubric, scheme, sheet, the Round as loaded
    "evidence": ("evidence",),  # team-evidence readers and a team's dossier
    "round": ("round",),        # the round's signed files: ledger, authority, lifecycle, sheets in, tlog
    "run": ("run",),            # executor, kernels, batches of notebooks
    "publish": ("publish",),    # statistics, the report, its wording and verify page
    "audit": ("audit",),
    "notebook": ("notebook",),  # the reviewer's UI: nothing below imports it
    "hub": ("hub",),
    "interface": ("cli", "demo"),
}
RANK = {m: i for i, mods in enumerate(LAYERS.values()) for m in mods}
# top-level modules outside every layer: the package's lazy re-exports, ``python -m workbench``, and the
# finder that keeps the flat paths of earlier releases importable
FACADES = {"__init__", "__main__", "_compat"}


def _top(module: str) -> str:
    """``workbench.evidence.weights`` -> ``evidence``; ``workbench.round`` -> ``round``; ``workbench`` -> ``__init__``."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        if "data" in rel.parts[1:2]:
            continue  # shipped data (scripts in the demo's inputs), not the package's code
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every workbench module ``name`` imports, at any depth of the file (function-level imports too)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    known = _modules()
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "workbench" or target.startswith("workbench."):
                # "from . import ledger" imports the submodule ledger (or an old path's alias)
                subs = [f"{target}.{a.name}" for a in node.names
                        if f"{target}.{a.name}" in known or f"{target}.{a.name}" in OLD_PATHS]
                out.update(subs or [target])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("workbench"))
    return out


def upward_imports() -> list[str]:
    """``importer -> imported`` for every import from a higher layer, or of a module that does not exist in
    the tree (an old flat path such as ``workbench.ledger``): the test's verdict, callable for tools."""
    bad = []
    known = _modules()
    for name, path in known.items():
        me = _top(name)
        if me in FACADES:
            continue
        for target in sorted(_imports(name, path)):
            if target not in known:
                bad.append(f"{name} imports {target}, which is not a module of the tree (an old path?)")
                continue
            there = _top(target)
            if there in FACADES:
                continue  # "from .. import __version__": the package's own metadata
            if RANK.get(there, -1) > RANK.get(me, -1):
                bad.append(f"{name} ({_layer(me)}) imports {target} ({_layer(there)})")
    return bad


def _layer(top: str) -> str:
    return next((k for k, v in LAYERS.items() if top in v), "none")


def test_every_module_sits_in_a_layer_folder():
    mods = _modules()
    loose = sorted(m for m in mods if m.count(".") == 1 and _top(m) not in FACADES and _top(m) not in RANK)
    assert not loose, f"a module of workbench/ sits outside every subpackage; move it into one: {loose}"
    missing = sorted({_top(m) for m in mods} - set(RANK) - FACADES)
    assert not missing, f"place these subpackages in LAYERS and docs/architecture.md: {missing}"
    folders = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert folders == set(RANK), "LAYERS names exactly the subpackages of workbench/"


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_the_graph_check_sees_an_upward_import_and_an_old_path(tmp_path, monkeypatch):
    # the checker itself must be able to fail: feed it a model module that imports the audit, and one that
    # imports a flat path of an earlier release
    fake = tmp_path / "workbench"
    for d in ("model", "audit"):
        (fake / d).mkdir(parents=True)
        (fake / d / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "model" / "rubric.py").write_text("def f():\n    from ..audit.checks import audit_round\n")
    (fake / "model" / "sheet.py").write_text("from .. import ledger\n")
    (fake / "audit" / "checks.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "PKG", fake)
    assert upward_imports() == [
        "workbench.model.rubric (model) imports workbench.audit.checks (audit)",
        "workbench.model.sheet imports workbench.ledger, which is not a module of the tree (an old path?)",
    ]


def test_architecture_doc_draws_every_subpackage_and_module():
    doc = (PKG.parent / "docs" / "architecture.md").read_text()
    for folders in LAYERS.values():
        for folder in folders:
            assert f"{folder}/" in doc, f"docs/architecture.md does not draw {folder}/"
    for name in _modules():
        if name.count(".") == 2 and not name.rsplit(".", 1)[1].startswith("_"):
            assert f"{name.rsplit('.', 1)[1]}.py" in doc, f"docs/architecture.md does not list {name}"


def test_old_flat_paths_are_the_new_modules():
    """An old round's notebook (``from workbench.review import open_review``), a coordinator's notebook copied
    into a hub home, a user's script: the flat paths of earlier releases import the very module at its new
    place, and a package that took an old module's name still serves that module's names."""
    import importlib

    for old, new in OLD_PATHS.items():
        assert importlib.import_module(old) is importlib.import_module(new), old
    from workbench.audit import audit_round, write_audit
    from workbench.model.round import EVIDENCE_KEYS as new_keys
    from workbench.round import EVIDENCE_KEYS, load_round

    assert EVIDENCE_KEYS is new_keys and load_round.__module__ == "workbench.model.round"
    assert audit_round.__module__.startswith("workbench.audit.") and callable(write_audit)
    with pytest.raises(ImportError):
        importlib.import_module("workbench.no_such_module")


PACKAGES = ["workbench"] + [f"workbench.{f}" for fs in LAYERS.values() for f in fs]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_api_is_curated_and_resolves(name):
    import importlib

    package = importlib.import_module(name)
    api = package._API
    assert sorted(n for n in package.__all__ if n != "__version__") == sorted(api)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def test_private_helpers_are_not_public():
    # a private module (named _...) never appears in a public API
    import importlib

    for name in PACKAGES:
        package = importlib.import_module(name)
        assert not any(m.startswith("_") for m in package._API.values()), name


def test_altair_is_imported_without_the_iri_grammars_and_they_stay_importable():
    """Charts import altair through charts.altair(), which keeps jsonschema from compiling rfc3987_syntax's
    grammars (seconds per notebook) yet leaves the module importable for anyone who asks for it later."""
    import subprocess

    code = (
        "import sys\n"
        "from workbench.evidence.users import strengths_chart\n"
        "from workbench.core.charts import altair, to_svg\n"
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
    """``import workbench.review`` (the notebook's first cell, an old path kept) must not pay ml_dtypes' import
    (0.7-1.4 s); the dtype table still knows every
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
