"""A plain (non-editable) install works on its own: build the wheel, install it into a fresh virtual
environment and, from a folder outside the checkout, run the demo and a batch with the installed package.

The fresh environment gets its dependencies from the test's own environment through a ``.pth`` line (no
download); only ``workbench`` itself comes from the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


@pytest.mark.xdist_group("demo")
@pytest.mark.timeout(1500)  # a wheel build and install, then both demo rounds: minutes on 2 busy cores
def test_wheel_installs_and_runs_the_demo_and_a_batch_outside_the_checkout(tmp_path):
    t0 = time.monotonic()
    # build from a copy, so the build's egg-info and build/ folders never land in the checkout
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "workbench", src / "workbench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)], cwd=tmp_path)
    (wheel,) = dist.glob("reviewer_workbench-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_dependencies.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("WORKBENCH_")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", JUPYTER_DATA_DIR=str(tmp_path / "jupyter"))

    where = _run([str(py), "-c", "import workbench; print(workbench.__file__)"], cwd=work, env=env).strip()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT), where

    out = _run([str(venv / "bin" / "workbench"), "demo", "--out", "demo"], cwd=work, env=env, timeout=1200)
    assert "batch: 25 of 25 notebooks done" in out and "collected: 270 accepted, 0 rejected" in out, out
    assert (work / "demo" / "round" / "report" / "index.html").is_file()

    # a batch with the installed package's own review notebook (no --notebook): redo one assignment
    (work / "demo" / "round" / "notebooks" / "expert-01" / "team-aurora.status.json").unlink()
    # the demo's user evaluators answered in a survey tool: the batch runs the experts' notebooks only
    out = _run([str(venv / "bin" / "workbench"), "batch", "demo/round", "--keys", "demo/keys", "--lang", "en",
                "--role", "expert"], cwd=work, env=env)
    assert "1 done, 24 skipped (done before), 0 failed" in out, out
    assert not (work / "demo" / "round" / "notebooks" / "expert-01" / "team-aurora.failed.ipynb").exists()
    print(f"wheel build + install + demo + batch: {time.monotonic() - t0:.1f}s")
