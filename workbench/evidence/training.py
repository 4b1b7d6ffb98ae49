"""Training logs as evidence of training from scratch: initial loss, tokens, discontinuities, compute.

Public API:

- :func:`load_training_log` / :func:`parse_training_log`: a loss curve from CSV or JSONL (untrusted,
  bounded, strictly validated) as a :class:`TrainingLog`.
- :func:`load_accelerators`: the package's table of peak dense BF16 FLOP/s per accelerator.
- :func:`analyze_training`: the checks, as a :class:`TrainingEvidence` (``to_summary()`` for the sheet).
- :func:`training_table`, :func:`training_chart`: what the reviewer reads in the notebook.

What the checks mean: a randomly initialized language model predicts a near-uniform distribution over its
vocabulary, so its first loss is close to ln(V) nats; continued training of a pretrained model starts far
below (typically 2-3 nats). A log can be edited, so these are readings for a reviewer, not verdicts.

TensorBoard event files are refused with instructions to export the scalars to CSV: the only maintained
readers depend on the full ``tensorboard`` package, which the workbench does not install.
"""

from __future__ import annotations

import array
import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..core.base import Model, from_pydantic
from ..core.charts import altair, style
from ..core.errors import EvidenceError
from ..core.files import decode_text, open_regular, parse_yaml
from ..core.messages import msg
from ._inputs import HashingReader, InputFile, as_evidence_errors, decoded_lines

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "Accelerator",
    "ComputeCheck",
    "CurvePoint",
    "Discontinuity",
    "Flag",
    "TrainingEvidence",
    "TrainingLog",
    "analyze_training",
    "load_accelerators",
    "load_training_log",
    "parse_training_log",
    "training_chart",
    "training_table",
]

MAX_LOG_BYTES = 256 * 1024 * 1024
MAX_ROWS = 5_000_000

# Accepted column names per quantity; the first is the canonical one.
COLUMNS: dict[str, tuple[str, ...]] = {
    "step": ("step", "global_step", "iteration"),
    "tokens": ("tokens", "tokens_seen", "consumed_tokens", "num_tokens"),
    "loss": ("loss", "train_loss", "lm_loss"),
    "lr": ("lr", "learning_rate"),
}
REQUIRED = ("step", "loss")

# Readings of the initial loss as a share of ln(V) (see the module docstring).
NEAR_LN_V = 0.8  # at or above: consistent with random initialization
FAR_BELOW_LN_V = 0.5  # below: consistent with starting from trained weights
ABOVE_LN_V = 1.5  # above: unusual (a loss in bits, or summed over tokens?)
LATE_START_STEP = 10  # a first logged step beyond this means the log does not show initialization

TOKEN_TOLERANCE = 0.10  # logged vs claimed tokens
UTILISATION_LOW = 0.05
UTILISATION_HIGH = 0.70

JUMP_WINDOW = 5  # points in each median window around a candidate loss jump
JUMP_REL = 0.10  # relative change of the median loss, beyond the local trend, that counts as a jump
GAP_FACTOR = 5.0  # a step interval or tokens-per-step rate this many times the usual one is flagged
CURVE_POINTS = 2000  # points kept for the chart


# ---------------------------------------------------------------- models

