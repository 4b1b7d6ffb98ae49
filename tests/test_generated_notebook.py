"""The notebooks `workbench batch` generates (``<round>/notebooks/<reviewer>/<team>.ipynb``) work where they are
opened, sign only when the batch asks, and show their charts as offline SVG.

The round is made once by the real review notebook through ``run_batch`` and then moved, so its first path no
longer exists: a generated notebook that remembered a machine path would fail. Each test runs a copy at its
own path, started from a folder that is not the notebook's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from roundkit import EXPERT, ROOT, TEAM, make_round

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("generated-notebook")]

GENERATED = Path("notebooks") / EXPERT / f"{TEAM}.ipynb"
SHEETS = Path("sheets") / EXPERT
HANGUL = re.compile("[\uac00-\ud7a3]")


@pytest.fixture(scope="module")
def stash(tmp_path_factory) -> Path:
    """A frozen round with one assignment (expert-01 on team-aurora, the demo's evidence) after a batch with
    answers and keys: the batch signed v1 and left the generated notebook. Moved away from where it was made."""
    from workbench.core.signing import load_private_key
    from workbench.round.lifecycle import freeze
    from workbench.run.batch import run_batch

    base = tmp_path_factory.mktemp("made")
    kit = make_round(base, demo_evidence=True)
    (kit.round_dir / "assignments.yaml").write_text(yaml.safe_dump(
        {"assignments": [{"reviewer": EXPERT, "team": TEAM}]}))
    freeze(kit.round_dir, load_private_key(kit.keys / "coordinator.key"), "coordinator")
    [res] = run_batch(kit.round_dir, keys_dir=kit.keys, jobs=1, progress=False)  # the shipped notebook, in Korean
    assert res.state == "done", res.error
    assert [p.name for p in (kit.round_dir / SHEETS).iterdir()] == [f"{TEAM}.v1.dsse.json"]  # batch still signs
    stash = tmp_path_factory.mktemp("stash") / "round"
    shutil.move(kit.round_dir, stash)
    return stash


def _copy(stash: Path, dst: Path) -> Path:
    shutil.copytree(stash, dst)
    return dst


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}  # the kernel imports this checkout's workbench


def _errors(nb) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def test_generated_notebook_names_the_round_relative_to_itself(stash):
    nb = nbformat.read(stash / GENERATED, as_version=4)
    [injected] = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'round_dir = "../.."' in injected.source
    assert str(stash.parent) not in injected.source


def test_nbconvert_from_elsewhere_runs_a_moved_generated_notebook_signs_nothing_and_shows_offline_svg(stash, tmp_path):
    rd = _copy(stash, tmp_path / "moved" / "round-copy")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", str(rd / GENERATED),
                        "--output-dir", str(elsewhere), "--ExecutePreprocessor.timeout=600"],
                       cwd=elsewhere, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = nbformat.read(elsewhere / f"{TEAM}.ipynb", as_version=4)
    assert _errors(nb) == []
    # no person clicked: the answers file and the key are in the parameters, yet nothing is signed or submitted
    assert sorted(p.name for p in (rd / SHEETS).iterdir()) == [f"{TEAM}.v1.dsse.json"]
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    # the form is there, filled from the answers, waiting for its Sign and submit button
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    # every chart is SVG made in the kernel, with its Korean labels as text; no output loads a script
    svgs = [o["data"]["image/svg+xml"] for o in outputs if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 3, "results against targets, provenance per layer, training curve"
    assert all(s.lstrip().startswith("<svg") and HANGUL.search(s) for s in svgs)
    for o in outputs:
        for mime, value in o.get("data", {}).items():
            text = value if isinstance(value, str) else json.dumps(value)
            assert "cdn.jsdelivr" not in text and "<script" not in text, mime
            assert "vegalite" not in mime and "vega" not in mime, mime


def test_nbconvert_html_export_carries_the_charts_inline(stash, tmp_path):
    rd = _copy(stash, tmp_path / "round")
    out = tmp_path / "html"
    r = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--execute", str(rd / GENERATED),
                        "--output-dir", str(out), "--ExecutePreprocessor.timeout=600"],
                       cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    html = (out / f"{TEAM}.html").read_text(encoding="utf-8")
    # nbconvert's page template loads its own scripts (require.js, MathJax); none is a chart's
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
    assert not [s for s in scripts if "vega" in s or "jsdelivr" in s], scripts
    assert "vegaEmbed" not in html and "cdn.jsdelivr.net/npm/vega" not in html
    # each chart is an SVG picture inside the page (base64 in an <img>), labels in Korean
    charts = [base64.b64decode(m).decode() for m in re.findall(
        r'data-mime-type="image/svg\+xml"[^>]*>\s*<img[^>]*src="data:image/svg\+xml;base64,([^"]+)"', html)]
    assert len(charts) == 3 and all('class="marks"' in c and HANGUL.search(c) for c in charts)
    assert sorted(p.name for p in (rd / SHEETS).iterdir()) == [f"{TEAM}.v1.dsse.json"]


def test_papermill_from_the_round_folder_finds_the_round_and_signs_nothing(stash, tmp_path, monkeypatch):
    import papermill as pm

    rd = _copy(stash, tmp_path / "round")
    monkeypatch.chdir(rd)  # the kernel starts where papermill runs: the round, not the notebook's folder
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pm.execute_notebook(str(GENERATED), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False)
    assert _errors(nbformat.read(tmp_path / "out.ipynb", as_version=4)) == []
    assert sorted(p.name for p in (rd / SHEETS).iterdir()) == [f"{TEAM}.v1.dsse.json"]
