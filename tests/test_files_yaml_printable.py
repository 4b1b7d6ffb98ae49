"""Regression: YAML with non-printable characters is an InputFileError naming the line, not a traceback."""

import pytest

from workbench.core.errors import InputFileError
from workbench.core.files import parse_yaml


@pytest.mark.parametrize(("text", "line"), [("\x00", 1), ("a: 1\nb: \x07\n", 2)])
def test_non_printable_character(text, line):
    with pytest.raises(InputFileError, match=f"x.yaml:{line}: character .* is not allowed in YAML"):
        parse_yaml(text, "x.yaml")
