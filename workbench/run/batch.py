"""Batches: execute the review notebook with papermill for every assignment of a frozen round, in parallel.

Each (reviewer, team) runs in its own fresh kernel, started over ZeroMQ's IPC transport (Unix sockets in a
private temporary folder) rather than TCP, so no port is opened and parallel kernels never race for ports.
Kernels are started ahead of need: each worker keeps a spare that has already imported the notebook's first
import while the previous notebook ran, and is made to look started for its notebook (folder, environment,
claim) before the first cell; each kernel runs one notebook (:mod:`workbench.run.kernels`).
The executor comes from :func:`workbench.core.executor.open_executor`: local processes or ``dask://HOST:PORT``.

Per assignment the batch writes, under ``<round>/notebooks/<reviewer>/``:

- ``<team>.status.json`` (atomic): ``running``, then ``done`` or ``failed`` with the error, attempts, time;
- ``<team>.ipynb`` (atomic rename when the run succeeded) or ``<team>.failed.ipynb`` (the partial output).

A rerun skips what is ``done`` and re-runs the rest, so killing a batch loses at most the notebooks that
were running. One batch per round at a time (an exclusive lock). Local workers die with the batch (Linux
``PR_SET_PDEATHSIG``); a task holds a claim on ``.<team>.claim`` while it runs, which its kernel inherits, so
no two processes run one task; and a task stopped after its notebook signed (a newer sheet version than when
it started) is recorded as done, not run again: a kill at any point leaves at most one new version per task.
On ``dask://`` workers a running task is not stopped with the batch; its claim keeps a rerun from repeating it.

With an answers file ``answers/<reviewer>/<team>.yaml`` and a key ``<keys>/<reviewer>.key`` the notebook signs
and submits a sheet; without, it pre-computes the evidence for the reviewer. Signing without a person needs
unattended mode, which the batch turns on for the one notebook each kernel runs: a one-use token
(:func:`workbench.round.submit.issue_token`, named in that kernel's :data:`workbench.round.submit.UNATTENDED_ENV`, never a
parameter), which the notebook consumes: the saved notebook, re-run by hand, shows the form.

Each kernel works in its notebook's folder and gets ``round_dir`` as the path from there to the round
(``../..``), as JupyterLab and ``jupyter nbconvert`` would start it: a generated notebook opened later, even
after the round folder moved, finds its round, and no machine path is written into it. Every run gets the template's sha256 as the
parameter ``notebook_sha256``, which the notebook records in the sheet's ``parameters`` (the audit checks it).

``timeout`` is papermill's per-cell execution timeout.

The same machinery re-runs notebooks for an audit (:func:`execute`): tasks with an ``output_dir`` and a
``work_dir`` other than the round, so the round itself is only read.

Public API: :class:`Task`, :class:`TaskResult`, :func:`plan`, :func:`run_task`, :func:`execute`,
:func:`run_batch`, :func:`summary_table`, :func:`default_notebook`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..core._lazy import without_iri_grammars
from ..core.errors import Problem, RoundError, WorkbenchError
from ..core.executor import open_executor
from ..core.files import atomic_write_json, file_lock, load_json, sha256_file
from ..core.shipped import review_notebook
from ..model.round import Round, load_round
from ..round.lifecycle import check_frozen
from ..round.submit import UNATTENDED_ENV, issue_token, sheet_versions
from . import kernels

DOSSIER_CACHE_ENV = "WORKBENCH_DOSSIER_CACHE"  # = workbench.evidence.dossier_cache.CACHE_ENV (not imported here: it loads every evidence module)

log = logging.getLogger(__name__)

__all__ = ["Failure", "Task", "TaskResult", "default_notebook", "execute", "plan", "run_batch", "run_task", "summary_table"]

State = Literal["running", "done", "failed", "skipped"]
# seconds a task waits for its claim before it is reported as running elsewhere: a kernel asked to shut down
# after its notebook keeps the claim until it has exited, which takes a second or two
CLAIM_WAIT = 15.0


class Task(BaseModel):
    """One notebook to execute; paths are relative to the round folder or absolute."""

    model_config = ConfigDict(frozen=True)

    reviewer: str
    team: str
    role: str
    answers_file: str = ""
    key_file: str = ""
    lang: str = "ko"
    output_dir: str = ""

    @property
    def folder(self) -> str:
        return f"notebooks/{self.reviewer}"


class Failure(Problem):
    """Why a notebook failed, as data: a :class:`~workbench.core.errors.Problem` (``file`` is the notebook with the
    partial output; ``line``, ``place`` and ``expected`` come from a :class:`~workbench.core.errors.WorkbenchError`)
    plus ``kind`` (the exception's class) and, when a cell raised, from papermill's error: ``cell`` (the
    cell's index in ``file``), ``exec_count``, ``ename`` and ``evalue`` (the exception raised in the kernel)."""

    kind: str
    cell: int | None = None
    exec_count: int | None = None
    ename: str | None = None
    evalue: str | None = None

    @classmethod
    def from_exception(cls, e: BaseException, file: str | None = None) -> Failure:
        """The failure ``e`` describes; ``file``: the notebook it concerns, when there is one."""
        where = e.problem().model_dump(exclude={"schema_version"}) if isinstance(e, WorkbenchError) else {}
        cell = getattr(e, "cell_index", None)
        count = getattr(e, "exec_count", None)
        ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
        text = " ".join(f"{ename}: {evalue}".split()) if ename else " ".join(str(e).split()) or type(e).__name__
        return cls(**{"message": text, "file": file, **where}, kind=type(e).__name__,
                   cell=cell if isinstance(cell, int) else None, exec_count=count if isinstance(count, int) else None,
                   ename=str(ename) if ename is not None else None, evalue=str(evalue) if evalue is not None else None)


class TaskResult(BaseModel):
    """What happened to one task (also the content of its status file): ``error`` is the failure's one line,
    ``failure`` the same as data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    reviewer: str
    team: str
    state: State
    attempts: int = 0
    seconds: float = 0.0
    error: str = ""
    failure: Failure | None = None
    transport: str = ""
    # the task's latest sheet version when it started (signing tasks only): a later version found after a
    # kill means the run signed before it was stopped, so a rerun must not sign again
    sheets_before: int | None = None
    note: str = ""


def default_notebook() -> Path:
    """The review notebook: ``$WORKBENCH_NOTEBOOK``, else the one shipped in the package (package data)."""
    return review_notebook()


def plan(r: Round, keys_dir: str | Path | None = None, lang: str | None = None,
         roles: Collection[str] | None = None) -> list[Task]:
    """A task per assignment (of a reviewer in ``roles``, all when None), in file order; answers and keys are
    used where both exist. The notebooks are in ``lang``, by default the round's language (Korean when the
    rules name none)."""
    lang = lang or r.rules.lang or "ko"
    out = []
    for a in r.assignments.assignments:
        role = r.roster.get(a.reviewer).role  # type: ignore[union-attr]  # load_round checked it
        if roles is not None and role not in roles:
            continue  # e.g. user evaluators who answer in a survey tool and sign with 'workbench users sign'
        answers = f"answers/{a.reviewer}/{a.team}.yaml"
        key = Path(keys_dir).resolve() / f"{a.reviewer}.key" if keys_dir else None
        with_answers = (r.path / answers).is_file() and key is not None and key.is_file()
        out.append(Task(reviewer=a.reviewer, team=a.team, role=role, lang=lang,
                        answers_file=answers if with_answers else "", key_file=str(key) if with_answers else ""))
    return out


def _latest_sheet(rd: Path, t: Task) -> int:
    """The highest sheet version of the task's reviewer and team (0 when none), where its notebook writes."""
    out = Path(t.output_dir) if t.output_dir and Path(t.output_dir).is_absolute() else rd / (t.output_dir or "sheets")
    versions = sheet_versions(out, t.reviewer, t.team)
    return versions[-1] if versions else 0


def _status_path(rd: Path, t: Task | TaskResult) -> Path:
    return rd / "notebooks" / t.reviewer / f"{t.team}.status.json"


def _read_status(rd: Path, t: Task) -> TaskResult | None:
    p = _status_path(rd, t)
    if not p.exists():
        return None
    try:
        return TaskResult.model_validate(load_json(p))
    except (WorkbenchError, ValueError):
        return None  # unreadable status: run again


def _engine() -> str:
    """The name of papermill's engine for the batch (registered on first use): papermill's own, but the
    notebook is written when it starts and when it ends (after a failure too), not at every cell's start and
    end: two writes instead of two per cell, each of which validates the whole notebook."""
    from papermill.engines import NBClientEngine, papermill_engines

    class OnceSavingEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            nb_man.save = lambda **_: None  # notebook_complete, after this returns or raises, saves for real
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                del nb_man.save  # the class's save again

    papermill_engines.register("workbench", OnceSavingEngine)  # idempotent
    return "workbench"


def _one_line(e: BaseException) -> str:
    name = type(e).__name__
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    text = f"{ename}: {evalue}" if ename else str(e)
    text = " ".join(text.split())
    return f"{name}: {text[:300]}" if not text.startswith(name) else text[:300]


def run_task(task: dict[str, Any], round_dir: str, notebook: str, timeout: float, attempt: int,
             pythonpath: str = "", work_dir: str = "", notebook_sha256: str = "", pool: bool = True) -> dict[str, Any]:
    """Execute one notebook (in a worker process); write its status and output atomically; never raise.

    The executed notebook and its status go under ``work_dir`` (default: the round folder). The notebook
    gets ``notebook_sha256`` (its template's hash) as a parameter and records it in the sheet it builds.
    A task runs only while it holds its claim (``.<team>.claim`` beside its notebook), so a worker or kernel
    left from a stopped batch and a rerun never run the same task at once. With ``pool`` the notebook runs on
    a kernel started ahead of need (:mod:`workbench.run.kernels`), else on one papermill starts for it.
    """
    rd = Path(round_dir)
    t = Task.model_validate(task)
    base = Path(work_dir) if work_dir else rd
    folder = base / t.folder
    folder.mkdir(parents=True, exist_ok=True)
    with _claim(folder / f".{t.team}.claim") as claim:
        if claim is None:
            msg = "still running in another process (the worker or kernel of a batch that was stopped)"
            return TaskResult(reviewer=t.reviewer, team=t.team, state="failed", attempts=attempt, error=msg,
                              failure=Failure(message=msg, kind="claimed", expected="that run to end first")
                              ).model_dump(mode="json")
        return _run_claimed(t, rd, base, folder, notebook, timeout, attempt, pythonpath, notebook_sha256, claim, pool)


@contextlib.contextmanager
def _claim(path: Path) -> Iterator[int | None]:
    """Hold ``path``'s lock while a task runs and yield its file descriptor, or None when another process
    holds it. The notebook's kernel is given the same descriptor (:func:`workbench.run.kernels.prepared`), so a task
    is free again only when both the worker and its kernel are gone (a kernel outliving a killed worker cannot
    sign while a rerun signs). A claim held for up to :data:`CLAIM_WAIT` seconds is waited for: the kernel of
    the task's previous run (a retry, or a batch run again at once) keeps it while it exits."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + CLAIM_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield None
                    return
                time.sleep(0.1)
        yield fd
    finally:
        os.close(fd)


def _run_claimed(t: Task, rd: Path, base: Path, folder: Path, notebook: str, timeout: float, attempt: int,
                 pythonpath: str, notebook_sha256: str, claim: int, pool: bool) -> dict[str, Any]:
    with without_iri_grammars():  # papermill -> nbformat -> jsonschema: seconds per worker process otherwise
        import papermill as pm

    partial = folder / f".{t.team}.partial.ipynb"
    status = _status_path(base, t)
    before = _latest_sheet(rd, t) if t.key_file and t.answers_file else None
    atomic_write_json(status, TaskResult(reviewer=t.reviewer, team=t.team, state="running", attempts=attempt,
                                         sheets_before=before).model_dump(mode="json"))
    # the round as seen from the notebook's folder, where the kernel starts (as in JupyterLab)
    round_rel = Path(os.path.relpath(rd.resolve(), folder.resolve())).as_posix()
    params = {"round_dir": round_rel, "reviewer_id": t.reviewer, "team_id": t.team, "role": t.role, "lang": t.lang,
              "key_file": t.key_file, "answers_file": t.answers_file, "output_dir": t.output_dir, "notebook_sha256": notebook_sha256}
    env = {"PYTHONPATH": os.pathsep.join(p for p in (pythonpath, os.environ.get("PYTHONPATH", "")) if p)}
    # no person is present: with answers, this one notebook may sign (or, for the audit, write) its sheet;
    # without, the variable is cleared so that none inherited from this process applies. It is set in the
    # kernel for this notebook only (a kernel runs one notebook), never at start for every kernel of the batch
    env[UNATTENDED_ENV] = ""
    # a one-use token for this notebook's kernel: the variable alone, set by hand, signs nothing
    token_env, token = issue_token(folder, t.reviewer, t.team) if t.answers_file else ("", None)
    task_env = {UNATTENDED_ENV: token_env}
    # a re-run elsewhere (the audit's) recomputes every dossier: a cached one is never trusted there
    env[DOSSIER_CACHE_ENV] = "" if base.resolve() == rd.resolve() else "off"
    seen: list[dict[str, Any]] = []
    start = time.monotonic()
    error = ""
    failure: Failure | None = None
    failed_nb = f"{t.folder}/{t.team}.failed.ipynb"  # relative to base
    kept_log = folder / f"{t.team}.kernel.log"
    try:
        with kernels.prepared(folder, env, task_env, claim, pool=pool) as (km, seen, log_path):
            try:
                pm.execute_notebook(
                    notebook, str(partial), parameters=params, kernel_name="python3", progress_bar=False,
                    execution_timeout=timeout, start_timeout=60, km=km, engine_name=_engine())
            except Exception:
                # what the kernel printed (a crash's traceback, say) stays beside the failed notebook
                if log_path.exists() and log_path.stat().st_size:
                    shutil.copyfile(log_path, kept_log)
                raise
    except Exception as e:  # noqa: BLE001 - every failure of one notebook is reported, none stops the batch
        error, failure = _one_line(e), Failure.from_exception(e, failed_nb)
    finally:
        if token is not None:
            token.unlink(missing_ok=True)  # unused (the notebook failed before it): it never serves another run
    transport = seen[0].get("transport", "") if seen else ""
    if not error and transport != "ipc":
        error = f"kernel transport was '{transport}'"
        failure = Failure(message=error, kind="transport", file=failed_nb, expected="ipc")
    if not error:
        if t.key_file:
            os.chmod(partial, 0o600)  # its parameters name the private key's file
        os.replace(partial, folder / f"{t.team}.ipynb")
        (folder / f"{t.team}.failed.ipynb").unlink(missing_ok=True)
    elif partial.exists():
        os.replace(partial, folder / f"{t.team}.failed.ipynb")
        if failure is not None and failure.cell is not None:
            failure = failure.model_copy(update={"cell": _cell_in_file(folder / f"{t.team}.failed.ipynb", failure.cell)})
    elif failure is not None and failure.file == failed_nb:
        failure = failure.model_copy(update={"file": None})  # no notebook was written
    res = TaskResult(reviewer=t.reviewer, team=t.team, state="failed" if error else "done", attempts=attempt,
                     seconds=round(time.monotonic() - start, 3), error=error, failure=failure, transport=transport,
                     sheets_before=before)
    atomic_write_json(status, res.model_dump(mode="json"))
    return res.model_dump(mode="json")


def _cell_in_file(nb_path: Path, index: int) -> int | None:
    """Where papermill's ``cell_index`` (an index among the executed cells) is in the notebook it wrote, which
    has papermill's error marker cells (tagged ``papermill-error-cell-tag``) inserted; None if unreadable."""
    import nbformat

    try:
        cells = nbformat.read(nb_path, as_version=4).cells
    except Exception:  # noqa: BLE001 - a notebook we cannot read back only loses the cell number
        return None
    executed = [i for i, c in enumerate(cells) if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])]
    return executed[index] if 0 <= index < len(executed) else None


