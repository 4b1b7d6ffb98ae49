"""Serving a frozen round to its panel with JupyterHub: accounts, file permissions and the hub's configuration.

Every roster member logs in to JupyterHub with their own operating-system account (PAM), and their
single-user server runs as that account (the local-process spawner). What a reviewer's notebook can read
and write is therefore decided by the kernel's file permissions, which :func:`permission_plan` computes for
every path of the round:

- the round's rules, roster, teams, assignments, rubrics, frozen states and references: read-only to the panel;
- ``evidence/<team>/``: readable only by the group of that team's readers (the reviewers assigned to it
  without a conflict of interest), so a conflicted reviewer's ``open()`` fails with a permission error;
- ``drafts/<reviewer>/``: the reviewer's own, mode 0700 (files 0600); nobody else, the coordinator included;
- ``outbox/<reviewer>/``: the exchange, in nbgrader's manner: only the reviewer writes there (the notebook
  signs into it), the coordinators' group reads it (mode 2750), and ``workbench collect`` picks the signed
  sheets up into ``sheets/``, which only the coordinator reads; no other reviewer ever sees them;
- everything else (ledger, sheets, answers, batch notebooks, receipts): the coordinator's only.

After publication (``report/report.dsse.json`` exists) the report is readable by the panel, and the auditors'
group reads the whole round; nobody but owners writes anything.

Names: an account is ``<prefix><roster id>`` and must be a portable POSIX account name (lower-case letters,
digits, ``_`` and ``-``, at most 32 characters); a roster id that cannot be one is refused, never mangled.
Groups are ``<prefix><tag>-panel``, ``-coord``, ``-audit`` and ``-t-<team>`` (a hash stands in for a team id
that is not a valid group name).

A stage is weeks long, on a machine other work shares: one person's folder never stops the round (a link where
a folder belongs blocks that person alone, :func:`folder_problem`); a membership change takes effect at once
(every process of an account that left a group is ended, :func:`end_processes`); what ``accounts`` and ``serve``
were given is kept in the hub's state folder (:class:`HubSettings`), so a restart, by hand or by the systemd unit
written beside the configuration (:func:`unit_text`), needs no flags.

Pure (no root, no changes): :func:`account_name`, :func:`plan_round`, :func:`required_dirs`,
:func:`permission_plan`, :func:`hub_config`, :func:`plan_json`, :func:`unit_text`. On the machine
(:func:`unreachable` reads modes): :func:`setup_accounts` (root: accounts, groups, keys, notebooks,
:func:`apply_permissions`), :func:`write_hub` (the checks, ``jupyterhub_config.py``, the settings and the unit)
and :func:`start_hub`.

Public API: :data:`ACCOUNT_PATTERN`, :class:`Account`, :class:`AccountsReport`, :class:`HubSettings`, :class:`Perm`,
:class:`Plan`, :func:`account_name`, :func:`plan_round`, :func:`required_dirs`, :func:`round_paths`,
:func:`permission_plan`, :func:`apply_permissions`, :func:`hub_config`, :func:`unreachable`, :func:`runtime_paths`,
:func:`setup_accounts`, :func:`folder_problem`, :func:`account_processes`, :func:`end_processes`,
:func:`hub_settings`, :func:`save_settings`, :func:`unit_text`, :func:`wait_port`, :func:`write_hub`,
:func:`start_hub`, :func:`default_proxy`, :func:`plan_json`.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict

from ..core.errors import HubError
from ..core.files import atomic_write_bytes, atomic_write_text, read_bounded, sha256_file
from ..core.shipped import review_notebook, shipped_path
from ..core.signing import key_id, public_key_from_pem
from ..model.round import Round, load_round
from ..round import ledger
from ..round.lifecycle import check_frozen

__all__ = ["ACCOUNT_PATTERN", "Account", "AccountsReport", "HubSettings", "Perm", "Plan", "account_name",
           "account_processes", "apply_permissions", "default_proxy", "end_processes", "folder_problem",
           "hub_config", "hub_settings", "permission_plan", "plan_json", "plan_round", "required_dirs",
           "round_paths", "runtime_paths", "save_settings", "setup_accounts", "start_hub", "unit_text",
           "unreachable", "wait_port", "write_hub"]

# Debian's default NAME_REGEX for useradd/groupadd, and the kernel-independent 32-character limit
ACCOUNT_PATTERN = r"[a-z_][a-z0-9_-]{0,31}"  # matched whole (re.fullmatch: "$" would let a newline through)
MARKER = "workbench-hub"  # in the GECOS field of every account we create: only those are ever changed
PANEL_ROLES = ("expert", "committee", "user")
SHARED = ("rules.yaml", "roster.yaml", "teams.yaml", "assignments.yaml", "rubrics", "frozen", "references")
PUBLISHED_FILE = "report/report.dsse.json"
KEY_DIR = ".workbench"

Role = Literal["expert", "committee", "user", "coordinator", "auditor"]


class Account(BaseModel):
    """One login: the OS account, the roster id it stands for (auditors have none) and its groups."""

    model_config = ConfigDict(frozen=True)

    name: str
    roster_id: str
    role: Role
    groups: tuple[str, ...]


class Perm(BaseModel):
    """What one path of the round must be: owner, group and mode (``path`` relative, ``""`` is the round)."""

    model_config = ConfigDict(frozen=True)

    path: str
    owner: str
    group: str
    mode: int

    def line(self) -> str:
        """``0750 owner:group path`` as ``ls`` would show it."""
        return f"{self.mode:04o} {self.owner}:{self.group} {self.path or '.'}"


class Plan(BaseModel):
    """Accounts, groups (name -> members) and the folders each reviewer needs, for one round."""

    model_config = ConfigDict(frozen=True)

    round_id: str
    published: bool
    owner: str  # the first coordinator's account owns the round
    panel: str  # the group of everyone on the roster (and auditors, after publication)
    coord: str  # the coordinators' group: reads the outboxes
    audit: str  # the auditors' group: reads the whole round after publication
    accounts: tuple[Account, ...]
    groups: dict[str, tuple[str, ...]]
    team_groups: dict[str, str]
    notebooks: dict[str, tuple[str, ...]]  # account -> teams it may score (a notebook each)


# ---------------------------------------------------------------- pure: names and the plan

def account_name(prefix: str, roster_id: str, *, file: str | Path | None = None, place: str | None = None) -> str:
    """The OS account of a roster id; :class:`HubError` names the roster entry when it cannot be one."""
    name = prefix + roster_id
    if not re.fullmatch(ACCOUNT_PATTERN, name):
        raise HubError(f"'{roster_id}' cannot be an operating-system account name (as '{name}')", file=file, place=place,
                       expected="lower-case letters, digits, '_' or '-', starting with a letter or '_', "
                                f"at most {32 - len(prefix)} characters; rename the reviewer in the roster")
    return name


def _group(base: str, name: str) -> str:
    """``base + name`` when that is a valid group name, else ``base`` + a hash of ``name`` (never mangled)."""
    candidate = base + name
    if re.fullmatch(ACCOUNT_PATTERN, candidate):
        return candidate
    return base + hashlib.sha256(name.encode()).hexdigest()[:8]


def _tag(round_id: str) -> str:
    tag = round_id.lower()[:10]
    return tag if re.fullmatch(r"[a-z0-9_-]+", tag) else hashlib.sha256(round_id.encode()).hexdigest()[:8]


def _refuse_collisions(names: dict[str, str], auditors: list[str], own: dict[str, str], team_groups: dict[str, str],
                       roster_file: Path) -> None:
    """:class:`HubError` when an account would carry the name of one of the round's groups (``useradd`` gives
    each account a group of its own name: the two would merge, and a reviewer would read what the group
    reads), or two teams' groups share a name (ids that differ only in letter case)."""
    groups = dict(own)
    for t, g in team_groups.items():
        if g in groups:
            raise HubError(f"team '{t}' gets the group name '{g}', which is already {groups[g]}", file=roster_file.parent
                           / "teams.yaml", place=f"teams.{t}", expected="team ids that differ in more than letter case")
        groups[g] = f"the group of team '{t}'"
    for rid, acct in [*names.items(), *((a, a) for a in auditors)]:
        if acct in groups:
            raise HubError(f"account '{acct}' (roster id '{rid}') has the name of {groups[acct]}", file=roster_file,
                           place=f"reviewers.{rid}.id", expected="an id that is not a group name of the round "
                           "(<round>-panel, -coord, -audit, -t-<team>), or another --prefix")


