"""Kernels forked from a template (workbench.run.forkserver): real kernels, independent of each other,
managed through their pidfds, and gone with the process that asked for them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from jupyter_client.blocking import BlockingKernelClient
from jupyter_core.utils import run_sync

from workbench.run import forkserver, kernels

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not forkserver.available(), reason="Linux pidfds")]


def _run(km, code: str, timeout: float = 60) -> tuple[dict, str]:
    kc = BlockingKernelClient()
    kc.load_connection_file(km.connection_file)
    kc.start_channels()
    out: list[str] = []
    try:
        kc.wait_for_ready(timeout=timeout)
        reply = kc.execute_interactive(code, timeout=timeout, output_hook=lambda m: out.append(
            m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    finally:
        kc.stop_channels()
    return reply["content"], "".join(out)


PROBE = "import json, os, sys, numpy; print(json.dumps({'pid': os.getpid(), 'ppid': os.getppid(), 'parent': get_ipython().kernel.parent.parent_handle, 'r': numpy.random.rand(), 'ns': sorted(k for k in get_ipython().user_ns if not k.startswith('_')), 'fds': sorted(os.readlink(f'/proc/self/fd/{f}') for f in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{f}'))}))"


def test_pooled_kernels_are_forked_and_share_nothing_but_code(tmp_path):
    seen, server_socket = [], None
    try:
        for i in range(3):
            folder = tmp_path / f"nb{i}"
            folder.mkdir()
            with kernels.prepared(folder, {}, {}, None) as (km, _, _):
                assert isinstance(km.provisioner, forkserver.provisioner_class())
                assert isinstance(km.provisioner.process, forkserver._Forked)  # not a Popen: forked
                _, text = _run(km, f"secret_{i} = 1\n" + PROBE)
                seen.append(json.loads(text))
                if server_socket is None:  # the server these kernels come from (a test before may have left others)
                    server = next(v for v in forkserver._servers.values() if v.proc.pid == seen[-1]["ppid"])
                    server_socket = os.readlink(f"/proc/{server.proc.pid}/fd/{server.remote_fd}")
    finally:
        kernels.close_spares()
    assert not forkserver._servers  # stopped with the spares
    assert len({s["pid"] for s in seen}) == 3
    assert len({s["ppid"] for s in seen}) == 1 and seen[0]["ppid"] != os.getpid()  # the fork server's children
    assert len({s["r"] for s in seen}) == 3  # numpy's global generator reseeded in each
    assert {s["parent"] for s in seen} == {os.getpid()}  # as jupyter_client's launch tells a kernel (JPY_PARENT_PID)
    for i, s in enumerate(seen):  # each namespace holds its own notebook's names only
        assert [n for n in s["ns"] if n.startswith("secret_")] == [f"secret_{i}"]
        assert server_socket.startswith("socket:") and server_socket not in s["fds"]  # the server's socket stays there


def test_a_forked_kernel_is_interrupted_and_killed_through_its_pidfd(tmp_path):
    try:
        with kernels.prepared(tmp_path, {}, {}, None) as (km, _, _):
            assert type(km.provisioner.process).__name__ == "_Forked"
            kc = BlockingKernelClient()
            kc.load_connection_file(km.connection_file)
            kc.start_channels()
            try:
                kc.wait_for_ready(timeout=60)
                msg_id = kc.execute("import time\ntime.sleep(60)")
                time.sleep(1.0)
                t = time.monotonic()
                run_sync(km.interrupt_kernel)()  # SIGINT to the kernel's process group
                while True:
                    reply = kc.get_shell_msg(timeout=30)
                    if reply["parent_header"].get("msg_id") == msg_id:
                        break
                assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
                assert time.monotonic() - t < 20
            finally:
                kc.stop_channels()
            pid = km.provisioner.process.pid
            run_sync(km.shutdown_kernel)(now=True)  # SIGKILL through the pidfd
            assert not run_sync(km.is_alive)()
        with pytest.raises(ProcessLookupError):
            for _ in range(50):  # reaped by the server, shortly after
                os.kill(pid, 0)
                time.sleep(0.1)
    finally:
        kernels.close_spares()


def test_other_kernel_commands_and_platforms_start_as_usual(tmp_path, monkeypatch):
    try:
        monkeypatch.setattr(forkserver, "available", lambda: False)
        with kernels.prepared(tmp_path, {}, {}, None) as (km, _, _):
            assert isinstance(km.provisioner.process, subprocess.Popen)
            status, text = _run(km, "print(6 * 7)")
            assert status["status"] == "ok" and text.strip() == "42"
    finally:
        kernels.close_spares()


KILLER = textwrap.dedent("""
    import json, sys, tempfile
    from workbench.run import kernels
    d = tempfile.mkdtemp()
    with kernels.prepared(d, {}, {}, None) as (km, _, _):
        from jupyter_client.blocking import BlockingKernelClient
        kc = BlockingKernelClient(); kc.load_connection_file(km.connection_file); kc.start_channels()
        kc.wait_for_ready(timeout=60)
        spare = kernels._spares.kernel
        server = next(iter(__import__("workbench.run.forkserver").run.forkserver._servers.values()))
        print(json.dumps([km.provisioner.process.pid, server.proc.pid]), flush=True)
        import time; time.sleep(120)