@contextlib.contextmanager
def _batch_lock(rd: Path) -> Iterator[None]:
    lock = rd / "notebooks" / ".batch.lock"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(lock, wait=False))
        except BlockingIOError:
            raise RoundError("another batch is running on this round", file=lock) from None
        yield


def _build_dossiers(r: Round, todo: list[tuple[Task, int]]) -> None:
    """Compute the dossier of every team an expert notebook of ``todo`` shows, once, before the notebooks run
    (each notebook then loads it after checking its key: :mod:`workbench.evidence.dossier_cache`)."""
    from ..evidence.dossier_cache import build_cache  # the evidence modules: only when a batch runs
    from ..model.round import PANEL_ROLES

    teams = sorted({t.team for t, _ in todo if t.role in PANEL_ROLES})
    if teams:
        start = time.monotonic()
        build_cache(r, teams)
        log.info("dossiers of %d team(s) ready in %.1f s", len(teams), time.monotonic() - start)


def run_batch(
    round_dir: str | Path,
    *,
    notebook: str | Path | None = None,
    keys_dir: str | Path | None = None,
    jobs: int = 2,
    executor: str = "local",
    timeout: float = 600,
    retries: int = 1,
    lang: str | None = None,
    progress: bool = True,
    on_result: Callable[[TaskResult], None] | None = None,
    roles: Collection[str] | None = None,
    again: Collection[tuple[str, str]] = (),
    pool: bool = True,
    only: Collection[tuple[str, str]] | None = None,
) -> list[TaskResult]:
    """Run every assignment's notebook (of a reviewer in ``roles``, all when None) that is not done yet;
    return one result per assignment, in plan order. ``again``: (reviewer, team) pairs to run even when done
    before (their evidence changed: :func:`workbench.run.refresh.rerun_changed`); ``only``: plan just these pairs
    (a re-run runs exactly the stale sheets' notebooks, never the other assignments not done yet).

    Failed notebooks are retried up to ``retries`` times in this run; skipped ones were done before.
    ``pool``: run each notebook on a kernel started ahead of need (:mod:`workbench.run.kernels`); without, each
    kernel starts when its notebook does.
    """
    r = load_round(round_dir)
    check_frozen(r)
    rd = r.path.resolve()
    nb = Path(notebook) if notebook else default_notebook()
    if not nb.is_file():
        raise RoundError("review notebook not found", file=nb, expected="--notebook PATH or WORKBENCH_NOTEBOOK")
    tasks = [t for t in plan(r, keys_dir, lang, roles) if only is None or (t.reviewer, t.team) in only]
    results: dict[tuple[str, str], TaskResult] = {}
    with _batch_lock(rd):
        for stale in (rd / "notebooks").glob("*/.*.partial.ipynb"):
            log.info("removing %s, left by a batch that was stopped", stale)
            stale.unlink()  # left by a batch that was killed: its status says running, so it reruns
        todo = []
        for t in tasks:
            old = _read_status(rd, t)
            if (t.reviewer, t.team) in again:
                todo.append((t, 0))
            elif old and old.state == "done" and ((rd / t.folder / f"{t.team}.ipynb").is_file() or old.note):
                results[(t.reviewer, t.team)] = old.model_copy(update={"state": "skipped"})
            elif old and old.sheets_before is not None and (_latest_sheet(rd, t) or 0) > old.sheets_before:
                # stopped after its notebook signed: the sheet counts, and running again would sign again
                done = old.model_copy(update={"state": "done", "error": "", "failure": None,
                                              "note": "signed before the batch was stopped; the executed notebook was not kept"})
                atomic_write_json(_status_path(rd, t), done.model_dump(mode="json"))
                log.info("%s x %s signed before the batch was stopped: not run again", t.reviewer, t.team)
                results[(t.reviewer, t.team)] = done.model_copy(update={"state": "skipped"})
            else:
                todo.append((t, (old.attempts if old else 0)))
        _build_dossiers(r, todo)
        log.info("batch %s: %d notebook(s) to run, %d done before; notebook %s, %d job(s) on %s",
                 rd, len(todo), len(results), nb, jobs, executor)
        results.update(execute(todo, rd, nb, jobs=jobs, executor=executor, timeout=timeout, retries=retries,
                               progress=progress, on_result=on_result, total=len(tasks), skipped=len(results),
                               pool=pool))
    return [results[(t.reviewer, t.team)] for t in tasks]


