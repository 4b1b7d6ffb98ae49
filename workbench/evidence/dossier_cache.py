"""A team's dossier computed once per round and checked wherever it is used: a content-addressed JSON artefact.

Every expert notebook of a team shows the same dossier (benchmarks, weights, provenance against the references,
training log, tokenizer, configs, licences); computing it in each of them repeats seconds of work per notebook.
The dossier is therefore stored as ``cache/dossier/<team>/<key>.json`` in the round folder, where ``key`` is the
SHA-256 of the canonical JSON of everything it depends on (:class:`CacheKey`):

- the cache format (:data:`SCHEMA_VERSION`) and the code that computes it (a hash of the workbench package's
  files, so an upgrade never shows a dossier computed by older code);
- the round's state as ``freeze`` signs it (rules, roster, teams with their declared facts and evidence paths,
  assignments, rubric hashes, the benchmark scheme);
- the seed;
- the path, size and SHA-256 of every file under ``evidence/<team>/`` and ``references/`` (links by target).

A notebook computes the key (hashing the files, which it would do anyway to record its inputs), loads the file
of that name when there is one, checks that it holds that key and the schema version, and uses it; otherwise it
builds the dossier and writes the file (atomically, under a lock, so two kernels starting together build once).
A changed input makes a new key: an old file is never shown for new evidence. ``workbench batch`` (and
``workbench evidence build ROUND``) writes every team's file before the notebooks run.

The file is a convenience, never an authority: it is JSON (never unpickled) validated into the same typed models,
and whoever can write the round folder can write it. The audit recomputes every dossier whose file matches the
round's current inputs and compares (:func:`check_cache`), and its ``--rerun`` notebooks ignore the cache
(:data:`CACHE_ENV` set to ``off``), so an edited file is reported, never trusted.

Public API: :data:`SCHEMA_VERSION`, :data:`CACHE_DIR`, :data:`CACHE_ENV`, :class:`CacheKey`, :func:`cache_key`,
:func:`dossier_to_json`, :func:`dossier_from_json`, :func:`cached_dossier`, :func:`build_cache`,
:class:`CacheCheck`, :func:`check_cache`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
from collections.abc import Collection
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict

from ..core.errors import EvidenceError, InputFileError, Problem, WorkbenchError
from ..core.files import (
    atomic_write_bytes,
    canonical_json,
    file_lock,
    parse_json,
    read_bounded,
    sha256_bytes,
    sha256_file,
)
from ..core.findings import Finding
from ..model.evidence_kinds import evidence_kinds
from ..model.round import PANEL_ROLES, Round, round_state, state_hash
from ..model.sheet import InputFile
from .benchmarks import ComputedPoints, ResultSet
from .config import ConfigEvidence
from .cost import ModelCost
from .dossier import Dossier, PointProblem, build_dossier
from .licences import LicenceEvidence
from .provenance import ProvenanceReport
from .tokenizer import TokenizerEvidence
from .training import TrainingEvidence

__all__ = ["CACHE_DIR", "CACHE_ENV", "CHARTS_DIR", "SCHEMA_VERSION", "CacheCheck", "CacheKey", "build_cache",
           "cache_key", "cached_dossier", "chart_file", "check_cache", "dossier_from_json", "dossier_to_json"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CACHE_DIR = "cache/dossier"
# the evidence charts the notebooks draw from a cached dossier (presentation only: no sheet records them)
CHARTS_DIR = "cache/charts"
# "off": build every dossier afresh, read and write no file (the audit's re-run sets it in its kernels)
CACHE_ENV = "WORKBENCH_DOSSIER_CACHE"
MAX_CACHE_BYTES = 256 * 1024 * 1024
MAX_KEY_FILES = 100_000

# the dossier's model-valued fields and their types (the rest are plain: team, seed; extra: other packages' kinds)
_PARTS: dict[str, type[BaseModel]] = {
    "results": ResultSet, "cost": ModelCost, "training": TrainingEvidence, "tokenizer": TokenizerEvidence,
    "config": ConfigEvidence, "provenance": ProvenanceReport, "licences": LicenceEvidence,
}
# notes are findings (codes note_*): as JSON, so that a dossier with a note can be written at all
_LISTS: dict[str, type[BaseModel]] = {"inputs": InputFile, "problems": Problem, "point_problems": PointProblem,
                                      "notes": Finding}


class CacheKey(BaseModel):
    """What a cached dossier depends on; its :attr:`key` (SHA-256 of the canonical JSON) names the file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    code_sha256: str
    state_sha256: str
    team: str
    seed: int
    files: dict[str, str]  # round-relative path -> "sha256:bytes" (or "link:target")

    @property
    def key(self) -> str:
        return sha256_bytes(canonical_json(self.model_dump(mode="json")))

    def records(self) -> dict[str, InputFile]:
        """The hashed regular files as sheet input records (path -> record), so they are not hashed again."""
        out = {}
        for path, v in self.files.items():
            if not v.startswith("link:"):
                digest, size = v.split(":")
                out[path] = InputFile(path=path, sha256=digest, bytes=int(size))
        return out


