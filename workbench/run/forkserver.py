"""Kernels forked from a template that has already imported what a notebook needs.

Starting a Python kernel and importing the review notebook's modules costs about a second of CPU per notebook:
most of a batch's work above a bare kernel. A *fork server* pays it once per batch worker: a process started
with the kernels' command and environment that imports ``ipykernel`` and :data:`WARM_UP`, creates no socket,
thread or event loop, and then forks one child per kernel. Each child becomes a kernel exactly as
``python -m ipykernel_launcher -f CONNECTION_FILE ...`` would (its own session, working directory, environment,
standard streams and arguments), so the notebook runs in a fresh kernel that shares only imported code with
its siblings, never state: the template has run nothing else. ``random`` reseeds itself in a forked child and
numpy's global generator is reseeded here, so no two kernels share a random stream.

:func:`provisioner_class` gives a ``jupyter_client`` kernel provisioner that launches through the fork server and
manages the child through a Linux *pidfd* (``os.pidfd_open``, passed back over the server's socket): signals
and liveness checks reach that very process even after its pid is reused. Anything else (a kernel command
other than this Python's ``ipykernel_launcher``, a platform without ``os.fork`` or ``os.pidfd_open``, a server
that failed to start) falls back to ``jupyter_client``'s own launch.

Lifetimes: the server dies with the process that started it (``PR_SET_PDEATHSIG``, and the end of its socket),
and each kernel with the server (the same signal), so killing a batch worker takes its kernels along.

Public API: :data:`WARM_UP`, :func:`provisioner_class`, :func:`available`, :func:`close_servers`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

__all__ = ["WARM_UP", "available", "close_servers", "provisioner_class"]

# what the template imports before it forks: the review notebook's first cell's module and the form's widgets
# (imported when the form is built; with them the kernel's first cell only builds)
WARM_UP = ("workbench.notebook.review", "workbench.notebook.widgets")
# a server unused for this long is replaced (a long-lived dask worker would otherwise fork kernels with the
# workbench code of a batch long finished)
MAX_IDLE = 300.0
_MAX_MESSAGE = 1 << 20  # a request: the kernel's arguments and environment
_LAUNCHER = ("-m", "ipykernel_launcher")
_LAUNCHER_FILE = "ipykernel_launcher"  # its file, as a kernel's sys.argv[0] names it (set in the server)


def available() -> bool:
    """Whether kernels can be forked here (Linux: ``os.fork`` and ``os.pidfd_open``)."""
    return hasattr(os, "fork") and hasattr(os, "pidfd_open") and hasattr(signal, "pidfd_send_signal")


# ---------------------------------------------------------------------------------------------- the server


def _die_with_parent() -> None:
    from ..core.executor import die_with_parent

    die_with_parent(os.getppid())


def serve(fd: int, warm_up: str) -> None:  # warm_up: module names, comma-separated
    """The server's main loop (in its own process): import, report ready, fork a kernel per request, until
    the requesting process closes its end of the socket."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C of the batch stops the batch, which closes the socket
    sock = socket.socket(fileno=fd)
    if sys.path and sys.path[0] == "":
        del sys.path[0]  # as ipykernel_launcher does; the kernel's shell puts its own entry back

    import importlib.util

    import ipykernel.kernelapp  # noqa: F401 - the point: imported once, here

    global _LAUNCHER_FILE
    spec = importlib.util.find_spec("ipykernel_launcher")
    _LAUNCHER_FILE = spec.origin if spec and spec.origin else "ipykernel_launcher"

    for name in filter(None, warm_up.split(",")):
        __import__(name)
    # forking is safe only from a single thread: any other would be missing (with its locks held) in the child
    ready = {"ready": threading.active_count() == 1, "threads": threading.active_count()}
    sock.sendmsg([json.dumps(ready).encode()])
    if not ready["ready"]:
        return
    signal.signal(signal.SIGCHLD, lambda *_: _reap())
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, _MAX_MESSAGE, 2)
        except OSError:
            return
        if not data:
            return  # the worker closed its end: it is done (or gone)
        pidfd = None
        try:
            reply = _fork(json.loads(data), fds, sock)
            pidfd = reply.pop("_pidfd")
            socket.send_fds(sock, [json.dumps(reply).encode()], [pidfd])
        except Exception as e:  # noqa: BLE001 - reported to the worker, which starts the kernel the usual way
            sock.sendmsg([json.dumps({"error": f"{type(e).__name__}: {e}"}).encode()])
        finally:
            for f in fds:
                os.close(f)
            if pidfd is not None:
                os.close(pidfd)


