"""One pipeline: ``xrec-bench train``, ``evaluate`` and ``explain`` run through the harness as one-cell
suites, so they reuse its caches and give the numbers of the suite cell with the same seed.

Tiny settings: the synthetic dataset (60 users), a BERT two-tower with a frozen encoder trained for two
steps, a handful of users."""

from __future__ import annotations

import json

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.io import read_json

pytestmark = pytest.mark.slow

SEED = 7
DATA = {"n_users": 60, "n_items": 60, "min_length": 4, "max_length": 15}
MODEL = {"train_layers": 0, "max_steps": 2, "device": "cpu", "positions_per_user": 1, "valid_users": 20}
METRIC_OPTIONS = {"stability_users": 2, "sanity_users": 2, "infidelity_samples": 4}
USERS = 5
#: a metric of each cheap family (the ground-truth control and the sanity check retrain nothing but cost
#: a randomised model copy each: left out to keep this test short; the plugin test covers ground truth)
METRICS = ["deletion_auc", "insertion_auc", "deletion_rank_auc_minus_random", "pos@5", "comprehensiveness",
           "infidelity", "run_kendall_tau", "max_sensitivity", "n_evals", "wall_time_s"]

SUITE = f"""
name = "one-cell"
version = 1
seed = {SEED}
seeds = [0]
granularities = ["history"]
explainers = ["leave-one-out"]
targets = "test-item"
metrics = {json.dumps(METRICS)}

[users]
history = {USERS}

[metric_options]
{chr(10).join(f"{k} = {v}" for k, v in METRIC_OPTIONS.items())}

[timing]
blocks = 0

[[datasets]]
name = "synthetic"
options = {{ {", ".join(f"{k} = {v}" for k, v in DATA.items())} }}

[[models]]
name = "bert-two-tower"
params = {{ {", ".join(f"{k} = {json.dumps(v)}" for k, v in MODEL.items())} }}
"""


def _pairs(flag: str, values: dict) -> list[str]:
    return [x for k, v in values.items() for x in (flag, f"{k}={json.dumps(v)}")]


COMMON = ["--dataset", "synthetic", *_pairs("--dataset-option", DATA), "--model", "bert-two-tower",
          *_pairs("--model-param", MODEL), "--seed", str(SEED)]
EVALUATE = ["evaluate", *COMMON, "--explainers", "leave-one-out", "--granularity", "history", "--users", str(USERS),
            "--target", "test-item", *_pairs("--metric-option", METRIC_OPTIONS), "--no-timing", "--json",
            "--metrics", ",".join(METRICS)]


@pytest.fixture
def env(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.getbasetemp() / "one-pipeline-cache"  # shared: the dataset and the model once
    monkeypatch.setenv("XREC_BENCH_DATA", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # the curve plot's default folder


def _values(cell):
    """Per-user metric values, less the measured wall time (it differs run to run)."""
    return {k: v for k, v in cell["metrics"].items() if k != "wall_time_s"}


def _explainer_cells(record):
    return {c["key"]["explainer"]: c for c in record["cells"] if c["kind"] == "explainer"}


def test_evaluate_gives_the_suite_cells_per_user_values(env, tmp_path, capsys):
    suite = tmp_path / "one-cell.toml"
    suite.write_text(SUITE)
    assert cli(["run", "--suite", str(suite), "--out", str(tmp_path / "suite"), "--no-progress"]) == 0
    capsys.readouterr()
    suite_cell = _explainer_cells(read_json(tmp_path / "suite" / "record.json"))["leave-one-out"]
    assert suite_cell["status"] == "ok" and len(suite_cell["users"]) == USERS

    assert cli([*EVALUATE, "--out", str(tmp_path / "cli")]) == 0
    report = json.loads(capsys.readouterr().out)
    cells = _explainer_cells(read_json(tmp_path / "cli" / "record.json"))
    assert set(cells) == {"leave-one-out", "random"}  # random: the baseline evaluate adds
    cell = cells["leave-one-out"]
    assert cell["users"] == suite_cell["users"] and cell["targets"] == suite_cell["targets"]
    assert cell["cell_seed"] == suite_cell["cell_seed"]
    assert set(_values(cell)) >= set(METRICS) - {"wall_time_s"}
    assert _values(cell) == _values(suite_cell)  # identical per-user values, every metric
    assert report["model_this_run"] == "loaded from the model cache"  # the suite run trained it
    assert report["explainers"]["leave-one-out"]["metrics"]["deletion_auc"]["n"] == USERS

    # explain: the same request (user, target) as the suite cell, with the cell's explainer seed
    from xrec_bench.datasets import load_dataset

    user_ids = load_dataset("synthetic", **DATA).users["user_id"].astype(str).tolist()
    item_ids = load_dataset("synthetic", **DATA).items["item_id"].astype(str).tolist()
    user, target = suite_cell["users"][0], suite_cell["targets"][0]
    assert cli(["explain", *COMMON, "--explainer", "leave-one-out", "--granularity", "history", "--user",
                user_ids[user], "--target", "test-item", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["item_id"] == item_ids[target] and out["status"] == "ok"
    assert out["n_evals"] == suite_cell["metrics"]["n_evals"][0]


def test_train_then_evaluate_reuses_the_trained_model(env, tmp_path, capsys, monkeypatch):
    out = tmp_path / "cli"
    assert cli(["train", *COMMON, "--out", str(out), "--json", "--no-progress"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["this_run"] in ("trained", "loaded from the model cache")  # the other test may have trained it
    train_record = read_json(out / "record.json")
    (model,) = train_record["models"]

    from xrec_bench.models.two_tower import BertTwoTower

    def no_training(*args, **kwargs):
        raise AssertionError("evaluate trained the model again")

    monkeypatch.setattr(BertTwoTower, "fit", no_training)
    evaluate = [*EVALUATE, "--out", str(out)]
    assert cli(evaluate) == 0
    report = json.loads(capsys.readouterr().out)
    record = read_json(out / "record.json")
    (again,) = record["models"]
    assert again["this_run"] == "loaded from the model cache" and report["model_this_run"] == again["this_run"]
    assert again["train_seed"] == model["train_seed"] and again["revision"] == model["revision"]
    assert record["counts"]["cached"] == 1  # the accuracy cell train computed; the explainer cells are new
    assert all(c["status"] == "ok" for c in record["cells"])
    # a repeated command computes nothing
    assert cli(evaluate) == 0
    capsys.readouterr()
    assert read_json(out / "record.json")["counts"]["computed"] == 0