class TrainingLog(BaseModel):
    """A validated loss curve: strictly increasing steps, finite non-negative values."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    source: InputFile
    step: np.ndarray
    loss: np.ndarray
    tokens: np.ndarray | None = None
    lr: np.ndarray | None = None
    ignored_columns: list[str] = Field(default_factory=list)


class Accelerator(Model):
    """One row of ``workbench/data/accelerators.yaml``."""


    name: str
    peak_bf16_tflops: float = Field(gt=0)
    aliases: list[str] = Field(default_factory=list)
    source: str


class Flag(BaseModel):
    """Something the reviewer should look at: a stable code and a sentence."""

    code: str
    message: str
    step: int | None = None


class Discontinuity(BaseModel):
    """A place where the curve does not continue smoothly.

    ``kind``: ``loss_jump`` (the median loss moves :data:`JUMP_REL` beyond its trend and stays there),
    ``step_gap`` (a step interval :data:`GAP_FACTOR` x the median) or ``token_jump`` (tokens per step
    change by :data:`GAP_FACTOR` x against the preceding rows). ``before``/``after`` are the values compared.
    """

    kind: Literal["loss_jump", "step_gap", "token_jump"]
    step: int
    before: float
    after: float
    change: float


class ComputeCheck(BaseModel):
    """6·N·D training FLOPs against the FLOPs the declared GPU-hours could deliver at peak."""

    params: float
    tokens: float
    tokens_source: Literal["claimed", "logged"]
    accelerator: str
    peak_flops: float
    gpu_hours: float
    required_flops: float
    available_flops: float
    utilisation: float
    reading: Literal["plausible", "implausibly_low", "implausibly_high"]


class CurvePoint(BaseModel):
    step: int
    loss: float


class TrainingEvidence(BaseModel):
    """The result of :func:`analyze_training`."""

    inputs: list[InputFile]
    rows: int
    first_step: int
    last_step: int
    initial_loss: float
    final_loss: float
    vocab_size: int | None
    ln_vocab: float | None
    initial_loss_ratio: float | None
    initial_reading: Literal["near_ln_v", "far_below_ln_v", "between", "above_ln_v", "unknown"]
    tokens_logged: float | None
    tokens_claimed: float | None
    token_ratio: float | None
    discontinuities: list[Discontinuity]
    compute: ComputeCheck | None
    flags: list[Flag]
    ignored_columns: list[str]
    thresholds: dict[str, float]
    curve: list[CurvePoint] = Field(repr=False)

    def to_summary(self) -> dict:
        """JSON-able, deterministic summary for the score sheet (the curve itself is left out)."""
        return {"evidence": "training_log", **self.model_dump(mode="json", exclude={"curve"})}


# ---------------------------------------------------------------- loading

def load_training_log(path: str | Path, max_bytes: int = MAX_LOG_BYTES) -> TrainingLog:
    """Load a loss curve from ``.csv`` or ``.jsonl``; TensorBoard event files are refused with advice."""
    p = Path(path)
    if "tfevents" in p.name:
        raise EvidenceError(
            "TensorBoard event files are not read (the only maintained readers need the full tensorboard "
            "package)", file=p,
            expected="the scalars exported to CSV: in TensorBoard's Scalars tab use 'Show data download "
            "links' and download CSV, or run tbparse/tensorboard's EventAccumulator and write columns "
            "step,tokens,loss,lr (see docs/independence-evidence.md)",
        )
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}.get(p.suffix.lower())
    if fmt is None:
        raise EvidenceError(f"unknown training-log type '{p.suffix}'", file=p, expected=".csv or .jsonl")
    with as_evidence_errors():
        raw = HashingReader(open_regular(p, max_bytes))
    with io.BufferedReader(raw) as binary:
        columns, lines, ignored = _read_stream(decoded_lines(binary, p), str(p), fmt)
        source = raw.record(p)  # the parser may stop before the end (trailing blank lines): hash them too
    return _validate(columns, lines, ignored, str(p), source)


def parse_training_log(
    data: bytes, *, name: str, fmt: Literal["csv", "jsonl"], source: InputFile | None = None
) -> TrainingLog:
    """Parse and validate a loss curve from bytes (e.g. an upload widget's content)."""
    source = source or InputFile.of(name, data)
    with as_evidence_errors():
        text = decode_text(data, name)
    columns, lines, ignored = _read_stream(io.StringIO(text, newline=""), name, fmt)
    return _validate(columns, lines, ignored, name, source)


def _read_stream(text: Iterable[str], name: str, fmt: str) -> tuple[dict[str, Any], Any, list[str]]:
    return _read_csv(text, name) if fmt == "csv" else _read_jsonl(text, name)


def _canonical_columns(header: list[str], name: str, line: int) -> tuple[dict[str, str], list[str]]:
    """Map each quantity to the header name that carries it; return the unused names too."""
    found: dict[str, str] = {}
    used: set[str] = set()
    for qty, aliases in COLUMNS.items():
        present = [a for a in aliases if a in header]
        if len(present) > 1:
            raise EvidenceError(f"both '{present[0]}' and '{present[1]}' given for {qty}", file=name,
                                line=line, expected="one column per quantity")
        if present:
            found[qty] = present[0]
            used.add(present[0])
    for qty in REQUIRED:
        if qty not in found:
            raise EvidenceError(f"no '{qty}' column", file=name, line=line,
                                expected="columns " + ", ".join(f"{q} ({'/'.join(COLUMNS[q])})" for q in COLUMNS))
    return found, sorted(set(header) - used)


def _no_nul(lines: Iterable[str], name: str) -> Iterator[str]:
    for number, line in enumerate(lines, start=1):
        if "\x00" in line:
            raise EvidenceError("contains NUL bytes", file=name, line=number, expected="a text file")
        yield line


def _float_or_refuse(v: str, qty: str, name: str, line: int) -> float:
    try:
        return float(v)
    except (ValueError, OverflowError):
        raise EvidenceError(f"{qty} is {v[:40]!r}", file=name, line=line, expected="a number") from None


def _read_csv(text: Iterable[str], name: str) -> tuple[dict[str, Any], Any, list[str]]:
    # only the columns used are kept, each value as a float as soon as it is read: memory is 8 bytes a cell
    reader = csv.reader(_no_nul(text, name), strict=True)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)  # leading blank lines
        if header is None:
            raise EvidenceError("empty file", file=name, expected="a header row and data rows")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise EvidenceError("repeated column name", file=name, line=reader.line_num,
                                expected="unique column names")
        found, ignored = _canonical_columns(header, name, reader.line_num)
        where = [(qty, header.index(col)) for qty, col in found.items()]
        columns = {qty: array.array("d") for qty in found}
        lines = array.array("q")
        width = len(header)
        for row in reader:
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                raise EvidenceError(f"{len(row)} fields", file=name, line=reader.line_num,
                                    expected=f"{width} fields as in the header")
            if len(lines) >= MAX_ROWS:
                raise EvidenceError("too many rows", file=name, line=reader.line_num,
                                    expected=f"at most {MAX_ROWS} (log every few steps)")
            for qty, c in where:
                columns[qty].append(_float_or_refuse(row[c], qty, name, reader.line_num))
            lines.append(reader.line_num)
    except csv.Error as e:
        raise EvidenceError(f"CSV syntax error: {e}", file=name, line=reader.line_num) from None
    return columns, lines, ignored


