"""Kernels for batches: one fresh kernel per notebook, over IPC, started ahead of need.

Every kernel listens on ZeroMQ's IPC transport (Unix sockets in a private temporary folder) rather than TCP,
so no port is opened and parallel kernels never race for ports. Its output (a crash's traceback, say) goes
to ``kernel.log`` in that folder.

A batch worker (a local process or a ``dask://`` worker thread) keeps one *spare*: a kernel started before
its task is known, which has already imported :data:`WARM_UP` (the notebook's first import, seconds of
work) while the previous notebook ran. Where it can, a spare is forked from a template that imported them
once for the whole worker (:mod:`workbench.run.forkserver`), so neither Python's start nor the imports are
paid per notebook; its client waits for it without jupyter_client's fixed fifth of a second. A spare is used exactly once: :func:`prepared` hands it to one
notebook and the kernel is shut down after it; no state passes between notebooks. Before the notebook's
first cell the kernel is made to look as if it had been started for that notebook (:func:`prepared`):

- its working directory and ``sys.path`` entry for it become the notebook's folder (spares start in their
  empty IPC folder, so nothing is imported from elsewhere);
- the per-notebook environment (the unattended variable naming this one notebook) is set;
- it receives the task's claim (the worker's locked file descriptor, passed over a Unix socket with
  ``SCM_RIGHTS``), so the claim is held until both the worker and the kernel are gone.

A spare is shut down when its worker process exits; a worker killed outright takes its kernels with it
(ipykernel's parent poller: jupyter_client gives each kernel its parent's pid).

A spare is only used by a notebook of a batch with the same kernel environment, and not after
:data:`SPARE_MAX_AGE` (a ``dask://`` worker outlives its batch).

Public API: :data:`WARM_UP`, :data:`SPARE_MAX_AGE`, :func:`ipc_kernel_manager`, :func:`prepared`, :func:`close_spares`.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import forkserver

__all__ = ["SPARE_MAX_AGE", "WARM_UP", "close_spares", "ipc_kernel_manager", "prepared"]

# what a spare imports before its notebook is known: the notebook's first cell, without binding a name
WARM_UP = "; ".join(f"__import__({m!r})" for m in forkserver.WARM_UP)
# a spare older than this is not used (a long-lived dask worker may keep one from a batch long finished, with
# the workbench code of that time imported): it is shut down and a kernel started instead
SPARE_MAX_AGE = 300.0


def ipc_kernel_manager(ipc_dir: str, env: Mapping[str, str], seen: list[dict[str, Any]], log: IO[bytes] | None = None,
                       fork: bool = False) -> type:
    """A kernel manager class whose kernels listen on Unix sockets in ``ipc_dir``, with ``env`` added to this
    process's environment and their output written to ``log``; each started kernel's connection info is
    appended to ``seen``. Clients it makes are kept in ``made_clients`` so that their sockets can be closed.
    With ``fork`` its kernels are forked from a template that has imported the notebook's modules
    (:mod:`workbench.run.forkserver`) where that is possible."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class IPCKernelManager(AsyncKernelManager):
        """A kernel manager whose kernel listens on Unix sockets in ``ipc_dir`` instead of TCP ports."""

        made_clients: list[Any]

        @default("client_factory")
        def _default_client_factory(self) -> type:
            return _ready_client_class()

        @default("transport")
        def _default_transport(self) -> str:
            return "ipc"

        @default("ip")
        def _default_ip(self) -> str:
            return os.path.join(ipc_dir, "kernel")

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            if fork and self.provisioner is None and forkserver.available():
                self.provisioner = forkserver.provisioner_class()(kernel_id=self.kernel_id or str(uuid.uuid4()),
                                                              kernel_spec=self.kernel_spec, parent=self)
                self.kernel_id = self.provisioner.kernel_id
            kw["env"] = {**os.environ, **env, **kw.get("env", {})}
            if log is not None:  # the kernel's own messages go to the notebook's log, not the console
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
            await super().start_kernel(**kw)
            seen.append(self.get_connection_info())

        def client(self, **kw: Any) -> Any:
            c = super().client(**kw)
            self.__dict__.setdefault("made_clients", []).append(c)
            return c

    return IPCKernelManager


@functools.cache
def _ready_client_class() -> type:
    """An asynchronous kernel client whose ``wait_for_ready`` returns as soon as the kernel has answered and its
    output channel is shown to be connected, without jupyter_client's fixed wait (it then listens to the output
    channel until 0.2 s pass without a message: a fifth of a second of every notebook of a batch)."""
    from jupyter_client.asynchronous import AsyncKernelClient

    class ReadyClient(AsyncKernelClient):
        async def _async_wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                msg_id = self.kernel_info()

                def answers(m: dict[str, Any], msg_id: str = msg_id) -> bool:
                    return m["parent_header"].get("msg_id") == msg_id

                def idle(m: dict[str, Any]) -> bool:
                    return answers(m) and m["msg_type"] == "status" and m["content"].get("execution_state") == "idle"

                reply = await _first(self.shell_channel, answers, 1.0)
                # the kernel reports 'idle' for the request on the output channel after its reply: received,
                # it proves the subscription live and that nothing published before is still on its way
                if reply is not None and await _first(self.iopub_channel, idle, 0.5) is not None:
                    self._handle_kernel_info_reply(reply)
                    return
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    return ReadyClient


