"""notebooks/review.ipynb: stored thin and without outputs; papermill runs it to the same sheet a person makes."""

from __future__ import annotations

import ast

import nbformat
import pytest
import yaml
from roundkit import EXPERT, ROOT, TEAM, fill_like_a_person, make_round

from workbench.core.signing import SHEET_TYPE, load_public_key, verify_envelope
from workbench.model.sheet import parse_sheet
from workbench.notebook.review import PASSPHRASE_ENV, WIDGET_PLACEHOLDER, open_review
from workbench.round.submit import UNATTENDED_ENV, issue_token

NOTEBOOK = ROOT / "notebooks" / "review.ipynb"
PARAMETERS = ["round_dir", "reviewer_id", "team_id", "role", "lang", "key_file", "answers_file", "output_dir",
              "notebook_sha256"]


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for c in _code_cells(nb):
        assert c.outputs == [] and c.execution_count is None, c.source
    assert "widgets" not in nb.metadata  # no saved widget state either


def test_parameters_cell_has_the_contracts_parameters_all_strings():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse(cells[0].source)
    assigned = {n.targets[0].id: n.value.value for n in tree.body if isinstance(n, ast.Assign)}
    assert list(assigned) == PARAMETERS
    assert all(isinstance(v, str) for v in assigned.values())
    assert assigned["lang"] == "ko" and assigned["answers_file"] == "" and assigned["output_dir"] == ""


def test_notebook_holds_calls_only():
    for c in _code_cells(nbformat.read(NOTEBOOK, as_version=4)):
        for node in ast.walk(ast.parse(c.source)):
            assert not isinstance(node, ast.FunctionDef | ast.ClassDef | ast.For | ast.While | ast.If | ast.With | ast.Try), c.source


@pytest.mark.slow
def test_papermill_run_makes_the_interactive_sheet_and_leaks_no_secret(tmp_path, monkeypatch):
    import papermill as pm

    secret = "papermill passphrase 7f3a"
    kit = make_round(tmp_path, passphrase=secret.encode())
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the kernel imports this checkout's workbench
    monkeypatch.setenv(PASSPHRASE_ENV, secret)
    out = kit.round_dir / "notebooks" / EXPERT / f"{TEAM}.ipynb"
    out.parent.mkdir(parents=True)
    # what workbench batch hands the kernel of this one notebook: a one-use token
    monkeypatch.setenv(UNATTENDED_ENV, issue_token(out.parent, EXPERT, TEAM)[0])
    pm.execute_notebook(
        str(NOTEBOOK), str(out), kernel_name="python3", progress_bar=False,
        parameters={"round_dir": str(kit.round_dir), "reviewer_id": EXPERT, "team_id": TEAM, "role": "expert",
                    "lang": "en", "key_file": str(kit.expert_key), "answers_file": f"answers/{EXPERT}/{TEAM}.yaml",
                    "output_dir": "sheets-batch", "notebook_sha256": "ef" * 32},
    )
    sheet_file = kit.round_dir / "sheets-batch" / EXPERT / f"{TEAM}.v1.dsse.json"
    unattended = parse_sheet(verify_envelope(sheet_file.read_bytes(), load_public_key(kit.keys / f"{EXPERT}.pub"), SHEET_TYPE))

    monkeypatch.delenv(UNATTENDED_ENV)  # the kernel consumed the token; this process is a person's
    # the same inputs and answers, entered by a person through the widgets
    person = open_review(kit.round_dir, EXPERT, TEAM, "expert", "en", str(kit.expert_key), notebook_sha256="ef" * 32)
    fill_like_a_person(person.form, yaml.safe_load(kit.answers(EXPERT).read_text()))
    person.form.passphrase.value = secret
    person.form.click_sign()
    interactive = parse_sheet(verify_envelope(person.last_submission.read_bytes(),
                                              load_public_key(kit.keys / f"{EXPERT}.pub"), SHEET_TYPE))
    a, b = unattended.to_json(), interactive.to_json()
    a.pop("created_at"), b.pop("created_at")
    assert a == b

    executed = out.read_text()
    nb = nbformat.reads(executed, as_version=4)
    assert not [o for c in _code_cells(nb) for o in c.outputs if o.output_type == "error"]
    # issue 27, item 9: opened before running (or read by nbconvert) a widget's saved output showed its repr
    views = [o for c in _code_cells(nb) for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views and all(o["data"]["text/plain"] == WIDGET_PLACEHOLDER for o in views)
    assert "ToggleButtons(" not in executed and "VBox(children" not in executed
    key_body = kit.expert_key.read_text().splitlines()[1]  # a line of the encrypted PEM
    for text in (executed, *(p.read_text() for p in (kit.round_dir / "drafts").rglob("*.json")), sheet_file.read_text()):
        assert secret not in text and key_body not in text and "PRIVATE KEY" not in text
