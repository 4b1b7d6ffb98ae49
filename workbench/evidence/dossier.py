"""A team's dossier: everything computed from the evidence files it submitted, in one place.

The evidence a team submits is named in ``teams.yaml`` (``evidence:``, keys in
:data:`workbench.model.round.EVIDENCE_KEYS`, the registered kinds of evidence, paths relative to
``evidence/<team>/``); the reference models the round compares against are named in
``references/references.yaml`` (paths relative to ``references/``)::

    references:
      - id: foreign-vl
        name: Foreign-VL                       # the name shown in verdicts
        fingerprint: foreign-vl/fingerprint.safetensors
        tokenizer: foreign-vl/tokenizer.json
        config: foreign-vl/config.json
    frontier:                                  # optional: for a frontier_ratio criterion
      model: Frontier-2026
      scores: {kobest: 0.91, ...}

:func:`build_dossier` reads each kind of evidence the team submitted with its registered reader
(:mod:`workbench.model.evidence_kinds`: the built-in readers are the ``read_*`` functions below, called with an
:class:`EvidenceContext`; another package's kind fills :attr:`Dossier.extra` under its key); each part is
optional and is absent when not submitted. A file that fails to load does not stop the round: its one-line
:class:`~workbench.core.errors.EvidenceError` goes into ``problems`` as a :class:`~workbench.core.errors.Problem` (file, line,
place, message, expected; shown to reviewers and in the report),
and the parts that need it are absent. Paths must stay inside the round folder: absolute paths, ``..`` and
symlinks leading out are refused (a problem for a team file, an error for ``references.yaml``).

Which evidence feeds what:

- ``benchmark_results`` -> ``points``: one :class:`~workbench.evidence.benchmarks.ComputedPoints` per computed
  criterion of the frozen benchmark rubric (formula and params from the rubric, the benchmarks from the round's
  frozen scheme ``rubrics/benchmarks.yaml``, targets and individual benchmarks from ``teams.yaml``, the
  frontier reference from ``references.yaml``), seeded bootstrap intervals. ``benchmark_results`` is one
  file (harness JSON or the tidy CSV) or a folder: every ``*.json`` and ``*.csv`` directly in it, in name
  order (at most :data:`MAX_RESULT_FILES` files, :data:`MAX_RESULT_BYTES` in all), merged with
  :func:`~workbench.evidence.benchmarks.combine_results` (a benchmark found twice is a problem naming both);
- ``model_card`` -> ``cost`` (the cost-efficiency chart across teams);
- ``training_log`` -> ``training``, read against the team's declared facts in ``teams.yaml``;
- ``tokenizer`` / ``config`` -> comparisons with every reference model's tokenizer / config;
- ``weights`` -> ``provenance`` against every reference fingerprint; its components feed ``licences``
  (a copied or derived component the manifest does not declare as a weights use is flagged).

Problems that change points. Some problems change a team's points, not only what reviewers see: the
results file (or a file of the folder) cannot be read or names a benchmark twice, the declared targets are
invalid, a criterion cannot be computed, a benchmark of a set has no result (partial credit: it scores 0,
its share ``points / k`` of the set is lost, the others count), or a result comes from a ``--limit`` run
(``n-samples`` effective < original). Each is in ``problems`` and also in :attr:`Dossier.point_problems`
as a :class:`PointProblem` naming the computed criteria whose points it changes; ``summary()`` holds them
as ``point_problems``. Every path in a problem or a result source is relative to the round folder, whatever
the working directory.

Public API: :class:`Dossier`, :class:`PointProblem`, :func:`build_dossier`, :class:`EvidenceContext` (and the
built-in readers ``read_*``), :class:`References`,
:class:`ReferenceModel`, :func:`load_references`, :data:`REFERENCES_FILE`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

import pydantic
from pydantic import Field

from ..core.base import Id, Model, from_pydantic
from ..core.errors import EvidenceError, InputFileError, Problem
from ..core.files import is_contained_relpath, iter_files, load_yaml
from ..core.findings import Finding
from ..model.evidence_kinds import evidence_kinds, reading_order
from ..model.round import Round, Team
from ..model.rubric import ComputedScale
from ..model.sheet import ComputedValue, InputFile, input_record
from .benchmarks import (
    ComputedPoints,
    Reference,
    ResultSet,
    Targets,
    combine_results,
    compute_points,
    read_harness_json,
    read_results_csv,
)
from .config import ConfigEvidence, compare_configs, load_config
from .cost import ModelCost, load_model_cost
from .licences import LicenceEvidence, check_licences, load_manifest
from .provenance import ProvenanceReport, compare, component_stack
from .tokenizer import TokenizerEvidence, compare_tokenizers, load_tokenizer
from .training import Flag as TrainingFlag
from .training import TrainingEvidence, analyze_training, load_training_log
from .weights import load_model_or_fingerprint, read_fingerprint

__all__ = ["REFERENCES_FILE", "Dossier", "EvidenceContext", "PointProblem", "ReferenceModel", "References",
           "build_dossier", "load_references"]

REFERENCES_FILE = "references/references.yaml"
MAX_REFERENCES_BYTES = 1 << 20
MAX_RESULT_FILES = 64  # result files read from one team's benchmark_results folder
MAX_RESULT_BYTES = 256 * 1024 * 1024  # and their total size
RESULT_SUFFIXES = (".json", ".csv")
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


class PointProblem(Model):
    """A problem of the dossier that changes points: the computed criteria whose points it changes."""

    criteria: tuple[str, ...]
    problem: Problem


def _training_params(t: TrainingEvidence, f: TrainingFlag) -> dict[str, Any]:
    """The values a training-log flag's wording uses (its English sentence is the evidence's own)."""
    p: dict[str, Any] = {"message": f.message, "step": f.step}
    if f.code.startswith("initial_loss"):
        p |= {"initial": t.initial_loss, "ln_v": t.ln_vocab, "ratio": t.initial_loss_ratio}
    elif f.code == "tokens_differ_from_claim":
        p |= {"logged": t.tokens_logged, "claimed": t.tokens_claimed, "ratio": t.token_ratio}
    elif f.code.startswith("compute_") and t.compute is not None:
        p |= {"utilisation": t.compute.utilisation}
    elif f.code == "compute_unchecked":
        p |= {"missing": f.message.rsplit("missing ", 1)[-1]}
    for d in t.discontinuities:
        if d.kind == f.code and d.step == f.step:
            p |= {"before": d.before, "after": d.after}
    return p


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
    point_problems: tuple[PointProblem, ...] = ()  # the problems above that change points, with their criteria
    notes: tuple[Finding, ...] = ()  # what the reviewer should know besides (codes note_*)
    # the parts of kinds registered by other packages (workbench.model.evidence_kinds), by key
    extra: dict[str, Any] = field(default_factory=dict)

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
        for key, part in sorted(self.extra.items()):
            out[key] = _part_summary(part)
        out["independence_flags"] = [f.model_dump(mode="json") for f in self.independence_findings()]
        out["problems"] = [p.model_dump(mode="json") for p in self.problems]
        out["point_problems"] = [p.model_dump(mode="json") for p in self.point_problems]
        out["notes"] = [n.model_dump(mode="json") for n in self.notes]
        return out

    def computed(self) -> dict[str, ComputedValue]:
        """The computed benchmark criteria as score-sheet values (points, formula, full detail)."""
        return {cid: ComputedValue(points=round(p.points, 6), max_points=p.max_points, formula=p.formula,
                                   detail=p.to_summary()) for cid, p in sorted(self.points.items())}

    def independence_findings(self) -> list[Finding]:
        """What the independence evidence flags, as codes with parameters (worded by the message table)."""
        out: list[Finding] = []
        if self.provenance is not None:
            # a tower is one finding (its blocks' shares summed; the table lists the blocks), the LM's parts one each
            groups: dict[tuple[str, str, str | None], float] = {}
            for c in self.provenance.components:
                if c.verdict in COPIED:
                    key = (component_stack(c.component) or c.component, c.verdict, c.reference)
                    groups[key] = groups.get(key, 0.0) + c.param_share
            out += [Finding(code=f"weights_{verdict}", params={"component": name, "reference": ref,
                                                                "share": round(share, 9)})
                    for (name, verdict, ref), share in groups.items()]
        if self.licences is not None:
            out += [Finding(code="undeclared_weights", params={"component": u.component, "reference": u.reference})
                    if u.reference else Finding(code="undeclared_weights_unknown", params={"component": u.component})
                    for u in self.licences.undeclared_weights or []]
            out += [Finding(code=f"licence_{k}", params={"n": n}) for k, n in sorted(self.licences.counts.items())
                    if k in ("non_commercial", "unknown_licence") and n]
        if self.training is not None:
            out += [Finding(code=f"training_{f.code}", params=_training_params(self.training, f))
                    for f in self.training.flags]
        if self.tokenizer is not None:
            out += [Finding(code="tokenizer_family", params={"share": p.share_of_larger, "reference": p.reference})
                    for p in self.tokenizer.pairs if p.share_of_larger >= SAME_FAMILY_SHARE]
        return out

    def independence_flags(self) -> list[str]:
        """What the independence evidence flags, one short English line each (empty: nothing flagged), for the
        console. Signed sheets record :meth:`independence_findings` (codes), worded in either language."""
        return [f.text("en") for f in self.independence_findings()]

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


# the Dossier fields a kind's reader fills (EvidenceKind.part), or derives besides (benchmark_results: points)
_PART_FIELDS = frozenset(f.name for f in fields(Dossier)) - {"team", "seed", "inputs", "problems", "point_problems",
                                                              "notes", "extra"}


def _part_summary(part: Any) -> Any:
    """A part's sheet summary: its ``to_summary()``, a pydantic model's JSON, or the JSON-able value itself."""
    if hasattr(part, "to_summary"):
        return part.to_summary()
    if isinstance(part, pydantic.BaseModel):
        return part.model_dump(mode="json")
    return part


class _Collector:
    """Runs each part, turning a team file's error into a problem line with round-relative paths, and
    noting which computed criteria a problem changes."""

    def __init__(self, rd: Path) -> None:
        self.rd = rd
        self.problems: list[Problem] = []
        self.point_problems: list[PointProblem] = []
        self.inputs: dict[str, InputFile] = {}

    def rel(self, p: str | Path) -> str:
        """``p`` relative to the round folder when it lies inside it (whatever the working directory), else as given."""
        q = Path(p)
        with contextlib.suppress(ValueError, OSError):
            return q.resolve().relative_to(self.rd.resolve()).as_posix()
        return q.as_posix()

    def add(self, problem: Problem, criteria: tuple[str, ...] = ()) -> None:
        self.problems.append(problem)
        if criteria:
            self.point_problems.append(PointProblem(criteria=tuple(sorted(set(criteria))), problem=problem))

    @contextlib.contextmanager
    def part(self, criteria: tuple[str, ...] = ()) -> Iterator[None]:
        """Run a part; its error becomes a problem that changes the points of ``criteria`` (none: it changes
        what reviewers see, not points)."""
        try:
            yield
        except (EvidenceError, InputFileError) as e:
            # file names relative to the round: the text is the same on every machine and in every folder
            name = self.rel(e.file) if e.file else None
            self.add(Problem(message=e.message, file=name, line=e.line, place=e.place, expected=e.expected), criteria)

    def record(self, path: Path) -> None:
        files = sorted(iter_files(path)) if path.is_dir() else [path]
        for f in files:  # paths were checked to stay inside the round (_inside)
            rec = input_record(f, self.rd)
            self.inputs[rec.path] = rec


def _result_files(path: Path, jail: Path, c: _Collector) -> tuple[list[Path], list[str]]:
    """The result files ``benchmark_results`` names: itself, or every ``*.json``/``*.csv`` directly in the
    folder, in name order, bounded; and notes on what the folder holds besides."""
    if not path.is_dir():
        return [path], []
    name = c.rel(path)
    entries = sorted(path.iterdir(), key=lambda p: p.name)
    files = [p for p in entries if p.suffix.lower() in RESULT_SUFFIXES and not p.is_dir()]
    others = [p.name + ("/" if p.is_dir() else "") for p in entries if p not in files]
    if not files:
        raise EvidenceError("no result file in the folder", file=name, place="benchmark_results",
                            expected="harness results *.json or tidy *.csv files directly in the folder")
    if len(files) > MAX_RESULT_FILES:
        raise EvidenceError(f"{len(files)} result files in the folder", file=name, place="benchmark_results",
                            expected=f"at most {MAX_RESULT_FILES}")
    for f in files:
        # a link to another team's results (or out of the round) is refused like a path that leaves the folder
        if f.is_symlink() or not f.resolve().is_relative_to(jail.resolve()):
            raise EvidenceError(f"'{f.name}' is a symbolic link", file=name, place="benchmark_results",
                                expected=f"regular files inside {c.rel(jail)}/")
    total = sum(f.stat().st_size for f in files)
    if total > MAX_RESULT_BYTES:
        raise EvidenceError(f"result files of {total} bytes in all", file=name, place="benchmark_results",
                            expected=f"at most {MAX_RESULT_BYTES} bytes")
    notes = [f"{name}: not read (not *.json or *.csv): {', '.join(others)}"] if others else []
    return files, notes


def _read_results(r: Round, path: Path, team: Team, c: _Collector) -> ResultSet:
    """Every result of ``team`` in the file or folder ``path``, read with the round's scheme and merged."""
    files, notes = _result_files(path, r.path / "evidence" / team.id, c)
    parts = []
    for f in files:
        name = c.rel(f)
        c.record(f)
        if f.suffix.lower() == ".csv":
            rs = read_results_csv(f, sets=r.scheme, name=name)
            mine = tuple(x for x in rs.results if x.team == team.id)
            others = sorted({x.team for x in rs.results} - {team.id})
            extra = (f"{name}: rows of other teams not used: {', '.join(others)}",) if others else ()
            parts.append(ResultSet(results=mine, notes=rs.notes + extra, problems=rs.problems))
        else:
            parts.append(read_harness_json(f, team=team.id, model=team.model, sets=r.scheme, name=name))
    merged = combine_results(*parts)
    return merged.model_copy(update={"notes": (*notes, *merged.notes)}) if notes else merged


