"""Weight fingerprints: a compact, shareable summary of a model's tensors that allows comparison later.

A fingerprint records, for every tensor of a Hugging Face-style model directory, its name, shape, dtype
and the SHA-256 of its bytes (exact identity), plus small *sketches* from which a centered similarity can
be estimated without the weights:

- ``sample``: the values at positions drawn with a fixed seed from the tensor's shape, so two tensors of
  the same shape are sampled at the same places (detects copies, fine-tunes and dtype casts);
- ``profileA``: for each axis ``A`` whose length is a residual-stream width of the model, the sums over
  all other axes. Permuting hidden units, attention heads or experts (the other axes) leaves it unchanged,
  so it detects a copy whose units were shuffled. Axes of other lengths (vocabulary, positions, hidden
  units) are never profiled: their order is meaningful in independent models too (token frequency),
  which would make unrelated models look alike.

Sketches are standardized (mean 0, sd 1) and stored as float16; the fingerprint is itself a safetensors
file (sketches as tensors, the description as JSON in ``__metadata__``), about 0.1% of the model's bytes.
Tensors are streamed through bounded memory maps, in parallel over chunks of shards with the project's
executor.

Public API: :class:`Fingerprint`, :class:`TensorPrint`, :func:`fingerprint_model`,
:func:`write_fingerprint`, :func:`read_fingerprint`, :func:`load_model_or_fingerprint`,
:func:`sample_positions`, :func:`profile_positions`, :func:`model_files`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from ..core.errors import EvidenceError, InputFileError
from ..core.executor import default_jobs, one_blas_thread, open_executor
from ..core.files import atomic_write_bytes, load_json, parse_json, read_bounded, sha256_bytes, sha256_file
from ._invariants import _EMBED as _EMBED_NAME
from ._invariants import _HEAD as _HEAD_NAME
from ._invariants import _TOWER as _TOWER_NAME
from ._invariants import (
    MAX_ANCHORS,
    GramAccumulator,
    GramPlan,
    anchor_tokens,
    basis_rows,
    center_rows,
    clean_anchor,
    layout_votes,
    n_pairs,
    plan_matrix,
    stem_names,
    vocab_strings,
    whiten,
)
from ._safetensors import (
    DTYPES,
    ITEMSIZE,
    MAX_TENSORS,
    PICKLE_SUFFIXES,
    Header,
    TensorInfo,
    as_values,
    iter_flat_chunks,
    iter_tensor_chunks,
    read_header,
    refuse_pickle,
)

__all__ = [
    "SCHEMA",
    "Anchor",
    "GramPrint",
    "Fingerprint",
    "TensorPrint",
    "fingerprint_model",
    "load_model_or_fingerprint",
    "model_files",
    "profile_positions",
    "read_fingerprint",
    "sample_positions",
    "write_fingerprint",
]

SCHEMA = "workbench.fingerprint/2"  # /2 adds anchors and anchored Grams (issue 15); /1 files are refused
META_KEY = "workbench.fingerprint"
# Sketch budget: one sampled value per SAMPLE_RATIO elements within [SAMPLE_MIN, SAMPLE_MAX]; 1-D tensors
# (norms, biases) get at most VECTOR_SAMPLE; a profile keeps at most PROFILE_MAX positions. At float16
# this stays near 0.1% of a model's bytes (see tests/test_weights.py and the benchmark).
SAMPLE_RATIO = 4096
SAMPLE_MIN = 160
SAMPLE_MAX = 65536
VECTOR_SAMPLE = 48
PROFILE_MAX = 160
MAX_WIDTH = 1 << 17  # widest residual stream considered (largest models today: ~16k-32k)
UNIT_BYTES = 256 * 1024 * 1024  # work per task: large enough to amortize a task, small enough to balance
BLOCK_BYTES = 4 * 1024 * 1024  # rows converted to float32 at a time: stays in cache
MAX_FINGERPRINT_BYTES = 2 * 1024**3
SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model")
WIDTH_KEYS = frozenset({"hidden_size", "d_model", "n_embd", "embed_dim", "dim"})
_SKETCH_KIND = re.compile(r"^(sample|profile(\d{1,2}))$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TensorPrint(BaseModel):
    """One tensor of a fingerprint. ``sketches`` maps a sketch kind to its length."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    file: str
    dtype: str
    shape: tuple[int, ...]
    sha256: str
    sketches: dict[str, int] = Field(default_factory=dict)
    mean: float | None = None  # of the sampled raw values: lets a reader reconstruct raw cosines
    std: float | None = None

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, v: str) -> str:
        if v not in DTYPES:
            raise ValueError(f"unknown dtype {v!r}")
        return v

    @field_validator("shape")
    @classmethod
    def _sane_shape(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if len(v) > 16 or any(d < 0 for d in v) or math.prod(v) >= 2**62:
            raise ValueError("not a tensor shape (at most 16 non-negative sizes, fewer than 2**62 elements)")
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX64.match(v):
            raise ValueError("not a hex SHA-256")
        return v

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * ITEMSIZE[self.dtype]


class Anchor(BaseModel):
    """Token embeddings that name the residual stream: the tensor, its width and the anchor tokens' hashes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tensor: str
    width: int = Field(gt=1)
    tokens: list[Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]] = Field(min_length=3, max_length=1024)
    source: Literal["tokenizer", "ids", "stem"]


class GramPrint(BaseModel):
    """One anchored Gram sketch (see :mod:`._invariants`): of ``part`` of ``tensor``, through ``anchor``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tensor: str
    part: int = Field(ge=0, lt=8)
    side: Literal["in", "out", "rows"]
    anchor: int = Field(ge=0, lt=MAX_ANCHORS)
    norm: str | None = None  # the norm weights folded in front of it


class Fingerprint(BaseModel):
    """A model's fingerprint. The sketch arrays live beside the description (see :meth:`sketch`)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["workbench.fingerprint/2"] = Field(default=SCHEMA, alias="schema")
    model: str
    seed: int = Field(ge=0, lt=2**63)
    widths: list[Annotated[int, Field(gt=1)]]
    files: dict[str, Annotated[int, Field(ge=0)]]
    side_files: dict[str, str] = Field(default_factory=dict)
    ignored_files: list[str] = Field(default_factory=list)
    tensors: list[TensorPrint]
    anchors: list[Anchor] = Field(default_factory=list, max_length=MAX_ANCHORS)
    grams: list[GramPrint] = Field(default_factory=list)
    _arrays: dict[tuple[int, str], np.ndarray] = PrivateAttr(default_factory=dict)
    _grams: dict[int, np.ndarray] = PrivateAttr(default_factory=dict)
    _sha256: str | None = PrivateAttr(default=None)

    @property
    def n_params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def n_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def sha256(self) -> str | None:
        """SHA-256 of the fingerprint file's bytes (set when written or read)."""
        return self._sha256

    def sketch(self, index: int, kind: str) -> np.ndarray | None:
        """The standardized sketch ``kind`` of tensor number ``index`` as float32, or None."""
        a = self._arrays.get((index, kind))
        return None if a is None else a.astype(np.float32)

    def gram(self, index: int) -> np.ndarray | None:
        """The standardized anchored Gram sketch number ``index`` (of :attr:`grams`) as float32, or None."""
        a = self._grams.get(index)
        return None if a is None else a.astype(np.float32)


# ---------------------------------------------------------------- positions (pure, seeded)

def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, len(key), *key])


