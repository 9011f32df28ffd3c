"""The GPU suite (``gpu-smoke``): shipped, valid, and runnable on a CPU with ``--device cpu``; on a
machine without a GPU, running it as shipped fails at once with what to do. The last test needs a
CUDA GPU (skipped elsewhere): token explanations with the encoder on the GPU agree with the CPU's."""

from __future__ import annotations

import math

import pytest
import tomllib
import torch

from xrec_bench.cli import main as cli
from xrec_bench.harness.suite import load_suite, parse_suite
from xrec_bench.paths import shipped_dir


def test_the_gpu_suite_trains_the_whole_encoder_on_cuda_and_times_nothing_on_the_cpu_clock():
    suite = load_suite("gpu-smoke")
    (model,) = suite.models
    assert model.name == "bert-two-tower" and model.params["device"] == "cuda"
    assert model.params["train_layers"] == "all" and "encoder" not in model.params  # the offline default
    assert suite.granularities == ("history", "tokens", "fields") and len(suite.explainers) == 13
    assert suite.timing["blocks"] == 0  # the probe times CPU work: meaningless for GPU cells


def test_the_device_override_moves_only_models_with_a_device_parameter():
    suite = load_suite("gpu-smoke")
    moved = suite.with_device("cpu")
    assert moved.models[0].params == {**suite.models[0].params, "device": "cpu"}
    assert {b.name: b.params for b in moved.baselines} == {b.name: b.params for b in suite.baselines}
    assert moved.content_hash == suite.content_hash and suite.models[0].params["device"] == "cuda"
    assert suite.with_device(None) is suite
    with pytest.raises(ValueError, match="device override"):
        suite.with_device("  ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_gpu_suite_without_a_gpu_stops_before_any_work_and_says_what_to_do(tmp_path, capsys):
    assert cli(["run", "--suite", "gpu-smoke", "--out", str(tmp_path / "runs"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "torch sees none on this machine" in err and "--device cpu" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_the_gpu_suite_runs_on_the_cpu_with_device_cpu(tmp_path, monkeypatch):
    """The shipped suite with only what a CPU test cannot afford cut: the synthetic dataset alone (the
    others are downloads), a few training steps, 2 users per granularity. Every explainer and
    granularity, its metric options and the fully trained encoder are the suite's own."""
    from xrec_bench.harness.runner import run_suite
    from xrec_bench.harness.stages import RealStages

    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "cache"))
    raw = tomllib.loads((shipped_dir("suites") / "gpu-smoke.toml").read_text(encoding="utf-8"))
    raw["datasets"] = [{**raw["datasets"][0], "options": {"n_users": 40, "n_items": 40, "min_length": 4,
                                                          "max_length": 8}}]
    raw["models"][0]["params"].update(max_steps=2, positions_per_user=1, valid_users=10, batch_size=32,
                                      fresh_items=16)
    raw["baselines"] = [{"name": "most-popular"}]
    suite = parse_suite(raw)

    record = run_suite(suite, tmp_path / "runs", stages=RealStages(), progress=False, users_override=2,
                       device_override="cpu").record
    assert record["suite"]["device_override"] == "cpu" and record["counts"]["failed"] == 0
    model = next(m for m in record["models"] if m["name"] == "bert-two-tower")
    assert model["params"]["device"] == "cpu" and model["params"]["train_layers"] == "all"
    cells = [c for c in record["cells"] if c["kind"] == "explainer"]
    done = {(c["key"]["explainer"], c["key"]["granularity"]) for c in cells if c["status"] == "ok"}
    for granularity in ("history", "tokens", "fields"):  # every explainer that applies there produced values
        for name in ("saliency", "input-x-gradient", "integrated-gradients", "gradient-shap", "leave-one-out",
                     "shapley-sampling", "kernel-shap", "lime", "exact-shapley"):
            assert (name, granularity) in done, (name, granularity)
    lime = next(c for c in cells if c["key"]["explainer"] == "lime" and c["key"]["granularity"] == "tokens")
    assert all(math.isfinite(v) for v in lime["metrics"]["deletion_auc"])
    assert lime["info"]["cost"]["n_evals_mean"] <= 500 and lime["timing"]["judged"] is False
