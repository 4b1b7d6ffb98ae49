"""Serving a round to its panel: JupyterHub accounts, permissions and configuration (:mod:`.jupyterhub`) and
JupyterLab on a round folder (:mod:`.lab`).

``workbench.hub`` was a module before these subpackages; its names are still served from here.
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "plan_round": "jupyterhub", "write_hub": "jupyterhub", "setup_accounts": "jupyterhub", "start_hub":
    "jupyterhub",
}

__all__ = [
    "plan_round", "setup_accounts", "start_hub", "write_hub",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals(), fallback="jupyterhub")