def plan_round(r: Round, prefix: str = "", auditors: Iterable[str] = (), published: bool | None = None) -> Plan:
    """Accounts and groups for round ``r``: one account per roster member, plus ``auditors`` (account names)
    who get the audit group once the round is published (default: whether its signed report exists)."""
    if published is None:
        published = (r.path / PUBLISHED_FILE).is_file()
    roster_file = r.path / "roster.yaml"
    base = f"{prefix}{_tag(r.rules.round_id)}-"
    if len(base) > 20:
        raise HubError(f"account prefix '{prefix}' is too long", place="--prefix", expected="at most 8 characters")
    panel, coord, audit = f"{base}panel", f"{base}coord", f"{base}audit"
    team_groups = {t.id: _group(f"{base}t-", t.id) for t in r.teams.teams}
    names = {e.id: account_name(prefix, e.id, file=roster_file, place=f"reviewers.{i}.id")
             for i, e in enumerate(r.roster.reviewers)}
    auditor_names = []
    for a in auditors:
        if not re.fullmatch(ACCOUNT_PATTERN, a):
            raise HubError(f"auditor '{a}' is not a valid account name", place="--auditor",
                           expected="lower-case letters, digits, '_' or '-', at most 32 characters")
        if a in names.values():
            raise HubError(f"auditor '{a}' is also a roster account", place="--auditor", expected="a separate account")
        auditor_names.append(a)
    _refuse_collisions(names, auditor_names, {panel: "the panel group", coord: "the coordinators' group",
                                              audit: "the auditors' group"}, team_groups, roster_file)
    readers: dict[str, list[str]] = {t: [] for t in team_groups}
    notebooks: dict[str, tuple[str, ...]] = {}
    for e in r.roster.reviewers:
        if e.role in PANEL_ROLES:
            teams = tuple(t.id for t in r.teams.teams if r.eligibility(e.id, t.id, e.role) is None)
            notebooks[names[e.id]] = teams
            for t in teams:
                readers[t].append(names[e.id])
    coordinators = [names[e.id] for e in r.roster.reviewers if e.role == "coordinator"]
    groups = {panel: tuple(sorted([*names.values(), *(auditor_names if published else [])])),
              coord: tuple(sorted(coordinators)),
              audit: tuple(sorted(auditor_names)) if published else (),
              **{team_groups[t]: tuple(sorted(m)) for t, m in readers.items()}}
    accounts = tuple(Account(name=names[e.id], roster_id=e.id, role=e.role,
                             groups=tuple(sorted(g for g, m in groups.items() if names[e.id] in m)))
                     for e in r.roster.reviewers)
    accounts += tuple(Account(name=a, roster_id="", role="auditor",
                              groups=tuple(sorted(g for g, m in groups.items() if a in m))) for a in auditor_names)
    return Plan(round_id=r.rules.round_id, published=published, owner=coordinators[0], panel=panel, coord=coord,
                audit=audit, accounts=accounts,
                groups=groups, team_groups=team_groups, notebooks=notebooks)