def _reap() -> None:
    """Collect exited kernels (the worker watches them through their pidfds, not their exit status)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _fork(req: dict[str, Any], fds: list[int], server: socket.socket) -> dict[str, Any]:
    r, w = os.pipe()  # the child waits on it until its pidfd exists, so its pid cannot be reaped and reused first
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 1
        try:
            server.close()  # the kernel talks to its notebook only, never to the server
            os.close(w)
            os.read(r, 1)
            os.close(r)
            _become_kernel(req, fds)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        except BaseException:  # noqa: BLE001 - printed to the kernel's log, then the child ends
            import traceback

            traceback.print_exc()
        finally:
            os._exit(code)  # never back into the server's loop
    os.close(r)
    try:
        pidfd = os.pidfd_open(pid)
    finally:
        os.close(w)  # lets the child go on (or, if pidfd_open failed, end: its read returns)
    return {"pid": pid, "_pidfd": pidfd}


# the handlers a Python process starts with (the server ignores SIGINT and reaps on SIGCHLD)
_START_HANDLERS = {signal.SIGCHLD: signal.SIG_DFL, signal.SIGINT: signal.default_int_handler,
                   signal.SIGTERM: signal.SIG_DFL, signal.SIGPIPE: signal.SIG_IGN}


def _become_kernel(req: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: what ``python -m ipykernel_launcher ARGS`` started by jupyter_client would be."""
    _die_with_parent()  # with the server, hence with the worker
    os.setsid()  # jupyter_client starts kernels in a new session: interrupts reach the kernel only
    for sig, handler in _START_HANDLERS.items():
        signal.signal(sig, handler)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    given = iter(fds)  # the streams the request names, in order: standard output, then standard error
    for dst, present in zip((1, 2), req.get("streams", (False, False)), strict=True):
        if present:
            os.dup2(next(given), dst)
    for f in fds:
        os.close(f)
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    if "numpy" in sys.modules:  # the template's global generator state would be every kernel's
        sys.modules["numpy"].random.seed()
    sys.argv = [_LAUNCHER_FILE, *req["argv"]]
    from ipykernel import kernelapp

    # ipykernel reads JPY_PARENT_PID when it is imported (the template's environment has none): as a kernel
    # started by jupyter_client, this one has a parent to watch and prints no console banner
    parent = int(os.environ.get("JPY_PARENT_PID") or 0)
    kernelapp.IPKernelApp.launch_instance(argv=req["argv"], parent_handle=parent)


# ---------------------------------------------------------------------------------------------- the client


