"""Reproducibility is exact: two cold runs of a small suite store identical values (timings aside).

Cold: each run has its own empty data cache, so the dataset is built and the model trained anew.
A third run reuses the first run's trained model (loaded from its checkpoint) into a fresh results
folder: a resumed or warm run must not differ from a cold one either.
"""

from __future__ import annotations

import math

import pytest

from xrec_bench.cli import main as cli
from xrec_bench.io import read_json

SMALL = """
name = "determinism"
version = 1
seed = 11
seeds = [0]
granularities = ["history", "tokens"]
explainers = ["random", "leave-one-out", "exact-shapley"]
metrics = "all"
accuracy_ks = [10]

[users]
history = 4
tokens = 1

[metric_options]
sanity_users = 2
stability_users = 1
infidelity_samples = 4

[timing]
blocks = 0

[[datasets]]
name = "synthetic"
options = { n_users = 60, n_items = 60, min_length = 4, max_length = 10 }

[[models]]
name = "bert-two-tower"
params = { train_layers = 1, max_steps = 2, device = "cpu", positions_per_user = 1, valid_users = 20 }
"""

#: what may differ between two runs of the same code: timings, dates, paths, process ids
VOLATILE = {"wall_time_s", "elapsed_s", "finished", "host_pid", "timing", "info", "fit_seconds"}


def stored_values(cell: dict) -> dict:
    return {k: v for k, v in cell.items() if k not in VOLATILE}


def differences(a, b, where="") -> list[str]:
    """Every place two stored values differ, at full precision (NaN equals NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{where}/{k}: only in one" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            if k not in VOLATILE:
                out += differences(a[k], b[k], f"{where}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} vs {len(b)} entries"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def _cells(path) -> dict:
    record = read_json(path / "record.json")
    return {"/".join(str(v) for v in c["key"].values()): c for c in record["cells"]}


@pytest.mark.slow
def test_two_cold_runs_store_identical_values(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    suite = tmp_path / "small.toml"
    suite.write_text(SMALL)
    runs = {}
    for name, cache in (("cold-1", "cache-1"), ("cold-2", "cache-2"), ("warm", "cache-1")):
        monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / cache))
        assert cli(["run", "--suite", str(suite), "--out", str(tmp_path / name), "--no-progress"]) == 0
        runs[name] = _cells(tmp_path / name)
    capsys.readouterr()
    first = runs["cold-1"]
    assert len(first) == 7 and all(c["status"] in ("ok", "skipped") for c in first.values())
    assert any("sanity_spearman" in c.get("metrics", {}) for c in first.values())
    for other in ("cold-2", "warm"):
        assert set(runs[other]) == set(first)
        found = [d for key in sorted(first) for d in differences(first[key], runs[other][key], key)]
        assert not found, f"{other} differs from cold-1 in {len(found)} stored values:\n" + "\n".join(found[:20])
