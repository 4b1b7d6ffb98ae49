"""Benchmark: weight fingerprinting throughput and memory, and comparison time at 100B-MoE scale.

1. Generates bf16 models of 1 GB and 4 GB in a temporary folder (shards of ~512 MB, deleted afterwards),
   times ``sha256sum`` over the same files (one streaming pass: the baseline), then
   ``python -m workbench fingerprint`` with processes and with threads (the default), and a one-process
   ``hashlib`` pass (the stricter baseline), and prints throughputs, their ratios (goal >= 1.0 against
   ``sha256sum``), the fingerprint's size relative to the model (goal <= 0.1%) and peak RSS (goal < 1 GB):
   the largest single process (getrusage RUSAGE_CHILDREN) and the sum over the process tree sampled
   every 20 ms from /proc.
2. Synthesizes two fingerprints at the size of a ~110B-parameter MoE model (48 layers x 128 experts,
   ~19k tensors) and times their comparison (goal < 10 s).

Every figure is printed with the 1-minute load average when it was taken (the machine is shared).

Usage: python benchmarks/bench_weights.py [--sizes 1,4] [--skip-moe] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.evidence._invariants import ANCHOR_TOKENS, n_pairs, plan_matrix  # noqa: E402
from workbench.evidence.provenance import compare, pair_statistic  # noqa: E402
from workbench.evidence.weights import (  # noqa: E402
    PROFILE_MAX,
    Anchor,
    Fingerprint,
    GramPrint,
    TensorPrint,
    sample_positions,
)

SEED = 20260201
SHARD_BYTES = 512 * 1024**2
HASHLIB_PASS = ("import hashlib, sys\nfor f in sys.argv[1:]:\n    h = hashlib.sha256()\n"
                "    with open(f, 'rb') as fh:\n        for b in iter(lambda: fh.read(1 << 22), b''):\n"
                "            h.update(b)\n    print(h.hexdigest(), f)")


def layout(total_bytes: int) -> list[tuple[str, tuple[int, ...]]]:
    """A llama-like bf16 layout (d=2048, ff=5632, vocab 32000) with as many layers as fit ``total_bytes``."""
    d, ff, vocab = 2048, 5632, 32000
    out = [("model.embed_tokens.weight", (vocab, d)), ("lm_head.weight", (vocab, d)), ("model.norm.weight", (d,))]
    per_layer = (4 * d * d + 3 * d * ff + 2 * d) * 2
    layers = max(1, (total_bytes - 2 * vocab * d * 2) // per_layer)
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [(p + f"self_attn.{n}.weight", (d, d)) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        out += [(p + "mlp.gate_proj.weight", (ff, d)), (p + "mlp.up_proj.weight", (ff, d)),
                (p + "mlp.down_proj.weight", (d, ff))]
        out += [(p + "input_layernorm.weight", (d,)), (p + "post_attention_layernorm.weight", (d,))]
    return out


def random_bf16(rng: np.random.Generator, n: int) -> bytes:
    """n bf16 values of magnitude ~0.004-0.06 with random signs, made from random bits (fast)."""
    bits = rng.integers(0x3B80, 0x3D80, size=n, dtype=np.uint16)
    bits |= (rng.integers(0, 2, size=n, dtype=np.uint16) << 15)
    return bits.tobytes()


def write_model(folder: Path, total_bytes: int) -> int:
    """Write shards with a streaming writer (never the whole model in memory); return bytes written."""
    rng = np.random.default_rng(SEED)
    tensors = layout(total_bytes)
    shards: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for name, shape in tensors:
        nbytes = int(np.prod(shape)) * 2
        if size + nbytes > SHARD_BYTES and shards[-1]:
            shards.append([])
            size = 0
        shards[-1].append((name, shape))
        size += nbytes
    weight_map, written = {}, 0
    for s, items in enumerate(shards):
        fname = f"model-{s + 1:05d}-of-{len(shards):05d}.safetensors"
        header, pos = {}, 0
        for name, shape in items:
            n = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [pos, pos + n]}
            pos += n
            weight_map[name] = fname
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        with (folder / fname).open("wb") as fh:
            fh.write(struct.pack("<Q", len(raw)) + raw)
            for _name, shape in items:
                n = int(np.prod(shape))
                for c in range(0, n, 1 << 24):
                    fh.write(random_bf16(rng, min(1 << 24, n - c)))
        written += (folder / fname).stat().st_size
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps({"hidden_size": 2048, "intermediate_size": 5632}))
    return written


def load() -> str:
    """The 1-minute load average, printed beside each figure."""
    return f"[load {os.getloadavg()[0]:.1f}]"


def tree_rss(pid: int) -> int:
    """Sum of VmRSS (bytes) over ``pid`` and its descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


CPU: list[float] = []  # CPU seconds (user + system) of each command run, its children included, in order


