"""Shared fixtures, and :func:`require` for tests that need an optional install."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUBRICS = ROOT / "rubrics"


def _share_the_cores() -> None:
    """Under pytest-xdist, each worker's BLAS uses one thread (and so do the processes it starts: kernels, batch
    workers): with a pool of threads per worker on a few cores, OpenBLAS threads spin against each other and
    the numpy-heavy tests (weight provenance) took twice as long (110.9 s against 54.3 s for two of their files,
    two workers on two cores). One process alone (``-n 0``) keeps the machine's default."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")  # numpy may already be loaded (a plugin, this conftest's imports)


_share_the_cores()


def in_ci() -> bool:
    """True where CI runs the tests (CI sets ``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require(condition: object, reason: str) -> None:
    """Skip the calling test unless ``condition`` holds; under ``CI=true`` fail instead of skipping.

    A developer without Chromium or the real model still gets a green run, but CI must run every test: a
    missing install there is a broken CI image, not a reason to pass.
    """
    __tracebackhide__ = True  # report the skip at the calling test, not here
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def refuse_outside(page, allowed: tuple[str, ...], outside: list[str]) -> None:
    """A machine without internet, for a Playwright ``page``: requests to the ``allowed`` URL prefixes (and
    ``data:``/``blob:``) go through; anything else is refused and recorded in ``outside``."""
    def route(r) -> None:
        if r.request.url.startswith((*allowed, "data:", "blob:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)


def require_module(name: str, reason: str | None = None) -> ModuleType:
    """Import ``name`` for the calling test, as :func:`require` would (skip locally, fail under ``CI=true``)."""
    __tracebackhide__ = True
    try:
        return importlib.import_module(name)
    except ImportError as e:
        require(False, reason or f"{name} cannot be imported ({e})")
        raise  # not reached: require skipped or failed


class _ManualTimer:
    """Stands in for ``threading.Timer``: records when it is due and fires only when the test says so."""

    def __init__(self, clock: AutosaveClock, wait: float, fn) -> None:
        self.due = clock.now + wait
        self.fn = fn
        self.started = self.cancelled = False
        self.daemon = False

    def start(self) -> None:
        self.started = True

    def cancel(self) -> None:
        self.cancelled = True

    def fire(self) -> None:
        assert self.started and not self.cancelled, "only a started, uncancelled timer fires"
        self.fn()


class AutosaveClock:
    """The monotonic clock and the timers of :mod:`workbench.notebook.drafts`, under the test's control."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.timers: list[_ManualTimer] = []

    def monotonic(self) -> float:
        return self.now

    def timer(self, wait: float, fn) -> _ManualTimer:
        self.timers.append(t := _ManualTimer(self, wait, fn))
        return t


@pytest.fixture()
def autosave_clock(monkeypatch) -> AutosaveClock:
    """Autosave without wall-clock time: ``clock.now`` is set by the test, timers fire on ``timer.fire()``."""
    import threading
    from types import SimpleNamespace

    from workbench.notebook import drafts

    clock = AutosaveClock()
    monkeypatch.setattr(drafts, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(drafts, "threading", SimpleNamespace(Lock=threading.Lock, Timer=clock.timer))
    return clock


@pytest.fixture(scope="session")
def rubrics_dir() -> Path:
    return RUBRICS


@pytest.fixture(scope="session")
def expert_rubric():
    from workbench.model.rubric import load_rubric

    return load_rubric(RUBRICS / "expert.yaml")


@pytest.fixture(scope="session")
def user_rubric():
    from workbench.model.rubric import load_rubric

    return load_rubric(RUBRICS / "user.yaml")


@pytest.fixture(scope="session")
def benchmark_rubric():
    from workbench.model.rubric import load_rubric

    return load_rubric(RUBRICS / "benchmark.yaml")


def pytest_sessionfinish(session, exitstatus) -> None:
    """Last of all (on the controller, after every worker): ``/dev/null`` must still be a character device.

    As root the suite once replaced it with a regular file (an atomic write renamed over it), which broke every
    non-root process on the machine that redirects to it.
    """
    import stat

    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller checks once, after all of them
    st = os.lstat("/dev/null")
    if not stat.S_ISCHR(st.st_mode):
        session.config.get_terminal_writer().line(
            f"FAILED: /dev/null is no longer a character device (mode {stat.filemode(st.st_mode)}): a test or the "
            "code under test replaced it", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# whole modules that `make check` leaves out (it runs `pytest -m "not browser and not hub and not demo and not
# wheel"`; `make test` runs everything): marked here so that no module has to remember it
_MODULE_MARKS = {"test_browser.py": "browser", "test_report_browser.py": "browser", "test_hub.py": "hub",
                 "test_hub_stage.py": "hub", "test_demo.py": "demo"}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        mark = _MODULE_MARKS.get(item.path.name)
        if mark is not None:
            item.add_marker(getattr(pytest.mark, mark))
