"""benchmarks/gpu_report.py: the throughput figures of a run, read from its record."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("gpu_report", ROOT / "benchmarks" / "gpu_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cell(explainer, n, seconds, p50, gpu_mb=None, status="ok"):
    cost = {"n_explained": n, "total_wall_s": seconds, "wall_time_p50_s": p50, "n_evals_mean": 10.0,
            "peak_rss_mb": 900.0}
    if gpu_mb is not None:
        cost["cuda_peak_mb"] = gpu_mb
    return {"kind": "explainer", "status": status, "info": {"cost": cost},
            "key": {"dataset": "d", "model": "m", "explainer": explainer, "granularity": "tokens", "seed": 0}}


def test_the_report_sums_explanations_over_datasets_and_keeps_the_peak_gpu_memory(tmp_path, capsys):
    record = {"run_id": "r1", "suite": {"name": "gpu-smoke", "version": 1}, "elapsed_s": 100.0,
              "counts": {"computed": 50}, "environment": {"device": "cuda (H200)", "cpu_count": 16},
              "models": [{"dataset": "d", "model": "m", "revision": {"fit_seconds": 12.5}}],
              "cells": [_cell("lime", 40, 2.0, 0.05, 800.0), _cell("lime", 20, 3.0, 0.1, 1200.0),
                        _cell("lime", 99, 1.0, 0.01, 5000.0, status="failed")]}
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    assert _module().main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "device cuda (H200), 16 CPUs" in out and "50 cells computed (0.500 cells/s)" in out
    assert "training d/m: 12.5 s" in out
    # 60 explanations in 5 s; the median of the two p50s (upper of two); the larger GPU peak; the failed cell ignored
    assert "| m | tokens | lime | 60 | 12.0 | 0.1000 | 10 | 1200 |" in out and "peak GPU MB" in out


def test_an_unreadable_record_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SystemExit) as exc:
        _module().main([str(bad)])
    assert exc.value.code == 2