def run_measured(cmd: list[str]) -> tuple[float, int, int]:
    """Run ``cmd``; return wall seconds, max RSS of one process, peak RSS summed over the process tree. Its CPU
    seconds go to :data:`CPU` (what the load average cannot take away: on a shared machine the wall ratio
    depends on what else ran during each command)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)

    th = threading.Thread(target=sample)
    th.start()
    rc = proc.wait()
    elapsed = time.perf_counter() - t0
    done.set()
    th.join()
    if rc != 0:
        raise SystemExit(f"{cmd[:4]} failed with exit code {rc}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(usage.ru_utime + usage.ru_stime - cpu0)
    return elapsed, max(before, usage.ru_maxrss) * 1024, peak


def bench_fingerprint(gb: int, repeat: int = 1) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-weights-{gb}g-", dir="/tmp"))
    try:
        model = tmp / "model"
        model.mkdir()
        t0 = time.perf_counter()
        nbytes = write_model(model, gb * 1024**3)
        print(f"[{gb} GB] generated {nbytes / 1e9:.3f} GB of bf16 shards in {time.perf_counter() - t0:.1f} s")
        shards = sorted(str(p) for p in model.glob("*.safetensors"))
        for _run in range(repeat):  # the same model, every pass timed and printed
            run_measured(["cat", *shards])  # untimed: every timed pass below finds the same (warm) page cache
            base_s, base_rss, _ = run_measured(["sha256sum", *shards])
            fp_s, fp_rss, fp_tree = run_measured([sys.executable, "-m", "workbench", "fingerprint", str(model),
                                                  "-o", str(tmp / "model.fp"), "--executor", "local"])
            th_s, _, th_tree = run_measured([sys.executable, "-m", "workbench", "fingerprint", str(model),
                                             "-o", str(tmp / "threads.fp"), "--executor", "threads"])
            hl_s, _, _ = run_measured([sys.executable, "-c", HASHLIB_PASS, *shards])
            fp_size = (tmp / "model.fp").stat().st_size
            base_gbs, fp_gbs, hl_gbs = nbytes / base_s / 1e9, nbytes / fp_s / 1e9, nbytes / hl_s / 1e9
            cpu = CPU[-4:]  # sha256sum, processes, threads, hashlib: in the order run
            print(f"[{gb} GB] sha256sum (baseline): {base_s:.2f} s = {base_gbs:.2f} GB/s {load()}")
            print(f"[{gb} GB] workbench fingerprint --executor local (processes): {fp_s:.2f} s = {fp_gbs:.2f} GB/s  "
                  f"ratio {fp_gbs / base_gbs:.2f} (goal >= 1.0) {load()}")
            print(f"[{gb} GB] workbench fingerprint --executor threads (the default): {th_s:.2f} s = {nbytes / th_s / 1e9:.2f} GB/s  "
                  f"ratio {base_s / th_s:.2f} (goal >= 1.0); process tree peak RSS {th_tree / 2**20:.0f} MiB {load()}")
            print(f"[{gb} GB] stricter baseline, Python hashlib (OpenSSL, SHA-NI) one pass: {hl_s:.2f} s = "
                  f"{hl_gbs:.2f} GB/s  ratio {fp_gbs / hl_gbs:.2f} (processes), {hl_s / th_s:.2f} (threads)")
            print(f"[{gb} GB] threads took {th_s / fp_s:.2f}x the processes' time in this run and "
                  f"{th_tree / max(fp_tree, 1):.2f}x their memory (the default is threads; see docs/weight-provenance.md)")
            print(f"[{gb} GB] CPU seconds (user + system): sha256sum {cpu[0]:.2f}, processes {cpu[1]:.2f}, threads "
                  f"{cpu[2]:.2f}, hashlib {cpu[3]:.2f}: threads use {cpu[2] / cpu[0]:.2f}x sha256sum's CPU time")
            print(f"[{gb} GB] peak RSS with processes: largest process {fp_rss / 2**20:.0f} MiB, process tree "
                  f"{fp_tree / 2**20:.0f} MiB; with threads {th_tree / 2**20:.0f} MiB (goal < 1024 MiB)")
            print(f"[{gb} GB] fingerprint {fp_size / 1e3:.1f} kB = {100 * fp_size / nbytes:.4f}% of the model "
                  f"(goal <= 0.1%)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def synth_moe(rng: np.random.Generator, copy_of: Fingerprint | None = None) -> Fingerprint:
    """A fingerprint at the size of a ~110B MoE (48 layers x 128 experts, d=4096, expert ff=1408)."""
    d, ff, experts, layers, vocab = 4096, 1408, 128, 48, 151936
    shapes = [("model.embed_tokens.weight", (vocab, d)), ("lm_head.weight", (vocab, d)), ("model.norm.weight", (d,))]
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes += [(p + f"self_attn.{n}.weight", (d, d)) for n in ("q_proj", "k_proj", "v_proj", "o_proj")]
        shapes += [(p + "mlp.gate.weight", (experts, d)), (p + "input_layernorm.weight", (d,)),
                   (p + "post_attention_layernorm.weight", (d,))]
        for e in range(experts):
            q = f"{p}mlp.experts.{e}."
            shapes += [(q + "gate_proj.weight", (ff, d)), (q + "up_proj.weight", (ff, d)),
                       (q + "down_proj.weight", (d, ff))]
    shapes.sort()
    tensors, arrays, grams, garrays = [], {}, [], {}
    norms = {n: s[0] for n, s in shapes if len(s) == 1}
    m = n_pairs(ANCHOR_TOKENS)
    lengths: dict[tuple[int, ...], int] = {}
    for i, (name, shape) in enumerate(shapes):
        plan = plan_matrix(name, shape, [("model.embed_tokens.weight", vocab, d)], norms)
        for part in range(len(plan.parts) if plan else 0):
            k = len(grams)
            grams.append(GramPrint(tensor=name, part=part, side=plan.side, anchor=0))
            garrays[k] = (copy_of._grams[k] if copy_of is not None and ".layers.1" in name
                          else rng.standard_normal(m).astype(np.float16))
        if shape not in lengths:
            lengths[shape] = int(sample_positions(shape, 0).size)
        kinds = {"sample": lengths[shape]}
        if len(shape) == 2:
            kinds.update({f"profile{a}": min(shape[a], PROFILE_MAX) for a in (0, 1) if shape[a] == d})
        copied = copy_of is not None and ".layers.1" in name  # layers 1, 10-19 copied from the reference
        if copied:
            tensors.append(copy_of.tensors[i])
            arrays.update({(i, k): copy_of._arrays[(i, k)] for k in kinds})
            continue
        tensors.append(TensorPrint(name=name, file="model.safetensors", dtype="BF16", shape=shape,
                                   sha256=rng.bytes(32).hex(), sketches=kinds, mean=0.0, std=0.02))
        arrays.update({(i, k): rng.standard_normal(n).astype(np.float16) for k, n in kinds.items()})
    tokens = [f"{k:016x}" for k in range(ANCHOR_TOKENS)]
    fp = Fingerprint(model="moe", seed=0, widths=[d], files={"model.safetensors": 0}, tensors=tensors,
                     anchors=[Anchor(tensor="model.embed_tokens.weight", width=d, tokens=tokens, source="tokenizer")],
                     grams=grams)
    fp._arrays, fp._grams = arrays, garrays
    return fp


def baseline_compare(cand: Fingerprint, ref: Fingerprint) -> int:
    """The strongest simple way: per shape, one numpy product of the candidates' and references' sampled
    values (standardized), each candidate's best partner by argmax, the statistic of that pair. Returns how
    many candidate tensors have a partner with z above 5. (Sees copies and fine-tunes only.)"""
    groups: dict[tuple[int, ...], tuple[list[int], list[int]]] = {}
    for i, t in enumerate(cand.tensors):
        groups.setdefault(t.shape, ([], []))[0].append(i)
    for j, t in enumerate(ref.tensors):
        if t.shape in groups:
            groups[t.shape][1].append(j)
    hits = 0
    for ci, rj in groups.values():
        if not rj:
            continue
        x = np.stack([cand.sketch(i, "sample") for i in ci])
        y = np.stack([ref.sketch(j, "sample") for j in rj])
        best = (x @ y.T).argmax(axis=1)
        hits += sum(pair_statistic(x[a], y[b]) > 5 for a, b in enumerate(best))
    return hits


def bench_compare(repeat: int = 1) -> None:
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    ref = synth_moe(rng)
    cand = synth_moe(rng, copy_of=ref)
    print(f"[MoE] synthesized two fingerprints of {len(ref.tensors)} tensors, {ref.n_params / 1e9:.1f}B parameters "
          f"each, in {time.perf_counter() - t0:.1f} s")
    print(f"[MoE] {len(ref.grams)} anchored Grams per fingerprint")
    for run in range(1, repeat + 1):  # every run timed and printed, baseline and compare alike
        t0 = time.perf_counter()
        hits = baseline_compare(cand, ref)
        base = time.perf_counter() - t0
        print(f"[MoE run {run}] baseline (numpy: per shape one product of sampled values, argmax, statistic): "
              f"{base:.2f} s; {hits} tensors matched {load()}")
        t0 = time.perf_counter()
        report = compare(cand, [ref])
        took = time.perf_counter() - t0
        flagged = sorted({c.component for c in report.components if c.verdict in ("identical", "derived")})
        print(f"[MoE run {run}] workbench compare (samples, profiles and anchored Grams, across shapes): {took:.2f} s "
              f"(goal < 10 s), {took / base:.2f}x the baseline's time; flagged {len(flagged)} components "
              f"({report.summary['identical']:.2%} identical, {report.summary['derived']:.2%} derived of the "
              f"parameters) {load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4", help="model sizes in GB, comma-separated")
    ap.add_argument("--skip-moe", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="fingerprint and compare runs (each timed and printed)")
    args = ap.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}; seed {SEED}")
    for gb in (int(s) for s in args.sizes.split(",") if s):
        bench_fingerprint(gb, args.repeat)
    if not args.skip_moe:
        bench_compare(args.repeat)


if __name__ == "__main__":
    main()