def execute(
    todo: list[tuple[Task, int]],
    round_dir: Path,
    notebook: Path,
    *,
    jobs: int = 2,
    executor: str = "local",
    timeout: float = 600,
    retries: int = 1,
    work_dir: Path | None = None,
    progress: bool = True,
    on_result: Callable[[TaskResult], None] | None = None,
    total: int | None = None,
    skipped: int = 0,
    pool: bool = True,
) -> dict[tuple[str, str], TaskResult]:
    """Run ``(task, attempts before)`` pairs on the executor with retries; results by (reviewer, team).

    Notebooks and status files go under ``work_dir`` (default: the round folder). ``pool``: as for
    :func:`run_batch`. The progress bar shows notebooks per minute (of this run) and the time left.
    """
    from tqdm.auto import tqdm

    import workbench

    pythonpath = str(Path(workbench.__file__).resolve().parent.parent)  # kernels import this same workbench
    nb_hash = sha256_file(notebook)
    results: dict[tuple[str, str], TaskResult] = {}
    bar = tqdm(total=total if total is not None else len(todo), initial=skipped, desc="notebooks", unit="nb",
               disable=not progress, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")
    began, ran = time.monotonic(), 0
    with open_executor(executor, jobs) as ex:
        pending: dict[Future, tuple[Task, int, int]] = {}

        def submit(t: Task, attempt: int, tries: int) -> None:
            fut = ex.submit(run_task, t.model_dump(), str(round_dir), str(notebook.resolve()), timeout, attempt,
                            pythonpath, str(work_dir) if work_dir else "", nb_hash, pool)
            pending[fut] = (t, attempt, tries)

        for t, before in todo:
            submit(t, before + 1, 0)
        while pending:
            done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in done:
                t, attempt, tries = pending.pop(fut)
                try:
                    res = TaskResult.model_validate(fut.result())
                except Exception as e:  # noqa: BLE001 - a lost worker fails this task only
                    res = TaskResult(reviewer=t.reviewer, team=t.team, state="failed", attempts=attempt,
                                     error=_one_line(e), failure=Failure.from_exception(e))
                if res.state == "failed" and tries < retries:
                    log.info("notebook %s x %s failed (%s); retrying", t.reviewer, t.team, res.error)
                    submit(t, attempt + 1, tries + 1)
                    continue
                if res.state == "failed":
                    log.warning("notebook %s x %s failed after %d attempt(s): %s", t.reviewer, t.team, res.attempts,
                                res.error)
                else:
                    log.debug("notebook %s x %s %s in %.1fs", t.reviewer, t.team, res.state, res.seconds)
                results[(t.reviewer, t.team)] = res
                ran += 1
                bar.set_postfix_str(f"{ran * 60 / max(time.monotonic() - began, 1e-9):.1f} nb/min", refresh=False)
                bar.update(1)
                if on_result:
                    on_result(res)
    bar.close()
    return results


def summary_table(results: list[TaskResult]) -> pd.DataFrame:
    """One row per notebook: reviewer, team, state, attempts, seconds, error."""
    cols = ["reviewer", "team", "state", "attempts", "seconds", "error"]
    return pd.DataFrame([r.model_dump(include=set(cols)) for r in results], columns=cols)
