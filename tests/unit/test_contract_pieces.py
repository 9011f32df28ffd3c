"""The contract machinery: parameter schemas (every problem at once), names written once, the
legacy metric registration still running, metric/model/dataset plugins, and the list/info commands."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.helpers.plugin_pkg import EXAMPLE, fresh_entry_points
from xrec_bench.cli import main as cli
from xrec_bench.metrics.base import METRICS, DeclaredMetric
from xrec_bench.params import Int, Param, Real, check_schema
from xrec_bench.registry import PluginError, Registry

SCHEMA = {"k": Param(3, (Int(1),), "how many"), "rate": Param(0.5, (Real(0, 1),), "a rate"), "mode": Param("a", ("a", "b"))}


def test_schema_reports_every_problem_at_once():
    problems = check_schema("thing 'x'", {"k": 0, "rate": 2.0, "mdoe": "a", "zzz": 1}, SCHEMA)
    assert len(problems) == 4
    assert problems[0] == "Unknown parameter 'mdoe' for thing 'x'. Did you mean: mode? It takes: k, mode, rate."
    assert "Unknown parameter 'zzz'" in problems[1]
    assert "The 'k' parameter of thing 'x' must be an int in the range [1, inf). Got 0 instead." in problems
    assert "The 'rate' parameter of thing 'x' must be a number in the range [0, 1]. Got 2.0 instead." in problems
    assert check_schema("thing 'x'", {"k": 2, "mode": "b"}, SCHEMA) == []


def test_registry_add_takes_the_declared_name_and_checks_lazy_entries(tmp_path, monkeypatch):
    class Thing:
        name = "widget"

    reg: Registry = Registry("thing", name_of=lambda c: getattr(c, "name", None))
    assert reg.add(Thing) is Thing and reg.get("widget") is Thing
    (tmp_path / "lazy_thing_mod.py").write_text("class Gadget:\n    name = 'gadget-v2'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg.register("gadget", "lazy_thing_mod:Gadget")
    with pytest.raises(PluginError, match="registered as 'gadget' .* declares the name 'gadget-v2'"):
        reg.get("gadget")
    with pytest.raises(TypeError, match="takes names explicitly"):
        Registry("plain").add(Thing)


def test_model_parameters_reported_together():
    from xrec_bench.models import get_model

    with pytest.raises(ValueError) as err:
        get_model("bpr-mf", dim=0, lr=-1.0)
    assert "'dim' parameter" in str(err.value) and "'lr' parameter" in str(err.value)
    with pytest.raises(TypeError, match="Unknown parameter 'dimm'.*Did you mean: dim"):
        get_model("bpr-mf", dimm=8, lr=-1.0)


def test_explainer_parameters_reported_together():
    from xrec_bench.explainers import get_explainer

    with pytest.raises(ValueError) as err:
        get_explainer("kernel-shap", n_samples=0, batch_size="big", n_sampels=3)
    msg = str(err.value)
    assert "Unknown parameter 'n_sampels'" in msg and "'n_samples' parameter" in msg and "'batch_size' parameter" in msg


def test_eval_config_reports_every_problem():
    from xrec_bench.metrics.config import EvalConfig

    with pytest.raises(ValueError) as err:
        EvalConfig(random_orders=0, infidelity_drop=2.0)
    assert "random_orders" in str(err.value) and "infidelity_drop" in str(err.value)


def test_a_stage_registered_the_older_way_still_runs(monkeypatch):
    """Code that registers a Stage (and declares its value) keeps working next to the Metric classes."""
    from tests.unit.metrics.conftest import ExactLinear
    from xrec_bench.metrics import evaluate_explainer
    from xrec_bench.metrics import stages as stages_mod
    from xrec_bench.metrics.base import _DECLARED, declare, spec
    from xrec_bench.metrics.stages import STAGES, Stage

    monkeypatch.setattr(STAGES, "_entries", dict(STAGES._entries))
    monkeypatch.setattr("xrec_bench.metrics.base._DECLARED", dict(_DECLARED))
    declare("n_features_legacy", higher_is_better=True, group="cost", description="features per explanation")
    STAGES.register("legacy", Stage(name="legacy", kind="task", metric_names=lambda cfg: ("n_features_legacy",),
                                    run_task=lambda task, e, ref, cfg, seed: {"n_features_legacy": float(task.n_features)}))
    assert spec("n_features_legacy").group == "cost"
    from tests.helpers.toy import ToyModel
    from tests.unit.metrics.conftest import make_requests

    model = ToyModel(n_items=30, vocab=50, dim=8, seed=0)
    requests = make_requests(model, 4)
    r = evaluate_explainer(model, ExactLinear(), requests, granularity="history", seed=0,
                           metrics=["n_features_legacy", "deletion_auc"])
    np.testing.assert_array_equal(r.per_user["n_features_legacy"], [len(q.history) for q in requests])
    assert stages_mod.as_metric  # the adapter is public for code that builds metric lists itself


def test_metric_plugin_must_be_a_metric_class():
    assert "os:system" not in METRICS
    with pytest.raises(PluginError, match="expected a subclass of xrec_bench.metrics.base.ProbeMetric"):
        METRICS.get("os:system")

    class Nothing(DeclaredMetric):
        name = "nothing"

    from xrec_bench.metrics.base import _check_metric

    assert "declares no outputs" in _check_metric(Nothing)


def test_components_list_and_info(capsys):
    assert cli(["explainers", "list"]) == 0
    out = capsys.readouterr().out
    assert "kernel-shap" in out and "built-in" in out and "model_agnostic" in out
    assert cli(["explainers", "info", "integrated-gradients"]) == 0
    out = capsys.readouterr().out
    assert "n_steps = 32  (an int in the range [1, inf))  points on the integration path" in out
    assert "needs_gradients" in out
    assert cli(["models", "info", "bpr-mf", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["version"] == "1" and info["params"]["dim"]["accepts"] == "an int in the range [1, inf)"
    assert cli(["metrics", "info", "faithfulness"]) == 0
    out = capsys.readouterr().out
    assert "deletion_auc  lower is better, faithfulness" in out and "fractions = " in out
    assert cli(["datasets", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["synthetic"]["source"] == "built-in" and rows["synthetic"]["capabilities"]["deterministic"]
    assert cli(["metrics", "info", "faithfulnes"]) == 2
    assert "Did you mean: faithfulness" in capsys.readouterr().err


def test_components_info_takes_an_import_path(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    fresh_entry_points(monkeypatch, METRICS)
    assert cli(["metrics", "info", "xrec_bench_example_plugin.metrics:Concentration"]) == 0
    out = capsys.readouterr().out
    assert "plugin xrec_bench_example_plugin 0.1.0" in out and "k = 3  (an int in the range [1, inf))" in out


def test_a_subcommand_that_fails_to_import_is_an_error(monkeypatch):
    from xrec_bench import cli as cli_pkg

    monkeypatch.setattr(cli_pkg, "SUBCOMMANDS", (*cli_pkg.SUBCOMMANDS, "no_such_subcommand"))
    with pytest.raises(ModuleNotFoundError, match="no_such_subcommand"):
        cli_pkg.build_parser()


def test_dataset_plugin_card_through_an_entry_point(tmp_path, monkeypatch):
    """An installed package may ship a card (a Path or a Card object) under ``xrec_bench.datasets``."""
    from tests.helpers.plugin_pkg import fake_install
    from xrec_bench.datasets.cards import cards_dir, dataset_source, get_card, list_cards

    pkg = tmp_path / "site" / "my_cards_pkg"
    pkg.mkdir(parents=True)
    text = (cards_dir() / "synthetic.toml").read_text().replace('name = "synthetic"', 'name = "my-synthetic"')
    (pkg / "my-synthetic.toml").write_text(text)
    (pkg / "__init__.py").write_text("from pathlib import Path\nCARD = Path(__file__).parent / 'my-synthetic.toml'\n")
    info = fake_install(tmp_path / "site", name="my-cards", version="2.0", top_level="my_cards_pkg", entry_points={})
    (info / "entry_points.txt").write_text("[xrec_bench.datasets]\nmy-synthetic = my_cards_pkg:CARD\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert "my-synthetic" in list_cards()
    card = get_card("my-synthetic")
    assert card.name == "my-synthetic" and card.contract().problems() == []
    assert dataset_source("my-synthetic") == "plugin my-cards 2.0" and dataset_source("synthetic") == "built-in"
    sys.modules.pop("my_cards_pkg", None)
