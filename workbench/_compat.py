"""Private: the flat module paths of releases before the subpackages (``workbench.review``, ``workbench.batch``,
...) kept importable, each as the very module object at its new place.

Notebooks generated for existing rounds, the coordinator's and auditor's notebooks copied into hub homes, and
users' own scripts import the old paths; an audit re-runs old rounds' notebooks, so those paths must keep
working. A meta-path finder answers for exactly the names in :data:`OLD_PATHS` by importing the new module
and returning it, so ``workbench.review`` *is* ``workbench.notebook.review`` (monkeypatching one patches the
other) and nothing is imported until asked for. The package's own code uses the new paths
(tests/test_architecture.py checks that).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

# old module -> new module; old names that are now packages' (round, audit, hub, demo, cli) are not here:
# those packages re-export the old module's names themselves
OLD_PATHS: dict[str, str] = {
    "workbench.errors": "workbench.core.errors",
    "workbench.files": "workbench.core.files",
    "workbench.base": "workbench.core.base",
    "workbench.messages": "workbench.core.messages",
    "workbench.findings": "workbench.core.findings",
    "workbench.signing": "workbench.core.signing",
    "workbench.templating": "workbench.core.templating",
    "workbench.shipped": "workbench.core.shipped",
    "workbench.charts": "workbench.core.charts",
    "workbench.tables": "workbench.core.tables",
    "workbench.rubric": "workbench.model.rubric",
    "workbench.scheme": "workbench.model.scheme",
    "workbench.sheet": "workbench.model.sheet",
    "workbench.schemas": "workbench.model.schemas",
    "workbench.dossier": "workbench.evidence.dossier",
    "workbench.dossier_cache": "workbench.evidence.dossier_cache",
    "workbench.authority": "workbench.round.authority",
    "workbench.ledger": "workbench.round.ledger",
    "workbench.lifecycle": "workbench.round.lifecycle",
    "workbench.readiness": "workbench.round.readiness",
    "workbench.userdata": "workbench.round.userdata",
    "workbench.enrol": "workbench.round.enrol",
    "workbench.assign": "workbench.round.assign",
    "workbench.checkpoint": "workbench.round.checkpoint",
    "workbench.tlog": "workbench.round.tlog",
    "workbench.note": "workbench.round.note",
    "workbench.collect": "workbench.round.collect",
    "workbench.submit": "workbench.round.submit",
    "workbench.survey": "workbench.round.survey",
    "workbench.executor": "workbench.core.executor",
    "workbench.kernels": "workbench.run.kernels",
    "workbench.batch": "workbench.run.batch",
    "workbench.refresh": "workbench.run.refresh",
    "workbench.aggregate": "workbench.publish.aggregate",
    "workbench.report": "workbench.publish.report",
    "workbench.verifypage": "workbench.publish.verifypage",
    "workbench.wording": "workbench.publish.wording",
    "workbench.widgets": "workbench.notebook.widgets",
    "workbench.panels": "workbench.notebook.panels",
    "workbench.drafts": "workbench.notebook.drafts",
    "workbench.review": "workbench.notebook.review",
    "workbench.lab": "workbench.hub.lab",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module at its new path (the same object)."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib's signature
        if fullname not in OLD_PATHS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(OLD_PATHS[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the new module was executed when it was imported."""


def install() -> None:
    """Put the finder first on ``sys.meta_path``, once (importing the package calls this)."""
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before an editable install's finder, which knows the old files
