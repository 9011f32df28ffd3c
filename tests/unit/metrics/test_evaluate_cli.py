"""The evaluate command's report, table and plot, on toy results (no dataset, no training)."""

import argparse
import json

import numpy as np
import pytest

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.cli import build_parser
from xrec_bench.cli.evaluate import _finite, build_report, build_requests, render, save_curves
from xrec_bench.datasets.schema import EvalCases
from xrec_bench.explainers.targets import resolve_target
from xrec_bench.metrics import EvalConfig, evaluate_explainer


def test_parser_knows_the_command():
    args = build_parser().parse_args(["evaluate", "--dataset", "synthetic", "--model", "bert-two-tower",
                                      "--explainers", "leave-one-out", "--granularity", "history", "--users", "5"])
    assert args.users == 5 and args.target == "top-recommendation" and args.func is not None
    old = build_parser().parse_args(["evaluate", "--dataset", "d", "--model", "m", "--explainers", "x",
                                     "--granularity", "history", "--target", "top1"])
    assert old.target == "top1"  # accepted by the parser; translated with a warning by resolve_target


def test_target_names_and_deprecated_aliases():
    assert resolve_target("test-item") == "test-item" and resolve_target("top-recommendation") == "top-recommendation"
    with pytest.warns(FutureWarning, match="'top1' is deprecated; use 'top-recommendation'"):
        assert resolve_target("top1") == "top-recommendation"
    with pytest.warns(FutureWarning, match="use 'test-item'"):
        assert resolve_target("test") == "test-item"
    with pytest.raises(ValueError, match="Unknown target 'top-1'"):
        resolve_target("top-1")


def test_requests_sample_test_cases_deterministically(toy):
    cases = EvalCases(users=np.arange(10), histories=[np.array([i, i + 1]) for i in range(10)],
                      targets=[np.array([i + 5]) for i in range(10)])
    a = build_requests(cases, toy, n_users=4, seed=1, target="test-item")
    b = build_requests(cases, toy, n_users=4, seed=1, target="test-item")
    assert [r.user for r in a] == [r.user for r in b] and len(a) == 4
    assert all(r.target == r.user + 5 for r in a)
    top = build_requests(cases, toy, n_users=20, seed=1, target="top-recommendation")
    assert len(top) == 10 and all(r.target not in r.history for r in top)
    for r in top:  # the model's own top-1 item, history masked out
        assert r.target == int(toy.recommend(np.array([r.user]), [r.history], 1, exclude=[r.history])[0, 0])


def test_report_table_and_plot(toy, requests, tmp_path):
    cfg = EvalConfig(stability_users=3, sanity_users=3)
    results = {name: evaluate_explainer(toy, cls(), requests, granularity="history", seed=0, config=cfg)
               for name, cls in (("exact", ExactLinear), ("random", RandomScores))}
    results["lime"] = "lime does not support 'history'"
    plot = save_curves({k: v for k, v in results.items() if not isinstance(v, str)}, tmp_path / "c.png", title="t")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = argparse.Namespace(dataset="toy", model="toy", granularity="history", seed=0, target="test-item")
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
