"""Library modules log to the ``workbench`` logger; the CLI sends it to standard error, one line a record."""

from __future__ import annotations

import logging

from workbench.cli.app import configure_logging, main
from workbench.notebook.drafts import DraftStore


def test_library_logs_through_the_workbench_logger(tmp_path, caplog):
    store = DraftStore(tmp_path)
    p = store.path("expert-01", "team-a")
    p.parent.mkdir(parents=True)
    p.write_bytes(b"{not json")
    with caplog.at_level(logging.WARNING, logger="workbench"):
        store.load("expert-01", "team-a")
    (rec,) = caplog.records
    assert rec.name == "workbench.notebook.drafts" and rec.levelno == logging.WARNING and "set aside" in rec.getMessage()


def test_cli_logs_plain_lines_to_stderr_at_info_or_debug_with_verbose(capsys, tmp_path):
    log = logging.getLogger("workbench.test")
    try:
        configure_logging()
        log.info("progress")
        log.debug("detail")
        assert capsys.readouterr().err == "INFO workbench.test: progress\n"
        assert main(["-v", "rubric", "schema", "-o", str(tmp_path / "s.json")]) == 0  # installs its handler, not a second one
        log.debug("detail")
        captured = capsys.readouterr()
        assert captured.err == "DEBUG workbench.test: detail\n" and "s.json" in captured.out
    finally:
        wb = logging.getLogger("workbench")
        for h in [h for h in wb.handlers if not isinstance(h, logging.NullHandler)]:
            wb.removeHandler(h)
        wb.setLevel(logging.NOTSET)