class _Forked:
    """A forked kernel, seen through its pidfd, with the part of :class:`subprocess.Popen` that
    ``jupyter_client``'s local provisioner uses."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid, self._pidfd, self.returncode = pid, pidfd, None

    def __del__(self) -> None:
        if self.returncode is None:  # never seen to exit: its descriptor is closed all the same
            with contextlib.suppress(OSError):
                os.close(self._pidfd)

    def _exited(self, timeout: float | None) -> bool:
        p = select.poll()
        p.register(self._pidfd, select.POLLIN)  # readable once the process has exited
        return bool(p.poll(None if timeout is None else max(0, int(timeout * 1000))))

    def poll(self) -> int | None:
        if self.returncode is None and self._exited(0):
            self.returncode = 0  # exited; its status went to the server, which reaped it
            os.close(self._pidfd)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("kernel", timeout or 0)
            self._exited(left)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Server:
    """A running fork server and the socket to it (used by one thread at a time)."""

    def __init__(self, python: list[str], env: Mapping[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock, self.lock, self.used = ours, threading.Lock(), time.monotonic()
        self.remote_fd = theirs.fileno()  # the same number in the server (pass_fds keeps it)
        code = "import sys; from workbench.run.forkserver import serve; serve(int(sys.argv[1]), sys.argv[2])"
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - this Python, this module
                [*python, "-c", code, str(theirs.fileno()), ",".join(WARM_UP)], pass_fds=[theirs.fileno()], env=dict(env),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd="/")
        finally:
            theirs.close()
        self.ok: bool | None = None  # unknown until its ready message arrives

    def ready(self, timeout: float) -> bool:
        if self.ok is None:
            self.sock.settimeout(timeout)
            try:
                msg = json.loads(self.sock.recv(4096) or b"{}")
                self.ok = bool(msg.get("ready"))
            except (OSError, ValueError):
                self.ok = False
            finally:
                self.sock.settimeout(None)
        return self.ok

    def spawn(self, argv: list[str], env: Mapping[str, str], cwd: str, out: IO[Any] | int | None,
              err: IO[Any] | int | None, timeout: float) -> _Forked:
        fds = [f if isinstance(f, int) else f.fileno() for f in (out, err) if f is not None]
        request = {"argv": argv, "env": dict(env), "cwd": cwd, "streams": [out is not None, err is not None]}
        with self.lock:
            if not self.ready(timeout):
                raise OSError("the fork server is not ready")
            self.used = time.monotonic()
            self.sock.settimeout(timeout)
            try:
                socket.send_fds(self.sock, [json.dumps(request).encode()], fds)
                data, got, _, _ = socket.recv_fds(self.sock, 65536, 1)
            except OSError:
                self.ok = False  # out of step with the server (a late reply would answer the next request): replaced
                raise
            finally:
                self.sock.settimeout(None)
        reply = json.loads(data or b"{}")
        if "pid" not in reply or not got:
            for f in got:
                os.close(f)
            raise OSError(reply.get("error") or "the fork server ended")
        return _Forked(reply["pid"], got[0])

    def close(self) -> None:
        self.sock.close()  # the server sees the end and exits; its kernels end with it
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_servers: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], _Server] = {}
_servers_lock = threading.Lock()


def _server(python: list[str], env: Mapping[str, str]) -> _Server:
    """This process's server for kernels of ``python`` (the interpreter and its options) with ``env`` (JPY_*
    variables aside: they are per kernel)."""
    key = (tuple(python), tuple(sorted((k, v) for k, v in env.items() if not k.startswith("JPY_"))))
    with _servers_lock:
        s = _servers.get(key)
        if s is not None and (s.proc.poll() is not None or s.ok is False or time.monotonic() - s.used > MAX_IDLE):
            del _servers[key]
            s.close()
            s = None
        if s is None:
            s = _servers[key] = _Server(python, {k: v for k, v in env.items() if not k.startswith("JPY_")})
        return s


def close_servers() -> None:
    """Stop this process's fork servers (their kernels end with them): call after the kernels were shut down."""
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for s in servers:
        s.close()


@functools.cache
def provisioner_class() -> type:
    """:class:`ForkProvisioner`: ``jupyter_client``'s local provisioner, launching ``ipykernel_launcher`` kernels
    by forking them from this process's fork server (see the module's docstring); any other command is launched
    as usual. (Made on first use: jupyter_client is not imported with this module.)"""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkProvisioner(LocalProvisioner):
        start_timeout: float = 60.0

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:  # type: ignore[override]
            # [python, interpreter options..., -m, ipykernel_launcher, kernel arguments...]
            at = next((i for i in range(1, len(cmd) - 1) if tuple(cmd[i:i + 2]) == _LAUNCHER), None)
            if not available() or at is None or cmd[0] != sys.executable:
                return await super().launch_kernel(cmd, **kwargs)
            # as jupyter_client's launcher sets it: ipykernel watches that process (a kernel outliving it exits)
            env = {**(kwargs.get("env") or os.environ), "JPY_PARENT_PID": str(os.getpid())}
            cwd = str(kwargs.get("cwd") or os.getcwd())
            try:
                proc = _server(cmd[:at], env).spawn(cmd[at + 2:], env, cwd, kwargs.get("stdout"), kwargs.get("stderr"),
                                                    self.start_timeout)
            except OSError:  # no server here: the usual launch
                return await super().launch_kernel(cmd, **kwargs)
            self.process, self.pid, self.pgid, self.cwd = proc, proc.pid, proc.pid, cwd
            return self.connection_info

        async def send_signal(self, signum: int) -> None:
            if isinstance(self.process, _Forked):
                # to the kernel's process group (what it started too), but only while the kernel itself lives:
                # the group's id is its pid, which may be another process's once it has been reaped
                if self.process.poll() is None:
                    try:
                        os.killpg(self.process.pid, signum)
                    except OSError:
                        self.process.send_signal(signum)
                return
            await super().send_signal(signum)

    return ForkProvisioner