async def _first(channel: Any, match: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any] | None:
    """The first message on ``channel`` that ``match``es (others are dropped), or None after ``timeout``."""
    from queue import Empty

    end = time.monotonic() + timeout
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await channel.get_msg(timeout=left)
        except Empty:
            return None
        if match(msg):
            return msg
    return None


@dataclass
class _Kernel:
    """A started kernel (maybe still booting) and the folder of its sockets and log."""

    km: Any
    ipc_dir: str
    log: IO[bytes]
    seen: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    asked: bool = False  # asked to shut down: its notebook ran

    def request_close(self) -> None:
        """Ask the kernel to shut down (gracefully, as papermill does) without waiting for it to exit."""
        from jupyter_core.utils import run_sync

        self.asked = True
        for c in self.km.__dict__.pop("made_clients", []):
            c.stop_channels()  # each client made its own zmq context: close it, or a long batch leaks threads
        with contextlib.suppress(Exception):  # a kernel that is already gone needs no request
            run_sync(self.km.request_shutdown)()

    def exited(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return not run_sync(self.km.is_alive)()
        except Exception:  # noqa: BLE001 - a manager that cannot tell has no kernel to wait for
            return True

    def close(self, now: bool = True) -> None:
        """Shut the kernel down (``now``: kill it; else ask and wait a while, then kill) and remove its folder."""
        from jupyter_core.utils import run_sync

        try:
            for c in self.km.__dict__.pop("made_clients", []):
                c.stop_channels()
            if not self.exited():
                run_sync(self.km.shutdown_kernel)(now=now)
        except Exception:  # noqa: BLE001, S110 - a kernel that is already gone needs nothing more
            pass
        finally:
            with contextlib.suppress(Exception):
                run_sync(self.km.cleanup_resources)()
            self.log.close()
            shutil.rmtree(self.ipc_dir, ignore_errors=True)


def _start(env: Mapping[str, str], cwd: str | None, warm_up: str) -> _Kernel:
    """Start a kernel (returns at once; it boots in the background) in ``cwd``, else in its IPC folder; one
    that warms up (a spare) is forked from a template that has done so already, where possible."""
    from jupyter_core.utils import run_sync

    ipc_dir = tempfile.mkdtemp(prefix="wb-ipc-")  # short path: Unix socket names are limited to ~100 bytes
    log = Path(ipc_dir, "kernel.log").open("wb")  # noqa: SIM115 - open while the kernel lives; closed by _Kernel.close
    seen: list[dict[str, Any]] = []
    km = ipc_kernel_manager(ipc_dir, env, seen, log, fork=bool(warm_up))(kernel_name="python3")
    extra = [f"--IPKernelApp.exec_lines={[warm_up]!r}"] if warm_up else []
    try:
        run_sync(km.start_kernel)(cwd=cwd or ipc_dir, extra_arguments=extra)
    except BaseException:
        log.close()
        shutil.rmtree(ipc_dir, ignore_errors=True)
        raise
    return _Kernel(km, ipc_dir, log, seen)


class _Spares(threading.local):
    """One spare kernel per thread (a dask worker runs tasks in several threads; each keeps its own, so an
    asyncio object never crosses threads), for the environment it was started with; and the kernels of
    finished notebooks that were asked to shut down and may not have exited yet."""

    def __init__(self) -> None:
        self.kernel: _Kernel | None = None
        self.env: dict[str, str] = {}
        self.closing: list[_Kernel] = []


_spares = _Spares()
_all: list[_Kernel] = []  # every spare or closing kernel of this process, shut down at exit
_all_lock = threading.Lock()


def close_spares() -> None:
    """Shut down this process's spare kernels and wait for its closing ones (at exit; also for tests)."""
    with _all_lock:
        kernels, _all[:] = list(_all), []
    for k in kernels:
        k.close(now=not k.asked)  # a spare ran nothing: killed; a used kernel may finish its own exit
    _spares.kernel, _spares.closing = None, []
    forkserver.close_servers()  # after the kernels: a server's kernels end with it


atexit.register(close_spares)


def _forget(k: _Kernel) -> None:
    with _all_lock:
        if k in _all:
            _all.remove(k)


def _reap() -> None:
    """Finish the shutdown of this thread's closing kernels that have exited."""
    for k in [k for k in _spares.closing if k.exited()]:
        _spares.closing.remove(k)
        _forget(k)
        k.close()


def _take_spare(env: dict[str, str]) -> _Kernel | None:
    k, _spares.kernel = _spares.kernel, None
    if k is None:
        return None
    _forget(k)
    if _spares.env != {**os.environ, **env} or time.monotonic() - k.started > SPARE_MAX_AGE:  # another environment, or stale
        k.close()
        return None
    return k


def _start_spare(env: dict[str, str]) -> None:
    try:
        k = _start(env, None, WARM_UP)
    except Exception:  # noqa: BLE001 - no spare: the next task starts its own kernel
        return
    _spares.kernel, _spares.env = k, {**os.environ, **env}  # what it was started with
    with _all_lock:
        _all.append(k)


# Run in the kernel before the notebook's first cell, silently (no execution count, no history, no output).
# A function, deleted after its call, so the notebook's namespace is a fresh kernel's.
_ENTER = """
def _wb_enter(folder, start, env, sock):
    import os, socket, sys
    if sock:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
            socket.recv_fds(s, 1, 1)  # the task's claim: kept open until this kernel exits
    os.chdir(folder)
    sys.path[:] = [folder if p == start else p for p in sys.path]
    for k, v in env.items():
        os.environ[k] = v
    dh = get_ipython().user_ns.get("_dh")
    if isinstance(dh, list):
        dh[:] = [folder]
try:
    _wb_enter({folder!r}, {start!r}, {env!r}, {sock!r})
finally:
    del _wb_enter
"""


def _enter(k: _Kernel, folder: str, env: Mapping[str, str], claim_fd: int | None, timeout: float) -> None:
    """Make booted spare ``k`` look started for the notebook in ``folder`` (see the module's docstring)."""
    from queue import Empty

    from jupyter_client.blocking import BlockingKernelClient

    # the manager as parent: whether the kernel lives is asked of its process, not of a heartbeat that a busy
    # machine can delay past its one second
    kc = BlockingKernelClient(parent=k.km)
    kc.load_connection_file(k.km.connection_file)  # with the session's key
    sock = os.path.join(k.ipc_dir, "claim")
    with socket.socket(socket.AF_UNIX) as srv:
        srv.bind(sock)
        srv.listen(1)
        srv.settimeout(1.0)
        kc.start_channels(iopub=False, stdin=False, hb=False, control=False)
        try:
            # sent at once: zmq keeps it until the booting kernel listens (no kernel_info round first)
            msg_id = kc.execute(_ENTER.format(folder=folder, start=k.ipc_dir, env=dict(env),
                                              sock=sock if claim_fd is not None else ""),
                                silent=True, store_history=False)
            deadline = time.monotonic() + timeout
            if claim_fd is not None:
                while True:
                    try:
                        conn, _ = srv.accept()
                        break
                    except TimeoutError:
                        pass
                    _check_booting(k, deadline)
                with conn:
                    socket.send_fds(conn, [b"c"], [claim_fd])
            while True:
                try:
                    reply = kc.get_shell_msg(timeout=1.0)
                except Empty:
                    _check_booting(k, deadline)
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            if reply["content"]["status"] != "ok":
                c = reply["content"]
                raise RuntimeError(f"preparing the kernel failed: {c.get('ename')}: {c.get('evalue')}")
        finally:
            kc.stop_channels()
            with contextlib.suppress(OSError):
                os.unlink(sock)


def _check_booting(k: _Kernel, deadline: float) -> None:
    """Raise when kernel ``k``, still being waited for, has died or is past ``deadline``."""
    if k.exited():
        raise RuntimeError("the kernel died while it started")
    if time.monotonic() > deadline:
        raise RuntimeError("the kernel did not start in time")


@contextlib.contextmanager
def prepared(folder: str | Path, env: Mapping[str, str], task_env: Mapping[str, str], claim_fd: int | None,
             *, pool: bool = True, start_timeout: float = 60) -> Iterator[tuple[Any, list[dict[str, Any]], Path]]:
    """A kernel for one notebook in ``folder``: yields (its kernel manager, for papermill's ``km``; the
    connection info it was started with; its log file, gone after the block) and asks it to shut down afterwards
    (its exit is waited for later: before the thread's next kernel is prepared, or at exit).

    ``env`` is added to this process's environment when a kernel starts (the same for every notebook of a
    batch); ``task_env`` is this notebook's own (set in the kernel before its first cell); ``claim_fd`` a
    file descriptor the kernel keeps open until it exits. With ``pool`` the kernel is this thread's spare when
    there is one (started with the same ``env``), else one started here, and a new spare is started for the
    next notebook; without, a kernel is started in ``folder`` with ``task_env`` for this notebook alone.
    """
    folder = str(Path(folder).resolve())
    env = dict(env)
    _reap()
    if pool:
        k = _take_spare(env)
        _start_spare(env)  # it boots while this notebook runs
        if k is not None:
            try:
                _enter(k, folder, task_env, claim_fd, start_timeout)
            except Exception:  # noqa: BLE001 - a spare that died or hung while waiting: start one for this notebook
                k.close()
                k = None
        if k is None:
            k = _start(env, None, WARM_UP)
            entered = False
        else:
            entered = True
    else:  # started for this notebook, in its folder, as papermill would
        k, entered = _start({**env, **task_env}, folder, ""), False
    try:
        if not entered:
            _enter(k, folder, task_env, claim_fd, start_timeout)
        yield k.km, k.seen, Path(k.log.name)
    finally:
        # gracefully, as papermill shuts down the kernels it starts, but without waiting for the exit: the
        # kernel exits while the next notebook starts (it keeps the task's claim until then)
        k.request_close()
        _spares.closing.append(k)
        with _all_lock:
            _all.append(k)
