"""``xrec-bench train`` end to end on the generated synthetic dataset with a fast model."""

from __future__ import annotations

import json

import pytest

from xrec_bench.cli import main


def test_train_prints_test_accuracy_as_json(model_cache, capsys):
    assert (
        main(["train", "--dataset", "synthetic", "--model", "most-popular", "--json", "--no-progress", "--out",
              str(model_cache / "runs")]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "most-popular" and report["test_cases"] > 0
    ndcg = report["metrics"]["ndcg@10"]
    assert ndcg["low"] <= ndcg["mean"] <= ndcg["high"]
    assert report["peak_rss_mb"] > 0 and report["from_cache"] is False
    assert (
        main(["train", "--dataset", "synthetic", "--model", "most-popular", "--json", "--no-progress", "--out",
              str(model_cache / "runs")]) == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["from_cache"] is True and again["metrics"] == report["metrics"]


def test_train_reads_a_config_file(model_cache, tmp_path, capsys):
    config = tmp_path / "knn.toml"
    config.write_text("neighbors = 5\n")
    assert (
        main(
            [
                "train",
                "--dataset",
                "synthetic",
                "--model",
                "item-knn",
                "--config",
                str(config),
                "--no-progress",
                "--out",
                str(tmp_path / "runs"),
            ]
        )
        == 0
    )
    assert "ndcg@10" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "bert-tower"], "Did you mean"),
        (["--model", "item-knn", "--param", "neighbours=5"], "Unknown parameter"),
        (["--model", "item-knn", "--param", "oops"], "KEY=VALUE"),
    ],
)
def test_train_user_errors(model_cache, capsys, argv, message):
    assert main(["train", "--dataset", "synthetic", "--no-progress", "--out", str(model_cache / "runs"), *argv]) == 2
    assert message in capsys.readouterr().err
