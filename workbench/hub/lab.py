"""``workbench lab``: JupyterLab started on a round folder, the way a reviewer or coordinator opens it.

The commands ``make demo`` printed failed when copied into a fresh shell: ``jupyter`` was not on PATH outside
the activated ``.venv``, and as root JupyterLab refuses to start without ``--allow-root``. This starts the
JupyterLab of the Python running the workbench (so the venv's, whatever PATH says), rooted at the round folder,
opening a notebook when one is named, with ``--allow-root`` only when running as root, and with JupyterLab's
news prompt off (it covered the form at every start and fetches from the network).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..core.errors import WorkbenchError

__all__ = ["lab_command"]


def lab_command(round_dir: str | Path, notebook: str | Path | None = None, *, port: int | None = None,
                browser: bool | None = None, ip: str = "127.0.0.1") -> list[str]:
    """The argv that starts JupyterLab on ``round_dir`` (opening ``notebook``, a path inside it, if given).

    ``browser=None`` opens a browser only where there is a display. Raises :class:`WorkbenchError` when the
    round folder or the notebook does not exist, or the notebook lies outside the round folder.
    """
    rd = Path(round_dir).resolve()
    if not rd.is_dir():
        raise WorkbenchError("round folder not found", file=rd, expected="a round folder (workbench round init)")
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={rd}", f"--ServerApp.ip={ip}",
            "--LabApp.news_url=None"]
    if notebook is not None:
        nb = Path(notebook)
        nb = (nb if nb.is_absolute() else Path.cwd() / nb).resolve()
        if not nb.is_file():
            raise WorkbenchError("notebook not found", file=nb, expected="a notebook in the round folder")
        try:
            rel = nb.relative_to(rd)
        except ValueError:
            raise WorkbenchError("the notebook is outside the round folder", file=nb,
                                 expected=f"a notebook under {rd}") from None
        argv.append(f"--ServerApp.default_url=/lab/tree/{rel.as_posix()}")
    if port is not None:
        argv.append(f"--ServerApp.port={port}")
    if browser is None:
        browser = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin")
    if not browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root without it; the workbench's own machines run as root
    return argv