def required_dirs(plan: Plan, r: Round) -> list[str]:
    """Folders the plan needs even before anyone wrote in them (relative to the round)."""
    reviewers = [a.roster_id for a in plan.accounts if a.role in PANEL_ROLES]
    # the coordinator's folders exist before anything is written in them, so what a batch or a collection
    # writes later lands in a folder only the coordinators can enter, whatever the writer's umask
    return ["evidence", "drafts", "outbox", "sheets", "answers", "notebooks", "receipts", "checkpoints",
            *(f"evidence/{t.id}" for t in r.teams.teams),
            *(f"{d}/{rid}" for d in ("drafts", "outbox") for rid in reviewers)]


def permission_plan(plan: Plan, paths: Iterable[tuple[str, bool]]) -> list[Perm]:
    """Owner, group and mode of every path (``(relative path, is_dir)``; ``""`` is the round folder)."""
    by_id = {a.roster_id: a for a in plan.accounts if a.role in PANEL_ROLES}
    team_groups = plan.team_groups
    out = []
    for rel, is_dir in paths:
        parts = rel.split("/") if rel else []
        top = parts[0] if parts else ""
        owner, group = plan.owner, plan.coord
        d, f = 0o750, 0o640
        person = by_id.get(parts[1]) if len(parts) >= 2 and top in ("drafts", "outbox") else None
        if not parts:
            group, d = plan.panel, 0o750 if plan.published else 0o710
        elif plan.published:
            # the report is everyone's; drafts/ and outbox/ let the panel pass, so each reviewer keeps reading
            # their own drafts and submitted sheets (the folders inside are theirs); the rest: the auditors'
            group = plan.panel if top == "report" or (top in ("drafts", "outbox") and len(parts) == 1) else plan.audit
            if person is not None:
                owner = person.name
                d = 0o2750 if top == "outbox" and len(parts) == 2 else 0o750
        elif top in SHARED:
            group = plan.panel
        elif top in ("evidence", "drafts", "outbox") and len(parts) == 1:
            group, d = plan.panel, 0o710  # reviewers pass through to their own folder, and list nothing
        elif top == "evidence":
            group = team_groups.get(parts[1], plan.coord)  # a folder of no listed team: the coordinator's
        elif person is not None and top == "drafts":
            owner, group, d, f = person.name, person.name, 0o700, 0o600
        elif person is not None:  # the outbox: the reviewer writes, the coordinators read
            owner, d = person.name, 0o2750 if len(parts) == 2 else 0o750
        out.append(Perm(path=rel, owner=owner, group=group, mode=d if is_dir else f))
    return out


def hub_config(plan: Plan, *, port: int, hub_port: int, api_port: int, state_dir: str | Path, proxy: str | Path,
               python: str | Path, authenticator: str = "pam") -> str:
    """The text of ``jupyterhub_config.py`` for the plan: the hub and its proxy on 127.0.0.1 only (put a TLS
    reverse proxy in front, docs/deployment.md), one login per account, no admins (an admin could open every
    reviewer's server), single-user servers as the login's own account, opening the round's notebooks."""
    state = Path(state_dir)
    allowed = sorted(a.name for a in plan.accounts if a.role != "auditor" or plan.published)
    lines = [
        "# Written by `workbench hub`; write it again rather than editing it (docs/deployment.md).",
        "c = get_config()  # noqa: F821",
        f"c.JupyterHub.bind_url = {f'http://127.0.0.1:{port}'!r}",
        f"c.JupyterHub.hub_bind_url = {f'http://127.0.0.1:{hub_port}'!r}",
        f"c.ConfigurableHTTPProxy.api_url = {f'http://127.0.0.1:{api_port}'!r}",
        f"c.ConfigurableHTTPProxy.command = [{str(proxy)!r}]",
        f"c.JupyterHub.db_url = {'sqlite:///' + str(state / 'jupyterhub.sqlite')!r}",
        f"c.JupyterHub.cookie_secret_file = {str(state / 'jupyterhub_cookie_secret')!r}",
        f"c.JupyterHub.pid_file = {str(state / 'jupyterhub.pid')!r}",
        "c.JupyterHub.cleanup_servers = True",
        f"c.JupyterHub.authenticator_class = {authenticator!r}",
        "c.PAMAuthenticator.open_sessions = False  # no login sessions: the hub only checks passwords",
        f"c.Authenticator.allowed_users = {set(allowed)!r}",
        "c.Authenticator.admin_users = set()",
        "c.Authenticator.delete_invalid_users = True",
        "c.JupyterHub.spawner_class = 'localprocess'",
        # umask 027: what anyone writes from their server (a coordinator's batch in a terminal included) is
        # never readable by accounts outside its folder's group
        f"c.Spawner.cmd = ['/bin/sh', '-c', 'umask 027 && exec \"$0\" -m jupyterhub.singleuser \"$@\"', {str(python)!r}]",
        # every terminal and kernel finds `workbench` (the environment's bin first: never root's own PATH); the
        # shipped labconfig turns JupyterLab's news and update prompt off (it covered the form at each login)
        f"c.Spawner.environment = {{'PATH': {str(Path(python).parent) + ':/usr/local/bin:/usr/bin:/bin'!r}, "
        f"'JUPYTER_CONFIG_PATH': {str(shipped_path('jupyter'))!r}}}",
        "c.Spawner.notebook_dir = '~'",
        f"c.Spawner.default_url = {'/lab/tree/' + plan.round_id!r}",
        "c.Spawner.start_timeout = 120",
        "c.Spawner.http_timeout = 120",
        "",
    ]
    return "\n".join(lines)


