"""The evaluate command's parser, explainer entries, report, table and plot, on cell records built from
toy results (no dataset, no training). The command end to end: tests/integration/test_one_pipeline.py."""

import argparse
import json

import numpy as np
import pytest

from tests.unit.metrics.conftest import ExactLinear, RandomScores
from xrec_bench.cli import CliError, build_parser
from xrec_bench.cli.evaluate import (
    _finite,
    build_report,
    cell_curves,
    expand_metrics,
    explainer_entries,
    render,
    save_curves,
)
from xrec_bench.explainers.targets import resolve_target
from xrec_bench.harness.record import clean_floats
from xrec_bench.metrics import EvalConfig, evaluate_explainer


def test_parser_knows_the_command():
    args = build_parser().parse_args(["evaluate", "--dataset", "synthetic", "--model", "bert-two-tower",
                                      "--explainers", "leave-one-out", "--granularity", "history", "--users", "5",
                                      "--model-param", "max_steps=5", "--explainer-param", "n_samples=8",
                                      "--dataset-option", "n_users=60", "--metric-option", "sanity_users=2"])
    assert args.users == 5 and args.target == "top-recommendation" and args.func is not None
    assert args.model_param == ["max_steps=5"] and args.explainer_param == ["n_samples=8"]
    assert args.dataset_option == ["n_users=60"] and args.metric_option == ["sanity_users=2"]
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


def test_explainer_params_go_to_the_explainers_that_declare_them():
    one = explainer_entries(["lime", "random"], {"n_samples": 8})
    assert one == [{"name": "lime", "params": {"n_samples": 8}}, {"name": "random", "params": {}}]
    many = explainer_entries(["lime", "integrated-gradients", "random"], {"n_samples": 8, "n_steps": 4})
    assert [e["params"] for e in many] == [{"n_samples": 8}, {"n_steps": 4}, {}]
    with pytest.raises(CliError, match="--explainer-param nope: none of"):
        explainer_entries(["lime", "integrated-gradients", "random"], {"nope": 1})


def test_stage_names_stand_for_their_metrics():
    names = expand_metrics(["faithfulness", "n_evals"], {})
    assert "deletion_auc" in names and "insertion_auc" in names and names[-1] == "n_evals"
    assert expand_metrics(["deletion_auc", "deletion_auc"], {}) == ["deletion_auc"]


def _cell(result):
    """The cell record the harness writes for ``result`` (the same rounding and NaN -> None)."""
    return {"status": "ok", "users": [int(u) for u in result.users], "targets": [int(t) for t in result.targets],
            "metrics": clean_floats({k: np.asarray(v) for k, v in result.per_user.items()}),
            "curves_per_user": clean_floats({k: np.asarray(v) for k, v in result.curves.items()}),
            "skipped": [[int(u), r] for u, r in result.skipped],
            "info": json.loads(json.dumps(clean_floats({"flags": result.flags, "cost": result.cost}), default=str)),
            "timing": {"judged": False, "reason": "off"}}


def test_report_table_and_plot_from_cell_records(toy, requests, tmp_path):
    cfg = EvalConfig(stability_users=3, sanity_users=3)
    results = {name: evaluate_explainer(toy, cls(), requests, granularity="history", seed=0, config=cfg)
               for name, cls in (("exact", ExactLinear), ("random", RandomScores))}
    cells = {name: _cell(r) for name, r in results.items()}
    cells["lime"] = {"status": "skipped", "reason": "lime does not support 'history'"}
    curves = {name: cell_curves(c) for name, c in cells.items() if c["status"] == "ok"}
    assert np.allclose(curves["exact"]["deletion_score"], results["exact"].curves["deletion_score"], equal_nan=True)
    plot = save_curves(curves, tmp_path / "c.png", title="t", fractions=np.asarray(cfg.fractions))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    args = argparse.Namespace(dataset="toy", model="toy", granularity="history", seed=0, target="test-item")
    report = build_report(args, cells, plot)
    assert report["users"] == len(requests)
    assert "vs_random" in report["explainers"]["exact"] and "vs_random" not in report["explainers"]["random"]
    assert report["explainers"]["exact"]["vs_random"]["deletion_auc"]["diff"] < 0
    summary = results["exact"].summary(seed=0)["deletion_auc"]  # the same estimate as from the live result
    assert report["explainers"]["exact"]["metrics"]["deletion_auc"]["mean"] == pytest.approx(summary.mean, rel=1e-9)
    text = render(report)
    assert "deletion_auc" in text and "random" in text and "Difference to random" in text
    assert "lime: not run" in text and str(plot) in text
    json.dumps(_finite(report), allow_nan=False, default=float)  # strict JSON: NaN became null
    cells["exact"] = {"status": "failed", "reason": "RuntimeError: boom"}
    assert "exact: FAILED: RuntimeError: boom" in render(build_report(args, cells, None))