# the whole workbench package (this module is workbench/evidence/dossier_cache.py): a change of any module,
# not only an evidence reader, can change a dossier
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def tree_sha256(root: Path) -> str:
    """SHA-256 over every file under ``root`` (its path and bytes; ``__pycache__`` left out), in path order."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


@functools.cache
def _code_sha256() -> str:
    """SHA-256 over the workbench package's files (sources and data), computed once per process."""
    return tree_sha256(PACKAGE_ROOT)


def _hash_tree(rd: Path, folder: Path, out: dict[str, str]) -> None:
    """``out[path] = "sha256:bytes"`` for every file under ``folder`` (links: ``link:target``, never followed)."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        d = Path(dirpath)
        for name in sorted(filenames) + sorted(n for n in dirnames if (d / n).is_symlink()):
            p = d / name
            rel = p.relative_to(rd).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = f"{sha256_file(p)}:{p.stat().st_size}"
            if len(out) > MAX_KEY_FILES:
                raise EvidenceError(f"more than {MAX_KEY_FILES} files", file=folder, expected="fewer files")


def cache_key(r: Round, team_id: str, seed: int = 0) -> CacheKey:
    """The key of ``team_id``'s dossier in round ``r`` now: every input hashed (see the module docstring)."""
    files: dict[str, str] = {}
    for sub in (Path("evidence") / team_id, Path("references")):
        if (r.path / sub).is_dir():
            _hash_tree(r.path, r.path / sub, files)
    return CacheKey(code_sha256=_code_sha256(), state_sha256=state_hash(round_state(r)), team=team_id, seed=seed,
                    files=files)


def _json_part(part: Any) -> Any:
    return part.model_dump(mode="json") if isinstance(part, BaseModel) else part


def _part_from_json(key: str, data: Any) -> Any:
    """Another package's part, through its kind's ``model`` when it names one, else the JSON as stored."""
    kind = evidence_kinds().get(key)
    model = kind.load_model() if kind is not None else None
    return model.model_validate(data) if model is not None else data


def dossier_to_json(d: Dossier) -> dict[str, Any]:
    """The dossier as JSON-able data (every part through its typed model's JSON form)."""
    out: dict[str, Any] = {}
    for f in fields(d):
        v = getattr(d, f.name)
        if f.name in _PARTS:
            out[f.name] = None if v is None else v.model_dump(mode="json")
        elif f.name == "points":
            out[f.name] = {k: p.model_dump(mode="json") for k, p in sorted(v.items())}
        elif f.name in _LISTS:
            out[f.name] = [x.model_dump(mode="json") for x in v]
        elif f.name == "extra":  # other packages' kinds: left out when none (built-in dossiers keep their JSON)
            if v:
                out[f.name] = {k: _json_part(x) for k, x in sorted(v.items())}
        else:
            out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def dossier_from_json(data: Any, *, file: str | Path | None = None) -> Dossier:
    """The dossier :func:`dossier_to_json` wrote, validated into its typed models; :class:`EvidenceError` when
    anything does not validate (unknown or missing fields, wrong types)."""
    names = {f.name for f in fields(Dossier)}
    if not isinstance(data, dict) or not {"team", "seed"} <= set(data) or not set(data) <= names:
        raise EvidenceError("not a dossier", file=file, place="dossier", expected=f"an object with keys {sorted(names)}")
    try:
        kw: dict[str, Any] = {"team": str(data["team"]), "seed": int(data["seed"])}
        for name, model in _PARTS.items():
            if data.get(name) is not None:
                kw[name] = model.model_validate(data[name])
        kw["points"] = {str(k): ComputedPoints.model_validate(v) for k, v in (data.get("points") or {}).items()}
        for name, model in _LISTS.items():
            kw[name] = tuple(model.model_validate(x) for x in data.get(name) or ())
        kw["extra"] = {str(k): _part_from_json(str(k), v) for k, v in (data.get("extra") or {}).items()}
    except (pydantic.ValidationError, TypeError, ValueError, AttributeError) as e:
        raise EvidenceError(f"the dossier does not validate: {' '.join(str(e).split())[:300]}", file=file,
                            place="dossier", expected="a dossier written by this workbench version") from None
    return Dossier(**kw)