def _computed_criteria(r: Round) -> tuple[str, ...]:
    return tuple(c.id for _, c in r.rubrics["benchmark"].criteria() if isinstance(c.scale, ComputedScale))


@dataclass
class EvidenceContext:
    """What a kind's reader (:class:`~workbench.model.evidence_kinds.EvidenceKind`) may use: the round, the team,
    the file it submitted (checked to stay inside ``evidence/<team>/``), the round's references and their folder,
    the seed, and the parts read before (by Dossier field, or by key for a kind without one)."""

    round: Round
    team: Team
    key: str
    path: Path
    references: References
    seed: int
    parts: dict[str, Any]
    notes: list[Finding]
    collector: _Collector

    @property
    def reference_dir(self) -> Path:
        return self.round.path / "references"

    def record(self, path: Path) -> None:
        """Record a file (or every file of a folder) the part was computed from as a sheet input."""
        self.collector.record(path)

    def rel(self, path: str | Path) -> str:
        """``path`` relative to the round folder (as problems and sources name files)."""
        return self.collector.rel(path)

    def note(self, code: str, **params: Any) -> None:
        """Something the reviewer should know besides (a code ``note_*`` of the message catalogue)."""
        self.notes.append(Finding(code=code, params=params))


def read_benchmark_results(ctx: EvidenceContext) -> ResultSet:
    """``benchmark_results``: the results, and (``parts["points"]``) the computed criteria's points."""
    results = _read_results(ctx.round, ctx.path, ctx.team, ctx.collector)
    ctx.parts["points"] = _points(ctx.round, ctx.team, results, ctx.references.frontier, ctx.seed, ctx.collector,
                                  ctx.rel(ctx.path))
    return results