def unreachable(paths: Iterable[str | Path]) -> list[str]:
    """Every path (or a folder above it) that an account in no group of it cannot reach: a folder needs
    ``o+x`` to be passed through, the path itself ``o+r`` (and ``o+x`` for a folder)."""
    out = []
    for p in paths:
        p = Path(p).absolute()
        for parent in reversed(p.parents):
            if not os.stat(parent).st_mode & stat.S_IXOTH:
                out.append(f"{parent} (mode {stat.S_IMODE(os.stat(parent).st_mode):04o}: others cannot pass through)")
                break
        else:
            mode = os.stat(p).st_mode
            need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
            if mode & need != need:
                out.append(f"{p} (mode {stat.S_IMODE(mode):04o}: others cannot read it)")
    return sorted(set(out))


def _require_reachable() -> None:
    """Refuse, before anyone logs in, a Python or workbench other accounts cannot run: name the folder that
    blocks it and the two ways out."""
    blocked = unreachable(runtime_paths())
    if blocked:
        folder = blocked[0].split(" (", 1)[0]
        bits = "o+x" if "pass through" in blocked[0] else "o+rX"
        raise HubError(f"the reviewers' accounts cannot run this Python ({sys.executable}): {blocked[0]}",
                       expected=f"the environment rebuilt from a Python every account can run, under /opt, e.g. "
                                f"'make PYTHON=/usr/bin/python3' in /opt/workbench, or (if nothing secret is in it) "
                                f"'chmod {bits} {folder}' (docs/deployment.md, section 1)")