def _path(r: Round, key: CacheKey) -> Path:
    return r.path / CACHE_DIR / key.team / f"{key.key}.json"


def _read(p: Path, key: CacheKey) -> Dossier:
    """The dossier stored in ``p`` for ``key``; :class:`EvidenceError` when the file is not that."""
    data = parse_json(read_bounded(p, MAX_CACHE_BYTES), str(p))
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise EvidenceError("not a cached dossier of this schema version", file=p, place="schema_version",
                            expected=f"{SCHEMA_VERSION}")
    try:
        stored = CacheKey.model_validate(data.get("key_inputs"))
    except pydantic.ValidationError:
        raise EvidenceError("its key inputs do not validate", file=p, place="key_inputs",
                            expected="the key inputs of a cached dossier") from None
    if stored != key or data.get("key") != key.key:
        raise EvidenceError("it was computed from other inputs than its name says", file=p, place="key",
                            expected=key.key)
    d = dossier_from_json(data.get("dossier"), file=p)
    if d.team != key.team or d.seed != key.seed:
        raise EvidenceError("it is another team's or seed's dossier", file=p, place="dossier.team",
                            expected=f"{key.team}, seed {key.seed}")
    return d


def _write(r: Round, key: CacheKey, d: Dossier) -> Path | None:
    """Store ``d`` under ``key``; nothing when a file it read changed after the key was computed (the key would
    name other content than the dossier's)."""
    if any(key.files.get(f.path) != f"{f.sha256}:{f.bytes}" for f in d.inputs):
        log.warning("evidence of %s changed while its dossier was built: not cached", key.team)
        return None
    doc = {"schema_version": SCHEMA_VERSION, "key": key.key, "key_inputs": key.model_dump(mode="json"),
           "dossier": dossier_to_json(d)}
    return atomic_write_bytes(_path(r, key), canonical_json(doc), mode=0o640)


def cached_dossier(r: Round, team_id: str, *, seed: int = 0, key: CacheKey | None = None) -> Dossier:
    """``team_id``'s dossier: loaded from its cache file when one holds the current key, else built (by one
    process at a time: the others wait and then load it) and stored. A file that cannot be written (a
    read-only round) or read back is no error: the dossier is built here. With :data:`CACHE_ENV` set to
    ``off``, it is always built and nothing is read or written."""
    if os.environ.get(CACHE_ENV, "") == "off":
        return build_dossier(r, team_id, seed=seed)
    if r.team(team_id) is None:
        return build_dossier(r, team_id, seed=seed)  # raises the unknown-team error
    key = key or cache_key(r, team_id, seed)
    p = _path(r, key)
    if p.is_file():
        try:
            return _read(p, key)
        except (EvidenceError, InputFileError) as e:
            log.warning("cached dossier not used: %s", e)
    try:
        with file_lock(p.parent / ".lock"):
            if p.is_file():  # another kernel built it while this one waited
                try:
                    return _read(p, key)
                except (EvidenceError, InputFileError) as e:
                    log.warning("cached dossier not used: %s", e)
            d = build_dossier(r, team_id, seed=seed)
            _write(r, key, d)
            return d
    except (OSError, InputFileError) as e:  # no write access to the round (a reviewer's kernel on a hub)
        log.info("dossier of %s not cached: %s", team_id, e)
        return build_dossier(r, team_id, seed=seed)