def read_model_card(ctx: EvidenceContext) -> ModelCost:
    """``model_card``: the declared cost data."""
    return load_model_cost(ctx.path, ctx.team.id)


def read_training_log(ctx: EvidenceContext) -> TrainingEvidence:
    """``training_log``: the loss curve read against the team's declared facts."""
    t = ctx.team
    return analyze_training(load_training_log(ctx.path), vocab_size=t.vocab_size, claimed_tokens=t.training_tokens,
                            params=t.active_params_b * 1e9, gpu=t.gpu, gpu_hours=t.gpu_hours)


def read_tokenizer(ctx: EvidenceContext) -> TokenizerEvidence:
    """``tokenizer``: compared with every reference model's tokenizer."""
    mine = load_tokenizer(ctx.path, name=ctx.team.model)
    if mine.format == "vocab.json" and (m := ctx.path.with_name("merges.txt")).is_file():
        ctx.record(m)
    return compare_tokenizers(mine, [load_tokenizer(ctx.reference_dir / x.tokenizer, name=x.name)
                                     for x in ctx.references.references if x.tokenizer])


def read_config(ctx: EvidenceContext) -> ConfigEvidence:
    """``config``: compared field by field with every reference model's config."""
    return compare_configs(load_config(ctx.path, name=ctx.team.model),
                           [load_config(ctx.reference_dir / x.config, name=x.name)
                            for x in ctx.references.references if x.config])


