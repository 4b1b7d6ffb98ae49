"""Serving a round with JupyterHub (workbench.hub): the plan, the configuration, and the real thing.

The first tests are pure (names, the permission plan, the configuration text, what other accounts can reach,
the outbox pick-up) and run anywhere. The rest create operating-system accounts, so they need root (CI runs
as root; elsewhere they skip, or fail under CI=true): a real JupyterHub with configurable-http-proxy on
127.0.0.1, reviewers logging in through Debian's Chromium, their kernels running as their own accounts.

Accounts and groups get a random, distinctive prefix (``wbt`` + 4 hex digits + ``-``) and are removed after
the test, with their homes; no existing account is touched. The single-user servers run as those accounts,
so the Python running the tests must be reachable by them: where a folder above it cannot be passed through
(a checkout under /root, mode 0700, or pyenv's Python there), the test adds the traversal bit (``o+x``, never
``o+r``: nothing can be listed) to exactly those folders for the test's duration and restores their modes
after. ``workbench hub`` itself refuses such a machine with the folder's name (tested below).
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import RUBRICS, refuse_outside, require
from coord_helpers import make_round
from hypothesis import given, settings
from hypothesis import strategies as st
from roundkit import ROOT, answers_for
from traitlets.config import Config

from workbench.core.errors import HubError, RoundError
from workbench.hub.jupyterhub import (
    ACCOUNT_PATTERN,
    account_name,
    default_proxy,
    hub_config,
    permission_plan,
    plan_round,
    round_paths,
    runtime_paths,
    setup_accounts,
    unreachable,
    write_hub,
)
from workbench.model.round import load_round
from workbench.model.rubric import load_rubric
from workbench.round.submit import issue_token

pytestmark = [pytest.mark.xdist_group("hub")]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
PY = sys.executable
CLI = [PY, "-m", "workbench"]


# ---------------------------------------------------------------- pure: names, plan, configuration

@pytest.mark.parametrize("rid", ["E1", "e.1", "1e", "x" * 33, "ü1"])
def test_a_roster_id_that_cannot_be_an_account_is_refused_naming_the_entry(rid):
    with pytest.raises(HubError, match=rf"roster.yaml: reviewers.3.id: '{re.escape(rid)}' cannot be an operating"):
        account_name("", rid, file="roster.yaml", place="reviewers.3.id")


def test_account_names_are_prefix_plus_id():
    assert account_name("wb-", "e1") == "wb-e1"
    assert re.fullmatch(ACCOUNT_PATTERN, account_name("", "expert_07-x"))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["", "wb-", "x"]), st.text(max_size=40))
def test_an_account_name_is_a_portable_posix_name_or_refused(prefix, rid):
    portable = re.compile(r"[a-z_][a-z0-9_-]*")  # POSIX portable set, lower case, no leading digit or '-'
    try:
        name = account_name(prefix, rid)
    except HubError as e:
        assert not (portable.fullmatch(prefix + rid) and len(prefix + rid) <= 32)
        assert e.message.startswith(f"'{rid}' cannot be an operating-system account name")
    else:
        assert name == prefix + rid and portable.fullmatch(name) and len(name) <= 32 and "\n" not in name


def test_hub_plan_prints_every_path_and_a_round_not_frozen_is_one_line(coi_round, tmp_path, capsys):
    from workbench.cli.app import main

    assert main(["hub", "plan", str(coi_round), "--prefix", "p-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "0640 p-coord:p-test-1-panel rules.yaml" in out["paths"] and out["plan"]["owner"] == "p-coord"
    rd = make_round(tmp_path / "new", do_freeze=False)
    assert main(["hub", "serve", str(rd), "--state", str(tmp_path / "st"), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "round is not frozen" in err and not (tmp_path / "st").exists()


@pytest.fixture
def coi_round(tmp_path):
    """Experts e1 and e2 and users u1 and u2 on teams ta and tb; u1 declared a conflict with tb."""
    return make_round(tmp_path, experts=("e1", "e2"), users=("u1", "u2"), coi={"u1": ["tb"]})


def test_the_plan_gives_each_path_its_owner_group_and_mode(coi_round):
    r = load_round(coi_round)
    for d in ("drafts/u1", "drafts/u2", "outbox/u1", "outbox/u2"):
        (coi_round / d).mkdir(parents=True)
    (coi_round / "drafts/u1/ta.json").write_text("{}")
    (coi_round / "evidence/tb/report.pdf").write_text("x")
    plan = plan_round(r, "p-")
    assert plan.owner == "p-coord" and not plan.published
    team = plan.team_groups
    assert plan.groups[team["tb"]] == ("p-e1", "p-e2", "p-u2")  # u1 is conflicted: not a reader of tb
    assert plan.groups[team["ta"]] == ("p-e1", "p-e2", "p-u1", "p-u2")
    assert plan.groups[plan.coord] == ("p-coord",) and plan.groups[plan.audit] == ()
    assert plan.notebooks["p-u1"] == ("ta",) and plan.notebooks["p-u2"] == ("ta", "tb")
    perms = {p.path: p.line() for p in permission_plan(plan, round_paths(coi_round))}
    tag = "p-test-1"
    assert perms[""] == f"0710 p-coord:{tag}-panel ."
    assert perms["drafts/u1"] == "0700 p-u1:p-u1 drafts/u1"
    assert perms["drafts/u1/ta.json"] == "0600 p-u1:p-u1 drafts/u1/ta.json"
    assert perms["outbox/u1"] == f"2750 p-u1:{tag}-coord outbox/u1"
    assert perms["evidence/tb"] == f"0750 p-coord:{tag}-t-tb evidence/tb"
    assert perms["evidence/tb/report.pdf"] == f"0640 p-coord:{tag}-t-tb evidence/tb/report.pdf"
    assert perms["rules.yaml"] == f"0640 p-coord:{tag}-panel rules.yaml"
    assert perms["answers/e1/ta.yaml"] == f"0640 p-coord:{tag}-coord answers/e1/ta.yaml"
    assert perms["sheets"] == f"0750 p-coord:{tag}-coord sheets"
    # after publication: the report to the panel, everything else to the auditors, nothing writable by others
    pub = plan_round(r, "p-", auditors=["aud"], published=True)
    assert pub.groups[pub.audit] == ("aud",) and "aud" in pub.groups[pub.panel]
    after = {p.path: p.line() for p in permission_plan(pub, round_paths(coi_round))}
    assert after["drafts/u1/ta.json"] == f"0640 p-u1:{tag}-audit drafts/u1/ta.json"
    assert after["evidence/tb"] == f"0750 p-coord:{tag}-audit evidence/tb"
    assert after[""] == f"0750 p-coord:{tag}-panel ."
    assert all(not int(line.split()[0], 8) & 0o022 for line in [*perms.values(), *after.values()])


def test_auditor_names_are_checked(coi_round):
    r = load_round(coi_round)
    with pytest.raises(HubError, match=r"--auditor: auditor 'Bad' is not a valid account name"):
        plan_round(r, auditors=["Bad"])
    with pytest.raises(HubError, match="also a roster account"):
        plan_round(r, auditors=["e1"])


def test_the_configuration_is_python_that_jupyterhub_reads(coi_round, tmp_path):
    plan = plan_round(load_round(coi_round), "p-")
    text = hub_config(plan, port=8123, hub_port=8124, api_port=8125, state_dir=tmp_path / "s", proxy="/x/chp",
                      python="/opt/wb/bin/python")
    c = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: c})
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8123"
    assert c.Authenticator.allowed_users == {"p-coord", "p-e1", "p-e2", "p-u1", "p-u2"}
    assert c.Authenticator.admin_users == set()  # an admin could open every reviewer's server
    assert c.JupyterHub.spawner_class == "localprocess" and c.JupyterHub.authenticator_class == "pam"
    shell, flag, script, python = c.Spawner.cmd
    assert (shell, flag, python) == ("/bin/sh", "-c", "/opt/wb/bin/python")
    assert script.startswith("umask 027 && exec") and "-m jupyterhub.singleuser" in script
    assert c.ConfigurableHTTPProxy.command == ["/x/chp"]


def test_a_folder_others_cannot_pass_through_is_named(base):
    locked = base / "locked"
    inner = locked / "venv"
    inner.mkdir(parents=True)
    locked.chmod(0o700)
    try:
        assert unreachable([inner]) == [f"{locked} (mode 0700: others cannot pass through)"]
        locked.chmod(0o711)
        inner.chmod(0o700)
        assert unreachable([inner]) == [f"{inner} (mode 0700: others cannot read it)"]
        inner.chmod(0o755)
        assert unreachable([inner]) == []
    finally:
        locked.chmod(0o755)


def test_a_round_not_frozen_is_refused_and_nothing_is_written(tmp_path):
    rd = make_round(tmp_path, do_freeze=False)
    with pytest.raises(RoundError, match="round is not frozen"):
        write_hub(rd, port=_free_port(), state_dir=tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_collect_picks_sheets_up_from_the_outboxes(tmp_path):
    """nbgrader's collect: what a reviewer signed into outbox/<reviewer>/ is copied into sheets/ and checked;
    a file changed after pick-up never replaces the collected copy."""
    from coord_helpers import coord_key, sign_sheet

    from workbench.round.collect import collect

    rd = make_round(tmp_path)
    path = sign_sheet(tmp_path, "e1", "ta")
    box = rd / "outbox" / "e1"
    box.mkdir(parents=True)
    shutil.move(path, box / path.name)
    res = collect(rd, coord_key(tmp_path), "coord")
    assert [(x.path, x.decision) for x in res] == [("sheets/e1/ta.v1.dsse.json", "accepted")]
    copied = rd / "sheets" / "e1" / "ta.v1.dsse.json"
    kept = copied.read_bytes()
    (box / path.name).write_bytes(kept.replace(b'"', b"'", 1))
    (box / "notes.txt").write_text("not a sheet")
    res = collect(rd, coord_key(tmp_path), "coord")
    assert [(x.path, x.new) for x in res] == [("sheets/e1/ta.v1.dsse.json", False)] and copied.read_bytes() == kept


# ---------------------------------------------------------------- root: accounts, the hub, a browser

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def root_only():
    require(os.geteuid() == 0, "creates operating-system accounts: needs root (CI runs as root)")
    for tool in ("useradd", "runuser", "chpasswd", "gpasswd"):
        require(shutil.which(tool), f"{tool} is not installed")


@pytest.fixture
def prefix(root_only):
    """A distinctive prefix; every account and group that carries it is removed afterwards (with its
    processes and home). Accounts without it are never touched."""
    p = f"wbt{secrets.token_hex(2)}-"
    yield p
    for _ in range(10):  # a process may still be starting as one of them: kill again until userdel succeeds
        users = [u for u in pwd.getpwall() if u.pw_name.startswith(p)]
        uids = {u.pw_uid for u in users}
        for pid in os.listdir("/proc"):
            with contextlib.suppress(OSError, ValueError):
                if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid in uids:
                    os.kill(int(pid), signal.SIGKILL)
        for u in users:
            subprocess.run(["userdel", "--remove", u.pw_name], capture_output=True)
        if not [u for u in pwd.getpwall() if u.pw_name.startswith(p)]:
            break
        time.sleep(0.5)
    for g in grp.getgrall():
        if g.gr_name.startswith(p):
            subprocess.run(["groupdel", g.gr_name], capture_output=True)


REACH_STATE = Path("/tmp/wb-hub-reachable.json")  # folders opened and their modes, with the pids using them


@pytest.fixture
def reachable(root_only):
    """Let other accounts pass through the folders above this Python (o+x only, never o+r), and restore their
    modes when the last test using them ends. Tests on other xdist workers share the record under a lock (a
    test killed midway is dropped by its pid), so one test never closes a folder another still needs."""
    import fcntl

    def update(change):
        with open("/tmp/wb-hub-reachable.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = json.loads(REACH_STATE.read_text()) if REACH_STATE.exists() else {"pids": [], "modes": {}}
            state["pids"] = [p for p in state["pids"] if Path(f"/proc/{p}").exists()]
            change(state)
            if state["pids"]:
                REACH_STATE.write_text(json.dumps(state))
            else:
                for d, mode in state["modes"].items():
                    os.chmod(d, mode)
                REACH_STATE.unlink(missing_ok=True)

    def open_up(state):
        for p in runtime_paths():
            for parent in reversed(Path(p).absolute().parents):
                mode = stat.S_IMODE(os.stat(parent).st_mode)
                if not mode & stat.S_IXOTH:
                    state["modes"].setdefault(str(parent), mode)
                    os.chmod(parent, mode | stat.S_IXOTH)
        state["pids"].append(os.getpid())

    update(open_up)
    try:
        yield
    finally:
        update(lambda state: state["pids"].remove(os.getpid()) if os.getpid() in state["pids"] else None)


@pytest.fixture
def base():
    """A folder every account can pass through (pytest's tmp_path sits under a 0700 folder)."""
    d = Path(tempfile.mkdtemp(prefix="wb-hub-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _env(home: str) -> dict[str, str]:
    return {**os.environ, "HOME": home, "PYTHONPATH": str(ROOT)}


def as_user(account: str, *cmd: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``cmd`` as ``account`` (runuser), in its home, with its HOME."""
    home = pwd.getpwnam(account).pw_dir
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    res = subprocess.run(["runuser", "-u", account, "--", "env", f"HOME={home}", f"PYTHONPATH={ROOT}", *extra, *cmd],
                         cwd=home, capture_output=True, text=True, timeout=300)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} as {account}: rc {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


# prints DENIED only for a PermissionError (any other error fails the probe)
PROBE = """import os, sys
for p in sys.argv[1:]:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read()
        print("READ", p)
    except PermissionError:
        print("DENIED", p)
"""


def _probe(account: str, paths: list[Path]) -> dict[str, str]:
    out = as_user(account, PY, "-c", PROBE, *map(str, paths)).stdout.split("\n")
    return {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in out if line}


def test_bad_input_leaves_no_account_behind(prefix, base):
    """A roster id that cannot be an account, and an existing account the command did not make: refused
    before anything is created."""
    rd = make_round(base / "a", experts=("e1", "Expert2"), do_freeze=False)
    with pytest.raises(HubError, match=r"roster.yaml: reviewers.2.id: 'Expert2' cannot be an operating-system account"):
        setup_accounts(rd, prefix=prefix, passwords_file=base / "pw-a.txt")
    assert not [u for u in pwd.getpwall() if u.pw_name.startswith(prefix)] and not (base / "pw-a.txt").exists()

    rd = make_round(base / "b", experts=("e1", "e2"), do_freeze=False)
    subprocess.run(["useradd", f"{prefix}e2"], check=True)  # someone's own account, by chance the same name
    with pytest.raises(HubError, match=rf"account '{prefix}e2' exists and was not made by 'workbench hub accounts'"):
        setup_accounts(rd, prefix=prefix, passwords_file=base / "pw-b.txt")
    assert sorted(u.pw_name for u in pwd.getpwall() if u.pw_name.startswith(prefix)) == [f"{prefix}e2"]
    assert not [g for g in grp.getgrall() if g.gr_name.startswith(prefix) and g.gr_name != f"{prefix}e2"]

    res = subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--passwords", str(base / "pw-c.txt")],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 1 and res.stderr.startswith("workbench: error: ") and "Traceback" not in res.stderr


def test_home_keys_that_are_not_the_frozen_rosters_are_reported_and_the_hub_refuses(prefix, reachable, base):
    """In a frozen round the roster is never rewritten: accounts makes the keys in the homes, says whose differ
    (exit 1), and the hub will not serve until the roster is amended."""
    rd = make_round(base, experts=("e1",))  # frozen with keys made elsewhere
    roster = (rd / "roster.yaml").read_bytes()
    res = subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--passwords", str(base / "pw.txt")],
                         capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 1, res.stdout + res.stderr
    assert "the keys in the homes of coord, e1 are not their keys in the frozen roster" in res.stderr
    assert (rd / "roster.yaml").read_bytes() == roster
    with pytest.raises(HubError, match=rf"the key in {prefix}coord's home is not coord's key in the roster"):
        write_hub(rd, port=_free_port(), state_dir=base / "state", prefix=prefix, proxy="/bin/true")
    assert not (base / "state").exists()


# what reviewer A (user u1) enters in the form: criterion -> (option label prefix, comment)
ENTRIES = {
    "user.usability": ("4. Agree", ""),
    "user.korean_quality": ("5. Strongly agree", "Answers in Korean read naturally."),
    "user.reliability": ("3. Neutral", ""),
    "user.cost_efficiency": ("4. Agree", ""),
    "user.applicability": ("2. Disagree", "No on-premise option."),
}


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the hub exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.3)
    raise AssertionError(f"the hub did not answer:\n{log.read_text()[-3000:]}")


def _login(page, port: int, account: str, password: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/hub/login")
    page.locator("#username_input").fill(account)
    page.locator("#password_input").fill(password)
    page.locator("#login_submit").click()


@pytest.mark.browser
@pytest.mark.slow
def test_a_panel_on_jupyterhub_each_sees_only_what_is_theirs(prefix, reachable, base):
    from playwright.sync_api import expect, sync_playwright
    from test_browser import _open_from_file_browser, _run_all_and_wait

    from workbench.core.signing import SHEET_TYPE, load_public_key, public_key_from_pem, verify_envelope

    require(CHROMIUM.exists(), "Debian's chromium is not installed (/usr/bin/chromium); `make system-deps` installs it")
    require(default_proxy() is not None, "configurable-http-proxy is not installed; `make proxy` installs it")
    # the panel: expert e1, users u1 (reviewer A, conflicted with tb) and u2 (reviewer B), a coordinator
    rd = make_round(base, experts=("e1",), users=("u1", "u2"), coi={"u1": ["tb"]}, do_freeze=False)
    for team, name in (("ta", "notes.txt"), ("tb", "secret-plan.txt")):
        (rd / "evidence" / team / name).write_text(f"{team}'s confidential material\n")
    acct = {rid: f"{prefix}{rid}" for rid in ("coord", "e1", "u1", "u2")}
    home = {rid: Path("/home") / a for rid, a in acct.items()}

    res = subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--passwords", str(base / "pw.txt"),
                          "--lang", "en"], capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 0, res.stderr
    assert "public keys set for coord, e1, u1, u2" in res.stdout
    passwords = dict(line.split() for line in (base / "pw.txt").read_text().splitlines())
    assert set(passwords) == set(acct.values()) and stat.S_IMODE((base / "pw.txt").stat().st_mode) == 0o600
    # each key was made in its owner's home, by its owner, and the roster now names it
    roster = {e["id"]: e for e in yaml.safe_load((rd / "roster.yaml").read_text())["reviewers"]}
    for rid in acct:
        key = home[rid] / ".workbench" / f"{rid}.key"
        st = key.stat()
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (pwd.getpwnam(acct[rid]).pw_uid, 0o600)
        assert public_key_from_pem(roster[rid]["public_key"]) == load_public_key(key.with_suffix(".pub"))
    assert sorted(p.name for p in (home["u1"] / "test-1").iterdir()) == ["ta.ipynb"]  # no notebook for tb
    assert sorted(p.name for p in (home["u2"] / "test-1").iterdir()) == ["ta.ipynb", "tb.ipynb"]

    # the coordinator freezes with the key in their own home; running accounts again changes nothing
    coord_key = str(home["coord"] / ".workbench" / "coord.key")
    as_user(acct["coord"], *CLI, "round", "freeze", str(rd), "--key", coord_key)
    res = subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--passwords", str(base / "pw2.txt")],
                         capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 0 and "accounts created: none" in res.stdout and "0 notebook(s)" in res.stdout, res
    assert not (base / "pw2.txt").exists()

    # e1 and B sign unattended in their own kernels, from answers in their homes (as `workbench batch` would)
    user_answers = answers_for(load_rubric(RUBRICS / "user.yaml"))
    signers = []
    for rid, team in (("e1", "ta"), ("e1", "tb"), ("u2", "ta"), ("u2", "tb")):
        answers = home[rid] / f"answers-{team}.yaml"
        if rid == "e1":
            shutil.copyfile(rd / "answers" / "e1" / f"{team}.yaml", answers)
        else:
            answers.write_text(yaml.safe_dump(user_answers))
        os.chown(answers, pwd.getpwnam(acct[rid]).pw_uid, -1)
        nb = home[rid] / "test-1" / f"{team}.ipynb"
        # the one-use token workbench batch would hand this notebook's kernel, made for the account
        token_env, token = issue_token(nb.parent, rid, team)
        os.chown(token, pwd.getpwnam(acct[rid]).pw_uid, -1)
        signers.append(subprocess.Popen(
            ["runuser", "-u", acct[rid], "--", "env", f"HOME={home[rid]}", f"PYTHONPATH={ROOT}",
             f"WORKBENCH_UNATTENDED={token_env}", PY, "-m", "papermill", str(nb), str(nb.with_suffix(".run.ipynb")),
             "-p", "answers_file", str(answers), "-k", "python3"], cwd=home[rid],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for s in signers:
        out = s.communicate(timeout=300)[0]
        assert s.returncode == 0, out[-3000:]
    assert sorted(p.name for p in (rd / "outbox" / "u2").iterdir()) == ["ta.v1.dsse.json", "tb.v1.dsse.json"]

    # bad input while we are here: a port in use, and nothing written
    state = base / "state"
    port = _free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        res = subprocess.run([*CLI, "hub", "serve", str(rd), "--prefix", prefix, "--state", str(state), "--port", str(port)],
                             capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in res.stderr and not state.exists()
    # an account that does not exist (the roster names someone accounts was never run for)
    with pytest.raises(HubError, match=r"account 'wbzz-coord' does not exist.*'workbench hub accounts ROUND'"):
        write_hub(rd, port=_free_port(), state_dir=base / "state-x", prefix="wbzz-")
    assert not (base / "state-x").exists()

    log = base / "hub.log"
    hub = subprocess.Popen([*CLI, "hub", "serve", str(rd), "--prefix", prefix, "--state", str(state), "--port", str(port),
                            "--start"], env=_env("/root"), stdout=log.open("wb"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    a, b = acct["u1"], acct["u2"]
    timings = {}
    try:
        _wait_http(f"http://127.0.0.1:{port}/hub/login", hub, log)
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            outside: list[str] = []
            # someone with an account on the machine but not on the roster: refused at the door
            stranger = f"{prefix}x"
            subprocess.run(["useradd", stranger], check=True)
            subprocess.run(["chpasswd"], input=f"{stranger}:Stranger-pw-1\n", text=True, check=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            refuse_outside(page, (f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/"), outside)
            _login(page, port, stranger, "Stranger-pw-1")
            expect(page.locator("#login_submit")).to_be_visible(timeout=30_000)
            assert "/hub/login" in page.url and f"/user/{stranger}" not in page.url
            page.screenshot(path=str(ARTIFACTS / "hub-unknown-user.png"))
            page.close()

            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            refuse_outside(page, (f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/"), outside)
            try:
                t0 = time.monotonic()
                _login(page, port, a, passwords[a])
                # what A sees on login: their round folder, with a notebook for each team they may score
                item = page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText", has_text="ta.ipynb"))
                item.first.wait_for(timeout=120_000)
                timings["login_to_lab"] = time.monotonic() - t0
                expect(page.locator(".jp-DirListing-itemText", has_text="tb.ipynb")).to_have_count(0)
                page.screenshot(path=str(ARTIFACTS / "hub-login.png"))
                _open_from_file_browser(page, "ta.ipynb")
                page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
                _run_all_and_wait(page)
                timings["login_to_form"] = time.monotonic() - t0
                for cid, (option, comment) in ENTRIES.items():
                    box = page.locator(".wb-" + cid.replace(".", "-"))
                    box.locator("label", has_text=option).click()
                    if comment:
                        box.locator("textarea").fill(comment)
                page.locator(".wb-coi label", has_text="I have no conflict").click()
                sign = page.locator("button.wb-sign")
                expect(sign).to_be_enabled(timeout=10_000)
                sign.click()
                expect(page.locator(".wb-submitted")).to_contain_text("submitted", timeout=30_000)
                page.locator(".wb-submitted").scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "hub-signed.png"))

                # through A's own kernel (started by A's server, as A): a cell that tries to open what is not A's
                probe = home["u1"] / "probe.py"
                targets = [rd / "drafts/u2/ta.json", rd / "drafts/u2", rd / "outbox/u2/ta.v1.dsse.json", rd / "sheets",
                           rd / "evidence/tb/secret-plan.txt", rd / "evidence/ta/notes.txt"]
                probe.write_text(PROBE.replace("sys.argv[1:]", repr([str(t) for t in targets])) + "print('PROBE-DONE')\n")
                os.chown(probe, pwd.getpwnam(a).pw_uid, -1)
                page.locator(".jp-Notebook .jp-Cell").last.click()
                page.keyboard.press("Escape")
                page.keyboard.press("b")
                page.keyboard.press("Enter")
                page.keyboard.type(f"%run {probe}")
                page.keyboard.press("Shift+Enter")
                out = page.locator(".jp-OutputArea-output", has_text="PROBE-DONE")
                expect(out).to_be_visible(timeout=60_000)
                lines = [line.split(" ", 1) for line in out.inner_text().splitlines() if line.startswith(("READ", "DENIED"))]
                in_kernel = {path: verdict for verdict, path in lines}
                out.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / "hub-kernel-denied.png"))

                # through the UI: A links the round into their home (they may) and asks their server for
                # B's draft, B's outbox, the sheets and the conflicted team's evidence: the OS says no
                as_user(a, "ln", "-s", str(rd), str(home["u1"] / "round"))
                (rd / "drafts" / "u2" / "ta.json").write_text("{}")  # B's draft (root writes it for the test)
                os.chown(rd / "drafts" / "u2" / "ta.json", pwd.getpwnam(b).pw_uid, pwd.getpwnam(b).pw_gid)
                (rd / "drafts" / "u2" / "ta.json").chmod(0o600)
                api = f"http://127.0.0.1:{port}/user/{a}/api/contents/round"
                refusals: dict[str, int] = {}
                assert page.request.get(f"{api}/rules.yaml").status == 200  # the frozen rules: readable
                assert page.request.get(f"{api}/evidence/ta/notes.txt").status == 200
                for rel in ("drafts/u2/ta.json", "drafts/u2", "outbox/u2", "outbox/u2/ta.v1.dsse.json", "sheets",
                            "evidence/tb", "evidence/tb/secret-plan.txt"):
                    r = page.request.get(f"{api}/{rel}")
                    assert r.status != 200 and "confidential" not in r.text(), (rel, r.status)
                    refusals[rel] = r.status
                page.goto(f"http://127.0.0.1:{port}/user/{a}/lab/tree/round/evidence/tb")
                page.locator(".jp-Dialog, .jp-DirListing").first.wait_for(timeout=30_000)
                page.wait_for_timeout(1000)
                page.screenshot(path=str(ARTIFACTS / "hub-conflicted-evidence.png"))
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "hub-failure.png"))
                raise
            finally:
                browser.close()
            assert outside == []

        # A's kernel: open() (and listing) failed with PermissionError for everything not A's
        assert in_kernel == {
            str(rd / "drafts/u2/ta.json"): "DENIED", str(rd / "drafts/u2"): "DENIED",
            str(rd / "outbox/u2/ta.v1.dsse.json"): "DENIED", str(rd / "sheets"): "DENIED",
            str(rd / "evidence/tb/secret-plan.txt"): "DENIED", str(rd / "evidence/ta/notes.txt"): "READ"}
        sheet = rd / "outbox" / "u1" / "ta.v1.dsse.json"
        assert sheet.stat().st_uid == pwd.getpwnam(a).pw_uid
        # B cannot see A's sheet before collection, nor A's draft
        assert set(_probe(b, [sheet, sheet.parent, rd / "drafts/u1/ta.json"]).values()) == {"DENIED"}
        # and the coordinator cannot read drafts, only what was submitted
        assert _probe(acct["coord"], [rd / "drafts/u1/ta.json", sheet]) == {
            str(rd / "drafts/u1/ta.json"): "DENIED", str(sheet): "READ"}
    finally:
        os.killpg(hub.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            hub.wait(timeout=30)
        if hub.poll() is None:
            os.killpg(hub.pid, signal.SIGKILL)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(log, ARTIFACTS / "hub.log")  # for a failure in CI: spawns, logins, the proxy

    # the coordinator collects both reviewers' outboxes (and e1's), then aggregates
    res = as_user(acct["coord"], *CLI, "collect", str(rd), "--key", coord_key)
    assert "5 new sheet(s): 5 accepted, 0 rejected" in res.stdout, res.stdout
    verify_envelope((rd / "sheets" / "u1" / "ta.v1.dsse.json").read_bytes(),
                    load_public_key(home["u1"] / ".workbench" / "u1.pub"), SHEET_TYPE)
    assert set(_probe(b, [rd / "sheets/u1/ta.v1.dsse.json"]).values()) == {"DENIED"}  # collected: still not B's
    res = as_user(acct["coord"], *CLI, "aggregate", str(rd), "--key", coord_key, "--acknowledge", "test round", check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (rd / "report" / "report.dsse.json").is_file()

    # after publication: an auditor reads the whole round, read-only, and audits it into their own folder
    auditor = f"{prefix}aud"
    subprocess.run(["useradd", "--create-home", auditor], check=True)
    res = subprocess.run([*CLI, "hub", "accounts", str(rd), "--prefix", prefix, "--auditor", auditor,
                          "--passwords", str(base / "pw3.txt")], capture_output=True, text=True, env=_env("/root"))
    assert res.returncode == 0, res.stderr
    assert _probe(auditor, [rd / "drafts/u1/ta.json", rd / "sheets/u1/ta.v1.dsse.json", rd / "ledger.jsonl"]) == {
        str(rd / "drafts/u1/ta.json"): "READ", str(rd / "sheets/u1/ta.v1.dsse.json"): "READ",
        str(rd / "ledger.jsonl"): "READ"}
    assert set(_probe(b, [rd / "report" / "report.dsse.json"]).values()) == {"READ"}  # the report: everyone's
    assert set(_probe(b, [rd / "drafts/u1/ta.json", rd / "sheets"]).values()) == {"DENIED"}
    res = as_user(auditor, *CLI, "audit", str(rd), "--out", str(Path("/home") / auditor / "audit"), check=False)
    assert (Path("/home") / auditor / "audit" / "audit.json").is_file(), res.stdout + res.stderr
    assert not (rd / "audit").exists()
    print(f"the server's answers to A: {refusals}")
    print(f"login to JupyterLab {timings['login_to_lab']:.1f} s, login to a ready form {timings['login_to_form']:.1f} s")
    (ARTIFACTS / "hub-timings.txt").write_text(
        f"login_to_lab_s {timings['login_to_lab']:.2f}\nlogin_to_ready_form_s {timings['login_to_form']:.2f}\n")
