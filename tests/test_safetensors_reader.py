"""The untrusted safetensors reader: valid files read exactly, lying files refused with one clear error."""

from __future__ import annotations

import json
import struct

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

from workbench.core.errors import EvidenceError
from workbench.evidence._safetensors import DTYPES, as_values, iter_tensor_chunks, read_header, refuse_pickle


def st_bytes(entries: dict, data: bytes, metadata: dict | None = None, pad: bool = True) -> bytes:
    header = dict(entries)
    if metadata is not None:
        header["__metadata__"] = metadata
    raw = json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def one_tensor(tmp_path, dtype="F32", shape=(2, 3), offsets=None, data=None, extra=b""):
    n = int(np.prod(shape)) * (DTYPES[dtype].itemsize if dtype in DTYPES else 1)
    data = bytes(range(256)) * (n // 256 + 1) if data is None else data
    data = data[:n]
    entry = {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets or [0, n])}
    p = tmp_path / "m.safetensors"
    p.write_bytes(st_bytes({"w": entry}, data + extra))
    return p


def test_reads_what_the_safetensors_library_writes(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"a": rng.standard_normal((7, 5)).astype(np.float32), "b": rng.standard_normal(9).astype(np.float16),
               "c": np.arange(12, dtype=np.int64).reshape(3, 4), "d": np.zeros((0, 3), np.float32)}
    p = tmp_path / "x.safetensors"
    save_file(tensors, str(p), metadata={"format": "np"})
    hd = read_header(p)
    assert hd.metadata == {"format": "np"}
    assert {t.name for t in hd.tensors} == set(tensors)
    lib = load_file(str(p))
    for t in hd.tensors:
        got = np.concatenate(list(iter_tensor_chunks(hd, t, window_bytes=16))).reshape(t.shape)
        np.testing.assert_array_equal(got, lib[t.name])


@pytest.mark.parametrize("dtype,np_dtype", [("BF16", ml_dtypes.bfloat16), ("F8_E4M3", ml_dtypes.float8_e4m3fn),
                                             ("F8_E5M2", ml_dtypes.float8_e5m2)])
def test_low_precision_dtypes_stream_in_windows(tmp_path, dtype, np_dtype):
    values = np.random.default_rng(1).standard_normal((33, 17)).astype(np_dtype)
    p = tmp_path / "m.safetensors"
    p.write_bytes(st_bytes({"w": {"dtype": dtype, "shape": [33, 17], "data_offsets": [0, values.nbytes]}},
                           values.tobytes()))
    hd = read_header(p)
    (info,) = hd.tensors
    chunks = list(iter_tensor_chunks(hd, info, window_bytes=100))
    assert len(chunks) > 1 and all(c.shape[1:] == (17,) for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks).view(np.uint8), values.view(np.uint8))


@pytest.mark.parametrize("make,message", [
    (lambda t: one_tensor(t, offsets=[0, 48], extra=b"\0" * 24), "data_offsets span 48 bytes"),
    (lambda t: one_tensor(t, dtype="F4"), "unknown dtype 'F4'"),
    (lambda t: one_tensor(t, extra=b"junk"), "4 bytes after the last tensor"),
])
def test_lying_single_tensor_headers_are_refused(tmp_path, make, message):
    with pytest.raises(EvidenceError, match=message):
        read_header(make(tmp_path))


def test_truncated_file_is_refused(tmp_path):
    p = one_tensor(tmp_path)
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(EvidenceError, match="truncated"):
        read_header(p)
    p.write_bytes(b"\x01\x02")
    with pytest.raises(EvidenceError, match="too short"):
        read_header(p)


