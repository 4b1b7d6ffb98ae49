"""A strict reader for untrusted safetensors files, streaming tensors through bounded memory maps.

The format is an 8-byte little-endian header length, a JSON header mapping tensor names to
``{"dtype", "shape", "data_offsets"}`` (plus an optional ``"__metadata__"`` string map), then the byte
buffer. A team controls every byte, so the header is validated against the file before any tensor is read:
size bounds, strict JSON, known dtypes, ``shape product x itemsize == byte length``, offsets inside the
buffer, no overlaps, no holes and no trailing bytes. Tensors are then read in windows of at most
``window_bytes`` through ``mmap`` + ``numpy.frombuffer``, so memory never grows with the model.

Public API: :data:`DTYPES`, :class:`TensorInfo`, :class:`Header`, :func:`read_header`,
:func:`iter_tensor_chunks`, :func:`refuse_pickle`, :data:`PICKLE_SUFFIXES`.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import EvidenceError, InputFileError
from ..core.files import parse_json

__all__ = [
    "DTYPES",
    "ITEMSIZE",
    "PICKLE_SUFFIXES",
    "Header",
    "TensorInfo",
    "iter_tensor_chunks",
    "read_header",
    "as_values",
    "refuse_pickle",
]

MAX_HEADER_BYTES = 100 * 1024 * 1024
WINDOW_BYTES = 64 * 1024 * 1024
# The largest released checkpoints (mixture-of-experts with per-expert scales) hold ~150k tensors; far more is
# an attempt to exhaust memory with per-tensor records, refused before any record is built.
MAX_TENSORS = 200_000

# safetensors dtype names -> numpy dtypes. bfloat16 and the float8 formats come from ml_dtypes, whose import
# costs 0.7-1.4 s: it is imported on the first look-up of one of them (a notebook that never reads a bf16 tensor
# never pays it), while membership, iteration and ITEMSIZE need no import.
_PLAIN_DTYPES: dict[str, str] = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?",
}
_ML_DTYPES: dict[str, str] = {"BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
_ORDER = ("F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "I64", "I32", "I16", "I8", "U64", "U32", "U16",
          "U8", "BOOL")
ITEMSIZE: dict[str, int] = {**{k: np.dtype(v).itemsize for k, v in _PLAIN_DTYPES.items()},
                            "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1}


class _DtypeTable(Mapping[str, np.dtype]):
    """Read-only ``name -> numpy dtype`` that imports ml_dtypes only when one of its dtypes is looked up."""

    def __init__(self) -> None:
        self._cache: dict[str, np.dtype] = {k: np.dtype(v) for k, v in _PLAIN_DTYPES.items()}

    def __getitem__(self, name: str) -> np.dtype:
        got = self._cache.get(name)
        if got is None:
            if name not in _ML_DTYPES:
                raise KeyError(name)
            import ml_dtypes  # deferred: see above

            got = self._cache[name] = np.dtype(getattr(ml_dtypes, _ML_DTYPES[name]))
        return got

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in ITEMSIZE  # a JSON list or dict is no dtype name

    def __iter__(self) -> Iterator[str]:
        return iter(_ORDER)

    def __len__(self) -> int:
        return len(_ORDER)


DTYPES: Mapping[str, np.dtype] = _DtypeTable()
# the unsigned integers a tensor's elements are stored as, for reading without ml_dtypes (see as_values)
_STORAGE: dict[str, np.dtype] = {k: np.dtype(f"<u{n}" if n > 1 else "u1") for k, n in ITEMSIZE.items()}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in a validated header; ``begin``/``end`` are offsets into the byte buffer."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.end - self.begin

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES


@dataclass(frozen=True)
class Header:
    """A validated header: tensors in buffer order, the metadata map, where the buffer starts, file size."""

    path: Path
    tensors: tuple[TensorInfo, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    data_start: int = 0
    file_size: int = 0


def refuse_pickle(path: str | Path) -> None:
    """Raise for pickle-based checkpoints: loading them runs arbitrary code, so they are never opened."""
    p = Path(path)
    if p.suffix.lower() in PICKLE_SUFFIXES:
        raise EvidenceError(
            "pickle-based checkpoint refused (unpickling can run arbitrary code)",
            file=p,
            expected=(
                "safetensors; convert it on a machine you trust, e.g. "
                "`python -c \"import torch; from safetensors.torch import save_file; "
                "save_file(torch.load('IN', weights_only=True), 'model.safetensors')\"` "
                "or `transformers`' `model.save_pretrained(DIR, safe_serialization=True)`"
            ),
        )


def _fail(path: Path, message: str, place: str | None = None, expected: str | None = None) -> EvidenceError:
    return EvidenceError(message, file=path, place=place, expected=expected)


def _int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_header(path: str | Path, max_header_bytes: int = MAX_HEADER_BYTES) -> Header:
    """Read and validate a safetensors header against the file; raise :class:`EvidenceError` if it lies."""
    p = Path(path)
    refuse_pickle(p)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise _fail(p, f"file is {size} bytes, too short for a safetensors header", expected="at least 8 bytes")
            (n,) = struct.unpack("<Q", prefix)
            if n > max_header_bytes:
                raise _fail(p, f"header claims {n} bytes", place="header", expected=f"at most {max_header_bytes} bytes")
            if 8 + n > size:
                raise _fail(p, f"header claims {n} bytes but the file has {size - 8} after the length",
                            place="header", expected="a complete header (file truncated?)")
            raw = fh.read(n)
    except FileNotFoundError:
        raise _fail(p, "file not found") from None
    except IsADirectoryError:
        raise _fail(p, "is a directory", expected="a .safetensors file") from None
    try:
        doc = parse_json(raw, str(p))
    except InputFileError as e:
        raise _fail(p, f"header is not valid JSON: {e.message}", place="header") from None
    if not isinstance(doc, dict):
        raise _fail(p, "header is not a JSON object", place="header")
    metadata = doc.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _fail(p, "__metadata__ is not a map of strings", place="header.__metadata__")
    if len(doc) > MAX_TENSORS:
        raise _fail(p, f"{len(doc)} tensors in one file", place="header",
                    expected=f"at most {MAX_TENSORS} (more than any released model holds)")
    tensors = [_tensor_info(p, name, entry) for name, entry in doc.items()]
    data_start = 8 + n
    buffer = size - data_start
    tensors.sort(key=lambda t: (t.begin, t.end, t.name))
    pos = 0
    for t in tensors:
        if t.begin < pos:
            raise _fail(p, f"bytes [{t.begin}, {t.end}) overlap the previous tensor (ends at {pos})",
                        place=f"tensor '{t.name}'", expected="non-overlapping data_offsets")
        if t.begin > pos:
            raise _fail(p, f"hole of {t.begin - pos} bytes before this tensor", place=f"tensor '{t.name}'",
                        expected="a byte buffer fully covered by tensors")
        pos = t.end
    if pos > buffer:
        last = tensors[-1].name
        raise _fail(p, f"data ends at byte {pos} of the buffer but the file holds {buffer}",
                    place=f"tensor '{last}'", expected="a complete file (truncated?)")
    if pos < buffer:
        raise _fail(p, f"{buffer - pos} bytes after the last tensor", place="buffer",
                    expected="no trailing bytes")
    return Header(path=p, tensors=tuple(tensors), metadata=dict(metadata), data_start=data_start, file_size=size)


def _tensor_info(p: Path, name: str, entry: object) -> TensorInfo:
    place = f"tensor '{name}'"
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _fail(p, "entry is not {dtype, shape, data_offsets}", place=place,
                    expected="exactly the keys dtype, shape, data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPES:
        raise _fail(p, f"unknown dtype {dtype!r}", place=place, expected="one of " + ", ".join(DTYPES))
    if not isinstance(shape, list) or len(shape) > 16 or not all(_int(d) and d >= 0 for d in shape):
        raise _fail(p, f"bad shape {shape!r}", place=place, expected="a list of at most 16 non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_int(o) and o >= 0 for o in offsets)
            and offsets[0] <= offsets[1]):
        raise _fail(p, f"bad data_offsets {offsets!r}", place=place, expected="[begin, end] with 0 <= begin <= end")
    expected = math.prod(shape) * ITEMSIZE[dtype]
    if offsets[1] - offsets[0] != expected:
        raise _fail(p, f"data_offsets span {offsets[1] - offsets[0]} bytes but shape {shape} of {dtype} needs "
                    f"{expected}", place=place, expected="shape product x itemsize == byte length")
    return TensorInfo(name=name, dtype=dtype, shape=tuple(shape), begin=offsets[0], end=offsets[1])


def as_values(raw: np.ndarray, dtype: str) -> np.ndarray:
    """Elements read with ``raw=True`` (unsigned storage integers) as numbers, exactly: bfloat16 as float32,
    every other dtype as a view of itself.

    bfloat16 is the top half of a float32, so a shift converts it without ml_dtypes (whose import costs about
    as much as hashing a gigabyte) and as fast as its cast; the float8 formats still go through ml_dtypes.
    """
    if dtype == "BF16":
        return np.left_shift(raw, 16, dtype=np.uint32).view(np.float32)
    return raw.view(DTYPES[dtype])


def _mapped(header: Header, info: TensorInfo, step: int, raw: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """``(first element, 1-D view)`` for consecutive runs of ``step`` elements of the tensor, each through a
    fresh memory map closed before the next is opened (resident memory stays at one run). ``raw``: as the
    unsigned integers they are stored as. The file must still have the size the header was validated against
    (a shrunk file would fault the map)."""
    dtype = _STORAGE[info.dtype] if raw else DTYPES[info.dtype]
    n = info.numel
    gran = mmap.ALLOCATIONGRANULARITY
    with header.path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size != header.file_size:
            raise _fail(header.path, "file changed size while being read", expected=f"{header.file_size} bytes")
        for e0 in range(0, n, step):
            e1 = min(n, e0 + step)
            start = header.data_start + info.begin + e0 * dtype.itemsize
            aligned = start - start % gran
            mm = mmap.mmap(fh.fileno(), (e1 - e0) * dtype.itemsize + (start - aligned), access=mmap.ACCESS_READ,
                           offset=aligned)
            try:
                arr = np.frombuffer(mm, dtype=dtype, count=e1 - e0, offset=start - aligned)
                yield e0, arr
                del arr
            finally:
                # a caller that kept a view holds the map open; it is released when the view is collected
                with contextlib.suppress(BufferError):
                    mm.close()


def iter_flat_chunks(header: Header, info: TensorInfo, window_bytes: int = WINDOW_BYTES,
                     raw: bool = False) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(first element, 1-D slab)`` over the tensor's elements in order, each slab at most
    ``window_bytes`` whatever the shape (a single row of gigabytes included). Callers must not keep a slab.
    ``raw``: the elements as their unsigned storage integers (see :func:`as_values`)."""
    yield from _mapped(header, info, max(1, window_bytes // ITEMSIZE[info.dtype]), raw)


def iter_tensor_chunks(header: Header, info: TensorInfo, window_bytes: int = WINDOW_BYTES,
                       raw: bool = False) -> Iterator[np.ndarray]:
    """Yield the tensor as consecutive slabs along axis 0 (whole rows), each at most ``window_bytes``.

    Every slab is a read-only view of a fresh memory map that is closed before the next one is opened, so
    resident memory stays bounded. Callers must not keep a slab after asking for the next one.
    A scalar or one-row tensor comes as a single slab. ``raw``: the elements as their unsigned storage
    integers (see :func:`as_values`).
    """
    dtype = _STORAGE[info.dtype] if raw else DTYPES[info.dtype]
    shape = info.shape or (1,)
    row_elems = math.prod(shape[1:])
    if shape[0] == 0 or row_elems == 0:
        yield np.zeros(shape, dtype=dtype)
        return
    rows_per = max(1, window_bytes // max(1, row_elems * dtype.itemsize))
    for _, arr in _mapped(header, info, rows_per * row_elems, raw):
        yield arr.reshape((arr.size // row_elems, *shape[1:]))
