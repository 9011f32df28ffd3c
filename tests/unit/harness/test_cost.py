"""The cost model's arithmetic on a toy run record: users, samples, encoder and GPU scaling, the probe
cap, the choice of measurement, and what it refuses to guess."""

from __future__ import annotations

import json
import math

import pytest

from xrec_bench.harness.cost import estimate, format_estimate, measurements
from xrec_bench.harness.suite import parse_suite

TOY = """
name = "toy-cost"
version = 1
seed = 1
seeds = [0, 1]
granularities = ["history", "tokens"]
explainers = [{ name = "lime", params = { n_samples = 400 } }, "leave-one-out", "similarity"]
metrics = ["deletion_auc"]
accuracy_ks = [10]

[users]
history = 100
tokens = 20

[timing]
blocks = 5
max_probe_s = 2.0

[[datasets]]
name = "synthetic"

[[models]]
name = "bert-two-tower"
params = { encoder = "bert-base-uncased", device = "cuda", max_steps = 10 }

[[baselines]]
name = "most-popular"
"""


def _cell(explainer, granularity, users, elapsed, explain, probe):
    return {"kind": "explainer", "status": "ok", "elapsed_s": elapsed, "users": list(range(users)),
            "key": {"dataset": "synthetic", "model": "bert-two-tower", "explainer": explainer,
                    "granularity": granularity, "seed": 0},
            "info": {"cost": {"total_wall_s": explain}}, "timing": {"work_s": [probe / 2], "reference_s": [probe / 2]}}


@pytest.fixture
def record(tmp_path):
    model = {"model": "bert-two-tower", "name": "bert-two-tower", "params": {"max_steps": 10}}
    cells = [
        # lime, measured without known parameters here, 10 users: 4 s explaining, 2 s metrics, 1 s probe
        _cell("lime", "history", 10, 7.0, 4.0, 1.0),
        _cell("lime", "tokens", 5, 12.0, 10.0, 1.5),
        _cell("leave-one-out", "history", 50, 10.0, 5.0, 0.0),
        {"kind": "accuracy", "status": "ok", "elapsed_s": 30.0,
         "key": {"dataset": "synthetic", "model": "bert-two-tower", "explainer": "-", "granularity": "-", "seed": 0}},
        {"kind": "accuracy", "status": "ok", "elapsed_s": 0.5,
         "key": {"dataset": "synthetic", "model": "most-popular", "explainer": "-", "granularity": "-", "seed": 0}},
    ]
    rec = {"run_id": "toy-v1-20260101T000000-abc", "suite": {"source": "nowhere.toml", "content_hash": "x"},
           "environment": {"device": "cpu"}, "reference_workload": {"seconds": 0.1},
           "models": [model, {"model": "most-popular", "name": "most-popular", "params": {}}], "cells": cells}
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(rec))
    return path