def runtime_paths() -> list[Path]:
    """What every single-user server needs to reach: this Python, its environment, the workbench package and
    every ``PYTHONPATH`` entry (the servers inherit ``PYTHONPATH``)."""
    import workbench

    paths = [Path(sys.executable), Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix),
             Path(workbench.__file__).parent, Path(workbench.__file__)]
    paths += [Path(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return paths


# ---------------------------------------------------------------- the machine (root)

def _run(cmd: list[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise HubError(f"{' '.join(cmd[:2])} failed: {(res.stderr or res.stdout).strip()[:300]}")


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise HubError(f"{what} needs root (it creates accounts and sets owners)", expected="sudo workbench hub ...")


def _user(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def round_paths(rd: Path) -> list[tuple[str, bool]]:
    """Every path of the round as ``(relative path, is_dir)``, links left out (for :func:`permission_plan`)."""
    out = [("", True)]
    for dirpath, dirnames, filenames in os.walk(rd, followlinks=False):
        rel = Path(dirpath).relative_to(rd).as_posix()
        rel = "" if rel == "." else rel + "/"
        dirnames.sort()
        out += [(rel + n, True) for n in dirnames if not (Path(dirpath) / n).is_symlink()]
        out += [(rel + n, False) for n in sorted(filenames) if not (Path(dirpath) / n).is_symlink()]
    return out


_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _open_inside(rd: Path, rel: str) -> int | None:
    """A descriptor of ``rd/rel`` opened one component at a time without following any link (a reviewer owns
    folders in the round and could swap one for a link to a system file between the walk and the change);
    None when a component is a link or gone."""
    fd = os.open(rd, _NOFOLLOW | os.O_DIRECTORY)
    try:
        for part in [p for p in rel.split("/") if p]:
            try:
                nxt = os.open(part, _NOFOLLOW, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = nxt
        fd, out = -1, fd
        return out
    finally:
        if fd >= 0:
            os.close(fd)


def apply_permissions(rd: Path, perms: list[Perm]) -> None:
    """Set owner, group and mode of every path (symbolic links are left alone and never followed)."""
    for p in perms:
        fd = _open_inside(rd, p.path)
        if fd is None:
            continue
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and p.path.startswith(("drafts/", "outbox/")):
                continue  # a hard link a reviewer made in their folder to a file elsewhere: never given to them
            os.fchown(fd, pwd.getpwnam(p.owner).pw_uid, grp.getgrnam(p.group).gr_gid)
            os.fchmod(fd, p.mode)
        finally:
            os.close(fd)


def _own_dir(path: Path, user: pwd.struct_passwd, mode: int = 0o700) -> None:
    """A real folder owned by ``user`` (a symbolic link put there is refused, never followed)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise HubError("expected a folder, found a link or a file", file=path)
    path.mkdir(mode=mode, exist_ok=True)
    os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    os.chmod(path, mode)


def _write_owned(path: Path, data: bytes, user: pwd.struct_passwd, mode: int = 0o600) -> bool:
    """Create ``path`` for ``user`` unless it exists (never replaced, never through a link); True if written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chown(path, user.pw_uid, user.pw_gid)
    return True


def _home_key(user: pwd.struct_passwd, roster_id: str) -> Path:
    return Path(user.pw_dir) / KEY_DIR / f"{roster_id}.key"


def _ensure_key(user: pwd.struct_passwd, roster_id: str) -> str:
    """The public key (PEM) of the account's key, created by the account itself when it has none: the
    private key is written by the reviewer's own process in their home and never read here."""
    d = Path(user.pw_dir) / KEY_DIR
    _own_dir(d, user)
    pub = d / f"{roster_id}.pub"
    if not _home_key(user, roster_id).exists():
        _run(["runuser", "-u", user.pw_name, "--", sys.executable, "-m", "workbench", "keys", "new", roster_id,
              "--dir", str(d)])
    if pub.is_symlink() or not pub.is_file():
        raise HubError("public key missing beside the private key", file=pub,
                       expected=f"'workbench keys' output: {roster_id}.key and {roster_id}.pub")
    return read_bounded(pub, 10_000).decode()


def _notebook(rd: Path, rid: str, team: str, role: str, lang: str, key: Path) -> bytes:
    """The review notebook with this reviewer's values written into its parameters cell (not a papermill
    injected cell, which a later papermill run with other parameters would replace)."""
    import nbformat

    nb = nbformat.read(str(review_notebook()), as_version=4)
    # the template's hash, as workbench batch passes it: every sheet names the notebook that made it
    values = {"round_dir": str(rd), "reviewer_id": rid, "team_id": team, "role": role, "lang": lang,
              "key_file": str(key), "output_dir": "outbox", "notebook_sha256": sha256_file(review_notebook())}
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = []
    for line in cell.source.splitlines():
        m = re.match(r"^(\w+) = ", line)
        lines.append(f"{m[1]} = {values[m[1]]!r}  # set by workbench hub accounts" if m and m[1] in values else line)
    cell.source = "\n".join(lines)
    return nbformat.writes(nb).encode()


def _role_notebook(role: str, rd: Path, rid: str, key: Path | None) -> bytes:
    """The coordinator's (status, collect, aggregate) or an auditor's (audit) notebook for this round: each step
    is a cell running the same command as the guide (``workbench.cli.app.main``), with this round and key filled in."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    params = f"ROUND = {str(rd)!r}\n" + (f"KEY = {str(key)!r}  # your key, in your home\n" if key else "")
    if role == "coordinator":
        cells = [new_markdown_cell(f"# Coordinator: round `{rid}` / 평가 운영\nEach cell runs a `workbench` command "
                                   "(docs/coordinator-guide.md); the same commands work in a terminal."),
                 new_code_cell(params, metadata={"tags": ["parameters"]}),
                 new_code_cell("from workbench.cli import main\n\nmain(['round', 'status', ROUND])"),
                 new_markdown_cell("## Collect the reviewers' outboxes / 평가표 수집"),
                 new_code_cell("main(['collect', ROUND, '--key', KEY])"),
                 new_markdown_cell("## Aggregate and publish / 집계 (when every sheet is in)"),
                 new_code_cell("# main(['aggregate', ROUND, '--key', KEY])")]
    else:
        cells = [new_markdown_cell(f"# Audit: round `{rid}` / 감사\nThe round is read-only to you; the audit is "
                                   "written to `~/audit` (docs/auditor-guide.md)."),
                 new_code_cell(params, metadata={"tags": ["parameters"]}),
                 new_code_cell("from pathlib import Path\n\nfrom workbench.cli import main\n\n"
                               "main(['audit', ROUND, '--out', str(Path.home() / 'audit')])")]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                             "language": "python"}})
    return nbformat.writes(nb).encode()


def _desk(a: Account, u: pwd.struct_passwd, rd: Path, plan: Plan, report: AccountsReport) -> None:
    """A coordinator's or an auditor's ``~/<round id>/`` (where JupyterLab opens): their notebook and a link
    ``round`` to the round folder."""
    folder = Path(u.pw_dir) / plan.round_id
    _own_dir(folder, u)
    name, key = ("coordinator.ipynb", _home_key(u, a.roster_id)) if a.role == "coordinator" else ("audit.ipynb", None)
    if _write_owned(folder / name, _role_notebook(a.role, rd, a.roster_id or plan.round_id, key), u):
        report.notebooks.append(str(folder / name))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.symlink(rd, "round", dir_fd=fd)
        os.chown("round", u.pw_uid, u.pw_gid, dir_fd=fd, follow_symlinks=False)
    except FileExistsError:
        pass
    finally:
        os.close(fd)


class AccountsReport(BaseModel):
    """What :func:`setup_accounts` did."""

    created: list[str] = []
    passwords_file: str = ""
    notebooks: list[str] = []
    notebooks_removed: list[str] = []
    roster_keys_written: list[str] = []
    key_mismatches: list[str] = []
    blocked: dict[str, str] = {}  # account -> what is wrong with its folders (left without access)
    ended: dict[str, int] = {}  # account -> processes ended because it left a group
    perms: int = 0


def _not_a_folder(path: Path, uid: int | None = None) -> str | None:
    """Why ``path`` (when it exists) is not a real folder (owned by ``uid``); None when it is fine or absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if uid is not None and st.st_uid != uid:
        return f"{path} is not owned by the account"
    return None


def _uid_min() -> int:
    """The first uid of a person's account (``UID_MIN`` of /etc/login.defs, else 1000)."""
    try:
        for line in Path("/etc/login.defs").read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
                return int(parts[1])
    except OSError:
        pass
    return 1000


def folder_problem(a: Account, u: pwd.struct_passwd, rd: Path, round_id: str) -> str | None:
    """What a person did to a folder the round relies on (their home, ``~/.workbench``, ``~/<round id>``, their
    drafts and outbox in the round): a link or a file where a folder belongs; None when all is in order."""
    home = Path(u.pw_dir)
    checks = [(home, u.pw_uid), (home / KEY_DIR, None), (home / round_id, None)]
    if a.role in PANEL_ROLES:
        checks += [(rd / "drafts" / a.roster_id, None), (rd / "outbox" / a.roster_id, None)]
    for path, uid in checks:
        problem = _not_a_folder(path, uid)
        if problem:
            return problem
    return None


def account_processes(uid: int) -> list[int]:
    """Every process whose real, effective, saved or file-system user id is ``uid`` (from ``/proc``)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # gone meanwhile
            continue
        uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
        if str(uid) in uids:
            out.append(int(pid))
    return out


def end_processes(uid: int, grace: float = 1.0) -> int:
    """End every process of ``uid`` (:func:`account_processes`): SIGTERM, then SIGKILL for what is left after
    ``grace`` seconds, again until none is left (a process forking meanwhile is caught on the next pass).
    Returns how many processes were ended. Its single-user server is one of them: the hub sees it stop."""
    import signal
    import time

    if uid == 0:
        raise HubError("refusing to end root's processes", expected="an account of a person")
    ended: set[int] = set()
    sig = signal.SIGTERM
    for _ in range(20):
        pids = account_processes(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, sig)
                ended.add(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and account_processes(uid):
            time.sleep(0.05)
        sig = signal.SIGKILL
    return len(ended)


def setup_accounts(round_dir: str | Path, *, prefix: str = "", auditors: Iterable[str] = (), lang: str = "ko",
                   passwords_file: str | Path, home_base: str = "/home") -> AccountsReport:
    """Create (idempotently) the round's accounts and groups, each reviewer's key in their own home and a
    notebook per team they may score, then set every path's owner and mode (:func:`permission_plan`).

    Everything is checked before anything changes: a roster id that cannot be an account, an account that
    exists but was not made by this command, a password file that exists already (run as root).
    New accounts get a random password, written to ``passwords_file`` (mode 0600, root's) for the
    ministry's IT to hand over; existing passwords are never changed. In a round not frozen yet, the roster's
    public keys are set to the keys in the homes; in a frozen one a difference is reported (amend the roster).

    One person's folders never stop the round: a person whose home, ``~/.workbench``, ``~/<round id>``,
    drafts or outbox is a link or a file (:func:`folder_problem`), or whose key cannot be made, is reported in
    ``blocked`` and left in none of the round's groups (no access) until fixed; everyone else is applied.
    Membership changes take effect at once: every process of an account that left a group (an amendment, a
    conflict, publication, a blocked folder) is ended (:func:`end_processes`; its server with them), because a
    running process keeps the groups it started with, and any file it has open.
    """
    _require_root("workbench hub accounts")
    rd = Path(round_dir).absolute()
    r = load_round(rd)
    plan = plan_round(r, prefix, auditors)
    missing_auditors = [a.name for a in plan.accounts if a.role == "auditor" and _user(a.name) is None]
    if missing_auditors:
        raise HubError(f"auditor account(s) {', '.join(missing_auditors)} do not exist", place="--auditor",
                       expected="accounts the ministry made for its auditors (useradd)")
    system = [a.name for a in plan.accounts if a.role == "auditor" and pwd.getpwnam(a.name).pw_uid < _uid_min()]
    if system:
        # their processes would be ended when they leave the audit group: never root's or a service's
        raise HubError(f"auditor account(s) {', '.join(system)} are system accounts", place="--auditor",
                       expected="a person's own account (useradd, uid from UID_MIN in /etc/login.defs)")
    for a in plan.accounts:
        u = _user(a.name)
        if u is not None and a.role != "auditor" and MARKER not in u.pw_gecos:
            raise HubError(f"account '{a.name}' exists and was not made by 'workbench hub accounts'",
                           file=r.path / "roster.yaml", expected="a roster id that is not an existing account, or --prefix")
    _require_reachable()
    new = [a for a in plan.accounts if a.role != "auditor" and _user(a.name) is None]
    pw = Path(passwords_file)
    if new and pw.exists():
        raise HubError("password file exists already", file=pw, expected="a new file (hand the old one over first)")
    # frozen once a freeze is in the ledger, even when files drifted since: the roster is then never rewritten
    frozen = any(e.type == "freeze" for e in ledger.read_entries(r.ledger_path)) if r.ledger_path.exists() else False
    report = AccountsReport()
    # the accounts, with their passwords
    passwords = {}
    for a in new:
        _run(["useradd", "--create-home", "--base-dir", home_base, "--user-group", "--shell", "/bin/bash",
              "--comment", f"{MARKER} {a.roster_id}", a.name])
        passwords[a.name] = secrets.token_urlsafe(12)
        report.created.append(a.name)
    if passwords:
        _run_input(["chpasswd"], "".join(f"{n}:{p}\n" for n, p in passwords.items()))
        atomic_write_text(pw, "".join(f"{n} {p}\n" for n, p in passwords.items()), mode=0o600)
        report.passwords_file = str(pw)
    # each person's home: key and notebooks; a problem there is that person's alone
    roster_keys = {}
    for a in plan.accounts:
        u = pwd.getpwnam(a.name)
        problem = folder_problem(a, u, rd, plan.round_id)
        if problem is None and a.role == "auditor" and plan.published and os.path.isdir(u.pw_dir):
            try:
                _desk(a, u, rd, plan, report)
            except (HubError, OSError) as e:
                problem = e.message if isinstance(e, HubError) else f"{e.filename}: {e.strerror}"
        elif problem is None and a.role != "auditor":
            try:
                pem = _home_setup(a, u, r, plan, lang, report)
                entry = r.roster.get(a.roster_id)
                if entry is not None and (entry.public_key is None or key_id(public_key_from_pem(pem)) != key_id(entry.key())):
                    roster_keys[a.roster_id] = pem
            except (HubError, OSError) as e:
                problem = e.message if isinstance(e, HubError) else f"{e.filename}: {e.strerror}"
        if problem is not None:
            report.blocked[a.name] = problem
    # the groups (without the blocked), and an immediate end to every process of whoever left one
    before = {g: set(grp.getgrnam(g).gr_mem) if _group_exists(g) else set() for g in plan.groups}
    for g, members in plan.groups.items():
        if not _group_exists(g):
            _run(["groupadd", g])
        _run(["gpasswd", "-M", ",".join(m for m in members if m not in report.blocked), g])
    left = {m for g in plan.groups for m in before[g] - set(grp.getgrnam(g).gr_mem)}
    for name in sorted(left):
        u = _user(name)
        if u is not None:
            report.ended[name] = end_processes(u.pw_uid)
    if roster_keys and not frozen:
        data = yaml.safe_load(read_bounded(rd / "roster.yaml"))
        for e in data["reviewers"]:
            if e["id"] in roster_keys:
                e["public_key"] = roster_keys[e["id"]]
        atomic_write_text(rd / "roster.yaml", yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110))
        report.roster_keys_written = sorted(roster_keys)
    elif roster_keys:
        report.key_mismatches = sorted(roster_keys)
    # the round's files (a blocked person's link stays as it is: never followed, never replaced)
    for d in required_dirs(plan, r):
        if not _not_a_folder(rd / d):
            (rd / d).mkdir(parents=True, exist_ok=True)
    perms = permission_plan(plan, round_paths(rd))
    apply_permissions(rd, perms)
    report.perms = len(perms)
    return report


def _home_setup(a: Account, u: pwd.struct_passwd, r: Round, plan: Plan, lang: str, report: AccountsReport) -> str:
    """One roster member's home: mode 0700, their key (made by them), a notebook per team they may score and
    none for a team they may no longer score; returns their public key (PEM)."""
    fd = os.open(u.pw_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchmod(fd, 0o700)
    finally:
        os.close(fd)
    pem = _ensure_key(u, a.roster_id)
    entry = r.roster.get(a.roster_id)
    assert entry is not None
    if a.role == "coordinator":
        _desk(a, u, r.path, plan, report)
    if a.name in plan.notebooks:
        folder = Path(u.pw_dir) / plan.round_id
        _own_dir(folder, u)
        for t in plan.notebooks[a.name]:
            nb = folder / f"{t}.ipynb"
            if _write_owned(nb, _notebook(r.path, a.roster_id, t, entry.role, lang, _home_key(u, a.roster_id)), u):
                report.notebooks.append(str(nb))
        # a team this person may no longer score (a conflict declared in an amendment): its notebook, with
        # whatever evidence its outputs show, leaves their home (the draft stays in drafts/, out of reach)
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            for t in sorted({t.id for t in r.teams.teams} - set(plan.notebooks[a.name])):
                for name in (f"{t}.ipynb", f"{t}.run.ipynb"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=fd)
                        report.notebooks_removed.append(str(folder / name))
        finally:
            os.close(fd)
    return pem


def _run_input(cmd: list[str], text: str) -> None:
    res = subprocess.run(cmd, input=text, capture_output=True, text=True)
    if res.returncode != 0:
        raise HubError(f"{cmd[0]} failed: {res.stderr.strip()[:300]}")


def default_proxy() -> Path | None:
    """``configurable-http-proxy``: on ``PATH``, else the one ``make`` installs in the checkout's ``.hub-proxy``."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return Path(found)
    local = Path(__file__).resolve().parents[2] / ".hub-proxy" / "node_modules" / ".bin" / "configurable-http-proxy"
    return local if local.exists() else None


def _port_free(port: int) -> bool:
    """Whether the hub can listen on ``port`` of 127.0.0.1 as its proxy will: with ``SO_REUSEADDR``, so the
    connections a stopped hub left in TIME_WAIT do not count as the port being in use."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_port(port: int, seconds: float) -> bool:
    """:func:`_port_free`, asked again for up to ``seconds`` (a hub that was just stopped lets go of its port
    within a few seconds); True once free."""
    import time

    end = time.monotonic() + seconds
    while not _port_free(port):
        if time.monotonic() >= end:
            return False
        time.sleep(0.5)
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETTINGS_FILE = "workbench-hub.json"
UNIT_FILE = "workbench-hub.service"


class HubSettings(BaseModel):
    """What ``hub accounts`` and ``hub serve`` were given, kept in the state folder (``workbench-hub.json``,
    root's, 0600) so that a restart, by hand or by systemd, needs no flag to remember."""

    model_config = ConfigDict(extra="forbid")

    round: str
    prefix: str = ""
    auditors: list[str] = []
    port: int = 8000
    proxy: str | None = None


def hub_settings(state_dir: str | Path, round_dir: str | Path, *, prefix: str | None = None,
                 auditors: Iterable[str] = (), port: int | None = None, proxy: str | None = None) -> HubSettings:
    """The settings for ``round_dir``: each value given here, else the one kept in ``state_dir``, else the
    default. A state folder kept for another round is refused (one state folder per round)."""
    rd = str(Path(round_dir).absolute())
    f = Path(state_dir) / SETTINGS_FILE
    kept = HubSettings(round=rd)
    if f.exists():
        try:
            kept = HubSettings.model_validate_json(read_bounded(f, 100_000))
        except ValueError as e:
            raise HubError(f"not the settings workbench hub wrote: {str(e).splitlines()[0]}", file=f,
                           expected="a file written by 'workbench hub' (remove it and give the flags again)") from None
        if kept.round != rd:
            raise HubError(f"this state folder is kept for the round {kept.round}", file=f,
                           expected="one state folder per round (--state)")
    return HubSettings(round=rd, prefix=kept.prefix if prefix is None else prefix,
                       auditors=list(auditors) or kept.auditors, port=kept.port if port is None else port,
                       proxy=proxy or kept.proxy)


def save_settings(state_dir: str | Path, settings: HubSettings) -> Path:
    """Keep ``settings`` in ``state_dir`` (made 0700 if new; the file 0600)."""
    state = Path(state_dir).absolute()
    state.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(state, 0o700)
    return atomic_write_bytes(state / SETTINGS_FILE, settings.model_dump_json(indent=2).encode() + b"\n", mode=0o600)


def _unit_arg(text: str) -> str:
    """One ExecStart argument in systemd's quoting (``%`` and ``$`` are systemd's own: doubled)."""
    text = text.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_./:=+@-]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit_text(settings: HubSettings, state_dir: str | Path, python: str | Path | None = None) -> str:
    """A systemd unit that runs the hub for the round as ``serve --start`` does, every other setting read from
    the state folder; ``Restart=on-failure`` (a restart right after a stop finds the port free: SO_REUSEADDR,
    and serve waits for a port still held). Stopping it ends every process in its control group: the
    reviewers' servers and whatever they started."""
    state = Path(state_dir).absolute()
    cmd = [str(python or sys.executable), "-m", "workbench", "hub", "serve", settings.round, "--state", str(state),
           "--start"]
    if any(c in "".join(cmd) for c in "\n\r"):
        raise HubError("a path with a line break cannot go in a systemd unit", file=state)
    env = os.environ.get("PYTHONPATH", "")
    return "\n".join([
        "# Written by `workbench hub serve`; copy it to /etc/systemd/system/ (docs/deployment.md).",
        "[Unit]",
        f"Description=JupyterHub for the round {Path(settings.round).name} (workbench hub)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_unit_arg(a) for a in cmd),
        *([f"Environment={_unit_arg('PYTHONPATH=' + env)}"] if env else []),
        f"WorkingDirectory={str(state).replace('%', '%%')}",  # a path setting: taken whole, never quoted
        "Restart=on-failure",
        "RestartSec=3",
        "KillMode=control-group",
        "TimeoutStopSec=30",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def write_hub(round_dir: str | Path, *, port: int, state_dir: str | Path, prefix: str = "",
              auditors: Iterable[str] = (), proxy: str | Path | None = None, wait: float = 0.0) -> Path:
    """Check that the round can be served and write ``<state_dir>/jupyterhub_config.py``; return its path.
    Beside it: the settings given (``workbench-hub.json``, :class:`HubSettings`: a restart needs no flags) and
    a systemd unit (``workbench-hub.service``, :func:`unit_text`).

    Refused, with nothing written: a round that is not frozen or whose files changed since, an account that
    does not exist (``workbench hub accounts`` first), a home key that does not match the roster, a port in
    use on 127.0.0.1 (after waiting up to ``wait`` seconds for it), no configurable-http-proxy, or a Python
    environment other accounts cannot reach.
    """
    rd = Path(round_dir).absolute()
    r = load_round(rd)
    check_frozen(r)
    auditors = list(auditors)
    if not auditors:
        # none given or kept: the auditors are who `hub accounts` put in the round's audit group
        with contextlib.suppress(KeyError):
            auditors = sorted(grp.getgrnam(plan_round(r, prefix).audit).gr_mem)
    plan = plan_round(r, prefix, auditors)
    for a in plan.accounts:
        u = _user(a.name)
        if u is None:
            raise HubError(f"account '{a.name}' does not exist", file=rd / "roster.yaml",
                           expected="'workbench hub accounts ROUND' (as root) first")
        if a.role == "auditor" or os.geteuid() != 0:
            continue
        pub = Path(u.pw_dir) / KEY_DIR / f"{a.roster_id}.pub"
        entry = r.roster.get(a.roster_id)
        assert entry is not None
        if not pub.is_file() or key_id(public_key_from_pem(read_bounded(pub, 10_000).decode())) != key_id(entry.key()):
            raise HubError(f"the key in {a.name}'s home is not {a.roster_id}'s key in the roster", file=pub,
                           expected="'workbench hub accounts' and a roster amended with the printed public key")
    proxy_path = Path(proxy) if proxy else default_proxy()
    if proxy_path is None or not proxy_path.exists():
        raise HubError("configurable-http-proxy not found", file=str(proxy_path) if proxy_path else None,
                       expected="'make' (installs it under .hub-proxy/), 'npm install -g configurable-http-proxy' or --proxy")
    _require_reachable()
    if not wait_port(port, wait):
        raise HubError(f"port {port} on 127.0.0.1 is in use", place="--port", expected="a free port")
    state = Path(state_dir).absolute()
    text = hub_config(plan, port=port, hub_port=_free_port(), api_port=_free_port(), state_dir=state,
                      proxy=proxy_path, python=sys.executable)
    settings = HubSettings(round=str(rd), prefix=prefix, auditors=[a.name for a in plan.accounts if a.role == "auditor"],
                           port=port, proxy=str(proxy) if proxy else None)
    save_settings(state, settings)  # makes the folder 0700: the hub's database and cookie secret go there
    atomic_write_text(state / UNIT_FILE, unit_text(settings, state), mode=0o644)
    return atomic_write_bytes(state / "jupyterhub_config.py", text.encode(), mode=0o600)


def start_hub(config: Path) -> NoReturn:
    """Become JupyterHub with ``config``, in the foreground (as root: it starts servers as other accounts).

    The process is replaced (exec), not parented: whoever started ``workbench hub serve --start`` (a shell,
    systemd, a test) holds JupyterHub's own pid, so its stop signal reaches the hub and waiting for the pid waits
    for the hub. A child hub outlived its parent's SIGTERM once and kept the port and the proxy."""
    _require_root("starting the hub")
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(config.parent)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(config)])


def plan_json(plan: Plan, perms: list[Perm]) -> str:
    """The plan as JSON (for ``workbench hub plan``)."""
    return json.dumps({"plan": plan.model_dump(), "paths": [p.line() for p in perms]}, indent=2, ensure_ascii=False)