def read_weights(ctx: EvidenceContext) -> ProvenanceReport | None:
    """``weights``: provenance against every reference fingerprint (None when the round has none)."""
    with_fp = [x for x in ctx.references.references if x.fingerprint]
    if not with_fp:
        ctx.note("note_no_reference_fingerprint")
    candidate = load_model_or_fingerprint(ctx.path, executor="serial")
    references = [read_fingerprint(ctx.reference_dir / x.fingerprint) for x in with_fp]
    if not references:
        return None
    return compare(candidate, references, names=[x.name for x in with_fp], candidate_name=ctx.team.model)


def read_licences(ctx: EvidenceContext) -> LicenceEvidence:
    """``licences``: the manifest, checked against the weights' provenance when there is one."""
    prov = ctx.parts.get("provenance")
    return check_licences(load_manifest(ctx.path), None if prov is None else [x.model_dump() for x in prov.components])


def build_dossier(r: Round, team_id: str, *, seed: int = 0) -> Dossier:
    """Compute every evidence part a team submitted (see the module docstring); deterministic for ``seed``.

    Each submitted kind is read by its registered reader (:mod:`workbench.model.evidence_kinds`), in the
    registry's order, a kind after those whose parts it needs. Raises :class:`EvidenceError` only for the
    round's own files (an unknown team, a bad ``references.yaml`` or reference file); a team's bad file becomes
    a :class:`~workbench.core.errors.Problem` in ``problems`` (and in ``point_problems`` when it changes points).
    """
    team = r.team(team_id)
    if team is None:
        raise EvidenceError(f"unknown team '{team_id}'", file=r.path / "teams.yaml",
                            expected="one of " + ", ".join(t.id for t in r.teams.teams))
    refs = load_references(r.path) or References()
    c = _Collector(r.path)
    base = r.path / "evidence" / team.id
    computed = _computed_criteria(r)
    parts: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    notes: list[Finding] = []
    paths: dict[str, Path] = {}
    for key, text in sorted(team.evidence.items()):
        with c.part(computed if key == "benchmark_results" else ()):
            # a team's files stay inside its own folder: a symlink to another team's results, to drafts/ or
            # answers/ is refused like one that leaves the round
            p = _inside(r.path, base, text, file=r.path / "teams.yaml", place=f"{team.id}.evidence.{key}", jail=base)
            if key != "benchmark_results":
                c.record(p)  # result files are recorded as they are read (a folder may hold others)
            paths[key] = p  # only a file that could be hashed is read: one problem per file, not two

    if computed and "benchmark_results" not in team.evidence:
        notes.append(Finding(code="note_no_benchmark_results", params={}))
    for kind in reading_order([k for k in evidence_kinds() if k in paths]):
        reader = kind.read()
        if reader is None:  # hashed (recorded above), not parsed
            continue
        ctx = EvidenceContext(round=r, team=team, key=kind.key, path=paths[kind.key], references=refs, seed=seed,
                              parts={**extra, **parts}, notes=notes, collector=c)
        given = set(ctx.parts)
        with c.part(computed if kind.key == "benchmark_results" else ()):
            value = reader(ctx)
            if value is not None and kind.part in _PART_FIELDS:
                parts[kind.part] = value
            elif value is not None:
                extra[kind.key] = value
        # parts a reader derived besides its own (benchmark_results: the points)
        parts |= {k: v for k, v in ctx.parts.items() if k in _PART_FIELDS and k not in given and k not in parts}
        # the reference files a comparison read are inputs too
        if kind.references is not None:
            for x in refs.references:
                if (v := getattr(x, kind.references, None)) is not None:
                    c.record(r.path / "references" / v)
    return Dossier(team=team.id, seed=seed, **parts, extra=extra,
                   inputs=tuple(v for _, v in sorted(c.inputs.items())), problems=tuple(c.problems),
                   point_problems=tuple(c.point_problems), notes=tuple(notes))


