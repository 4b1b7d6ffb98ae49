"""Safe loading of untrusted YAML/JSON and atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.core.errors import InputFileError, WorkbenchError
from workbench.core.files import (
    MAX_DEPTH,
    atomic_write_bytes,
    atomic_write_json,
    canonical_json,
    load_json,
    load_yaml,
    parse_json,
    parse_yaml,
)


def test_yaml_line_map_points_at_keys():
    data, lines = parse_yaml("a: 1\nb:\n  c: [1, 2]\n  d:\n    - x\n    - y\n", "f.yaml")
    assert data == {"a": 1, "b": {"c": [1, 2], "d": ["x", "y"]}}
    assert lines[("a",)] == 1 and lines[("b", "c")] == 3 and lines[("b", "d", 1)] == 6


def test_yaml_duplicate_key_names_both_lines():
    with pytest.raises(InputFileError) as e:
        parse_yaml("a: 1\nb: 2\na: 3\n", "r.yaml")
    assert str(e.value) == "r.yaml:3: duplicate key 'a' (first at line 1), expected each key once"


def test_yaml_alias_refused():
    with pytest.raises(InputFileError, match=r"r.yaml:2: YAML aliases are not accepted"):
        parse_yaml("a: &x [1, 2]\nb: *x\n", "r.yaml")


def test_yaml_billion_laughs_refused_fast():
    bomb = "a: &a ['lol','lol']\n" + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20))
    with pytest.raises(InputFileError, match="aliases"):
        parse_yaml(bomb, "bomb.yaml")


def test_yaml_syntax_error_has_line():
    with pytest.raises(InputFileError) as e:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert str(e.value).startswith("bad.yaml:") and "YAML syntax error" in str(e.value)
    assert e.value.line is not None


def test_yaml_deep_nesting_refused():
    text = "a: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10)
    with pytest.raises(InputFileError, match="nesting deeper"):
        parse_yaml(text, "deep.yaml")


def test_size_bound(tmp_path):
    p = tmp_path / "big.yaml"
    p.write_text("a: " + "x" * 2000)
    with pytest.raises(InputFileError, match=r"big.yaml: file is 2003 bytes, expected at most 1000 bytes"):
        load_yaml(p, max_bytes=1000)


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        load_json(tmp_path / "nope.json")
    p = tmp_path / "latin.json"
    p.write_bytes(b'{"a":\n "\xff"}')
    with pytest.raises(InputFileError, match=r"latin.json:2: not valid UTF-8"):
        load_json(p)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": 1,', "JSON syntax error"),
        ("[" * 1000 + "]" * 1000, "nesting deeper"),
    ],
)
def test_json_strict(text, fragment):
    with pytest.raises(InputFileError, match=fragment):
        parse_json(text, "x.json")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_yaml_parser_never_crashes(text):
    with contextlib.suppress(WorkbenchError):
        parse_yaml(text, "fuzz.yaml")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_json_parser_never_crashes(data):
    with contextlib.suppress(WorkbenchError):
        parse_json(data, "fuzz.json")


def test_canonical_json_is_rfc8785():
    assert canonical_json({"b": 1.0, "a": [True, None, "é"], "c": 1e21}) == '{"a":[true,null,"é"],"b":1,"c":1e+21}'.encode()


def test_atomic_write_replaces_and_never_leaves_temp(tmp_path):
    p = tmp_path / "sub" / "f.json"
    atomic_write_json(p, {"a": 1})
    atomic_write_json(p, {"a": 2})
    assert load_json(p) == {"a": 2}
    assert sorted(os.listdir(p.parent)) == ["f.json"]


def test_atomic_write_no_overwrite(tmp_path):
    p = tmp_path / "v1.json"
    atomic_write_bytes(p, b"one", overwrite=False)
    with pytest.raises(InputFileError, match="never overwritten"):
        atomic_write_bytes(p, b"two", overwrite=False)
    assert p.read_bytes() == b"one"
    assert sorted(os.listdir(tmp_path)) == ["v1.json"]


def test_atomic_write_failure_keeps_old_file(tmp_path):
    p = tmp_path / "f.json"
    atomic_write_bytes(p, b"old")

    class Boom:
        def __len__(self):
            raise RuntimeError("disk on fire")

    with pytest.raises(TypeError):
        atomic_write_bytes(p, Boom())  # type: ignore[arg-type]
    assert p.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["f.json"]


def test_file_lock_excludes_a_second_holder(tmp_path):
    from workbench.core.files import file_lock

    lock = tmp_path / "sub" / "x.lock"
    # flock locks belong to the open file description: a second open in this process conflicts too
    with file_lock(lock), pytest.raises(BlockingIOError), file_lock(lock, wait=False):
        pass
    with file_lock(lock, wait=False):
        pass


@pytest.mark.parametrize(
    ("text", "ok"),
    [("evidence/a.json", True), ("a", True), ("", False), ("/etc/passwd", False), ("a/../../b", False),
     ("..", False), ("a\\b", False), ("a/..b", True)],
)
def test_is_contained_relpath(text, ok):
    from workbench.core.files import is_contained_relpath

    assert is_contained_relpath(text) is ok


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab./\\", max_size=12))
def test_contained_relpaths_never_leave_their_folder(text):
    import os.path

    from workbench.core.files import is_contained_relpath

    if is_contained_relpath(text):
        assert not os.path.normpath(os.path.join("root", text)).startswith("..")
        assert os.path.normpath(os.path.join("root", text)) != os.path.normpath("root/..")


def test_special_files_are_refused_without_blocking(tmp_path):
    import os

    from workbench.core.files import read_bounded, sha256_file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for read in (read_bounded, sha256_file):
        with pytest.raises(InputFileError, match="not a regular file"):
            read(fifo)


def test_hashing_is_bounded_and_refuses_sparse_files(tmp_path):
    from workbench.core.files import sha256_file
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:  # 256 GiB of holes: hashing them would take a quarter of an hour
        fh.truncate(1 << 38)
    with pytest.raises(InputFileError, match="sparse file"):
        sha256_file(big)
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 100)
    with pytest.raises(InputFileError, match="file is 100 bytes, expected at most 10 bytes"):
        sha256_file(small, max_bytes=10)
    assert sha256_file(small) == hashlib.sha256(b"x" * 100).hexdigest()


def test_yaml_is_parsed_by_libyaml_when_plain_with_the_same_data_and_lines_and_the_same_errors_otherwise():
    """A reviewer's notebook reads a dozen YAML files before its form appears: LibYAML parses plain ones;
    anything unusual goes to the pure-Python loader, which words the error as before."""
    import yaml

    from workbench.core import files

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML without LibYAML")
    from pathlib import Path

    for path in sorted((Path(files.__file__).parent / "data" / "rubrics").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = files._parse_fast(text, path.name)
        assert fast is not None, path
        slow = files._BoundedLoader(text, path.name)
        node = slow.get_single_node()
        lines: dict = {}
        files._line_map(node, (), lines)
        assert fast == (slow.construct_document(node), lines), path
    for bad in ("a: &x 1\nb: *x\n", "a: 1\na: 2\n", "a: [1\n", "a: \x07\n", "[" * 200 + "]" * 200):
        assert files._parse_fast(bad, "bad.yaml") is None
        with pytest.raises(InputFileError):
            files.parse_yaml(bad, "bad.yaml")