def test_the_estimate_scales_users_samples_encoder_and_device(record):
    suite = parse_suite(__import__("tomllib").loads(TOY))
    measured, used = measurements([record])
    assert len(measured) == 5 and used[0].startswith("toy-v1-20260101T000000-abc (5 cells, device cpu")
    est = estimate(suite, measured, gpu_speedup=10.0)
    rows = {(r.model, r.explainer, r.granularity): r for r in est.rows}
    # lime/history: the measurement's n_samples is unknown (no suite file): samples not scaled;
    # (4 + 2) s / 10 users x 100 users, history not encoder-scaled, and on the CPU even for a model on
    # the GPU (cached item vectors); probe: blocks of 0.5 s explaining + 0.5 s reference, 5 x 0.5 > 2 s
    # budget, so 4 blocks
    history = rows[("bert-two-tower", "lime", "history")]
    assert history.seconds == pytest.approx(6.0 / 10 * 100 + 4 * 1.0) and not history.gpu
    # lime/tokens: (10 + 0.5) / 5 x 20 users x encoder (12 x 768^2) / (6 x 384^2) = 8, / 10; no probe: it
    # declines cells whose encoder runs on a GPU
    assert rows[("bert-two-tower", "lime", "tokens")].seconds == pytest.approx(10.5 / 5 * 20 * 8 / 10)
    # leave-one-out/history: no probe measured
    assert rows[("bert-two-tower", "leave-one-out", "history")].seconds == pytest.approx(10.0 / 50 * 100)
    assert rows[("bert-two-tower", "lime", "tokens")].gpu
    assert math.isnan(rows[("bert-two-tower", "leave-one-out", "tokens")].seconds)  # never measured there
    assert rows[("bert-two-tower", "similarity", "tokens")].seconds == 0.0  # does not apply: not run
    # training: same training parameters, encoder x8 and / 10 on the GPU; baselines on the CPU as measured
    assert rows[("bert-two-tower", "-", "-")].seconds == pytest.approx(30.0 * 8 / 10)
    assert rows[("most-popular", "-", "-")].seconds == pytest.approx(0.5) and not rows[("most-popular", "-", "-")].gpu
    # totals: two seeds of every cell
    gpu_s = sum(r.seconds for r in est.rows if r.gpu and math.isfinite(r.seconds)) * 2
    cpu_s = (0.5 + 6.0 / 10 * 100 + 4.0 + 10.0 / 50 * 100) * 2  # most-popular, both history cells
    assert est.hours(True) == pytest.approx(gpu_s / 3600) and est.hours(False) == pytest.approx(cpu_s / 3600)
    text = format_estimate(est)
    assert "GPU hours" in text and "x20 users" not in text and "x4 users, x8 encoder, /10 GPU" in text
    assert "no GPU measurement: GPU time = measured CPU time / 10" in text
    assert "n_samples of the target or of the measurement is the explainer's default" in text


def test_the_probe_keeps_its_minimum_blocks_and_other_training_parameters_are_not_guessed(record):
    raw = __import__("tomllib").loads(TOY.replace("max_probe_s = 2.0", "max_probe_s = 0.05")
                                      .replace("max_steps = 10", "max_steps = 500"))
    est = estimate(parse_suite(raw), measurements([record])[0], gpu_speedup=10.0)
    rows = {(r.model, r.explainer, r.granularity): r for r in est.rows}
    # a 0.05 s budget still gets the probe's 3 blocks at least (each 0.5 s explaining + 0.5 s reference)
    assert rows[("bert-two-tower", "lime", "history")].seconds == pytest.approx(60.0 + 3 * 1.0)
    assert math.isnan(rows[("bert-two-tower", "-", "-")].seconds)
    assert "training parameters differ (max_steps)" in rows[("bert-two-tower", "-", "-")].basis


def test_run_check_prints_an_estimate_of_the_standard_suite(capsys):
    from pathlib import Path

    from xrec_bench.cli import main

    records = sorted(str(p) for p in (Path(__file__).resolve().parents[3] / "results").glob("quick/v*/records/*.json"))
    if not records:
        pytest.skip("no published quick run records in this checkout")
    assert main(["run", "--suite", "standard", "--check", "--measurements", *records]) == 0
    out = capsys.readouterr().out
    assert "suite standard v1" in out and "estimated cost of standard v1:" in out and "GPU hours" in out
    assert "movielens-1m/bert-two-tower/lime/tokens" in out and "measurements used: quick-v" in out


def test_a_model_is_estimated_only_at_the_granularities_it_is_explained_at(record):
    raw = __import__("tomllib").loads(TOY.replace('max_steps = 10 }', 'max_steps = 10 }\ngranularities = ["history"]'))
    suite = parse_suite(raw)
    est = estimate(suite, measurements([record])[0], gpu_speedup=10.0)
    explained = {(r.model, r.granularity) for r in est.rows if r.explainer != "-"}
    assert explained == {("bert-two-tower", "history")}