def _points(r: Round, team: Team, results: ResultSet, frontier: Reference | None, seed: int,
            c: _Collector, source: str) -> dict[str, ComputedPoints]:
    """Points per computed criterion of the benchmark rubric, with the round's scheme. A criterion that cannot
    be computed, a benchmark without a result (partial credit) and a ``--limit`` run are problems that change
    the points of the criteria they concern."""
    computed = _computed_criteria(r)
    targets = None
    with c.part(computed):
        try:
            targets = Targets(team=team.id, model=team.target_model, scores=team.targets,
                              individual=tuple(team.individual_benchmarks))
        except pydantic.ValidationError as e:
            raise from_pydantic(e, EvidenceError, file=r.path / "teams.yaml", prefix=(team.id, "targets")) from None
    if targets is None:
        return {}
    by_id = r.scheme.by_id()
    out = {}
    for _, crit in r.rubrics["benchmark"].criteria():
        if not isinstance(crit.scale, ComputedScale):
            continue
        with c.part((crit.id,)):
            try:
                out[crit.id] = compute_points(crit.scale.formula, crit.scale.params, crit.points, results, targets,
                                              frontier, seed, sets=r.scheme)
            except EvidenceError as e:
                raise EvidenceError(f"{crit.id}: {e.message}", file=e.file or source, line=e.line, place=e.place,
                                    expected=e.expected) from None
        cp = out.get(crit.id)
        rows = cp.per_benchmark if cp is not None else ()
        for row in rows:
            if row.score is None:  # partial credit: this benchmark's share of the set is lost, the rest counts
                spec = by_id[row.benchmark]
                tasks = " or ".join(k.task for k in spec.task_keys())
                c.add(Problem(message=f"{crit.id}: no result for {row.benchmark}: scored 0, "
                                      f"{crit.points / len(rows):.4g} of {crit.points:g} points lost",
                              file=source, place=f"benchmark {row.benchmark}",
                              expected=f"a result for {row.benchmark} (harness task {tasks})",
                              code="bench_no_result", params={"criterion": crit.id, "benchmark": row.benchmark,
                                                              "lost": crit.points / len(rows), "points": crit.points,
                                                              "tasks": [k.task for k in spec.task_keys()]}),
                      (crit.id,))
    # a --limit run changes what a score means: a problem of every criterion whose set holds the benchmark
    for rp in results.problems:
        concerned = tuple(cid for cid, cp in out.items() if any(row.benchmark == rp.benchmark for row in cp.per_benchmark))
        c.add(rp.problem, concerned)
    return out
