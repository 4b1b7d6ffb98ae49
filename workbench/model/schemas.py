"""JSON Schemas of the files the workbench reads and writes, generated from their models.

Each is shipped as ``rubrics/<name>.schema.json`` (beside the rubric format's) so that a reader without the
workbench can validate a file; a test keeps the shipped files equal to these. ``workbench schema NAME``
prints one.

- ``rubric``: a rubric YAML file (:class:`workbench.model.rubric.Rubric`);
- ``sheet``: a score sheet, the payload of ``sheets/<reviewer>/<team>.v<N>.dsse.json``
  (:class:`workbench.model.sheet.ScoreSheet`);
- ``report``: the payload of ``report/report.dsse.json`` (:class:`workbench.publish.aggregate.SignedReport`);
- ``audit``: ``audit/audit.json`` (:class:`workbench.audit.checks.AuditResult`);
- ``status``: a batch's ``notebooks/<reviewer>/<team>.status.json`` (:class:`workbench.run.batch.TaskResult`);
- ``failure``: why a notebook failed (:class:`workbench.run.batch.Failure`, in a status file);
- ``problem``: a problem with an input file (:class:`workbench.core.errors.Problem`, a dossier's ``problems``);
- ``rules``: ``rules.yaml``, the payload the freeze signs (:class:`workbench.model.round.Rules`);
- ``round-status``: ``workbench round status --json`` (:class:`workbench.round.lifecycle.RoundStatus`);
- ``ledger-entry``: one line of ``ledger.jsonl`` (:class:`workbench.round.ledger.Entry`);
- ``checkpoint``: a checkpoint file as data, either format (:class:`workbench.round.checkpoint.CheckpointView`, what
  ``workbench tlog show`` prints; the file itself is a C2SP signed note);
- ``receipt``: a reviewer's ``receipts/<reviewer>/<team>.v<N>.json`` (:class:`workbench.round.receipt.Receipt`);
- ``receipt-check``: what ``workbench verify-receipt --json`` proved (:class:`workbench.round.receipt.ReceiptCheck`);
- ``inclusion-proof``, ``consistency-proof``: ``workbench tlog prove-*`` output, a report's ``inclusion.json``,
  ``checkpoints/<size>.from-<old>.json`` (:class:`workbench.round.tlog.InclusionProof`, ``ConsistencyProof``);
- ``keys``: a report's ``keys.json`` (:class:`workbench.publish.verifypage.KeysFile`).

Inputs are described as they are read (validation), outputs as they are written (serialization: derived
fields such as an audit's ``clean`` and ``counts`` included).

Public API: :data:`SCHEMAS`, :func:`json_schema`, :func:`schema_text`, :func:`shipped_path`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Literal

from ..core.errors import WorkbenchError

__all__ = ["SCHEMAS", "json_schema", "schema_text", "shipped_path"]

# name -> (module, model, mode)
SCHEMAS: dict[str, tuple[str, str, Literal["validation", "serialization"]]] = {
    "rubric": ("workbench.model.rubric", "Rubric", "validation"),
    "sheet": ("workbench.model.sheet", "ScoreSheet", "validation"),
    "report": ("workbench.publish.aggregate", "SignedReport", "serialization"),
    "audit": ("workbench.audit", "AuditResult", "serialization"),
    "status": ("workbench.run.batch", "TaskResult", "serialization"),
    "failure": ("workbench.run.batch", "Failure", "serialization"),
    "problem": ("workbench.core.errors", "Problem", "serialization"),
    "rules": ("workbench.round", "Rules", "validation"),
    "round-status": ("workbench.round.lifecycle", "RoundStatus", "serialization"),
    "ledger-entry": ("workbench.round.ledger", "Entry", "serialization"),
    "checkpoint": ("workbench.round.checkpoint", "CheckpointView", "serialization"),
    "receipt": ("workbench.round.receipt", "Receipt", "serialization"),
    "receipt-check": ("workbench.round.receipt", "ReceiptCheck", "serialization"),
    "inclusion-proof": ("workbench.round.tlog", "InclusionProof", "serialization"),
    "consistency-proof": ("workbench.round.tlog", "ConsistencyProof", "serialization"),
    "keys": ("workbench.publish.verifypage", "KeysFile", "serialization"),
}


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``name`` (a key of :data:`SCHEMAS`)."""
    if name not in SCHEMAS:
        raise WorkbenchError(f"unknown schema '{name}'", expected="one of " + ", ".join(SCHEMAS))
    module, model, mode = SCHEMAS[name]
    if name == "rubric":  # the rubric module names its own schema (and `workbench rubric schema` prints it)
        from .rubric import json_schema as rubric_schema

        return rubric_schema()
    schema = getattr(importlib.import_module(module), model).model_json_schema(mode=mode)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://workbench.invalid/{name}.schema.json"
    return schema


def schema_text(name: str) -> str:
    """The schema as the shipped file holds it: sorted keys, two-space indent, UTF-8, a final newline."""
    return json.dumps(json_schema(name), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def shipped_path(name: str, root: str | Path | None = None) -> Path:
    """Where the schema is shipped: ``<name>.schema.json`` in the package's rubrics folder, or, with ``root``
    (a source checkout), in its top-level ``rubrics/`` copy."""
    if root is not None:
        return Path(root) / "rubrics" / f"{name}.schema.json"
    from ..core.shipped import shipped_path as package_path

    return package_path("rubrics") / f"{name}.schema.json"