def sample_positions(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Sorted flat positions sampled from a tensor of ``shape``; the same for every tensor of that shape."""
    n = math.prod(shape)
    m = min(n, VECTOR_SAMPLE) if len(shape) < 2 else min(n, max(SAMPLE_MIN, min(SAMPLE_MAX, n // SAMPLE_RATIO)))
    if m >= n:
        return np.arange(n, dtype=np.int64)
    rng = _rng(seed, 1, *shape)
    picked = np.unique(rng.integers(0, n, size=2 * m + 16, dtype=np.int64))
    while picked.size < m:  # only when m is close to n: top up
        picked = np.unique(np.concatenate([picked, rng.integers(0, n, size=m, dtype=np.int64)]))
    return np.sort(rng.choice(picked, size=m, replace=False))


def profile_positions(length: int, seed: int) -> np.ndarray:
    """Sorted positions kept from a profile of ``length`` (all when short)."""
    if length <= PROFILE_MAX:
        return np.arange(length, dtype=np.int64)
    return np.sort(_rng(seed, 2, length).choice(length, size=PROFILE_MAX, replace=False))


# ---------------------------------------------------------------- model directory

def _team_json(path: Path) -> Any:
    try:
        return load_json(path)
    except InputFileError as e:
        raise EvidenceError(e.message, file=path, line=e.line, expected=e.expected) from None


def model_files(model_dir: str | Path) -> tuple[list[Path], list[str], dict[str, str] | None]:
    """The safetensors shards of a model directory, checked against ``model.safetensors.index.json``.

    Returns the shards, the names of ignored files (pickled checkpoints beside safetensors ones) and the
    index's weight map (None without an index). A directory with only pickle checkpoints is refused with a
    conversion hint.
    """
    d = Path(model_dir)
    if not d.is_dir():
        raise EvidenceError("not a model directory", file=d, expected="a folder with .safetensors files")
    entries = sorted(p for p in d.iterdir() if p.is_file() and not p.is_symlink())
    shards = [p for p in entries if p.suffix == ".safetensors"]
    pickles = [p for p in entries if p.suffix.lower() in PICKLE_SUFFIXES]
    if not shards:
        if pickles:
            refuse_pickle(pickles[0])
        raise EvidenceError("no .safetensors files", file=d, expected="a Hugging Face-style model directory")
    index = d / "model.safetensors.index.json"
    if index.is_file():
        doc = _team_json(index)
        wm = doc.get("weight_map") if isinstance(doc, dict) else None
        if not isinstance(wm, dict) or not all(isinstance(v, str) for v in wm.values()):
            raise EvidenceError("no weight_map of tensor -> file", file=index, place="weight_map",
                                expected="an object mapping tensor names to shard file names")
        names = set(wm.values())
        for f in sorted(names):
            if Path(f).name != f or not (d / f).is_file():
                raise EvidenceError(f"shard '{f}' is not a file in the model directory", file=index,
                                    place="weight_map", expected="plain file names of existing shards")
        listed = sorted(d / f for f in names)
        extra = sorted(set(shards) - set(listed))
        if extra:
            raise EvidenceError(f"shard '{extra[0].name}' is not listed in the index", file=index,
                                place="weight_map", expected="every .safetensors file listed")
        return listed, [p.name for p in pickles], wm
    return shards, [p.name for p in pickles], None


def _config_widths(config: Any) -> set[int]:
    out: set[int] = set()
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if k in WIDTH_KEYS and isinstance(v, int) and not isinstance(v, bool) and 1 < v <= MAX_WIDTH:
                    out.add(v)
                elif isinstance(v, dict | list):
                    stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _widths(tensors: list[TensorInfo], config: Any) -> list[int]:
    """Residual-stream widths: from config.json, plus the axis length most 2-D+ float tensors share."""
    counts: Counter[int] = Counter()
    for t in tensors:
        if t.is_float and len(t.shape) >= 2:
            # an axis of length 1 is no width (a (1, N) tensor has one real axis), and no model's residual
            # stream is wider than MAX_WIDTH: its profile would be as large as the tensor
            counts.update({n for n in t.shape if 1 < n <= MAX_WIDTH})
    widths = _config_widths(config)
    if counts:
        widths.add(min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0])
    return sorted(widths)


# ---------------------------------------------------------------- sketching one tensor (pure)

@dataclass
class _Sketched:
    name: str
    sha256: str
    sketches: dict[str, np.ndarray]
    mean: float | None
    std: float | None
    grams: list[np.ndarray | None] = dataclasses.field(default_factory=list)


def _standardize(v: np.ndarray) -> tuple[np.ndarray | None, float, float]:
    v = v.astype(np.float64)
    if not np.isfinite(v).all():
        return None, float("nan"), float("nan")
    mean, std = float(v.mean()), float(v.std())
    if not std > 0 or not math.isfinite(std):
        return None, mean, std
    z = np.clip((v - mean) / std, -60000, 60000)
    return z.astype(np.float16), mean, std


def _hash_unit(header: Header, infos: list[TensorInfo]) -> dict[str, str]:
    """The SHA-256 of each tensor's bytes. A task of its own, apart from the sketches: hashlib releases the
    GIL on these large buffers, so hashing runs beside the sketching (and the anchors) on another core."""
    out = {}
    for info in infos:
        h = hashlib.sha256()
        for _, slab in iter_flat_chunks(header, info, raw=True):
            h.update(slab)
        out[info.name] = h.hexdigest()
    return out


def _sketch_tensor(header: Header, info: TensorInfo, widths: frozenset[int], seed: int,
                   gram: GramAccumulator | None = None) -> _Sketched:
    """The sketches of one tensor (its hash is :func:`_hash_unit`'s: ``sha256`` is left empty)."""
    if not info.is_float or info.numel == 0:
        return _Sketched(info.name, "", {}, None, None)
    shape = info.shape
    positions = sample_positions(shape, seed)
    taken = np.empty(positions.size, dtype=np.float64)
    axes = [a for a in range(len(shape)) if len(shape) >= 2 and shape[a] in widths]
    profiles = {a: np.zeros(shape[a], dtype=np.float64) for a in axes}
    row_elems = math.prod(shape[1:]) if len(shape) > 1 else 1
    if row_elems * ITEMSIZE[info.dtype] > BLOCK_BYTES:  # rows too large to convert whole: go flat
        _sketch_flat(header, info, positions, taken, profiles)
        gram = None  # rows of megabytes are no residual-stream matrix of any model
    else:
        _sketch_rows(header, info, positions, taken, profiles, gram)
    grams = gram.finish() if gram is not None else []
    sketches: dict[str, np.ndarray] = {}
    z, mean, std = _standardize(taken)
    if z is not None:
        sketches["sample"] = z
    for a, prof in profiles.items():
        zp, _, _ = _standardize(prof[profile_positions(prof.size, seed)])
        if zp is not None:
            sketches[f"profile{a}"] = zp
    if not (math.isfinite(mean) and math.isfinite(std)):
        return _Sketched(info.name, "", sketches, None, None, grams)
    return _Sketched(info.name, "", sketches, float(f"{mean:.6g}"), float(f"{std:.6g}"), grams)


def _sketch_rows(header: Header, info: TensorInfo, positions: np.ndarray, taken: np.ndarray,
                 profiles: dict[int, np.ndarray], gram: GramAccumulator | None = None) -> None:
    """Samples, per-axis sums and Gram products over blocks of whole rows (a row fits a block)."""
    row_elems = math.prod(info.shape[1:]) if len(info.shape) > 1 else 1
    rows_per_block = max(1, BLOCK_BYTES // max(1, row_elems * ITEMSIZE[info.dtype]))
    row = 0
    for slab in iter_tensor_chunks(header, info, raw=True):
        for b0 in range(0, slab.shape[0], rows_per_block):
            block = slab[b0:b0 + rows_per_block]
            e0, e1 = (row + b0) * row_elems, (row + b0 + block.shape[0]) * row_elems
            lo, hi = np.searchsorted(positions, [e0, e1])
            flat = block.reshape(-1)
            taken[lo:hi] = as_values(flat[positions[lo:hi] - e0], info.dtype).astype(np.float64)
            if profiles or gram is not None:
                x = as_values(block, info.dtype).astype(np.float32, copy=False)
                if gram is not None:
                    gram.update(row + b0, x.reshape(x.shape[0], -1))
                for a, prof in profiles.items():
                    if a == 0:
                        prof[row + b0:row + b0 + block.shape[0]] += x.reshape(x.shape[0], -1).sum(1)
                    else:
                        # float32 within a block (fast, exact enough for a few MB), float64 across blocks
                        prof += x.sum(axis=tuple(i for i in range(x.ndim) if i != a))
        row += slab.shape[0]


def _sketch_flat(header: Header, info: TensorInfo, positions: np.ndarray, taken: np.ndarray,
                 profiles: dict[int, np.ndarray]) -> None:
    """The same samples and per-axis sums as the row-block path, over bounded flat windows."""
    shape = info.shape
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    for e0, slab in iter_flat_chunks(header, info, raw=True):
        for b0 in range(0, slab.size, BLOCK_BYTES // slab.itemsize):
            block = slab[b0:b0 + BLOCK_BYTES // slab.itemsize]
            start = e0 + b0
            lo, hi = np.searchsorted(positions, [start, start + block.size])
            taken[lo:hi] = as_values(block[positions[lo:hi] - start], info.dtype).astype(np.float64)
            if profiles:
                x = as_values(block, info.dtype).astype(np.float64)
                flat_index = np.arange(start, start + block.size, dtype=np.int64)
                for a, prof in profiles.items():
                    prof += np.bincount((flat_index // strides[a]) % shape[a], weights=x, minlength=shape[a])


def _sketch_unit(header: Header, infos: list[TensorInfo], widths: frozenset[int], seed: int,
                 plans: dict[str, GramPlan] | None = None,
                 anchors: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> list[_Sketched]:
    out = []
    white: dict[int, np.ndarray] = {}
    for i in infos:
        plan = (plans or {}).get(i.name)
        acc = None
        if plan is not None and anchors is not None and len(i.shape) == 2:
            rows, ids = anchors[plan.anchor]
            if plan.anchor not in white:
                white[plan.anchor] = whiten(rows)
            acc = GramAccumulator(plan, rows, (i.shape[0], i.shape[1]), ids, white[plan.anchor])
        out.append(_sketch_tensor(header, i, widths, seed, acc))
    return out


# ---------------------------------------------------------------- fingerprinting a directory

def fingerprint_model(model_dir: str | Path, *, executor: str | None = "threads", jobs: int | None = None,
                      seed: int = 0) -> Fingerprint:
    """Fingerprint the model in ``model_dir``, streaming every shard once, in parallel over chunks.

    Threads by default: hashing, float conversion and the Gram products release the GIL, and threads were
    faster than processes (and lighter) in 2 of 3 runs of ``benchmarks/bench_weights.py``.
    """
    d = Path(model_dir)
    shards, ignored, weight_map = model_files(d)
    headers = [read_header(p) for p in shards]
    if (count := sum(len(hd.tensors) for hd in headers)) > MAX_TENSORS:
        raise EvidenceError(f"{count} tensors in {len(headers)} files", file=d,
                            expected=f"at most {MAX_TENSORS} (more than any released model holds)")
    seen: dict[str, str] = {}
    for hd in headers:
        for t in hd.tensors:
            if t.name in seen:
                raise EvidenceError(f"tensor also in shard '{seen[t.name]}'", file=hd.path,
                                    place=f"tensor '{t.name}'", expected="each tensor name once")
            seen[t.name] = hd.path.name
    index = d / "model.safetensors.index.json"
    if weight_map is not None:
        for name, f in sorted(weight_map.items()):
            if seen.get(name) != f:
                raise EvidenceError(f"index says '{f}' but the tensor is in '{seen.get(name, 'no shard')}'",
                                    file=index, place=f"weight_map.{name}", expected="the index to match the shards")
        missing = sorted(set(seen) - set(weight_map))
        if missing:
            raise EvidenceError(f"tensor in shard '{seen[missing[0]]}' is not in the index", file=index,
                                place=f"weight_map.{missing[0]}", expected="every tensor listed")
    config: Any = None
    side: dict[str, str] = {}
    for name in SIDE_FILES:
        p = d / name
        if p.is_file() and not p.is_symlink():
            side[name] = sha256_file(p)
            if name == "config.json":
                config = _team_json(p)
    all_infos = [t for hd in headers for t in hd.tensors]
    widths = _widths(all_infos, config)
    units: list[tuple[Header, list[TensorInfo]]] = []
    for hd in headers:
        cur: list[TensorInfo] = []
        size = 0
        for t in hd.tensors:
            cur.append(t)
            size += t.nbytes
            if size >= UNIT_BYTES:
                units.append((hd, cur))
                cur, size = [], 0
        if cur:
            units.append((hd, cur))
    # biggest first, so the last task to finish is a small one
    units.sort(key=lambda u: -sum(t.nbytes for t in u[1]))
    results: dict[str, _Sketched] = {}
    wset = frozenset(widths)
    hashes: dict[str, str] = {}
    several = executor == "threads" and (jobs or default_jobs()) > 1
    with open_executor(executor, jobs) as ex, one_blas_thread(several):
        # the hashes need no plan: they start first, and run while this thread reads the anchors
        hashing = [ex.submit(_hash_unit, hd, infos) for hd, infos in units]
        anchors, anchor_data, plans = _anchor_plans(d, headers)
        for batch in _run(ex, units, wset, seed, plans, anchor_data):
            for r in batch:
                results[r.name] = r
        for f in hashing:
            hashes.update(f.result())
    for name, r in results.items():
        r.sha256 = hashes[name]
    file_of = {t.name: hd.path.name for hd in headers for t in hd.tensors}
    info_of = {t.name: t for t in all_infos}
    prints: list[TensorPrint] = []
    fp_arrays: dict[tuple[int, str], np.ndarray] = {}
    gram_prints: list[GramPrint] = []
    gram_arrays: dict[int, np.ndarray] = {}
    for name in sorted(results):
        for part, g in enumerate(results[name].grams):
            if g is not None:
                plan = plans[name]
                gram_arrays[len(gram_prints)] = g
                gram_prints.append(GramPrint(tensor=name, part=part, side=plan.side, anchor=plan.anchor,
                                             norm=plan.norm))
    for i, name in enumerate(sorted(results)):
        r, t = results[name], info_of[name]
        prints.append(TensorPrint(name=name, file=file_of[name], dtype=t.dtype, shape=t.shape, sha256=r.sha256,
                                  sketches={k: int(v.size) for k, v in sorted(r.sketches.items())},
                                  mean=r.mean, std=r.std))
        for k, v in r.sketches.items():
            fp_arrays[(i, k)] = v
    fp = Fingerprint(model=d.resolve().name, seed=seed, widths=widths,
                     files={hd.path.name: hd.file_size for hd in headers}, side_files=side,
                     ignored_files=ignored, tensors=prints, anchors=anchors, grams=gram_prints)
    fp._arrays = fp_arrays
    fp._grams = gram_arrays
    return fp


def _read_columns(header: Header, info: TensorInfo, ids: np.ndarray) -> np.ndarray:
    """Columns ``ids`` of a 2-D tensor as rows (float64), streamed: a transposed vocabulary matrix's tokens."""
    out = np.zeros((ids.size, info.shape[0]))
    row = 0
    for slab in iter_tensor_chunks(header, info):
        out[:, row:row + slab.shape[0]] = slab[:, ids].T.astype(np.float64)
        row += slab.shape[0]
    return out


def _read_rows(header: Header, info: TensorInfo, ids: np.ndarray) -> np.ndarray:
    """Rows ``ids`` of a 2-D tensor as float64, streamed (the embedding is never read whole)."""
    out = np.zeros((ids.size, info.shape[1]))
    row = 0
    for slab in iter_tensor_chunks(header, info, raw=True):
        sel = np.nonzero((ids >= row) & (ids < row + slab.shape[0]))[0]
        if sel.size:
            out[sel] = as_values(slab[ids[sel] - row], info.dtype).astype(np.float64)
        row += slab.shape[0]
    return out


def _vocab_docs(d: Path) -> dict[str, Any]:
    """The vocabulary side files of ``d`` that exist (parsed JSON; ``vocab.txt`` as text), bounded."""
    docs: dict[str, Any] = {}
    for name in ("tokenizer.json", "vocab.json"):
        p = d / name
        if p.is_file() and not p.is_symlink():
            try:
                docs[name] = load_json(p, max_bytes=64 * 1024**2)
            except InputFileError as e:
                raise EvidenceError(e.message, file=p, line=e.line, expected=e.expected) from None
    if (d / "vocab.txt").is_file() and not (d / "vocab.txt").is_symlink():
        docs["vocab.txt"] = read_bounded(d / "vocab.txt", 64 * 1024**2).decode("utf-8", "replace")
    return docs


EMBED_ROWS_PER_WIDTH = 8  # a token embedding found by shape has at least this many rows per column


def _tokens(t: TensorInfo, columns: set[str]) -> int:
    """How many tokens a vocabulary matrix holds (its columns when stored transposed)."""
    return t.shape[1] if t.name in columns else t.shape[0]


def _embeddings_by_shape(mats: list[TensorInfo], widths: set[int], columns: set[str],
                         vocab: int | None) -> list[TensorInfo]:
    """Token embeddings recognised by structure when no name says so (a renamed copy, issue 23 item 6).

    A vocabulary matrix has one row per token (as many as the tokenizer's vocabulary where one is shipped,
    padding and added tokens allowed) and as many columns as a residual stream is wide (``widths``: the
    lengths of the 1-D norms), or the transpose (``columns``). LM heads are left out: they are found from the
    anchors (``plan_matrix``). Largest first.
    """
    out = []
    for t in mats:
        n, w = (t.shape[1], t.shape[0]) if t.name in columns else t.shape
        if w in widths and n >= EMBED_ROWS_PER_WIDTH * w and not _HEAD_NAME.search(t.name.lower()) \
                and (vocab is None or 0.9 * vocab <= n <= vocab + 4096):
            out.append(t)
    return sorted(out, key=lambda t: (-_tokens(t, columns), t.name))


def _anchor_plans(d: Path, headers: list[Header]) -> tuple[list[Anchor], dict[int, tuple[np.ndarray, np.ndarray]],
                                                           dict[str, GramPlan]]:
    """The anchors (token embeddings) of a model, their cleaned rows, and a Gram plan per matrix."""
    where = {t.name: (hd, t) for hd in headers for t in hd.tensors}
    mats2 = [t for _, t in where.values() if t.is_float and len(t.shape) == 2 and t.shape[0] >= 3
             and 1 < t.shape[1] <= MAX_WIDTH and not _TOWER_NAME.search(t.name.lower())]
    widths = {t.shape[0] for _, t in where.values() if t.is_float and len(t.shape) == 1
              and re.search(r"norm|(^|[._])ln", t.name.lower())}
    # a vocabulary matrix stored transposed, (width, vocabulary), has its tokens as columns
    columns = {t.name for t in mats2 if t.shape[0] in widths and t.shape[1] >= EMBED_ROWS_PER_WIDTH * t.shape[0]}
    embeds = sorted((t for t in mats2 if _EMBED_NAME.search(t.name.lower())), key=lambda t: (-_tokens(t, columns),
                                                                                            t.name))
    docs = _vocab_docs(d) if mats2 else {}
    strings = vocab_strings(docs) if docs else None
    if not embeds:
        embeds = _embeddings_by_shape(mats2, widths, columns, len(strings) if strings else None)
    # encoder stems (patch convolutions): recognised by shape, not name (a tower may be renamed)
    stems = sorted((t for _, t in where.values() if t.is_float and len(t.shape) in (3, 4)
                    and 1 < t.shape[0] <= MAX_WIDTH and t.shape[1] <= 16 and math.prod(t.shape[1:]) >= 16
                    and t.nbytes <= 64 * 1024**2), key=lambda t: (-t.numel, t.name))
    picked = (embeds[:MAX_ANCHORS - min(len(stems), MAX_ANCHORS // 2)] + stems)[:MAX_ANCHORS]
    if not picked:
        return [], {}, {}
    if not embeds:
        strings = None
    # a LayerNorm model (norms with biases) reads only the centered stream: its anchors are centered
    layernorm = {t.shape[0] for _, t in where.values() if t.is_float and len(t.shape) == 1
                 and t.name.endswith("bias") and re.search(r"norm|(^|[._])ln", t.name.lower())}
    anchors: list[Anchor] = []
    data: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for t in picked:
        hd = where[t.name][0]
        if len(t.shape) == 2:
            n_tokens = _tokens(t, columns)
            ids, hashes, source = anchor_tokens(n_tokens, strings)
            id_arr = np.array(ids + basis_rows(n_tokens, strings), dtype=np.int64)
            rows = (_read_columns if t.name in columns else _read_rows)(hd, t, id_arr)[:len(ids)]
        else:
            ids, hashes, _ = anchor_tokens(math.prod(t.shape[1:]), stem_names(t.shape))
            source, id_arr = "stem", np.array(ids, dtype=np.int64)
            whole = np.concatenate([as_values(c, t.dtype).astype(np.float64).reshape(-1)
                                    for c in iter_tensor_chunks(hd, t, raw=True)])
            rows = whole.reshape(t.shape[0], -1).T[id_arr]
        if not np.isfinite(rows).all():
            continue
        width = (t.shape[0] if t.name in columns else t.shape[1]) if len(t.shape) == 2 else t.shape[0]
        if width in layernorm:
            rows = center_rows(rows)
        anchors.append(Anchor(tensor=t.name, width=width, tokens=hashes, source=source))
        data[len(anchors) - 1] = (clean_anchor(rows), id_arr)
    norm_infos = {t.name: t for _, t in where.values() if t.is_float and len(t.shape) == 1
                  and any(a.width == t.shape[0] for a in anchors) and re.search(r"norm|ln", t.name.lower())}
    norms = {n: t.shape[0] for n, t in norm_infos.items()}
    # a stem has no vocabulary rows: no matrix is sketched as its rows
    spec = [(a.tensor, _tokens(where[a.tensor][1], columns) if a.source != "stem" else 1 << 62, a.width)
            for a in anchors]
    plans: dict[str, GramPlan] = {}
    vectors: dict[str, np.ndarray] = {}
    mats = {n: t.shape for n, (_, t) in where.items() if t.is_float and len(t.shape) == 2}
    votes = {a.width: layout_votes({n: sh for n, sh in mats.items() if a.width in sh}, a.width) for a in anchors}
    for name, (_, t) in sorted(where.items()):
        if not t.is_float or len(t.shape) != 2:
            continue
        plan = plan_matrix(name, t.shape, spec, norms, votes)
        if plan is None:
            continue
        if plan.norm is not None:
            if plan.norm not in vectors:
                hd, info = where[plan.norm]
                vectors[plan.norm] = np.concatenate([as_values(c, info.dtype).astype(np.float64)
                                                     for c in iter_tensor_chunks(hd, info, raw=True)])
            if not np.isfinite(vectors[plan.norm]).all():
                plan.norm = None
            else:
                plan.vectors = {plan.norm: vectors[plan.norm]}
        plan.columns = plan.side == "rows" and name in columns and name == anchors[plan.anchor].tensor
        plan.centered = plan.side == "rows" and name == anchors[plan.anchor].tensor and \
            anchors[plan.anchor].width in layernorm
        plans[name] = plan
    return anchors, data, plans


def _run(ex: Executor, units: list[tuple[Header, list[TensorInfo]]], widths: frozenset[int], seed: int,
         plans: dict[str, GramPlan], anchors: dict[int, tuple[np.ndarray, np.ndarray]]):
    futures = []
    for hd, infos in units:
        mine = {i.name: plans[i.name] for i in infos if i.name in plans}
        futures.append(ex.submit(_sketch_unit, hd, infos, widths, seed, mine,
                                 {p.anchor: anchors[p.anchor] for p in mine.values()}))
    for f in futures:
        yield f.result()


# ---------------------------------------------------------------- the fingerprint file

def _container(fp: Fingerprint) -> bytes:
    """Safetensors bytes: sketches as F16 tensors named ``INDEX.KIND``, the description in metadata.

    Written by ``safetensors.numpy.save`` (deterministic: tensors ordered by dtype, then name; the header
    padded to 8 bytes), read back by the bounded reader in :mod:`._safetensors`.
    """
    from safetensors.numpy import save

    desc = fp.model_dump(mode="json", by_alias=True)
    tensors = {f"{i}.{kind}": np.ascontiguousarray(fp._arrays[(i, kind)], dtype="<f2").reshape(-1)
               for (i, kind) in sorted(fp._arrays)}
    tensors.update({f"g{k}": np.ascontiguousarray(a, dtype="<f2").reshape(-1) for k, a in sorted(fp._grams.items())})
    return save(tensors, metadata={META_KEY: json.dumps(desc, sort_keys=True, separators=(",", ":"))})


def fingerprint_bytes(fp: Fingerprint) -> bytes:
    """``fp`` as the bytes of its safetensors file; remembers their SHA-256."""
    data = _container(fp)
    fp._sha256 = sha256_bytes(data)
    return data


def write_fingerprint(fp: Fingerprint, path: str | Path) -> str:
    """Write ``fp`` atomically as a safetensors file; return (and remember) its SHA-256."""
    data = fingerprint_bytes(fp)
    atomic_write_bytes(path, data)
    return sha256_bytes(data)


def read_fingerprint(path: str | Path) -> Fingerprint:
    """Read and validate a fingerprint file (untrusted: a colleague or a team may have sent it)."""
    p = Path(path)
    header = read_header(p)
    if header.file_size > MAX_FINGERPRINT_BYTES:
        raise EvidenceError(f"fingerprint is {header.file_size} bytes", file=p,
                            expected=f"at most {MAX_FINGERPRINT_BYTES} bytes")
    meta = header.metadata.get(META_KEY)
    if meta is None:
        raise EvidenceError("not a workbench fingerprint (no description in __metadata__)", file=p,
                            place=f"__metadata__.{META_KEY}", expected="a file written by `workbench fingerprint`")
    try:
        doc = parse_json(meta, str(p))
        if isinstance(doc, dict) and doc.get("schema") != SCHEMA and str(doc.get("schema", "")).startswith(
                "workbench.fingerprint/"):
            raise EvidenceError(f"fingerprint format {doc['schema']} is from an older workbench and lacks the "
                                "statistics provenance now compares: re-fingerprint the model with "
                                "`workbench fingerprint`", file=p, place="__metadata__.schema", expected=SCHEMA)
        fp = Fingerprint.model_validate(doc)
    except InputFileError as e:
        raise EvidenceError(f"corrupt fingerprint description: {e.message}", file=p, place="__metadata__") from None
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise EvidenceError(f"corrupt fingerprint description: {err['msg']}", file=p, place=loc,
                            expected=f"a {SCHEMA} document") from None
    arrays: dict[tuple[int, str], np.ndarray] = {}
    stored = {t.name: t for t in header.tensors}
    for i, t in enumerate(fp.tensors):
        for kind, length in t.sketches.items():
            where = f"tensor '{t.name}' sketch '{kind}'"
            m = _SKETCH_KIND.match(kind)
            want = _expected_length(t, kind, m, fp)
            info = stored.pop(f"{i}.{kind}", None)
            if want is None or length != want or info is None or info.dtype != "F16" or info.shape != (length,):
                raise EvidenceError("sketch missing or of the wrong kind, dtype or length", file=p, place=where,
                                    expected=f"F16 of length {want}" if want else "sample or profileN of a width")
            a = np.concatenate([np.array(c, copy=True) for c in iter_tensor_chunks(header, info)])
            if not np.isfinite(a).all():
                raise EvidenceError("sketch holds NaN or infinity", file=p, place=where, expected="finite values")
            arrays[(i, kind)] = a
    grams: dict[int, np.ndarray] = {}
    names = {t.name for t in fp.tensors}
    for k, g in enumerate(fp.grams):
        where = f"gram {k} of tensor '{g.tensor}'"
        info = stored.pop(f"g{k}", None)
        want = n_pairs(len(fp.anchors[g.anchor].tokens)) if g.anchor < len(fp.anchors) else None
        if want is None or g.tensor not in names or info is None or info.dtype != "F16" or info.shape != (want,):
            raise EvidenceError("anchored Gram missing, of an unknown tensor or anchor, or of the wrong dtype or "
                                "length", file=p, place=where, expected=f"F16 of length {want}" if want else
                                "an anchor listed in 'anchors'")
        a = np.concatenate([np.array(c, copy=True) for c in iter_tensor_chunks(header, info)])
        if not np.isfinite(a).all():
            raise EvidenceError("sketch holds NaN or infinity", file=p, place=where, expected="finite values")
        grams[k] = a
    if stored:
        raise EvidenceError("sketch not described", file=p, place=f"tensor '{sorted(stored)[0]}'",
                            expected="only sketches the description lists")
    if len({t.name for t in fp.tensors}) != len(fp.tensors):
        raise EvidenceError("a tensor name appears twice", file=p, place="tensors", expected="unique names")
    fp._arrays = arrays
    fp._grams = grams
    fp._sha256 = sha256_file(p)
    return fp


def _expected_length(t: TensorPrint, kind: str, m: re.Match | None, fp: Fingerprint) -> int | None:
    if m is None:
        return None
    if kind == "sample":
        return int(sample_positions(t.shape, fp.seed).size)
    axis = int(m.group(2))
    if axis >= len(t.shape) or len(t.shape) < 2 or t.shape[axis] not in fp.widths:
        return None
    return min(t.shape[axis], PROFILE_MAX)


def load_model_or_fingerprint(path: str | Path, *, executor: str | None = "threads", jobs: int | None = None,
                              seed: int = 0) -> Fingerprint:
    """A fingerprint from a model directory (computed) or a fingerprint file (read and validated)."""
    p = Path(path)
    if p.is_dir():
        fp = fingerprint_model(p, executor=executor, jobs=jobs, seed=seed)
        fp._sha256 = sha256_bytes(_container(fp))
        return fp
    refuse_pickle(p)
    return read_fingerprint(p)
