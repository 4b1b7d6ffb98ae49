"""The project's executor: local processes by default, or a dask.distributed cluster.

``spec`` is ``"local"`` (a process pool), ``"threads"``, ``"serial"`` (in-process, for debugging), or
``"dask://HOST:PORT"`` (an existing dask.distributed scheduler). All return a
:class:`concurrent.futures.Executor`, so callers never care which one runs the work. Each is a factory
registered by name in :data:`EXECUTORS` (:func:`register_executor`); another package adds one with an entry
point in the group ``workbench.executors``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from importlib.metadata import entry_points

from ..core.errors import WorkbenchError


class SerialExecutor(Executor):
    """Runs each task at submit time, in this process."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future like a pool would
            fut.set_exception(e)
        return fut


def die_with_parent(parent: int) -> None:
    """In a worker process: be killed when ``parent`` dies (Linux ``PR_SET_PDEATHSIG``), so that killing a batch
    never leaves workers running on without its lock. Elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def default_jobs() -> int:
    """One job per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


# name -> a factory: (address or None, jobs) -> a context manager yielding the Executor
ExecutorFactory = Callable[[str | None, int], contextlib.AbstractContextManager[Executor]]
EXECUTORS: dict[str, ExecutorFactory] = {}
ENTRY_POINT_GROUP = "workbench.executors"


def register_executor(name: str) -> Callable[[ExecutorFactory], ExecutorFactory]:
    """Decorator: register a factory under ``name`` (the part of a spec before ``://``, or the whole spec).

    Another package registers one with an entry point in the group ``workbench.executors`` whose object is
    the factory (as papermill finds its engines); it is loaded the first time its name is asked for.
    """

    def add(factory: ExecutorFactory) -> ExecutorFactory:
        EXECUTORS[name] = factory
        return factory

    return add


@register_executor("serial")
@contextlib.contextmanager
def _serial(address: str | None, jobs: int) -> Iterator[Executor]:
    yield SerialExecutor()


@register_executor("local")
@contextlib.contextmanager
def _local(address: str | None, jobs: int) -> Iterator[Executor]:
    if jobs == 1:
        yield SerialExecutor()
        return
    # spawn: forked children would inherit the parent's threads (zmq, tornado) in a kernel
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as ex:
        yield ex


@register_executor("threads")
@contextlib.contextmanager
def _threads(address: str | None, jobs: int) -> Iterator[Executor]:
    with ThreadPoolExecutor(max_workers=jobs) as ex:
        yield ex


@register_executor("dask")
@register_executor("tcp")
@contextlib.contextmanager
def _dask(address: str | None, jobs: int) -> Iterator[Executor]:
    from distributed import Client  # imported lazily: dask is heavy to import

    address = "tcp://" + (address or "")
    try:
        client = Client(address, timeout="10s")
    except OSError as e:
        raise WorkbenchError(f"cannot reach dask scheduler at {address}: {e}") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


def _factory(name: str) -> ExecutorFactory | None:
    if name not in EXECUTORS:
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
            EXECUTORS[name] = ep.load()
    return EXECUTORS.get(name)


@contextlib.contextmanager
def one_blas_thread(active: bool = True) -> Iterator[None]:
    """While several Python threads run numpy products at once: one BLAS thread each. OpenBLAS's own threads
    would otherwise compete with them for the same cores (on 2 cores a third more CPU time, and its spinning
    threads slow everything on a loaded machine). Process-wide; restored on exit."""
    if not active:
        yield
        return
    from threadpoolctl import threadpool_limits  # imported when needed: it inspects the loaded libraries

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def open_executor(spec: str | None = "local", jobs: int | None = None) -> Iterator[Executor]:
    """Open the executor that ``spec`` names (``NAME`` or ``NAME://ADDRESS``, NAME registered in
    :data:`EXECUTORS`), and close it (and any dask client) on exit."""
    spec = spec or "local"
    name, sep, address = spec.partition("://")
    factory = _factory(name)
    if factory is None:
        raise WorkbenchError(f"unknown executor '{spec}'",
                             expected=", ".join(sorted(n for n in EXECUTORS if n not in ("dask", "tcp")))
                             + " or dask://HOST:PORT")
    with factory(address if sep else None, jobs or default_jobs()) as ex:
        yield ex