def _read_jsonl(text: Iterable[str], name: str) -> tuple[dict[str, Any], Any, list[str]]:
    columns: dict[str, array.array] | None = None
    found: dict[str, str] = {}
    ignored: set[str] = set()
    lines = array.array("q")
    for number, raw in enumerate(_no_nul(text, name), start=1):
        if not raw.strip():
            continue
        try:
            # NaN/Infinity are let through here so that the value check can name the field
            obj = json.loads(raw, parse_constant=float)
        except (ValueError, RecursionError) as e:
            raise EvidenceError(f"not a JSON object: {e}", file=name, line=number) from None
        if not isinstance(obj, dict):
            raise EvidenceError("not a JSON object", file=name, line=number, expected='{"step": ..., "loss": ...}')
        if columns is None:
            found, _ = _canonical_columns(list(obj), name, number)
            columns = {qty: array.array("d") for qty in found}
        if len(lines) >= MAX_ROWS:
            raise EvidenceError("too many rows", file=name, line=number, expected=f"at most {MAX_ROWS}")
        for qty, key in found.items():
            if key not in obj:
                raise EvidenceError(f"missing '{key}'", file=name, line=number, expected="the keys of the first row")
            v = obj[key]
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise EvidenceError(f"{qty} is {type(v).__name__} {v!r}", file=name, line=number, expected="a number")
            try:
                columns[qty].append(v)
            except OverflowError:
                raise EvidenceError(f"{qty} is {v}", file=name, line=number, expected="a finite number") from None
        ignored.update(k for k in obj if k not in found.values())
        lines.append(number)
    if columns is None:
        raise EvidenceError("empty file", file=name, expected="one JSON object per line")
    return columns, lines, sorted(ignored)


def _as_floats(values: array.array, qty: str, name: str, lines: array.array) -> np.ndarray:
    """The readers' float column, checked finite and non-negative (the failing row's line is named)."""
    arr = np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise EvidenceError(f"{qty} is {arr[i]}", file=name, line=lines[i], expected="a finite number")
    neg = arr < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise EvidenceError(f"{qty} is negative ({arr[i]})", file=name, line=lines[i], expected="a value >= 0")
    return arr


