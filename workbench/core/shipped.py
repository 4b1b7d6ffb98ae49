"""Files shipped with the package, found in an installed wheel and in a source checkout alike.

The review notebook, the rubrics (and their JSON Schemas) and the demo's and re-challenge's inputs have one copy:
the top-level ``notebooks/review.ipynb``, ``rubrics/``, ``data/demo/`` and ``data/rechallenge/`` of the
checkout. The wheel places them under ``workbench/data/`` at build time (``pyproject.toml``,
``[tool.hatch.build.targets.wheel.force-include]``, which lists the same pairs as :data:`SOURCES`); files that
only the package uses (the benchmark scheme, the accelerators table, JupyterLab settings) live in
``workbench/data/`` itself. :func:`shipped_path` looks in the installed package first, then in the checkout.

Public API: :func:`shipped_path`, :func:`review_notebook`, :func:`rubrics_dir`, :func:`demo_data`,
:func:`rechallenge_data`, :data:`SOURCES`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import WorkbenchError

__all__ = ["SOURCES", "demo_data", "rechallenge_data", "review_notebook", "rubrics_dir", "shipped_path"]

# where the wheel puts it (under workbench/data/) -> its one copy in a source checkout
SOURCES = {"notebooks/review.ipynb": "notebooks/review.ipynb", "rubrics": "rubrics", "demo": "data/demo",
           "rechallenge": "data/rechallenge"}
_CHECKOUT = Path(__file__).resolve().parents[2]  # workbench/core/shipped.py -> the checkout's root

_cleanup = contextlib.ExitStack()
atexit.register(_cleanup.close)


def _copy_tree(t: Traversable, dest: Path) -> None:
    if t.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        for child in t.iterdir():
            _copy_tree(child, dest / child.name)
    else:
        dest.write_bytes(t.read_bytes())


def shipped_path(rel: str) -> Path:
    """A file system path for shipped data ``workbench/data/<rel>`` (a file or a folder).

    In an installed wheel that is the package's file; in a source checkout (an editable install, or the
    folder on ``sys.path``) the data named by :data:`SOURCES` is its top-level copy. From a zipped package the
    data is extracted once to a temporary folder removed at exit.
    """
    t = files("workbench").joinpath("data", *rel.split("/"))
    if isinstance(t, Path):
        if t.exists():
            return t
        head = next((k for k in SOURCES if rel == k or rel.startswith(k + "/")), None)
        if head is not None:  # a checkout: the one copy at the top
            return _CHECKOUT.joinpath(SOURCES[head], *rel[len(head):].split("/")[1:])
        return t
    if not t.is_dir():
        return _cleanup.enter_context(as_file(t))
    tmp = Path(_cleanup.enter_context(tempfile.TemporaryDirectory(prefix="workbench-data-")))
    _copy_tree(t, tmp / t.name)
    return tmp / t.name


def _from_env(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value) if value else None


def review_notebook() -> Path:
    """The review notebook: ``$WORKBENCH_NOTEBOOK``, else the one shipped in the package."""
    return _from_env("WORKBENCH_NOTEBOOK") or shipped_path("notebooks/review.ipynb")


def rubrics_dir() -> Path:
    """The rubrics folder: ``$WORKBENCH_RUBRICS``, else the one shipped in the package."""
    d = _from_env("WORKBENCH_RUBRICS") or shipped_path("rubrics")
    if not d.is_dir():
        raise WorkbenchError("rubrics folder not found", file=d, expected="set WORKBENCH_RUBRICS to a rubrics folder")
    return d


def demo_data() -> Path:
    """The demo round's inputs: ``$WORKBENCH_DEMO_DATA``, else the ones shipped in the package."""
    d = _from_env("WORKBENCH_DEMO_DATA") or shipped_path("demo")
    if not (d / "teams.yaml").is_file():
        raise WorkbenchError("demo data not found", file=d,
                             expected="a folder with teams.yaml (python data/make_demo.py) or WORKBENCH_DEMO_DATA")
    return d



def rechallenge_data() -> Path:
    """The example re-challenge round's inputs (rubrics, teams, references, evidence, committee answers)."""
    d = shipped_path("rechallenge")
    if not (d / "teams.yaml").is_file():
        raise WorkbenchError("re-challenge data not found", file=d, expected="a folder with teams.yaml (python data/make_demo.py)")
    return d
