# ruff: noqa: F811  (pytest fixtures imported from test_hub are redefined as test arguments)
"""A whole stage on one hub (issue 24): what one reviewer's folder may do to the round, and what collect,
``hub accounts`` and ``hub serve`` do about it.

The collect tests are pure (no root). The rest create operating-system accounts through the fixtures of
tests/test_hub.py (a distinctive prefix; everything made is removed afterwards) and need root: CI runs them as
root, elsewhere they skip (or fail under CI=true).
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from coord_helpers import coord_key, make_round, sign_sheet
from test_hub import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    CHROMIUM,
    CLI,
    PY,
    _env,
    _free_port,
    _login,
    _probe,
    _wait_http,
    as_user,
    base,
    prefix,
    reachable,
    root_only,
)

from workbench.round import collect as collect_mod
from workbench.round.collect import collect
from workbench.round.ledger import read_entries

pytestmark = [pytest.mark.xdist_group("hub")]


def _accounts(rd: Path, prefix: str, pw: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--passwords", str(pw), *extra],
                          capture_output=True, text=True, env=_env("/root"), timeout=600)


def _to_outbox(rd, path):
    box = rd / "outbox" / path.parent.name
    box.mkdir(parents=True, exist_ok=True)
    return shutil.move(path, box / path.name)


def test_one_outbox_full_of_junk_is_one_note_and_never_reaches_the_ledger(tmp_path, monkeypatch, caplog):
    """198 junk files named as sheets, a link to a system file, a pipe and a file of another name: one note
    for the coordinator, nothing signed into the ledger; real sheets beyond the cap wait for the next collect."""
    rd = make_round(tmp_path)
    good = [_to_outbox(rd, sign_sheet(tmp_path, "e1", t)) for t in ("ta", "tb")]
    box = rd / "outbox" / "e1"
    for i in range(2, 200):
        (box / f"ta.v{i}.dsse.json").write_text('{"payloadType": "junk"}')
    (box / "tb.v2.dsse.json").symlink_to("/etc/passwd")
    os.mkfifo(box / "tb.v3.dsse.json")
    (box / "notes.txt").write_text("x")
    before = len(read_entries(rd / "ledger.jsonl"))
    monkeypatch.setattr(collect_mod, "MAX_PICKUP_PER_REVIEWER", 1)
    with caplog.at_level(logging.WARNING, logger="workbench"):
        res = collect(rd, coord_key(tmp_path), "coord")
    assert [(r.path, r.decision) for r in res] == [("sheets/e1/ta.v1.dsse.json", "accepted")]
    assert len(read_entries(rd / "ledger.jsonl")) == before + 2  # one submit and one collect entry
    [note] = [m for m in caplog.messages if m.startswith("outbox/e1")]
    assert "outbox/e1: 202 file(s) not taken" in note
    for part in ("198 not signed with e1's roster key", "1 link(s), never followed", "1 not regular file(s)",
                 "1 not named <team>.v<N>.dsse.json", "1 over the 1 taken per collection"):
        assert part in note, note
    assert os.readlink(box / "tb.v2.dsse.json") == "/etc/passwd" and not (rd / "sheets/e1/tb.v2.dsse.json").exists()
    res = collect(rd, coord_key(tmp_path), "coord")  # the next collection takes the sheet that waited
    assert sorted(r.path for r in res if r.new) == ["sheets/e1/tb.v1.dsse.json"] and good


def test_collect_after_publication_does_not_touch_the_outboxes(tmp_path, caplog):
    """Published (outboxes now the auditors'): one clear line, no PermissionError, the sheets still checked."""
    rd = make_round(tmp_path)
    sign_sheet(tmp_path, "e1", "ta")
    _to_outbox(rd, sign_sheet(tmp_path, "e1", "tb"))
    (rd / "report").mkdir()
    (rd / "report" / "report.dsse.json").write_text("{}")
    (rd / "outbox").chmod(0o000)  # as the coordinator sees it after publication (root passes anyway)
    try:
        with caplog.at_level(logging.WARNING, logger="workbench"):
            res = collect(rd, coord_key(tmp_path), "coord")
    finally:
        (rd / "outbox").chmod(0o755)
    assert [r.path for r in res] == ["sheets/e1/ta.v1.dsse.json"]
    assert "the round is published: outboxes are not picked up any more" in caplog.text


def test_one_persons_tampered_folder_blocks_only_that_person(prefix, reachable, base):
    """e1 replaces ~/.workbench with a link: accounts names e1 (exit 1), leaves e1 in no group of the round
    and applies everyone else; once e1's folder is a folder again, e1 is back."""
    rd = make_round(base, experts=("e1", "e2"), do_freeze=False)
    res = _accounts(rd, prefix, base / "pw.txt")
    assert res.returncode == 0, res.stderr
    e1, e2 = f"{prefix}e1", f"{prefix}e2"
    wb = Path(pwd.getpwnam(e1).pw_dir) / ".workbench"
    as_user(e1, "mv", str(wb), str(wb.with_name("kept")))
    as_user(e1, "ln", "-s", "/etc", str(wb))
    (rd / "evidence" / "ta" / "new.txt").write_text("x")
    res = _accounts(rd, prefix, base / "pw2.txt")
    assert res.returncode == 1 and f"{e1}: {wb} is a symbolic link: left without access" in res.stderr, res
    assert "Traceback" not in res.stderr and e2 not in res.stderr
    panel = grp.getgrnam(f"{prefix}test-1-panel").gr_mem
    assert e1 not in panel and e2 in panel
    assert _probe(e2, [rd / "evidence/ta/new.txt"]) == {str(rd / "evidence/ta/new.txt"): "READ"}  # applied
    assert set(_probe(e1, [rd / "rules.yaml", rd / "evidence/ta/new.txt"]).values()) == {"DENIED"}
    assert os.readlink(wb) == "/etc"  # never followed, never replaced
    as_user(e1, "rm", str(wb))
    as_user(e1, "mv", str(wb.with_name("kept")), str(wb))
    res = _accounts(rd, prefix, base / "pw3.txt")
    assert res.returncode == 0 and e1 in grp.getgrnam(f"{prefix}test-1-panel").gr_mem, res.stderr


READER = """import sys, time
while True:
    try:
        open(sys.argv[1], "rb").read()
        print("READ", time.time(), flush=True)
    except PermissionError:
        print("DENIED", time.time(), flush=True)
    time.sleep(0.2)
"""


def test_a_conflict_declared_by_amendment_ends_the_reviewers_processes_at_once(prefix, reachable, base):
    """Issue 24, item 2: a process e1 left running with `setsid -f` reads tb's evidence; the coordinator amends
    the roster (e1 now conflicted with tb) and root runs accounts: the process is ended within seconds, a new
    one is refused, and e1's notebook for tb has left e1's home."""
    rd = make_round(base, experts=("e1", "e2"), do_freeze=False,
                    aggregation={"expert": "trimmed_mean", "trim": 0, "min_reviewers": 1})
    (rd / "evidence" / "tb" / "plan.txt").write_text("tb's confidential plan\n")
    assert _accounts(rd, prefix, base / "pw.txt").returncode == 0
    coord, e1 = f"{prefix}coord", f"{prefix}e1"
    key = str(Path(pwd.getpwnam(coord).pw_dir) / ".workbench" / "coord.key")
    as_user(coord, *CLI, "round", "freeze", str(rd), "--key", key)
    home = Path(pwd.getpwnam(e1).pw_dir)
    log = home / "reader.log"
    as_user(e1, "sh", "-c", f"setsid -f {PY} -c '{READER}' {rd}/evidence/tb/plan.txt >{log} 2>&1")
    for _ in range(100):
        if "READ" in (log.read_text() if log.exists() else ""):
            break
        time.sleep(0.2)
    assert "READ" in log.read_text()
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    next(e for e in roster["reviewers"] if e["id"] == "e1")["coi"] = ["tb"]
    (rd / "roster.yaml").write_text(yaml.safe_dump(roster, sort_keys=False))
    assign = yaml.safe_load((rd / "assignments.yaml").read_text())
    assign["assignments"] = [a for a in assign["assignments"] if (a["reviewer"], a["team"]) != ("e1", "tb")]
    (rd / "assignments.yaml").write_text(yaml.safe_dump(assign))
    as_user(coord, *CLI, "round", "amend", str(rd), "--reason", "e1 declared a conflict with tb", "--key", key)
    t0 = time.monotonic()
    res = _accounts(rd, prefix, base / "pw2.txt")
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{e1} left a group: 1 process(es) of {e1} ended" in res.stdout
    assert f"removed {home}/test-1/tb.ipynb" in res.stdout and not (home / "test-1" / "tb.ipynb").exists()
    lines = log.read_text().split()
    time.sleep(1)
    assert log.read_text().split() == lines and "DENIED" not in lines  # ended before the next read
    assert _probe(e1, [rd / "evidence/tb/plan.txt"]) == {str(rd / "evidence/tb/plan.txt"): "DENIED"}
    assert took < 60


def test_a_port_a_stopped_hub_left_in_time_wait_is_free_again():
    """Issue 24, item 5: 12 s after a stop the port was "in use": the check bound without SO_REUSEADDR, so the
    closed connections in TIME_WAIT counted. The proxy listens with SO_REUSEADDR; so does the check now."""
    import errno
    import socket

    from workbench.hub.jupyterhub import _port_free, wait_port

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = listener.accept()
    conn.close()  # the server closes first, as a stopping hub does: its side of the port goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    with socket.socket() as plain, pytest.raises(OSError) as e:
        plain.bind(("127.0.0.1", port))  # the old check
    assert e.value.errno == errno.EADDRINUSE
    assert _port_free(port) and wait_port(port, 0)
    with socket.socket() as busy:  # a port really in use stays refused, after the wait
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        t0 = time.monotonic()
        assert not wait_port(port, 1) and time.monotonic() - t0 >= 1


def test_the_settings_are_kept_in_the_state_folder_and_a_unit_runs_serve_with_none(tmp_path):
    """Issue 24, item 5: what accounts and serve were given is kept per state folder (a restart needs no flag);
    another round's state folder is refused; the systemd unit passes `systemd-analyze verify`."""
    from workbench.core.errors import HubError
    from workbench.hub.jupyterhub import SETTINGS_FILE, HubSettings, hub_settings, save_settings, unit_text

    state, rd = tmp_path / "st ate", tmp_path / "round"
    first = hub_settings(state, rd, prefix="p-", auditors=["aud"])
    assert first == HubSettings(round=str(rd), prefix="p-", auditors=["aud"], port=8000)
    save_settings(state, first.model_copy(update={"port": 8123}))
    assert oct(state.stat().st_mode & 0o777) == "0o700" and oct((state / SETTINGS_FILE).stat().st_mode & 0o777) == "0o600"
    assert hub_settings(state, rd) == HubSettings(round=str(rd), prefix="p-", auditors=["aud"], port=8123)
    assert hub_settings(state, rd, prefix="", port=9000).model_dump(include={"prefix", "port"}) == {"prefix": "", "port": 9000}
    with pytest.raises(HubError, match=r"this state folder is kept for the round .*round.*one state folder per round"):
        hub_settings(state, tmp_path / "other")
    unit = tmp_path / "workbench-hub-test.service"
    unit.write_text(unit_text(first, state, python=PY))
    text = unit.read_text()
    assert f'ExecStart={PY} -m workbench hub serve {rd} --state "{state}" --start' in text
    assert "Restart=on-failure" in text and "--prefix" not in text and "--auditor" not in text
    if shutil.which("systemd-analyze") is None:  # the one check that needs systemd's tools: said, not skipped
        print("systemd-analyze is not installed: the unit was not verified by systemd")
        return
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert res.returncode == 0 and str(unit) not in res.stderr, res.stderr


def test_the_roster_needs_no_key_until_the_freeze_which_names_each_member_without_one(tmp_path):
    """Issue 24, item 7: no placeholder public_key before `hub accounts` writes the real ones; the freeze refuses
    a member without a key with one clear line naming the entry."""
    from workbench.model.round import load_round

    rd = make_round(tmp_path, do_freeze=False)
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    del roster["reviewers"][1]["public_key"]
    (rd / "roster.yaml").write_text(yaml.safe_dump(roster, sort_keys=False))
    assert load_round(rd).roster.get("e1").public_key is None
    res = subprocess.run([*CLI, "round", "freeze", str(rd), "--key", str(tmp_path / "keys" / "coord.key")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "roster.yaml" in res.stderr and "reviewers.1.public_key: 'e1' has no public key" in res.stderr
    assert not (rd / "frozen").exists()


def _serve(rd: Path, state: Path, log: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "hub", "serve", str(rd), "--state", str(state), *flags, "--start"], env=_env("/root"),
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(hub: subprocess.Popen) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(hub.pid, signal.SIGTERM)
    try:
        hub.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(hub.pid, signal.SIGKILL)
        hub.wait()


@pytest.mark.browser
@pytest.mark.slow
def test_a_restart_needs_no_flags_and_each_role_lands_on_its_own_notebook(prefix, reachable, base):
    """Issue 24, items 5 and 7, on a real hub, proxy and Chromium: a roster without keys; accounts with the
    auditor and --state; serve with no --prefix (kept), stopped with a connection open, and started again at
    once with no flag at all. The auditor may log in (publication stood in for by the signed report's file,
    which is all the hub looks at), lands on ~/<round>/audit.ipynb, the coordinator on coordinator.ipynb; no
    "Could not find path", no news prompt; `workbench` is on the PATH of the servers."""
    import http.client

    from conftest import require
    from playwright.sync_api import expect, sync_playwright

    require(CHROMIUM.exists(), "Debian's chromium is not installed (/usr/bin/chromium)")
    rd = make_round(base, experts=("e1",), do_freeze=False)
    roster = yaml.safe_load((rd / "roster.yaml").read_text())
    for e in roster["reviewers"]:
        del e["public_key"]  # no placeholders: accounts writes the keys it makes
    (rd / "roster.yaml").write_text(yaml.safe_dump(roster, sort_keys=False))
    assert _accounts(rd, prefix, base / "pw.txt").returncode == 0
    coord, aud = f"{prefix}coord", f"{prefix}aud"
    as_user(coord, *CLI, "round", "freeze", str(rd), "--key", f"/home/{coord}/.workbench/coord.key")
    draft = rd / "drafts" / "e1" / "ta.json"
    as_user(f"{prefix}e1", "sh", "-c", f"echo '{{}}' > {draft}")
    (rd / "report").mkdir()
    (rd / "report" / "report.dsse.json").write_text("{}")
    subprocess.run(["useradd", "--create-home", aud], check=True)
    subprocess.run(["chpasswd"], input=f"{aud}:Auditor-pw-1\n", text=True, check=True)
    state, log, port = base / "state", base / "hub.log", _free_port()
    res = _accounts(rd, prefix, base / "pw2.txt", "--auditor", aud, "--state", str(state))
    assert res.returncode == 0, res.stderr
    assert _probe(f"{prefix}e1", [draft]) == {str(draft): "READ"}  # published: e1 still reads their own draft
    assert _probe(aud, [draft]) == {str(draft): "READ"}
    res = subprocess.run([*CLI, "hub", "serve", str(rd), "--state", str(state), "--port", str(port)],
                         capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 0 and f"--prefix {prefix} --auditor {aud}" in res.stdout, res.stdout + res.stderr
    assert "systemd" in res.stdout and (state / "workbench-hub.service").is_file()
    res = subprocess.run([*CLI, "hub", "serve", str(rd), "--state", str(base / "fresh"), "--prefix", prefix,
                          "--port", str(_free_port())],
                         capture_output=True, text=True, env=_env("/root"))  # no state kept: the audit group says
    assert res.returncode == 0 and f"--auditor {aud}" in res.stdout, res.stdout + res.stderr
    hub = _serve(rd, state, log)
    try:
        _wait_http(f"http://127.0.0.1:{port}/hub/login", hub, log)
        held = http.client.HTTPConnection("127.0.0.1", port)
        held.request("GET", "/hub/login")
        held.getresponse().read()
        _stop(hub)  # the hub closes the connection: its side of the port lingers in TIME_WAIT
        held.close()
        hub = _serve(rd, state, log)  # at once, and with no flag to remember
        _wait_http(f"http://127.0.0.1:{port}/hub/login", hub, log)
        passwords = dict(line.split() for line in (base / "pw.txt").read_text().splitlines())
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            for account, password, notebook in ((aud, "Auditor-pw-1", "audit.ipynb"),
                                                (coord, passwords[coord], "coordinator.ipynb")):
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                _login(page, port, account, password)
                item = page.locator(".jp-DirListing-itemText", has_text=notebook)
                item.first.wait_for(timeout=180_000)
                expect(page.locator(".jp-DirListing-itemText", has_text="round")).to_have_count(1)
                page.wait_for_timeout(2000)  # the news prompt came with the first paint
                assert page.get_by_text("official Jupyter news").count() == 0
                assert page.locator(".jp-Dialog").count() == 0  # no "Could not find path"
                page.close()
            browser.close()
        uid = pwd.getpwnam(coord).pw_uid
        from workbench.hub.jupyterhub import account_processes

        env = {}
        for pid in account_processes(uid):
            raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            env = dict(x.decode().split("=", 1) for x in raw if b"=" in x)
            if "JUPYTERHUB_USER" in env:
                break
        assert shutil.which("workbench", path=env["PATH"]), env.get("PATH")
    finally:
        _stop(hub)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "hub-restart.log")  # for a failure in CI
    assert "not allowed" not in log.read_text()
    # `hub serve --start` becomes JupyterHub (exec): stopping the pid its starter holds stops the hub. As a child,
    # a hub outlived its parent's SIGTERM after every run of this suite, holding its port and proxy
    left = []
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and str(state).encode() in (proc / "cmdline").read_bytes():
                left.append(proc.name)
    assert left == [], left


def test_serve_names_the_folder_that_keeps_the_accounts_from_this_python_and_the_fix(base, monkeypatch):
    """Issue 24, item 7: the venv's Python under root's 0700 home (pyenv): refused before anyone logs in, naming
    the folder and how to fix it."""
    from workbench.core.errors import HubError
    from workbench.hub import jupyterhub as hub

    locked = base / "root-home"
    (locked / ".pyenv").mkdir(parents=True)
    locked.chmod(0o700)
    monkeypatch.setattr(hub, "runtime_paths", lambda: [locked / ".pyenv"])
    with pytest.raises(HubError, match=rf"cannot run this Python .*{locked} \(mode 0700: others cannot pass through\)"
                                       rf".*make PYTHON=/usr/bin/python3.*chmod o\+x {locked}"):
        hub._require_reachable()


def test_after_publication_each_reviewer_still_reaches_their_own_drafts_and_outbox(tmp_path):
    """Issue 24, item 7: drafts/ and outbox/ became the auditors' after publication, so reviewers lost their own
    drafts and submitted sheets; now the panel passes through them, and the folders inside stay each one's."""
    from workbench.hub.jupyterhub import permission_plan, plan_round, round_paths
    from workbench.model.round import load_round

    rd = make_round(tmp_path, experts=("e1", "e2"))
    for d in ("drafts/e1", "outbox/e1"):
        (rd / d).mkdir(parents=True)
    (rd / "drafts/e1/ta.json").write_text("{}")
    plan = plan_round(load_round(rd), "p-", auditors=["aud"], published=True)
    perms = {p.path: p.line() for p in permission_plan(plan, round_paths(rd))}
    assert perms["drafts"] == "0750 p-coord:p-test-1-panel drafts" and perms["outbox"] == "0750 p-coord:p-test-1-panel outbox"
    assert perms["drafts/e1"] == "0750 p-e1:p-test-1-audit drafts/e1"  # e1 (owner) and the auditors; not e2
    assert perms["drafts/e1/ta.json"] == "0640 p-e1:p-test-1-audit drafts/e1/ta.json"
    assert perms["outbox/e1"] == "2750 p-e1:p-test-1-audit outbox/e1"


def test_a_hard_link_in_a_reviewers_folder_never_hands_the_linked_file_over(root_only, base):
    """A reviewer's hard link to a file elsewhere (where fs.protected_hardlinks is off) is left alone: applying
    the plan would otherwise give the reviewer that file."""
    from workbench.hub.jupyterhub import Perm, apply_permissions

    outside = base / "outside.txt"
    outside.write_text("not the reviewer's")
    outside.chmod(0o600)
    (base / "round" / "drafts" / "e1").mkdir(parents=True)
    os.link(outside, base / "round" / "drafts" / "e1" / "x.json")
    (base / "round" / "drafts" / "e1" / "own.json").write_text("{}")
    apply_permissions(base / "round", [Perm(path=f"drafts/e1/{n}", owner="nobody", group="nogroup", mode=0o640)
                                        for n in ("x.json", "own.json")])
    st = outside.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o600)
    assert (base / "round" / "drafts" / "e1" / "own.json").stat().st_uid == pwd.getpwnam("nobody").pw_uid


def test_a_system_account_is_never_an_auditor(prefix, base):
    """Its processes would be ended when it leaves the audit group: root or a service account is refused first."""
    from workbench.core.errors import HubError
    from workbench.hub.jupyterhub import setup_accounts

    rd = make_round(base, do_freeze=False)
    with pytest.raises(HubError, match=r"--auditor: auditor account\(s\) daemon are system accounts"):
        setup_accounts(rd, prefix=prefix, auditors=["daemon"], passwords_file=base / "pw.txt")
    assert not [u for u in pwd.getpwall() if u.pw_name.startswith(prefix)] and not (base / "pw.txt").exists()


def test_the_coordinators_notebook_runs_status_and_collect_on_the_round(tmp_path):
    """Issue 24, item 7: the notebook the coordinator lands on runs the guide's commands on this round, as is."""
    import nbformat
    from nbclient import NotebookClient

    from workbench.hub.jupyterhub import _role_notebook

    rd = make_round(tmp_path)
    _to_outbox(rd, sign_sheet(tmp_path, "e1", "ta"))
    nb = nbformat.reads(_role_notebook("coordinator", rd, "coord", tmp_path / "keys" / "coord.key").decode(), 4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "frozen" in out and "1 new sheet(s): 1 accepted" in out, out
