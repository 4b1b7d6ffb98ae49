"""A team's dossier: everything computed from the evidence files it submitted, in one place.

The evidence a team submits is named in ``teams.yaml`` (``evidence:``, keys in
:data:`workbench.round.EVIDENCE_KEYS`, paths relative to ``evidence/<team>/``); the reference models the
round compares against are named in ``references/references.yaml`` (paths relative to ``references/``)::

    references:
      - id: foreign-vl
        name: Foreign-VL                       # the name shown in verdicts
        fingerprint: foreign-vl/fingerprint.safetensors
        tokenizer: foreign-vl/tokenizer.json
        config: foreign-vl/config.json
    frontier:                                  # optional: for a frontier_ratio criterion
      model: Frontier-2026
      scores: {kobest: 0.91, ...}

:func:`build_dossier` runs each evidence module on what the team submitted; each part is optional and is
absent when not submitted. A file that fails to load does not stop the round: its one-line
:class:`~workbench.errors.EvidenceError` goes into ``problems`` as a :class:`~workbench.errors.Problem` (file, line,
place, message, expected; shown to reviewers and in the report),
and the parts that need it are absent. Paths must stay inside the round folder: absolute paths, ``..`` and
symlinks leading out are refused (a problem for a team file, an error for ``references.yaml``).

Which evidence feeds what:

- ``benchmark_results`` -> ``points``: one :class:`~workbench.evidence.benchmarks.ComputedPoints` per computed
  criterion of the frozen benchmark rubric (formula and params from the rubric, targets and individual
  benchmarks from ``teams.yaml``, the frontier reference from ``references.yaml``), seeded bootstrap intervals;
- ``model_card`` -> ``cost`` (the cost-efficiency chart across teams);
- ``training_log`` -> ``training``, read against the team's declared facts in ``teams.yaml``;
- ``tokenizer`` / ``config`` -> comparisons with every reference model's tokenizer / config;
- ``weights`` -> ``provenance`` against every reference fingerprint; its components feed ``licences``
  (a copied or derived component the manifest does not declare as a weights use is flagged).

Public API: :class:`Dossier`, :func:`build_dossier`, :class:`References`, :class:`ReferenceModel`,
:func:`load_references`, :data:`REFERENCES_FILE`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pydantic
from pydantic import Field

from .base import Id, Model, from_pydantic
from .errors import EvidenceError, InputFileError, Problem
from .evidence.benchmarks import (
    ComputedPoints,
    Reference,
    ResultSet,
    Targets,
    compute_points,
    read_harness_json,
    read_results_csv,
)
from .evidence.config import ConfigEvidence, compare_configs, load_config
from .evidence.cost import ModelCost, load_model_cost
from .evidence.licences import LicenceEvidence, check_licences, load_manifest
from .evidence.provenance import ProvenanceReport, compare
from .evidence.tokenizer import TokenizerEvidence, compare_tokenizers, load_tokenizer
from .evidence.training import TrainingEvidence, analyze_training, load_training_log
from .evidence.weights import load_model_or_fingerprint, read_fingerprint
from .files import is_contained_relpath, iter_files, load_yaml
from .round import Round, Team
from .rubric import ComputedScale
from .sheet import ComputedValue, InputFile, input_record

__all__ = ["REFERENCES_FILE", "Dossier", "ReferenceModel", "References", "build_dossier", "load_references"]

REFERENCES_FILE = "references/references.yaml"
MAX_REFERENCES_BYTES = 1 << 20
COPIED = ("identical", "derived")
SAME_FAMILY_SHARE = 0.70  # tokenizers of one family typically share 70%+ of the larger vocabulary


class ReferenceModel(Model):
    """A reference model of the round: files relative to ``references/``, each optional."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    fingerprint: str | None = None
    tokenizer: str | None = None
    config: str | None = None


class References(Model):
    """``references/references.yaml``: the reference models and, optionally, frontier scores."""

    references: list[ReferenceModel] = Field(default_factory=list)
    frontier: Reference | None = None


