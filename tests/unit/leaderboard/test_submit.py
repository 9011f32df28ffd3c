"""Outside submissions: forged ones are refused with a reason, a valid one lands on the site."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.leaderboard.site import publish
from xrec_bench.leaderboard.submit import SubmissionError, slug, submit_run

REPO = Path(__file__).resolve().parents[3]
PUBLISHED = REPO / "results" / "quick" / "v2"
KEEP = {"random", "saliency", "leave-one-out"}

pytestmark = pytest.mark.skipif(not (PUBLISHED / "leaderboard.json").is_file(), reason="results/quick/v2 is not here")


@pytest.fixture(scope="module")
def record():
    """The published quick v2 run record, cut to three explainers on synthetic history (a quick table)."""
    path = next((PUBLISHED / "records").glob("*.json"))
    rec = json.loads(path.read_text())
    rec["cells"] = [c for c in rec["cells"] if c["key"]["dataset"] == "synthetic"
                    and c["key"]["granularity"] == "history" and c["key"]["explainer"] in KEEP]
    return rec


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results" / "quick" / "v2"
    out.mkdir(parents=True)
    for f in PUBLISHED.iterdir():
        if f.is_file():
            shutil.copyfile(f, out / f.name)
    return tmp_path / "results"


def _run_folder(tmp_path, rec, name="run"):
    folder = tmp_path / name / "records"
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(rec))
    return folder.parent


def _forge(rec, how):
    rec = copy.deepcopy(rec)
    cell = next(c for c in rec["cells"] if c["status"] == "ok")
    if how == "html-label":
        cell["key"]["explainer"] = "<script>alert(1)</script>"
    elif how == "html-text":
        cell["reason"] = '<img src=x onerror="alert(1)">'
    elif how == "javascript-url":
        rec["git"]["commit"] = "javascript:alert(1)"
    elif how == "suite-hash":
        rec["suite"]["content_hash"] = "0" * 64
    elif how == "suite-version":
        rec["suite"]["version"] = 99
    elif how == "unknown-field":
        rec["leaderboard_boost"] = 1
    elif how == "unknown-cell-field":
        cell["extra"] = "x"
    elif how == "missing-field":
        del rec["environment"]
    elif how == "dataset-checksum":
        files = rec["datasets"]["amazon-magazine"]["checksums"]
        files[next(iter(files))] = "f" * 64
    elif how == "package-version":
        rec["package_version"] = rec["environment"]["libraries"]["xrec-bench"] = "9.9.9"
    elif how == "other-users":
        rec["config_hash"] = "0123456789abcdef"
    return rec


FORGERIES = {
    "html-label": "must be 1-80 characters|plain lower-case name", "html-text": "markup", "javascript-url": "markup",
    "suite-hash": "does not match the released", "suite-version": "not released", "unknown-field": "unknown field",
    "unknown-cell-field": "unknown field", "missing-field": "lacks field", "dataset-checksum": "pins",
    "package-version": "Install xrec-bench==", "other-users": "not comparable",
}


@pytest.mark.parametrize("how", sorted(FORGERIES))
def test_forged_submission_is_refused_with_its_reason(how, record, results, tmp_path):
    folder = _run_folder(tmp_path, _forge(record, how))
    with pytest.raises(SubmissionError, match=FORGERIES[how]):
        submit_run(folder, results, name="Mallory")
    assert not (results / "quick" / "v2" / "submissions").exists()


@pytest.mark.parametrize("name", ["../../etc", "a/b", "..", "<b>x</b>", "", "x" * 80, " lead", "dot..dot"])
def test_names_that_could_escape_or_inject_are_refused(name, record, results, tmp_path):
    folder = _run_folder(tmp_path, record)
    with pytest.raises(SubmissionError, match="submitter name"):
        submit_run(folder, results, name=name)
    assert not (results / "quick" / "v2" / "submissions").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "run"]


def test_cli_refuses_with_the_reason(record, results, tmp_path, capsys):
    folder = _run_folder(tmp_path, _forge(record, "suite-hash"))
    assert cli(["leaderboard", "submit", str(folder), "--results", str(results), "--name", "Mallory"]) == 2
    assert "submission refused" in capsys.readouterr().err


def test_valid_submission_is_stored_and_appears_on_the_site(record, results, tmp_path):
    folder = _run_folder(tmp_path, record)
    path = submit_run(folder, results, name="Lab X", plugins=["my-explainers==1.0"], url="https://example.org/x")
    sub = json.loads(path.read_text())
    assert path.parent.name == slug("Lab X") == "lab-x"
    assert sub["name"] == "Lab X" and sub["plugins"] == {"my-explainers": "1.0"}
    assert sub["suite"]["content_hash"].startswith("da76debb") and len(sub["records_sha256"]) == 1
    (table,) = sub["tables"]
    assert (table["dataset"], table["granularity"]) == ("synthetic", "history")
    assert {r["explainer"] for r in table["rows"]} == KEEP
    # the same per-user values as the published rows give the same means and n
    published = json.loads((results / "quick" / "v2" / "leaderboard.json").read_text())
    pub = next(t for t in published["tables"] if (t["dataset"], t["granularity"]) == ("synthetic", "history"))
    pub_rows = {r["explainer"]: r for r in pub["rows"]}
    for row in table["rows"]:
        for m, e in row["metrics"].items():
            assert e["mean"] == pytest.approx(pub_rows[row["explainer"]]["metrics"][m]["mean"])
            assert e["n"] == pub_rows[row["explainer"]]["metrics"][m]["n"]
    with pytest.raises(SubmissionError, match="already exists"):
        submit_run(folder, results, name="Lab X")

    publish(results, tmp_path / "site", plots=False)
    page = (tmp_path / "site" / "quick" / "v2" / "index.html").read_text()
    assert page.count("submitted by Lab X") >= 2 * len(KEEP)  # overview and table rows
    assert 'id="submissions"' in page and "my-explainers==1.0" in page and 'href="https://example.org/x"' in page
    assert (tmp_path / "site" / "quick" / "v2" / "submissions" / "lab-x.json").is_file()
    assert "1 submission(s)" in (tmp_path / "site" / "index.html").read_text()


def test_unknown_explainer_needs_a_declared_plugin(record, results, tmp_path):
    rec = copy.deepcopy(record)
    for c in rec["cells"]:
        if c["key"]["explainer"] == "saliency":
            c["key"]["explainer"] = "my-saliency"
    with pytest.raises(SubmissionError, match="--plugin"):
        submit_run(_run_folder(tmp_path, rec), results, name="Lab Y")
    with pytest.raises(SubmissionError, match="PACKAGE==VERSION"):
        submit_run(_run_folder(tmp_path, rec, "run2"), results, name="Lab Y", plugins=["my-explainers"])


def test_declared_plugin_version_must_match_the_recorded_one(record, results, tmp_path):
    rec = copy.deepcopy(record)
    for c in rec["cells"]:
        if c["key"]["explainer"] == "saliency":
            c["key"]["explainer"] = "my-saliency"
            c["plugin"] = {"package": "my-explainers", "version": "2.0", "entry": "my_explainers:Saliency"}
    with pytest.raises(SubmissionError, match=r"run records my-explainers==2\.0"):
        submit_run(_run_folder(tmp_path, rec), results, name="Lab Y")
    with pytest.raises(SubmissionError, match="declared as 1.0 but the run recorded 2.0"):
        submit_run(_run_folder(tmp_path, rec, "run2"), results, name="Lab Y", plugins=["my-explainers==1.0"])