""")


def test_killing_the_process_that_asked_ends_its_server_and_kernels(tmp_path):
    """A batch worker killed outright (SIGKILL: no clean-up runs) leaves no kernel and no server behind."""
    p = subprocess.Popen([sys.executable, "-c", KILLER], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        kernel, server = json.loads(p.stdout.readline())
        os.kill(kernel, 0)
        os.kill(server, 0)
    finally:
        p.kill()
        p.wait()
    for pid in (server, kernel):
        deadline = time.monotonic() + 10
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break  # exited, not yet reaped by whoever inherited it
            assert time.monotonic() < deadline, f"process {pid} outlived the process that started it"
            time.sleep(0.1)


def test_a_server_with_threads_running_does_not_fork(tmp_path, monkeypatch):
    """Forking a process with other threads leaves their locks held in the child: such a server says it is
    not ready, and the kernel starts the usual way."""
    (tmp_path / "threaded_warm_up.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    monkeypatch.setattr(forkserver, "WARM_UP", ("threaded_warm_up",))
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), root])}
    s = forkserver._Server([sys.executable], env)
    try:
        assert s.ready(60) is False
        with pytest.raises(OSError, match="not ready"):
            s.spawn(["-c", "pass"], env, str(tmp_path), None, None, 10)
    finally:
        s.close()
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    try:
        with kernels.prepared(tmp_path, {}, {}, None) as (km, _, _):
            assert isinstance(km.provisioner.process, subprocess.Popen)  # started as usual
            status, text = _run(km, "print(6 * 7)")
            assert status["status"] == "ok" and text.strip() == "42"
    finally:
        kernels.close_spares()


def test_a_server_that_does_not_answer_is_replaced(tmp_path):
    """A request that times out leaves the socket out of step (a late reply would answer the next request):
    that server is not asked again, a new one is started."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    python = [sys.executable]
    s = forkserver._server(python, env)
    try:
        assert s.ready(60)
        os.kill(s.proc.pid, signal.SIGSTOP)  # alive, but answering nothing
        with pytest.raises(OSError):
            s.spawn(["--version"], env, str(tmp_path), None, None, 1.0)
        assert s.ok is False
        os.kill(s.proc.pid, signal.SIGCONT)
        fresh = forkserver._server(python, env)
        assert fresh is not s and fresh.ready(60)
        assert s.proc.poll() is not None  # the old one was stopped
        proc = fresh.spawn(["--version"], env, str(tmp_path), None, None, 60)
        assert proc.wait(timeout=60) == 0
    finally:
        forkserver.close_servers()