def chart_file(r: Round, key: CacheKey, chart: str, lang: str) -> Path | None:
    """Where chart ``chart`` of the dossier of ``key`` in language ``lang`` is kept, drawn once for every
    notebook of the team (:class:`workbench.core.charts.PendingChart`); None with :data:`CACHE_ENV` set to ``off``.

    The name is the SHA-256 of what the picture depends on: the dossier's key (its inputs, the round's state
    and the workbench's code), the chart, the language and the renderer's version. Changed evidence or code
    names another file, so a picture of old evidence is never shown."""
    if os.environ.get(CACHE_ENV, "") == "off":
        return None
    try:
        renderer = importlib.metadata.version("vl-convert-python")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        renderer = "?"
    name = sha256_bytes(canonical_json({"dossier": key.key, "chart": chart, "lang": lang, "renderer": renderer}))
    return r.path / CHARTS_DIR / key.team / f"{name}.json"


def _expert_teams(r: Round) -> list[str]:
    """The teams whose dossier a notebook shows: those assigned to at least one expert (panel role)."""
    roles = {e.id: e.role for e in r.roster.reviewers}
    teams = {a.team for a in r.assignments.assignments if roles.get(a.reviewer) in PANEL_ROLES}
    return sorted(t.id for t in r.teams.teams if t.id in teams)


def build_cache(r: Round, teams: Collection[str] | None = None, *, seed: int = 0) -> dict[str, Path]:
    """Write the cache file of every team in ``teams`` (default: every team an expert reviews) that has none
    for its current key; returns team -> file. Used by ``workbench batch`` before the notebooks run."""
    out = {}
    for team_id in sorted(teams if teams is not None else _expert_teams(r)):
        key = cache_key(r, team_id, seed)
        cached_dossier(r, team_id, seed=seed, key=key)
        out[team_id] = _path(r, key)
    return out


class CacheCheck(BaseModel):
    """One cache file the audit looked at: ``state`` ``ok`` (recomputed, equal), ``mismatch`` (recomputed,
    different: edited), ``invalid`` (not a cached dossier, or its name is not its key), ``stale`` (made from
    inputs that are no longer the round's: never shown, since a notebook computes the current key)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    team: str
    state: Literal["ok", "mismatch", "invalid", "stale"]
    message: str = ""
    differences: list[str] = []


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "(whole)"]


def check_cache(r: Round) -> list[CacheCheck]:
    """Recompute every cached dossier of the round whose key is the round's current one and compare it with
    the file (the audit's check: the cache is never trusted); a file of another key is ``stale`` (or
    ``invalid`` when its content does not match its name)."""
    root = r.path / CACHE_DIR
    out: list[CacheCheck] = []
    if not root.is_dir():
        return out
    keys: dict[tuple[str, int], CacheKey] = {}
    for team_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        for f in sorted(team_dir.glob("*.json")):
            rel = f.relative_to(r.path).as_posix()
            team = team_dir.name

            def add(state: str, message: str = "", differences: list[str] | None = None,
                    rel: str = rel, team: str = team) -> None:
                out.append(CacheCheck(file=rel, team=team, state=state, message=message,  # type: ignore[arg-type]
                                      differences=differences or []))

            try:
                data = parse_json(read_bounded(f, MAX_CACHE_BYTES), rel)
                stored = CacheKey.model_validate(data.get("key_inputs") if isinstance(data, dict) else None)
            except (WorkbenchError, pydantic.ValidationError) as e:
                add("invalid", f"not a cached dossier: {' '.join(str(e).split())[:200]}")
                continue
            if f.stem != stored.key or data.get("key") != stored.key or stored.team != team:
                add("invalid", "its name, its recorded key and its key inputs disagree (edited)")
                continue
            if r.team(team) is None:
                add("stale", "a dossier of a team the round does not have")
                continue
            current = keys.setdefault((team, stored.seed), cache_key(r, team, stored.seed))
            if current != stored:
                add("stale", "made from other inputs than the round's current ones (never shown)")
                continue
            fresh = dossier_to_json(build_dossier(r, team, seed=stored.seed))
            kept = data.get("dossier")
            if data.get("schema_version") != SCHEMA_VERSION or canonical_json(kept) != canonical_json(fresh):
                diffs = _differences(kept, fresh)
                add("mismatch", f"the cached dossier differs from the one recomputed from its inputs: "
                    f"{', '.join(diffs[:5]) or 'schema_version'}", diffs[:50])
                continue
            add("ok")
    return out
