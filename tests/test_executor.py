"""Executors registered by name: the built-ins, a third party's, and a clear error for an unknown one."""

from __future__ import annotations

import contextlib
import operator
from concurrent.futures import ThreadPoolExecutor

import pytest

from workbench.core import executor as E
from workbench.core.errors import WorkbenchError


def test_the_built_in_executors_run_work():
    for spec, jobs in (("serial", 2), ("threads", 2), ("local", 1)):
        with E.open_executor(spec, jobs) as ex:
            assert ex.submit(operator.add, 2, 3).result() == 5, spec
    with E.open_executor("serial") as ex:
        assert isinstance(ex, E.SerialExecutor)


def test_an_unknown_executor_names_the_known_ones():
    with pytest.raises(WorkbenchError, match=r"unknown executor 'nosuch://x'.*local.*serial.*threads"), \
            E.open_executor("nosuch://x"):
        pass


def test_a_registered_executor_is_found_by_name_with_its_address(monkeypatch):
    """A third party's executor is one factory under a name (an entry point of group workbench.executors, or
    register_executor); open_executor passes it the address after NAME:// and the jobs."""
    monkeypatch.setattr(E, "EXECUTORS", dict(E.EXECUTORS))
    seen = []

    @E.register_executor("mine")
    @contextlib.contextmanager
    def _mine(address, jobs):
        seen.append((address, jobs))
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            yield ex

    with E.open_executor("mine://cluster-7:1234", 3) as ex:
        assert ex.submit(pow, 2, 10).result() == 1024
    assert seen == [("cluster-7:1234", 3)]


def test_an_entry_point_executor_is_loaded_on_first_use(monkeypatch):
    class EP:
        name, value = "ep", "x:y"

        def load(self):
            return E._serial

    monkeypatch.setattr(E, "EXECUTORS", dict(E.EXECUTORS))
    monkeypatch.setattr(E, "entry_points", lambda group, name: [EP()] if (group, name) == (E.ENTRY_POINT_GROUP, "ep")
                        else [])
    with E.open_executor("ep") as ex:
        assert isinstance(ex, E.SerialExecutor) and "ep" in E.EXECUTORS