def _rel_path(text: str, *, file: Path, place: str) -> PurePosixPath:
    if not is_contained_relpath(text):
        raise EvidenceError(f"path '{text}' leaves its folder", file=file, place=place,
                            expected="a relative path with '/' separators and no '..'")
    return PurePosixPath(text)


def _inside(rd: Path, base: Path, text: str, *, file: Path, place: str, jail: Path | None = None) -> Path:
    """``base/text``, refused when it is absolute, uses '..', is missing or resolves (symlinks) outside ``jail``
    (the round folder unless given)."""
    p = base / _rel_path(text, file=file, place=place)
    jail = jail or rd
    if not p.resolve().is_relative_to(jail.resolve()):
        where = "the round folder" if jail == rd else f"{jail.relative_to(rd).as_posix()}/"
        raise EvidenceError(f"path '{text}' resolves outside {where} (a symlink?)", file=file, place=place,
                            expected=f"a file inside {where}")
    if not p.exists():
        raise EvidenceError(f"'{text}' not found", file=file, place=place,
                            expected=f"a file under {base.relative_to(rd).as_posix()}/")
    return p


def load_references(round_path: str | Path) -> References | None:
    """Read and validate ``references/references.yaml`` of a round; None when the round has none."""
    rd = Path(round_path)
    f = rd / REFERENCES_FILE
    if not f.is_file():
        return None
    data, lines = load_yaml(f, MAX_REFERENCES_BYTES)
    try:
        refs = References.model_validate(data if data is not None else {})
    except pydantic.ValidationError as e:
        raise from_pydantic(e, EvidenceError, file=f, lines=lines) from None
    ids = [r.id for r in refs.references]
    if len(set(ids)) != len(ids) or len({r.name for r in refs.references}) != len(ids):
        raise EvidenceError("a reference id or name appears twice", file=f, place="references",
                            expected="unique ids and names")
    for i, r in enumerate(refs.references):
        for kind in ("fingerprint", "tokenizer", "config"):
            if (v := getattr(r, kind)) is not None:
                _inside(rd, f.parent, v, file=f, place=f"references.{i}.{kind}")
    return refs