def test_header_length_beyond_file_or_over_100mb(tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", 1000) + b"{}")
    with pytest.raises(EvidenceError, match="header claims 1000 bytes"):
        read_header(p)
    p.write_bytes(struct.pack("<Q", 100 * 1024 * 1024 + 1) + b"{}")
    with pytest.raises(EvidenceError, match="expected at most 104857600 bytes"):
        read_header(p)


def test_overlapping_tensors_and_holes(tmp_path):
    p = tmp_path / "m.safetensors"
    a = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    b = {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}
    p.write_bytes(st_bytes({"a": a, "b": b}, b"\0" * 12))
    with pytest.raises(EvidenceError, match="overlap") as e:
        read_header(p)
    assert "tensor 'b'" in str(e.value) and str(p) in str(e.value)
    b["data_offsets"] = [12, 20]
    p.write_bytes(st_bytes({"a": a, "b": b}, b"\0" * 20))
    with pytest.raises(EvidenceError, match="hole of 4 bytes"):
        read_header(p)


@pytest.mark.parametrize("raw,message", [
    (b"[1, 2]", "not a JSON object"),
    (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": 1}', "duplicate key"),
    (b"{nope", "not valid JSON"),
    (b'{"__metadata__": {"k": 1}}', "__metadata__ is not a map of strings"),
    (b'{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', "bad shape"),
    (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}', "bad data_offsets"),
    (b'{"a": {"dtype": "F32", "shape": [1]}}', "entry is not"),
])
def test_malformed_header_json(tmp_path, raw, message):
    p = tmp_path / "m.safetensors"
    p.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 4)
    with pytest.raises(EvidenceError, match=message):
        read_header(p)


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth", ".ckpt"])
def test_pickle_checkpoints_are_never_opened(tmp_path, suffix):
    p = tmp_path / f"pytorch_model{suffix}"
    p.write_bytes(b"\x80\x04not really")
    with pytest.raises(EvidenceError, match="pickle-based checkpoint refused") as e:
        read_header(p)
    assert "save_file" in str(e.value)
    refuse_pickle(tmp_path / "model.safetensors")  # not a pickle suffix: no error


shapes = st.lists(st.integers(0, 5), min_size=0, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(st.tuples(st.sampled_from(sorted(DTYPES)), shapes), min_size=1, max_size=5), data=st.data())
def test_valid_headers_round_trip_and_mutations_never_crash(tmp_path, specs, data):
    entries, pos = {}, 0
    for i, (dtype, shape) in enumerate(specs):
        n = int(np.prod(shape, dtype=np.int64)) * DTYPES[dtype].itemsize
        entries[f"t{i}"] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + n]}
        pos += n
    blob = st_bytes(entries, bytes(pos), pad=data.draw(st.booleans()))
    p = tmp_path / "h.safetensors"
    p.write_bytes(blob)
    hd = read_header(p)
    assert [(t.name, t.dtype, list(t.shape)) for t in sorted(hd.tensors, key=lambda t: t.name)] == \
        [(f"t{i}", d, s) for i, (d, s) in enumerate(specs)]
    # any single-byte change or truncation is either still a consistent file or one EvidenceError
    mutated = bytearray(blob)
    at = data.draw(st.integers(0, len(blob) - 1))
    mutated[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    p.write_bytes(bytes(mutated[:cut]))
    try:
        hd = read_header(p)
    except EvidenceError as e:
        assert str(p) in str(e)
    else:
        assert hd.data_start + sum(t.nbytes for t in hd.tensors) == hd.file_size


def test_too_many_tensors_are_refused_before_any_record_is_built(tmp_path, monkeypatch):
    import numpy as np
    from safetensors.numpy import save_file

    import workbench.evidence._safetensors as S
    from workbench.core.errors import EvidenceError
    save_file({f"t{i}": np.zeros((0,), np.float32) for i in range(5)}, tmp_path / "m.safetensors")
    monkeypatch.setattr(S, "MAX_TENSORS", 4)
    with pytest.raises(EvidenceError, match=r"header: 5 tensors in one file, expected at most 4"):
        S.read_header(tmp_path / "m.safetensors")


def test_as_values_reads_every_bfloat16_exactly_as_ml_dtypes_does(tmp_path):
    """The shift that reads bfloat16 without ml_dtypes gives the same float32 for all 65536 bit patterns
    (NaNs keep their bits), and the other dtypes read as themselves."""
    bits = np.arange(1 << 16, dtype="<u2")
    p = tmp_path / "m.safetensors"
    p.write_bytes(st_bytes({"w": {"dtype": "BF16", "shape": [256, 256], "data_offsets": [0, 1 << 17]}},
                           bits.tobytes()))
    hd = read_header(p)
    raw = np.concatenate([c.reshape(-1) for c in iter_tensor_chunks(hd, hd.tensors[0], raw=True)])
    assert raw.dtype == np.dtype("<u2")
    got = as_values(raw, "BF16")
    want = bits.view(ml_dtypes.bfloat16).astype(np.float32)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    for dtype, np_dtype in (("F16", "<f2"), ("F8_E4M3", ml_dtypes.float8_e4m3fn), ("I32", "<i4")):
        vals = np.arange(-8, 8).astype(np_dtype)
        assert np.array_equal(as_values(vals.view(f"<u{vals.itemsize}" if vals.itemsize > 1 else "u1"), dtype),
                              vals)


def test_fingerprinting_a_bf16_model_does_not_import_ml_dtypes(tmp_path):
    """bfloat16 models are read through the shift (ml_dtypes' import costs about as much as hashing 1 GB)."""
    import subprocess
    import sys

    rng = np.random.default_rng(1)
    d = tmp_path / "model"
    d.mkdir()
    bits = (rng.integers(0x3B80, 0x3D80, size=(64, 32)) | (rng.integers(0, 2, size=(64, 32)) << 15)).astype("<u2")
    header = {"model.embed_tokens.weight": {"dtype": "BF16", "shape": [64, 32], "data_offsets": [0, bits.nbytes]}}
    (d / "model.safetensors").write_bytes(st_bytes(header, bits.tobytes()))
    code = ("import sys\nfrom workbench.evidence.weights import fingerprint_model\n"
            f"fp = fingerprint_model({str(d)!r})\n"
            "assert fp.tensors[0].sketches, fp.tensors[0]\n"
            "assert 'ml_dtypes' not in sys.modules, 'ml_dtypes imported'\n"
            "print(fp.tensors[0].sha256)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    import hashlib

    assert out == [hashlib.sha256(bits.tobytes()).hexdigest()]
