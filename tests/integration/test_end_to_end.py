"""The whole pipeline on tiny data: synthetic dataset -> BERT two-tower (frozen encoder, a few steps)
-> explainers -> metrics -> run record -> leaderboard -> gate. Cold data cache in a temporary folder."""

from __future__ import annotations

import json

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.io import read_json

TINY = """
name = "tiny"
version = 1
seed = 3
seeds = [0]
granularities = ["history", "tokens"]
explainers = ["random", "leave-one-out"]
metrics = ["deletion_auc", "insertion_auc", "gt_ap", "sanity_spearman", "n_evals", "wall_time_s"]
accuracy_ks = [10]

[users]
history = 4
tokens = 1

[metric_options]
sanity_users = 2
stability_users = 1

[[datasets]]
name = "synthetic"
options = { n_users = 60, n_items = 60, min_length = 4, max_length = 10 }

[[models]]
name = "bert-two-tower"
params = { train_layers = 0, max_steps = 2, device = "cpu", positions_per_user = 1, valid_users = 20 }

[[baselines]]
name = "most-popular"
"""


@pytest.mark.slow
def test_tiny_suite_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    suite = tmp_path / "tiny.toml"
    suite.write_text(TINY)
    runs = tmp_path / "runs"
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "suite tiny v1: 6 cells, 6 computed, 0 from cache; 6 ok, 0 skipped, 0 failed" in out
    record = read_json(runs / "record.json")
    assert record["datasets"]["synthetic"]["fingerprint"] and record["git"].keys() == {"commit", "dirty"}
    assert record["environment"]["libraries"]["torch"] and record["reference_workload"]["seconds"] > 0
    model = next(m for m in record["models"] if m["model"] == "bert-two-tower")
    assert model["revision"]["name"] == "bert-two-tower" and model["revision"]["checkpoint"]
    assert model["revision"]["encoder"].startswith("all-MiniLM-L6-v2") and model["revision"]["weights_sha256"]
    cells = {(c["key"]["explainer"], c["key"]["granularity"]): c for c in record["cells"]}
    loo = cells[("leave-one-out", "history")]
    assert len(loo["users"]) == 4 and {"deletion_auc", "insertion_auc", "gt_ap", "n_evals"} <= set(loo["metrics"])
    assert set(cells[("random", "tokens")]["metrics"]) >= {"deletion_auc", "n_evals"}

    # warm: nothing recomputed, same numbers; then the tables and the gate
    assert cli(["run", "--suite", str(suite), "--out", str(runs), "--no-progress"]) == 0
    assert "6 cells, 0 computed, 6 from cache" in capsys.readouterr().out
    second = read_json(runs / "record.json")
    assert json.dumps([c["metrics"] for c in second["cells"]]) == json.dumps([c["metrics"] for c in record["cells"]])
    results = tmp_path / "results"
    assert cli(["leaderboard", "build", "--runs", str(runs), "--out", str(results)]) == 0
    md = (results / "tiny" / "v1" / "synthetic__bert-two-tower__history.md").read_text()
    assert "| leave-one-out | 4 / 4 |" in md and "| random (data baseline) |" in md and "most-popular" in md
    assert cli(["gate", "--baseline", str(results / "tiny" / "v1" / "leaderboard.json"),
                "--candidate", str(runs)]) == 0