@dataclass(frozen=True)
class Dossier:
    """Everything computed from one team's evidence; a part is None (or empty) when not submitted."""

    team: str
    seed: int
    results: ResultSet | None = None
    points: dict[str, ComputedPoints] = field(default_factory=dict)
    cost: ModelCost | None = None
    training: TrainingEvidence | None = None
    tokenizer: TokenizerEvidence | None = None
    config: ConfigEvidence | None = None
    provenance: ProvenanceReport | None = None
    licences: LicenceEvidence | None = None
    inputs: tuple[InputFile, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The ``evidence`` block of a score sheet: JSON-able, deterministic, one key per part present."""
        out: dict[str, Any] = {"team": self.team, "seed": self.seed}
        if self.results is not None:
            out["benchmark_results"] = self.results.to_summary()
        if self.points:
            out["benchmark_points"] = {cid: p.to_summary() for cid, p in sorted(self.points.items())}
        if self.cost is not None:
            out["model_card"] = self.cost.model_dump(mode="json")
        for key, part in (("training_log", self.training), ("tokenizer", self.tokenizer), ("config", self.config),
                          ("licences", self.licences), ("weights", self.provenance)):
            if part is not None:
                out[key] = part.to_summary()
        out["independence_flags"] = self.independence_flags()
        out["problems"] = [p.model_dump(mode="json") for p in self.problems]
        out["notes"] = list(self.notes)
        return out

    def computed(self) -> dict[str, ComputedValue]:
        """The computed benchmark criteria as score-sheet values (points, formula, full detail)."""
        return {cid: ComputedValue(points=round(p.points, 6), max_points=p.max_points, formula=p.formula,
                                   detail=p.to_summary()) for cid, p in sorted(self.points.items())}

    def independence_flags(self) -> list[str]:
        """What the independence evidence flags, one short line each (empty: nothing flagged)."""
        flags = []
        if self.provenance is not None:
            flags += [f"{c.component} {c.verdict} from {c.reference} ({c.param_share:.1%} of parameters)"
                      for c in self.provenance.components if c.verdict in COPIED]
        if self.licences is not None:
            flags += [f"undeclared weights use: {u.component} ({u.reference or 'unknown source'})"
                      for u in self.licences.undeclared_weights or []]
            flags += [f"licence flag {k}: {n} component(s)" for k, n in sorted(self.licences.counts.items())
                      if k in ("non_commercial", "unknown_licence") and n]
        if self.training is not None:
            flags += [f"training log: {f.message}" for f in self.training.flags]
        if self.tokenizer is not None:
            flags += [f"tokenizer shares {p.share_of_larger:.0%} of the larger vocabulary with {p.reference} "
                      "(same-family range)" for p in self.tokenizer.pairs if p.share_of_larger >= SAME_FAMILY_SHARE]
        return flags

    def independence_line(self) -> str:
        """One line for the console: ``team: flag; flag`` or what was checked and found nothing."""
        flags = self.independence_flags()
        if flags:
            return f"{self.team}: " + "; ".join(flags)
        checked = [k for k, v in (("weights", self.provenance), ("licences", self.licences),
                                  ("training log", self.training), ("tokenizer", self.tokenizer)) if v is not None]
        if not checked:
            return f"{self.team}: no independence evidence submitted"
        return f"{self.team}: nothing flagged ({', '.join(checked)} checked)"


class _Collector:
    """Runs each part, turning a team file's error into a problem line with round-relative paths."""

    def __init__(self, rd: Path) -> None:
        self.rd = rd
        self.problems: list[Problem] = []
        self.inputs: dict[str, InputFile] = {}

    def rel(self, p: str | Path) -> str:
        q = Path(p)
        with contextlib.suppress(ValueError):
            return q.resolve().relative_to(self.rd.resolve()).as_posix()
        return q.as_posix()

    @contextlib.contextmanager
    def part(self) -> Iterator[None]:
        try:
            yield
        except (EvidenceError, InputFileError) as e:
            # file names relative to the round: the text is the same on every machine
            name = self.rel(e.file) if e.file and Path(e.file).is_absolute() else e.file
            self.problems.append(Problem(message=e.message, file=name, line=e.line, place=e.place,
                                         expected=e.expected))

    def record(self, path: Path) -> None:
        files = sorted(iter_files(path)) if path.is_dir() else [path]
        for f in files:  # paths were checked to stay inside the round (_inside)
            rec = input_record(f, self.rd)
            self.inputs[rec.path] = rec


def _read_results(path: Path, team: Team) -> ResultSet:
    if path.suffix.lower() == ".csv":
        rs = read_results_csv(path)
        mine = tuple(r for r in rs.results if r.team == team.id)
        others = sorted({r.team for r in rs.results} - {team.id})
        notes = rs.notes + ((f"{path.name}: rows of other teams not used: {', '.join(others)}",) if others else ())
        return ResultSet(results=mine, notes=notes)
    return read_harness_json(path, team=team.id, model=team.model)


def build_dossier(r: Round, team_id: str, *, seed: int = 0) -> Dossier:
    """Compute every evidence part a team submitted (see the module docstring); deterministic for ``seed``.

    Raises :class:`EvidenceError` only for the round's own files (an unknown team, a bad
    ``references.yaml`` or reference file); a team's bad file becomes a :class:`~workbench.errors.Problem` in ``problems``.
    """
    team = r.team(team_id)
    if team is None:
        raise EvidenceError(f"unknown team '{team_id}'", file=r.path / "teams.yaml",
                            expected="one of " + ", ".join(t.id for t in r.teams.teams))
    refs = load_references(r.path) or References()
    c = _Collector(r.path)
    base = r.path / "evidence" / team.id
    parts: dict[str, Any] = {}
    notes: list[str] = []
    paths: dict[str, Path] = {}
    for key, text in sorted(team.evidence.items()):
        with c.part():
            # a team's files stay inside its own folder: a symlink to another team's results, to drafts/ or
            # answers/ is refused like one that leaves the round
            p = _inside(r.path, base, text, file=r.path / "teams.yaml", place=f"{team.id}.evidence.{key}", jail=base)
            c.record(p)
            paths[key] = p  # only a file that could be hashed is read: one problem per file, not two

    ref_dir = r.path / "references"
    with_tok = [x for x in refs.references if x.tokenizer]
    with_cfg = [x for x in refs.references if x.config]
    with_fp = [x for x in refs.references if x.fingerprint]

    if "benchmark_results" in paths:
        with c.part():
            parts["results"] = _read_results(paths["benchmark_results"], team)
        if "results" in parts:
            parts["points"] = _points(r, team, parts["results"], refs.frontier, seed, c,
                                      c.rel(paths["benchmark_results"]))
    if "model_card" in paths:
        with c.part():
            parts["cost"] = load_model_cost(paths["model_card"], team.id)
    if "training_log" in paths:
        with c.part():
            parts["training"] = analyze_training(
                load_training_log(paths["training_log"]), vocab_size=team.vocab_size,
                claimed_tokens=team.training_tokens, params=team.active_params_b * 1e9, gpu=team.gpu,
                gpu_hours=team.gpu_hours)
    if "tokenizer" in paths:
        with c.part():
            mine = load_tokenizer(paths["tokenizer"], name=team.model)
            if mine.format == "vocab.json" and (m := paths["tokenizer"].with_name("merges.txt")).is_file():
                c.record(m)
            parts["tokenizer"] = compare_tokenizers(mine, [load_tokenizer(ref_dir / x.tokenizer, name=x.name)
                                                           for x in with_tok])
    if "config" in paths:
        with c.part():
            parts["config"] = compare_configs(load_config(paths["config"], name=team.model),
                                              [load_config(ref_dir / x.config, name=x.name) for x in with_cfg])
    if "weights" in paths:
        if not with_fp:
            notes.append("weights submitted, but references.yaml names no reference fingerprint: "
                         "provenance not computed")
        with c.part():
            candidate = load_model_or_fingerprint(paths["weights"], executor="serial")
            references = [read_fingerprint(ref_dir / x.fingerprint) for x in with_fp]
            if references:
                parts["provenance"] = compare(candidate, references, names=[x.name for x in with_fp],
                                              candidate_name=team.model)
    if "licences" in paths:
        with c.part():
            prov = parts.get("provenance")
            parts["licences"] = check_licences(
                load_manifest(paths["licences"]),
                None if prov is None else [x.model_dump() for x in prov.components])
    # the reference files each comparison read are inputs too
    for key, kind in (("weights", "fingerprint"), ("tokenizer", "tokenizer"), ("config", "config")):
        if key in paths:
            for x in refs.references:
                if (v := getattr(x, kind)) is not None:
                    c.record(ref_dir / v)
    return Dossier(team=team.id, seed=seed, **parts, inputs=tuple(v for _, v in sorted(c.inputs.items())),
                   problems=tuple(c.problems), notes=tuple(notes))


def _points(r: Round, team: Team, results: ResultSet, frontier: Reference | None, seed: int,
            c: _Collector, source: str) -> dict[str, ComputedPoints]:
    """Points per computed criterion of the benchmark rubric; a criterion that cannot be computed is a problem."""
    targets = None
    with c.part():
        try:
            targets = Targets(team=team.id, model=team.target_model, scores=team.targets,
                              individual=tuple(team.individual_benchmarks))
        except pydantic.ValidationError as e:
            raise from_pydantic(e, EvidenceError, file=r.path / "teams.yaml", prefix=(team.id, "targets")) from None
    if targets is None:
        return {}
    out = {}
    for _, crit in r.rubrics["benchmark"].criteria():
        if not isinstance(crit.scale, ComputedScale):
            continue
        with c.part():
            try:
                out[crit.id] = compute_points(crit.scale.formula, crit.scale.params, crit.points, results, targets,
                                              frontier, seed)
            except EvidenceError as e:
                raise EvidenceError(f"{crit.id}: {e.message}", file=e.file or source, line=e.line, place=e.place,
                                    expected=e.expected) from None
    return out
