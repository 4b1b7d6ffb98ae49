"""The project's executor: local processes by default, or a dask.distributed cluster.

``spec`` is ``"local"`` (a process pool), ``"threads"``, ``"serial"`` (in-process, for debugging), or
``"dask://HOST:PORT"`` (an existing dask.distributed scheduler). All return a
:class:`concurrent.futures.Executor`, so callers never care which one runs the work.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from .errors import WorkbenchError


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
    """Open the executor that ``spec`` names, and close it (and any dask client) on exit."""
    spec = spec or "local"
    jobs = jobs or default_jobs()
    if spec == "serial" or (spec == "local" and jobs == 1):
        yield SerialExecutor()
    elif spec == "local":
        # spawn: forked children would inherit the parent's threads (zmq, tornado) in a kernel
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=die_with_parent, initargs=(os.getpid(),)) as ex:
            yield ex
    elif spec == "threads":
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            yield ex
    elif spec.startswith("dask://") or spec.startswith("tcp://"):
        from distributed import Client  # imported lazily: dask is heavy to import

        address = "tcp://" + spec.split("://", 1)[1]
        try:
            client = Client(address, timeout="10s")
        except OSError as e:
            raise WorkbenchError(f"cannot reach dask scheduler at {address}: {e}") from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
    else:
        raise WorkbenchError(f"unknown executor '{spec}'", expected="local, threads, serial or dask://HOST:PORT")
