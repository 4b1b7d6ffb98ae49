"""The CSV reader's fast path (pandas' C parser under vectorised checks) gives exactly what the exact reader
(Python's csv module, line by line) gives: the same frame with the same line numbers, or the same error; and it
is taken for ordinary files, so the speed is real."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from workbench.core.errors import EvidenceError
from workbench.evidence import _csv
from workbench.evidence._inputs import decoded_lines
from workbench.evidence.benchmarks import read_results_csv

REQ, OPT = ("a", "b"), ("c",)


def _exact(data: bytes) -> pd.DataFrame | str:
    try:
        return _csv.parse_csv(decoded_lines(io.BytesIO(data), "f.csv"), "f.csv", REQ, OPT)
    except EvidenceError as e:
        return str(e)


def _fast(data: bytes) -> pd.DataFrame | str | None:
    try:
        return _csv._fast_frame(data, "f.csv", REQ, OPT)
    except EvidenceError as e:
        return str(e)


def _same(data: bytes) -> None:
    fast, exact = _fast(data), _exact(data)
    if fast is None:
        return  # read_csv hands such a file to the exact reader
    if isinstance(exact, str):
        assert fast == exact
    else:
        assert isinstance(fast, pd.DataFrame), fast
        pd.testing.assert_frame_equal(fast, exact)


CELLS = st.text(alphabet=st.sampled_from(['x', '1', ' ', ',', '"', '\t', 'é', '\x0c', '\u3000', '.', '\r', '\n']),
                max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.sampled_from(["a,b", "a,b,c", "b,a,c", " a , b ", '"a",b', "a,b,d", "a,a,b", "\ufeffa,b,c"]),
       rows=st.lists(st.lists(CELLS, min_size=0, max_size=4), max_size=6),
       quote=st.booleans(), crlf=st.booleans(), end=st.booleans())
@example(header="a,b,c", rows=[["x", "1", '"q"']], quote=False, crlf=False, end=True)
def test_the_fast_path_agrees_with_the_exact_reader(header, rows, quote, crlf, end):
    nl = "\r\n" if crlf else "\n"

    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if quote and v else v

    text = header + nl + nl.join(",".join(cell(v) for v in r) for r in rows) + (nl if end else "")
    _same(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80).map(lambda b: b"a,b,c\n" + b))
def test_the_fast_path_agrees_on_any_bytes(data):
    _same(data)


@pytest.mark.parametrize("text", [
    'a,b,c\n1,"x,y",3\n\n  \n4,"say ""hi""",\n',  # quoted commas, doubled quotes, blank lines, empty cell
    'a,b\r\n1,2\r\n3,4\r\n',  # CRLF, optional column absent
    'a,b,c\n 1 , 2 ,3\n',  # cells to strip
    '\ufeffa,b,c\n한,글,3\n',  # BOM, non-ASCII
])
def test_ordinary_files_take_the_fast_path_with_the_exact_lines(text):
    data = text.encode("utf-8")
    fast = _csv._fast_frame(data, "f.csv", REQ, OPT)
    assert isinstance(fast, pd.DataFrame)
    pd.testing.assert_frame_equal(fast, _exact(data))


@pytest.mark.parametrize(("text", "line", "what"), [
    ('a,b,c\n1,2,3\n\n4,5\n', 4, "row has 2 fields"),
    ('a,b,c\n1,2,3\n4,"x"y,6\n', 3, "CSV syntax error"),
    ('a,b,c\n1,"multi\nline",3\n5,6,7,8\n', 4, "row has 4 fields"),  # a record over two lines: exact lines
    ('a,b,c\n1,2,\xff\n', 2, "not valid UTF-8"),
])
def test_what_the_fast_path_cannot_read_falls_to_the_exact_reader_and_names_the_line(tmp_path, text, line, what):
    f = tmp_path / "f.csv"
    f.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.replace("\xff", "").encode()
                  .replace(b"2,\n", b"2,\xff\n"))
    with pytest.raises(EvidenceError) as e:
        _csv.read_csv(f, REQ, OPT)
    assert e.value.line == line and what in str(e.value), str(e.value)


def test_a_results_file_keeps_its_line_numbers_through_the_fast_path(tmp_path):
    rows = ["team,model,benchmark,metric,value,stderr,n"] + [
        f't{i},m,kobest,"acc,none",0.{i + 1},,' for i in range(3)] + ["", 't3,m,kobest,"acc,none",0.5,,']
    f = tmp_path / "r.csv"
    f.write_text("\n".join(rows) + "\n")
    got = read_results_csv(f)
    assert [r.source for r in got.results] == ["r.csv:2", "r.csv:3", "r.csv:4", "r.csv:6"]
    f.write_text("\n".join([*rows, 't3,m,kobest,"acc,none",1.5,,']) + "\n")
    [bad] = read_results_csv(f).problems  # out of scale: a problem of its benchmark, named by its line
    assert bad.problem.line == 7
    f.write_text("\n".join([*rows, 't3,m,kobest,"acc,none",abc,,']) + "\n")
    with pytest.raises(EvidenceError) as e:
        read_results_csv(f)
    assert e.value.line == 7
