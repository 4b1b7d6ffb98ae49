"""Every page and HTML snippet the workbench makes comes from a Jinja template in ``workbench/templates``,
rendered with autoescaping on (values are escaped unless marked safe: charts' SVG and pandas' tables)
and strict undefined variables.

Public API: :func:`render`, :func:`macros`.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2

__all__ = ["macros", "render"]


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("workbench", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined)


def render(name: str, **context: Any) -> str:
    """The template ``name`` rendered with ``context``."""
    return _environment().get_template(name).render(**context)


def macros(name: str) -> Any:
    """The macros of template ``name``, callable from Python; each returns escaped markup."""
    return _environment().get_template(name).module
