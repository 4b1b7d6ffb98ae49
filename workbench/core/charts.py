"""Shared chart settings and static export.

Charts are Altair objects built by the evidence and report modules; this module gives them one look and
exports them to SVG/PNG with vl-convert, with a Korean-capable font registered so Hangul labels render as
text, not boxes. Notebooks show charts through :func:`figure`: SVG made in the kernel, so nothing is loaded
from a network (Altair's own display fetches vega from a CDN, which evaluation machines cannot reach) and
the same picture appears in JupyterLab, in ``jupyter nbconvert``'s HTML and in the report.

Altair and vl-convert are imported on first use, not with this module, and Altair through :func:`altair`,
which every module of the package uses instead of ``import altair``: a reviewer's notebook imports the
package in its first cell, and a batch runs hundreds of such notebooks.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ._lazy import without_iri_grammars
from .errors import WorkbenchError
from .files import atomic_write_bytes, atomic_write_text, read_bounded

if TYPE_CHECKING:
    import altair as alt


def altair() -> ModuleType:
    """The ``altair`` module, imported on first use without the IRI grammars jsonschema would compile
    (:func:`workbench.core._lazy.without_iri_grammars`: seconds of a notebook kernel's time)."""
    if "altair" in sys.modules:
        return sys.modules["altair"]
    with without_iri_grammars():
        import altair as alt_module
    return alt_module


# Debian's fonts-nanum (installed by the Makefile); other common locations are tried too.
FONT_DIRS = [
    "/usr/share/fonts/truetype/nanum",
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/truetype/noto",
    "/System/Library/Fonts",
]
FONT_FAMILY = "NanumGothic, Noto Sans CJK KR, Apple SD Gothic Neo, sans-serif"


@functools.cache
def _register_fonts() -> None:
    import vl_convert as vlc

    for d in FONT_DIRS:
        if Path(d).is_dir():
            vlc.register_font_directory(d)


def style(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Apply the workbench look (font that renders Hangul, readable sizes)."""
    return chart.configure(font=FONT_FAMILY).configure_axis(labelFontSize=11, titleFontSize=12)


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Render a chart to SVG text offline (no browser, no network)."""
    return _svg(chart.to_dict())


def _svg(spec: dict) -> str:
    import vl_convert as vlc

    _register_fonts()
    return vlc.vegalite_to_svg(spec)


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """Render a chart to PNG bytes offline."""
    import vl_convert as vlc

    _register_fonts()
    return vlc.vegalite_to_png(chart.to_dict(), scale=scale)


@dataclass(frozen=True)
class Figure:
    """A chart rendered to SVG, shown by Jupyter as ``image/svg+xml`` (no script, nothing fetched)."""

    svg: str
    title: str = ""

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg, "text/plain": self.title or "chart"}


def figure(chart: alt.TopLevelMixin) -> Figure:
    """The chart in the workbench look, rendered to SVG for a notebook; its title is the plain-text form."""
    spec = style(chart).to_dict()
    title = spec.get("title", "")
    return Figure(_svg(spec), str(title.get("text", "") if isinstance(title, dict) else title))


MAX_CHART_BYTES = 16 * 1024 * 1024


class PendingChart:
    """A chart drawn on demand: a reviewer's form is shown first and its charts after it (drawing the first
    chart loads Altair and starts vl-convert's engine, seconds a reviewer would otherwise wait for the form).

    Displayed before it is drawn, it shows a placeholder; :meth:`figure` draws it once. The review displays
    it with a display id and replaces the placeholder with the SVG when it draws its charts.

    ``cache``: a file that holds the drawn chart (title and SVG) under a name that says everything the
    picture depends on (see :func:`workbench.evidence.dossier_cache.chart_file`): read instead of drawing when present,
    written after drawing when not. Every notebook of a team then shows the picture its first one drew,
    without Altair's import and vl-convert's engine start (most of a batch notebook's time).
    """

    def __init__(self, build: Callable[[], alt.TopLevelMixin], placeholder: str, cache: Path | None = None) -> None:
        self._build, self.placeholder, self.cache = build, placeholder, cache
        self._figure: Figure | None = None

    @property
    def drawn(self) -> bool:
        return self._figure is not None

    def figure(self) -> Figure:
        """The chart as SVG (drawn on the first call)."""
        if self._figure is None:
            cached = self._cached()
            self._figure = cached or figure(self._build())
            if self.cache is not None and cached is None:
                # a round this account cannot write (a reviewer's kernel on a hub: cache/ is the coordinator's)
                # is no error: it draws each time
                with contextlib.suppress(OSError, WorkbenchError):
                    atomic_write_text(self.cache, json.dumps({"title": self._figure.title, "svg": self._figure.svg}))
        return self._figure

    def _cached(self) -> Figure | None:
        """The kept drawing, or None when there is none this account can read (never an error: it is drawn)."""
        if self.cache is None:
            return None
        try:
            doc = json.loads(read_bounded(self.cache, MAX_CHART_BYTES))
            return Figure(str(doc["svg"]), str(doc["title"]))
        except (OSError, WorkbenchError):  # absent, unreadable here, or too large
            return None
        except (ValueError, KeyError, TypeError):  # damaged: drawn again and rewritten
            with contextlib.suppress(OSError):
                self.cache.unlink()
            return None

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        if self._figure is not None:
            return self._figure._repr_mimebundle_()
        text = html.escape(self.placeholder)
        return {"text/html": f"<p class='wb-chart-pending' style='color:#666'><i>{text}</i></p>", "text/plain": text}


def save(chart: alt.TopLevelMixin, path: str | Path) -> Path:
    """Save as ``.svg``, ``.png`` or ``.html`` (self-contained, scripts inlined), chosen by the suffix."""
    p = Path(path)
    if p.suffix == ".svg":
        return atomic_write_text(p, to_svg(chart))
    if p.suffix == ".png":
        return atomic_write_bytes(p, to_png(chart))
    if p.suffix == ".html":
        return atomic_write_text(p, chart.to_html(inline=True))
    raise ValueError(f"unsupported chart format '{p.suffix}' (use .svg, .png or .html)")
