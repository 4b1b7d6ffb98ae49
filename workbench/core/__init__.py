"""The foundation every other subpackage stands on; it knows nothing of rounds, teams or reports.

- :mod:`.errors`: the typed errors (:class:`WorkbenchError` and its subclasses), each naming file, place, expected
- :mod:`.files`: bounded reads, YAML/JSON parsing with line numbers, hashes, atomic writes, output-path checks
- :mod:`.base`: the strict pydantic base model, safe text, timestamps, rounding, pydantic errors as problems
- :mod:`.signing`: Ed25519 keys and DSSE envelopes
- :mod:`.messages`, :mod:`.findings`: the message table (Korean and English) and flags as code + parameters
- :mod:`.templating`, :mod:`.charts`, :mod:`.tables`: Jinja templates, Altair charts, readable tables
- :mod:`.executor`: where work runs (processes, threads, in-process, or a dask cluster)
- :mod:`.shipped`: the files shipped with the package (rubrics, the review notebook, the demo's inputs)
"""

from __future__ import annotations

from ._lazy import lazy_api

# public name -> the submodule that defines it, imported on first use
_API = {
    "WorkbenchError": "errors", "sign_payload": "signing", "verify_envelope": "signing",
    "generate_keypair": "signing", "load_yaml": "files", "load_json": "files", "atomic_write_bytes":
    "files", "Model": "base", "shipped_path": "shipped",
}

__all__ = [
    "Model", "WorkbenchError", "atomic_write_bytes", "generate_keypair", "load_json", "load_yaml",
    "shipped_path", "sign_payload", "verify_envelope",
]

__getattr__, __dir__ = lazy_api(__name__, _API, globals())
