"""The evaluate command's report, table and plot, on toy results (no dataset, no training)."""

import argparse
import json

import numpy as np

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.cli import build_parser
from xrec_bench.cli.evaluate import _finite, build_report, build_requests, render, save_curves
from xrec_bench.datasets.schema import EvalCases
from xrec_bench.metrics import EvalConfig, evaluate_explainer


def test_parser_knows_the_command():
    args = build_parser().parse_args(["evaluate", "--dataset", "synthetic", "--model", "bert-two-tower",
                                      "--explainers", "leave-one-out", "--granularity", "history", "--users", "5"])
    assert args.users == 5 and args.target == "test" and args.func is not None


def test_requests_sample_test_cases_deterministically(toy):
    cases = EvalCases(users=np.arange(10), histories=[np.array([i, i + 1]) for i in range(10)],
                      targets=[np.array([i + 5]) for i in range(10)])
    a = build_requests(cases, toy, n_users=4, seed=1, target="test")
    b = build_requests(cases, toy, n_users=4, seed=1, target="test")
    assert [r.user for r in a] == [r.user for r in b] and len(a) == 4
    assert all(r.target == r.user + 5 for r in a)
    top = build_requests(cases, toy, n_users=20, seed=1, target="top1")
    assert len(top) == 10 and all(r.target not in r.history for r in top)


def test_report_table_and_plot(toy, requests, tmp_path):
    cfg = EvalConfig(stability_users=3, sanity_users=3)
    results = {name: evaluate_explainer(toy, cls(), requests, granularity="history", seed=0, config=cfg)
               for name, cls in (("exact", ExactLinear), ("random", RandomScores))}
    results["lime"] = "lime does not support 'history'"
    plot = save_curves({k: v for k, v in results.items() if not isinstance(v, str)}, tmp_path / "c.png", title="t")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = argparse.Namespace(dataset="toy", model="toy", granularity="history", seed=0, target="test")
    report = build_report(args, results, len(requests), plot)
    assert "vs_random" in report["explainers"]["exact"] and "vs_random" not in report["explainers"]["random"]
    assert report["explainers"]["exact"]["vs_random"]["deletion_auc"]["diff"] < 0
    text = render(report)
    assert "deletion_auc" in text and "random" in text and "Difference to random" in text
    assert "lime: not run" in text and str(plot) in text
    json.dumps(_finite(report), allow_nan=False, default=float)  # strict JSON: NaN became null


def test_model_params_parse_as_json_or_text():
    import pytest

    from xrec_bench.cli import CliError
    from xrec_bench.cli.evaluate import parse_params

    assert parse_params(["max_steps=150", "device=cpu", "lr=1e-4", "freeze=true"]) == {
        "max_steps": 150, "device": "cpu", "lr": 1e-4, "freeze": True}
    with pytest.raises(CliError, match="KEY=VALUE"):
        parse_params(["max_steps"])
