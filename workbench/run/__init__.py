"""Running notebooks: fresh kernels per notebook (on the executor of :mod:`workbench.core.executor`), a batch of
review notebooks, and the re-run of exactly the sheets whose evidence changed.

- :mod:`.kernels`, :mod:`.batch`, :mod:`.refresh`
"""

from __future__ import annotations

from ..core._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "run_batch": "batch", "summary_table": "batch",
}

__all__ = [
    "run_batch", "summary_table",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals())
