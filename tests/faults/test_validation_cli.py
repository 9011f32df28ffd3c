"""Careless input on the command line: each gets a one-line error (exit 2), no traceback, and fails
before anything expensive (a download, a model load) happens."""

from __future__ import annotations

import pytest

from xrec_bench.cli import main


def _fails_cleanly(capsys, argv, *expected):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ")
    for text in expected:
        assert text in err, err
    return err


@pytest.mark.parametrize("value, expected", [("abc", "Got 'abc' instead"), ("-5", "Got -5 instead"),
                                             ("2.5", "Got 2.5 instead")])
def test_train_refuses_a_bad_parameter_before_loading(capsys, monkeypatch, value, expected):
    import xrec_bench.datasets.loader as loader

    monkeypatch.setattr(loader, "prepare_dataset", lambda *a, **k: pytest.fail("loaded data for a bad parameter"))
    _fails_cleanly(capsys, ["train", "--dataset", "synthetic", "--model", "bpr-mf", "--model-param", f"max_epochs={value}",
                            "--no-progress"], "'max_epochs' parameter of model 'bpr-mf'", expected)


@pytest.mark.parametrize("command", [["leaderboard", "build", "--runs"], ["leaderboard", "show"],
                                     ["gate", "--candidate", "x", "--baseline"]])
@pytest.mark.parametrize("content", ["not json at all", "\xff\xfe binary", ""])
def test_non_json_input_names_the_file(tmp_path, capsys, command, content):
    bad = tmp_path / "records" / "bad.json"
    bad.parent.mkdir()
    bad.write_bytes(content.encode("latin-1"))
    argv = [*command, str(bad)]
    if command[0] == "gate":
        argv = ["gate", "--baseline", str(bad), "--candidate", str(bad)]
    _fails_cleanly(capsys, argv, str(bad), "not a JSON run record")


def test_leaderboard_diff_names_a_non_json_file(tmp_path, capsys):
    bad = tmp_path / "leaderboard.json"
    bad.write_text("{oops")
    _fails_cleanly(capsys, ["leaderboard", "diff", str(bad), str(bad)], str(bad), "is not JSON")


def test_run_has_a_mirror_option_and_reports_download_errors_without_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "cache"))
    suite = tmp_path / "dl.toml"
    suite.write_text("""
name = "dl"
version = 1
seed = 0
seeds = [0]
granularities = ["history"]
users = { history = 3 }
[[datasets]]
name = "movielens-100k"
[[models]]
name = "bert-two-tower"
[[explainers]]
name = "random"
""", encoding="utf-8")
    missing = tmp_path / "no-such-mirror"
    err = _fails_cleanly(capsys, ["run", "--suite", str(suite), "--out", str(tmp_path / "out"), "--mirror",
                                  str(missing), "--no-progress"], "Nothing was run")
    assert "no-such-mirror" in err


def test_explain_checks_the_user_before_loading_the_model(capsys, monkeypatch, tmp_path):
    import xrec_bench.models as models

    monkeypatch.setattr(models, "fit_or_load", lambda *a, **k: pytest.fail("loaded a model for an unknown user"))
    _fails_cleanly(capsys, ["explain", "--dataset", "synthetic", "--model", "zero-shot-text", "--user", "no-such-user",
                            "--explainer", "random", "--granularity", "history"], "no-such-user")
