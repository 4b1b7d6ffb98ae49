"""The draft store: a reviewer's unfinished input, saved atomically so that nothing typed is ever lost.

Widgets forget their values when a notebook is re-run or its kernel restarts (ipywidgets issues 2369 and
3698), so the form writes every change to ``<round>/drafts/<reviewer>/<team>.json`` and rebuilds itself
from that file. Saves are atomic (temporary file + rename): a crash leaves the previous draft, never half
of one. A draft that cannot be read is renamed ``*.corrupt-<n>`` and reported, never silently discarded.

Public API: :class:`Draft`, :class:`Submission`, :class:`LoadedDraft`, :class:`DraftStore`,
:class:`Autosaver`, :func:`parse_draft`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from ..core.base import ID_PATTERN, Hex64, Id, Model, from_pydantic
from ..core.errors import InputFileError, ValidationError, WorkbenchError
from ..core.files import atomic_write_json, parse_json, read_bounded
from ..model.sheet import COI, Judgment

log = logging.getLogger(__name__)

__all__ = ["DRAFT_SCHEMA", "Autosaver", "Draft", "DraftStore", "LoadedDraft", "Submission", "parse_draft"]

DRAFT_SCHEMA = "workbench.draft/1"
MAX_DRAFT_BYTES = 4 * 1024 * 1024
STALE_TMP_SECONDS = 60
_wall_clock = time.time  # file ages are wall-clock; the autosave timing uses time.monotonic


class Submission(Model):
    """One signed version written from this draft."""


    version: Annotated[int, Field(ge=1)]
    file: Annotated[str, Field(min_length=1, max_length=1000)]
    sha256: Hex64


class Draft(Model):
    """What a reviewer has entered so far for one team. It holds no key, passphrase or wall-clock time."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["workbench.draft/1"] = Field(DRAFT_SCHEMA, alias="schema")
    round_id: Annotated[str, Field(min_length=1, max_length=100)]
    reviewer_id: Id
    team_id: Id
    rubric_sha256: Hex64
    judgments: dict[str, Judgment] = Field(default_factory=dict)
    coi: COI = Field(default_factory=COI)
    # entries the current rubric cannot show (e.g. a criterion it no longer has): kept, and reported
    orphans: dict[str, Judgment] = Field(default_factory=dict)
    submitted: list[Submission] = Field(default_factory=list)
    # the language the reviewer chose with the switch, restored with the draft (absent in older drafts)
    lang: Literal["ko", "en"] | None = Field(default=None, exclude_if=lambda v: v is None)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data, with ``schema`` as the key."""
        return self.model_dump(mode="json", by_alias=True)


def parse_draft(data: bytes | str, name: str = "<draft>") -> Draft:
    """Parse and type-check draft bytes; any problem is one :class:`WorkbenchError` naming the place."""
    raw = parse_json(data, name)
    if not isinstance(raw, dict):
        raise ValidationError("draft is not a JSON object", file=name, expected="an object with schema, judgments, coi")
    try:
        return Draft.model_validate(raw)
    except pydantic.ValidationError as e:
        raise from_pydantic(e, ValidationError, file=name) from None


class LoadedDraft(BaseModel):
    """The result of loading: the draft (None when there is none) and a corrupt file set aside, if any."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    draft: Draft | None
    corrupt_file: Path | None = None
    problem: str | None = None


class DraftStore:
    """Drafts of one round: ``<round>/drafts/<reviewer>/<team>.json``."""

    def __init__(self, round_dir: str | Path) -> None:
        self.root = Path(round_dir) / "drafts"

    def path(self, reviewer_id: str, team_id: str) -> Path:
        """Where the draft of this reviewer for this team lives."""
        for v in (reviewer_id, team_id):
            if not re.match(ID_PATTERN, v):
                raise WorkbenchError(f"invalid id '{v}'", expected="letters, digits, '_', '.', '-' (at most 64)")
        return self.root / reviewer_id / f"{team_id}.json"

    def load(self, reviewer_id: str, team_id: str) -> LoadedDraft:
        """Load a draft. An unreadable one is renamed ``*.corrupt-<n>`` and reported in the result."""
        p = self.path(reviewer_id, team_id)
        self._sweep(p)
        if not p.exists():
            return LoadedDraft(draft=None)
        try:
            draft = parse_draft(read_bounded(p, MAX_DRAFT_BYTES), str(p))
            if (draft.reviewer_id, draft.team_id) != (reviewer_id, team_id):
                raise ValidationError(
                    f"draft belongs to {draft.reviewer_id}/{draft.team_id}", file=p, place="reviewer_id",
                    expected=f"{reviewer_id}/{team_id}",
                )
        except WorkbenchError as e:
            return LoadedDraft(draft=None, corrupt_file=self._set_aside(p), problem=str(e))
        return LoadedDraft(draft=draft)

    def save(self, draft: Draft) -> Path:
        """Write the draft atomically (readers see the old or the new file, never half of one)."""
        p = self.path(draft.reviewer_id, draft.team_id)
        return atomic_write_json(p, draft.to_json())

    @staticmethod
    def _sweep(p: Path) -> None:
        """Remove temporaries of this draft left by a killed kernel (an atomic save interrupted before its
        rename); recent ones may belong to a save in flight elsewhere and stay."""
        now = _wall_clock()
        for tmp in p.parent.glob(f".{p.name}.*.tmp") if p.parent.is_dir() else ():
            with contextlib.suppress(OSError):
                if now - tmp.lstat().st_mtime > STALE_TMP_SECONDS:
                    tmp.unlink()

    @staticmethod
    def _set_aside(p: Path) -> Path:
        n = 1
        while True:
            target = p.with_name(f"{p.name}.corrupt-{n}")
            try:
                # link + unlink: never replaces an earlier corrupt copy, even under a race
                os.link(p, target)
            except FileExistsError:
                n += 1
                continue
            except OSError as e:
                raise InputFileError(f"cannot set the corrupt draft aside: {e.strerror}", file=p) from None
            p.unlink()
            log.warning("corrupt draft %s set aside as %s", p, target.name)
            return target


class Autosaver:
    """Saves drafts soon after each change: at once when idle, else at most every ``interval`` seconds.

    An isolated change (a click) is written immediately, so it is on disk within milliseconds; a burst (a
    reviewer typing) is coalesced into one write per ``interval``, the last state always written. With the
    default 0.5 s every change is on disk within a second.
    """

    def __init__(self, save: Callable[[Draft], Any], interval: float = 0.5) -> None:
        self._save = save
        self.interval = interval
        self._lock = threading.Lock()
        self._pending: Draft | None = None
        self._timer: threading.Timer | None = None
        self._last = float("-inf")
        self.saves = 0
        self.error: WorkbenchError | OSError | None = None

    def schedule(self, draft: Draft) -> None:
        """Record the newest state; write it now or when the interval since the last write has passed."""
        with self._lock:
            self._pending = draft
            if self._timer is not None:
                return  # the scheduled write will take this newest state
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()
                return
        self.flush()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        self.flush()

    def flush(self) -> None:
        """Write the pending state now (if any)."""
        with self._lock:
            draft, self._pending = self._pending, None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if draft is None:
                return
            try:
                self._save(draft)
                self.error = None
            except (WorkbenchError, OSError) as e:
                # keep the state so the next change retries; the form shows the error
                self._pending = draft
                self.error = e
                return
            self._last = time.monotonic()
            self.saves += 1