def _validate(columns: dict[str, Any], lines: Any, ignored: list[str], name: str, source: InputFile) -> TrainingLog:
    if not lines:
        raise EvidenceError("no data rows", file=name, expected="at least one row with step and loss")
    arrays = {qty: _as_floats(vals, qty, name, lines) for qty, vals in columns.items()}
    step = arrays["step"]
    frac = step != np.floor(step)
    if frac.any():
        i = int(np.argmax(frac))
        raise EvidenceError(f"step is {step[i]}", file=name, line=lines[i], expected="a whole number")
    if step.max() > 2**53:
        raise EvidenceError("step too large", file=name, expected="at most 2^53")
    back = np.diff(step) <= 0
    if back.any():
        i = int(np.argmax(back)) + 1
        raise EvidenceError(
            f"step {int(step[i])} does not increase (previous row: {int(step[i - 1])})", file=name, line=lines[i],
            expected="strictly increasing steps; after a restart keep only the rows of the resumed run",
        )
    if "tokens" in arrays:
        drop = np.diff(arrays["tokens"]) < 0
        if drop.any():
            i = int(np.argmax(drop)) + 1
            raise EvidenceError("tokens decrease", file=name, line=lines[i],
                                expected="a cumulative count of tokens seen")
    return TrainingLog(source=source, step=step.astype(np.int64), loss=arrays["loss"],
                       tokens=arrays.get("tokens"), lr=arrays.get("lr"), ignored_columns=ignored)


# ---------------------------------------------------------------- accelerators

@cache
def load_accelerators() -> dict[str, Accelerator]:
    """The accelerator table shipped with the package, keyed by its canonical id."""
    ref = resources.files("workbench") / "data" / "accelerators.yaml"
    data, lines = parse_yaml(ref.read_text(encoding="utf-8"), "workbench/data/accelerators.yaml")
    try:
        table = pydantic.TypeAdapter(dict[str, Accelerator]).validate_python(data["accelerators"])
    except pydantic.ValidationError as e:  # pragma: no cover - the shipped file is tested
        raise from_pydantic(e, EvidenceError, file="workbench/data/accelerators.yaml", lines=lines,
                               prefix=("accelerators",)) from None
    return table


def _accelerator(gpu: str) -> tuple[str, Accelerator]:
    key = " ".join(gpu.replace("_", " ").split()).casefold()
    for ident, acc in sorted(load_accelerators().items()):
        names = [ident, *acc.aliases]
        if key in {" ".join(n.replace("_", " ").split()).casefold() for n in names}:
            return ident, acc
    known = ", ".join(sorted(load_accelerators()))
    raise EvidenceError(f"unknown accelerator '{gpu}'", place="gpu", expected=f"one of {known}")


# ---------------------------------------------------------------- analysis

def _step_gaps(step: np.ndarray) -> list[Discontinuity]:
    if len(step) < 3:
        return []
    d = np.diff(step).astype(np.float64)
    usual = float(np.median(d))
    out = []
    for i in np.flatnonzero(d > GAP_FACTOR * usual):
        out.append(Discontinuity(kind="step_gap", step=int(step[i + 1]), before=float(step[i]),
                                 after=float(step[i + 1]), change=float(d[i] / usual)))
    return out


def _token_jumps(step: np.ndarray, tokens: np.ndarray) -> list[Discontinuity]:
    """Tokens per step against the median rate of the preceding rows (batch ramp-ups change it gradually)."""
    w = JUMP_WINDOW
    if len(step) < w + 2:
        return []
    rate = np.diff(tokens) / np.diff(step)
    usual = np.median(np.lib.stride_tricks.sliding_window_view(rate, w), axis=1)[:-1]  # rate[i-w:i] for i >= w
    now = rate[w:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usual > 0, now / usual, np.where(now > 0, np.inf, 1.0))
    flagged = (ratio > GAP_FACTOR) | (ratio < 1 / GAP_FACTOR)
    # report the first row of a run: the rows after it still compare against the old rate
    first = flagged & ~np.concatenate([[False], flagged[:-1]])
    return [Discontinuity(kind="token_jump", step=int(step[i + w + 1]), before=float(usual[i]),
                          after=float(now[i]), change=float(min(ratio[i], 1e300)))
            for i in np.flatnonzero(first)]


def _loss_jumps(step: np.ndarray, loss: np.ndarray) -> list[Discontinuity]:
    """Level shifts that the curve's own trend does not explain.

    ``rel[i]`` is the relative change from the median of the ``w`` points before row ``i`` to the median of
    the ``w`` points from ``i`` on. Medians ignore single-point spikes (common and harmless). On a smooth
    curve ``rel[i]`` lies between ``rel[i - w]`` and ``rel[i + w]`` (the trend one window either side); a
    restart or checkpoint swap makes ``rel[i]`` exceed both by :data:`JUMP_REL` in the same direction.
    Rows closer than ``2w`` to either end lack a trend on one side and are not tested.
    """
    w, n = JUMP_WINDOW, len(loss)
    if n < 4 * w:
        return []
    med = np.median(np.lib.stride_tricks.sliding_window_view(loss, w), axis=1)  # med[j] = median(loss[j:j+w])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.full(n, np.nan)
        before, after = med[: n - 2 * w + 1], med[w: n - w + 1]  # for rows w .. n-w
        rel[w: n - w + 1] = np.where(before > 0, after / before - 1.0, np.where(after > 0, np.inf, 0.0))
    idx = np.arange(2 * w, n - 2 * w + 1)
    d_prev, d_next = rel[idx] - rel[idx - w], rel[idx] - rel[idx + w]
    # stands out from the trend on BOTH sides: a jump's own change never shows up as one at its neighbours
    strength = np.where(np.sign(d_prev) == np.sign(d_next), np.minimum(np.abs(d_prev), np.abs(d_next)), 0.0)
    cand = strength >= JUMP_REL
    out = []
    k = 0
    while k < len(idx):
        if not cand[k]:
            k += 1
            continue
        end = k
        while end + 1 < len(idx) and cand[end + 1]:
            end += 1
        run = np.arange(k, end + 1)
        best = run[strength[run] == strength[run].max()]
        i = int(idx[best[(len(best) - 1) // 2]])  # the middle of equal maxima: the change point of a clean step
        out.append(Discontinuity(kind="loss_jump", step=int(step[i]), before=float(med[i - w]),
                                 after=float(med[i]), change=float(min(rel[i], 1e300))))
        k = end + 1
    return out


def _initial_reading(ratio: float | None) -> str:
    if ratio is None:
        return "unknown"
    if ratio > ABOVE_LN_V:
        return "above_ln_v"
    if ratio >= NEAR_LN_V:
        return "near_ln_v"
    if ratio < FAR_BELOW_LN_V:
        return "far_below_ln_v"
    return "between"


def _compute_check(params: float, tokens: float, tokens_source: str, gpu: str, gpu_hours: float) -> ComputeCheck:
    if not (math.isfinite(params) and params > 0):
        raise EvidenceError(f"parameter count {params}", place="params", expected="a positive number")
    if not (math.isfinite(gpu_hours) and gpu_hours > 0):
        raise EvidenceError(f"GPU-hours {gpu_hours}", place="gpu_hours", expected="a positive number")
    ident, acc = _accelerator(gpu)
    peak = acc.peak_bf16_tflops * 1e12
    required = 6.0 * params * tokens
    available = gpu_hours * 3600.0 * peak
    u = required / available
    reading = "implausibly_low" if u < UTILISATION_LOW else "implausibly_high" if u > UTILISATION_HIGH else "plausible"
    return ComputeCheck(params=params, tokens=tokens, tokens_source=tokens_source, accelerator=ident,
                        peak_flops=peak, gpu_hours=gpu_hours, required_flops=required,
                        available_flops=available, utilisation=u, reading=reading)


def _curve(log: TrainingLog, keep: list[int]) -> list[CurvePoint]:
    n = len(log.step)
    idx = np.unique(np.concatenate([np.linspace(0, n - 1, min(n, CURVE_POINTS)).round().astype(np.int64),
                                    np.asarray(keep, dtype=np.int64)]))
    return [CurvePoint(step=int(log.step[i]), loss=float(log.loss[i])) for i in idx]


def analyze_training(
    log: TrainingLog,
    *,
    vocab_size: int | None = None,
    claimed_tokens: float | None = None,
    params: float | None = None,
    gpu: str | None = None,
    gpu_hours: float | None = None,
) -> TrainingEvidence:
    """Read a loss curve against the team's declared facts.

    ``vocab_size``: the model's vocabulary (for ln V); ``claimed_tokens``: training tokens the team
    reports; ``params`` (N), ``gpu`` (an id or alias from :func:`load_accelerators`) and ``gpu_hours``
    (total device-hours, i.e. GPUs x wall-clock hours) enable the compute check, which uses the claimed
    tokens when given and the logged ones otherwise. Any fact left out skips its check.
    """
    flags: list[Flag] = []
    first, last = int(log.step[0]), int(log.step[-1])
    initial = float(log.loss[0])
    ln_v = ratio = None
    if vocab_size is not None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise EvidenceError(f"vocabulary size {vocab_size!r}", place="vocab_size", expected="an integer >= 2")
        ln_v = math.log(vocab_size)
        ratio = initial / ln_v
    reading = _initial_reading(ratio)
    if reading == "far_below_ln_v":
        flags.append(Flag(code="initial_loss_far_below_ln_v", step=first, message=(
            f"first logged loss {initial:.3g} is {ratio:.0%} of ln V = {ln_v:.3g}: consistent with starting "
            "from trained weights, not from random initialization")))
    elif reading == "above_ln_v":
        flags.append(Flag(code="initial_loss_above_ln_v", step=first, message=(
            f"first logged loss {initial:.3g} is {ratio:.0%} of ln V = {ln_v:.3g}: check the unit (bits? summed?)")))
    elif reading == "between":
        flags.append(Flag(code="initial_loss_between", step=first, message=(
            f"first logged loss {initial:.3g} is {ratio:.0%} of ln V = {ln_v:.3g}: inconclusive")))
    if first > LATE_START_STEP:
        flags.append(Flag(code="log_starts_late", step=first, message=(
            f"the log starts at step {first}: the loss at initialization is not shown")))

    tokens_logged = float(log.tokens[-1]) if log.tokens is not None else None
    token_ratio = None
    if claimed_tokens is not None:
        if not (math.isfinite(claimed_tokens) and claimed_tokens > 0):
            raise EvidenceError(f"claimed tokens {claimed_tokens}", place="claimed_tokens", expected="a positive number")
        if tokens_logged is None:
            flags.append(Flag(code="tokens_not_logged", message="the log has no tokens column: the claim is unchecked"))
        else:
            token_ratio = tokens_logged / claimed_tokens
            if abs(token_ratio - 1.0) > TOKEN_TOLERANCE:
                flags.append(Flag(code="tokens_differ_from_claim", step=last, message=(
                    f"logged tokens {tokens_logged:.4g} are {token_ratio:.0%} of the claimed {claimed_tokens:.4g}")))

    jumps = _loss_jumps(log.step, log.loss) + _step_gaps(log.step)
    if log.tokens is not None:
        jumps += _token_jumps(log.step, log.tokens)
    jumps.sort(key=lambda d: (d.step, d.kind))
    for d in jumps:
        flags.append(Flag(code=d.kind, step=d.step, message=(
            f"{d.kind.replace('_', ' ')} at step {d.step}: {d.before:.4g} -> {d.after:.4g}")))

    compute = None
    facts = {"params": params, "gpu": gpu, "gpu_hours": gpu_hours}
    if any(v is not None for v in facts.values()):
        missing = [k for k, v in facts.items() if v is None]
        tokens = claimed_tokens if claimed_tokens is not None else tokens_logged
        if missing or tokens is None:
            flags.append(Flag(code="compute_unchecked", message=(
                "compute check skipped: missing " + ", ".join(missing + ([] if tokens is not None else ["tokens"])))))
        else:
            compute = _compute_check(float(params), float(tokens),
                                     "claimed" if claimed_tokens is not None else "logged", gpu, float(gpu_hours))
            if compute.reading != "plausible":
                flags.append(Flag(code=f"compute_{compute.reading}", message=(
                    f"6*N*D = {compute.required_flops:.3g} FLOPs is {compute.utilisation:.1%} of "
                    f"{gpu_hours:.4g} GPU-hours at {_peak_text(compute)} peak; plausible range "
                    f"{UTILISATION_LOW:.0%}-{UTILISATION_HIGH:.0%}")))

    step_index = {int(s): i for i, s in enumerate(log.step)}
    return TrainingEvidence(
        inputs=[log.source], rows=len(log.step), first_step=first, last_step=last, initial_loss=initial,
        final_loss=float(log.loss[-1]), vocab_size=vocab_size, ln_vocab=ln_v, initial_loss_ratio=ratio,
        initial_reading=reading, tokens_logged=tokens_logged, tokens_claimed=claimed_tokens,
        token_ratio=token_ratio, discontinuities=jumps, compute=compute, flags=flags,
        ignored_columns=log.ignored_columns,
        thresholds={"near_ln_v": NEAR_LN_V, "far_below_ln_v": FAR_BELOW_LN_V, "above_ln_v": ABOVE_LN_V,
                    "token_tolerance": TOKEN_TOLERANCE, "utilisation_low": UTILISATION_LOW,
                    "utilisation_high": UTILISATION_HIGH, "jump_rel": JUMP_REL, "jump_window": JUMP_WINDOW,
                    "gap_factor": GAP_FACTOR},
        curve=_curve(log, [step_index[d.step] for d in jumps]),
    )


def _peak_text(c: ComputeCheck) -> str:
    """'H100-SXM 989.4 TFLOP/s'."""
    return f"{c.accelerator} {c.peak_flops / 1e12:.4g} TFLOP/s"


# ---------------------------------------------------------------- notebook views

def training_table(result: TrainingEvidence) -> pd.DataFrame:
    """One row per check: what was measured, what it is compared with, and the reading."""
    rows = []
    ratio = f"{result.initial_loss_ratio:.0%} of ln V" if result.initial_loss_ratio is not None else ""
    rows.append(("initial loss", f"{result.initial_loss:.4g} at step {result.first_step}",
                 f"ln V = {result.ln_vocab:.4g}" if result.ln_vocab is not None else "vocabulary not given",
                 f"{result.initial_reading} {ratio}".strip()))
    rows.append(("tokens", f"{result.tokens_logged:.4g}" if result.tokens_logged is not None else "not logged",
                 f"claimed {result.tokens_claimed:.4g}" if result.tokens_claimed is not None else "no claim",
                 f"{result.token_ratio:.1%} of claim" if result.token_ratio is not None else ""))
    if result.compute is not None:
        c = result.compute
        rows.append(("compute (6·N·D)", f"{c.required_flops:.3g} FLOPs",
                     f"{c.gpu_hours:.4g} GPU-h x {_peak_text(c)} = {c.available_flops:.3g}",
                     f"{c.reading}: {c.utilisation:.1%} utilisation"))
    for d in result.discontinuities:
        rows.append((d.kind, f"step {d.step}", f"{d.before:.4g} -> {d.after:.4g}", f"change {d.change:+.3g}"))
    return pd.DataFrame(rows, columns=["check", "value", "reference", "reading"])


def training_chart(result: TrainingEvidence, lang: str = "en") -> alt.TopLevelMixin:
    """The loss curve with ln V as a dashed line and each discontinuity marked and labelled; labels in ``lang``."""
    alt = altair()
    curve = pd.DataFrame([p.model_dump() for p in result.curve])
    line = alt.Chart(curve).mark_line().encode(
        x=alt.X("step:Q", title=msg("chart_step", lang)), y=alt.Y("loss:Q", title=msg("chart_loss", lang)),
        tooltip=["step", "loss"],
    )
    layers: list[alt.Chart] = [line]
    if result.ln_vocab is not None:
        ref = pd.DataFrame({"y": [result.ln_vocab], "label": [msg("chart_ln_vocab", lang, value=f"{result.ln_vocab:.3g}")]})
        layers.append(alt.Chart(ref).mark_rule(strokeDash=[6, 4], color="gray").encode(y="y:Q"))
        layers.append(alt.Chart(ref).mark_text(align="left", dy=-6, color="gray").encode(
            y="y:Q", x=alt.value(4), text="label:N"))
    if result.discontinuities:
        marks = pd.DataFrame([{"step": d.step, "label": d.kind.replace("_", " ")} for d in result.discontinuities])
        layers.append(alt.Chart(marks).mark_rule(color="firebrick").encode(x="step:Q", tooltip=["step", "label"]))
        layers.append(alt.Chart(marks).mark_text(angle=270, align="left", dx=4, dy=-4, color="firebrick").encode(
            x="step:Q", y=alt.value(8), text="label:N"))
    title = msg("chart_training_title", lang, reading=msg(f"reading_{result.initial_reading}", lang))
    return style(alt.layer(*layers).properties(title=title, width=560, height=280))
