"""Plugins: explainers named ``package.module:Class`` or registered through entry points; their
provenance in cells, cache keys and leaderboard rows. (End to end: tests/integration/test_example_plugin.py.)"""

from __future__ import annotations

import sys

import pytest

import xrec_bench.explainers  # noqa: F401  (registers the built-ins)
from tests.helpers.plugin_pkg import ENTRY, EXAMPLE, fake_install, fresh_entry_points
from xrec_bench.explainers.base import EXPLAINERS, Explainer
from xrec_bench.harness import fingerprint
from xrec_bench.harness.suite import SuiteError, parse_suite
from xrec_bench.leaderboard.tables import Row
from xrec_bench.registry import PluginError, Registry, is_import_name


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    fresh_entry_points(monkeypatch, EXPLAINERS)


class NoName(Explainer):
    def _attribute(self, task, rng):
        return [0.0] * task.n_features


class Abstract(Explainer):
    name = "abstract"


def test_import_names():
    assert is_import_name("pkg.mod:Cls") and is_import_name("m:Outer.Inner")
    for bad in ("saliency", "pkg.mod", ":Cls", "pkg.mod:", "a b:C", "pkg/mod:C"):
        assert not is_import_name(bad)


def test_module_colon_name_resolves_and_carries_provenance(example):
    cls = EXPLAINERS.get(ENTRY)
    assert cls.__name__ == "RecencyExplainer" and ENTRY in EXPLAINERS
    assert EXPLAINERS.plugin(ENTRY) == {"package": "xrec_bench_example_plugin", "version": "0.1.0", "entry": ENTRY}
    assert EXPLAINERS.plugin("saliency") is None
    assert EXPLAINERS.plugin("xrec_bench.explainers.gradient:SaliencyExplainer") is None  # a built-in by its path


@pytest.mark.parametrize(("name", "says"), [
    ("no_such_pkg_xyz.mod:Cls", "module 'no_such_pkg_xyz.mod' is not importable"),
    ("tests.unit.test_plugins:Missing", "has no attribute 'Missing'"),
    ("tests.unit.test_plugins:test_import_names", "expected a subclass of xrec_bench.explainers.Explainer"),
    ("tests.unit.test_plugins:Abstract", "does not implement _attribute"),
])
def test_plugin_errors_say_why(name, says):
    with pytest.raises(PluginError, match="Cannot") as err:
        EXPLAINERS.get(name)
    assert says in str(err.value)
    assert name not in EXPLAINERS and says in EXPLAINERS.unknown_message(name)


def test_unknown_plain_name_mentions_plugins():
    assert "entry-point group 'xrec_bench.explainers'" in EXPLAINERS.unknown_message("salency")
    assert "Did you mean: saliency?" in EXPLAINERS.unknown_message("salency")


def test_entry_points_of_installed_packages(example, tmp_path, monkeypatch):
    site = tmp_path / "site"
    fake_install(site)
    monkeypatch.syspath_prepend(str(site))
    assert "recency" in EXPLAINERS.names()
    assert EXPLAINERS.get("recency").name == "recency"
    assert EXPLAINERS.plugin("recency") == {"package": "xrec-bench-example-plugin", "version": "0.1.0", "entry": ENTRY}
    # with the distribution installed, a module:Class name finds it too
    EXPLAINERS._plugins.pop(ENTRY, None)
    assert EXPLAINERS.plugin(ENTRY)["package"] == "xrec-bench-example-plugin"


def test_entry_point_that_is_not_an_explainer(tmp_path, monkeypatch):
    site = tmp_path / "site"
    fake_install(site, name="broken-plugin", top_level="json", entry_points={"broken": "json:dumps"})
    monkeypatch.syspath_prepend(str(site))
    reg = Registry("explainer", check=lambda obj: "nope", entry_points="xrec_bench.explainers")
    assert "broken" in reg.names()
    with pytest.raises(PluginError, match="entry point 'json:dumps'.*nope"):
        reg.get("broken")


def test_entry_point_cannot_shadow_a_builtin(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    fake_install(site, name="shadow", top_level="json", entry_points={"saliency": "json:dumps"})
    monkeypatch.syspath_prepend(str(site))
    fresh_entry_points(monkeypatch, EXPLAINERS)
    assert EXPLAINERS.get("saliency").__name__ == "SaliencyExplainer"
    assert "already registered" in caplog.text


def _suite(explainers):
    return {"name": "p", "version": 1, "seed": 0, "seeds": [0], "granularities": ["history"],
            "users": {"history": 3}, "datasets": [{"name": "synthetic"}], "models": [{"name": "zero-shot-text"}],
            "explainers": explainers}


def test_suite_names_a_plugin(example):
    suite = parse_suite(_suite([ENTRY, {"name": ENTRY, "label": "recency-slow", "params": {"decay": 0.5}}]))
    assert [(e.name, e.label, e.params) for e in suite.explainers] == [
        (ENTRY, "recency", {}), (ENTRY, "recency-slow", {"decay": 0.5})]


def test_suite_plugin_problems_reported_together(example):
    with pytest.raises(SuiteError) as err:
        parse_suite(_suite(["no_such_pkg_xyz:Cls", {"name": ENTRY, "params": {"decoy": 1}},
                            "tests.unit.test_plugins:NoName"]))
    text = str(err.value)
    assert "3 problems" in text
    assert "explainers[0]: Cannot load explainer 'no_such_pkg_xyz:Cls': module 'no_such_pkg_xyz' is not importable" in text
    assert ("explainers[1]: 'xrec_bench_example_plugin.explainers:RecencyExplainer' refuses its params: Unknown "
            "parameter 'decoy' for explainer 'recency'. Did you mean: decay?") in text
    assert "explainers[2]: 'tests.unit.test_plugins:NoName' needs a 'label'" in text


def test_suite_checks_a_plugin_metric_and_its_parameters(example, monkeypatch):
    from tests.helpers.plugin_pkg import METRIC_ENTRY
    from xrec_bench.metrics.base import METRICS

    fresh_entry_points(monkeypatch, METRICS)
    raw = {**_suite(["random"]), "metrics": ["deletion_auc", METRIC_ENTRY],
           "metric_options": {"extra": {"k": 0}, "history": {"extra": {"k": "two"}}}}
    with pytest.raises(SuiteError) as err:
        parse_suite(raw)
    text = str(err.value)
    assert "2 problems" in text
    assert "The 'k' parameter of metric 'concentration' must be an int in the range [1, inf). Got 0 instead." in text
    assert "Got 'two' instead." in text
    ok = parse_suite({**raw, "metric_options": {"extra": {"k": 2}}})
    assert ok.metrics == ("deletion_auc", METRIC_ENTRY)


def test_plugin_fingerprint_covers_its_package_and_version(example, tmp_path, monkeypatch):
    pkg = tmp_path / "myplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("__version__ = '1.0'\n")
    (pkg / "helpers.py").write_text("WEIGHT = 1\n")
    (pkg / "explainers.py").write_text(
        "from xrec_bench.explainers import Explainer\n"
        "class Mine(Explainer):\n    name = 'mine'\n    def _attribute(self, task, rng):\n        return [0.0]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    plugin = EXPLAINERS.plugin("myplug.explainers:Mine")
    assert plugin == {"package": "myplug", "version": "1.0", "entry": "myplug.explainers:Mine"}
    fingerprint.module_sources.cache_clear()
    before = fingerprint.code_fingerprint("myplug.explainers", plugin=plugin)
    assert before["plugin"] == "myplug 1.0"
    (pkg / "helpers.py").write_text("WEIGHT = 2\n")  # a helper the explainer may import: a new key
    fingerprint.module_sources.cache_clear()
    after = fingerprint.code_fingerprint("myplug.explainers", plugin=plugin)
    assert after["explainer"] != before["explainer"] and after["metrics"] == before["metrics"]
    fingerprint.module_sources.cache_clear()


def test_leaderboard_row_marks_plugins():
    row = Row("recency", "ok", "", 3, model_blind=True,
              plugin={"package": "xrec-bench-example-plugin", "version": "0.1.0", "entry": "recency"})
    assert row.label == "recency (data baseline) (plugin xrec-bench-example-plugin 0.1.0)"
    assert Row("saliency", "ok", "", 3).label == "saliency"


def test_registered_name_wins_over_an_entry_point_loaded_first(tmp_path, monkeypatch, caplog):
    site = tmp_path / "site"
    fake_install(site, name="early", top_level="json", entry_points={"alpha": "json:dumps"})
    monkeypatch.syspath_prepend(str(site))
    reg = Registry("explainer", check=lambda obj: None, entry_points="xrec_bench.explainers")
    assert "alpha" in reg.names() and reg.plugin("alpha")["package"] == "early"
    assert not reg.is_registered("alpha")
    reg.register("alpha", "json:loads")  # e.g. built-ins registered after a plugin listing
    import json

    assert reg.get("alpha") is json.loads and reg.plugin("alpha") is None and "shadowed" in caplog.text
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha", "json:dumps")


def test_api_accepts_classes_that_are_not_importable_by_name(monkeypatch):
    from xrec_bench.api import _explainer_entry

    monkeypatch.setattr(EXPLAINERS, "_entries", dict(EXPLAINERS._entries))
    monkeypatch.setattr(EXPLAINERS, "_plugins", dict(EXPLAINERS._plugins))

    def make():
        class Local(Explainer):
            name = "local"

            def _attribute(self, task, rng):
                return [0.0] * task.n_features

        return Local

    first, second = make(), make()
    name, params, instance = _explainer_entry(first(), None)
    assert name == f"{first.__module__}:test_api_accepts_classes_that_are_not_importable_by_name.make.Local"
    assert EXPLAINERS.get(name) is first and instance is not None and params == {}
    assert EXPLAINERS.plugin(name) == {"package": first.__module__.split(".")[0], "version": "unknown", "entry": name}
    assert _explainer_entry(first, {"a": 1})[:2] == (name, {"a": 1})  # the same class: the same name
    other = _explainer_entry(second, None)[0]
    assert other != name and EXPLAINERS.get(other) is second
    suite = parse_suite(_suite([other]))
    assert suite.explainers[0].label == "local"
    with pytest.raises(TypeError, match="not both"):
        _explainer_entry(first(), {"a": 1})


def test_registries_without_a_check_import_nothing_by_name():
    plain = Registry("thing")
    assert "os:system" not in plain
    with pytest.raises(KeyError, match="Unknown thing 'os:system'"):
        plain.get("os:system")
    with pytest.raises(ValueError, match="needs a 'check'"):
        Registry("thing", entry_points="some.group")


def test_model_plugin_must_be_a_recommender():
    from xrec_bench.models.base import MODELS

    assert "os:system" not in MODELS
    with pytest.raises(PluginError, match="expected a subclass of xrec_bench.models.base.Recommender"):
        MODELS.get("os:system")


def test_plugin_whose_import_fails(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin_mod.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match="importing 'broken_plugin_mod' raised RuntimeError: boom"):
        EXPLAINERS.get("broken_plugin_mod:X")


def test_suite_names_a_model_plugin_by_import_path():
    raw = {**_suite(["random"]), "models": [{"name": "tests.helpers.toy:ToyModel"}]}
    suite = parse_suite(raw)
    assert (suite.models[0].name, suite.models[0].label) == ("tests.helpers.toy:ToyModel", "toy")
    with pytest.raises(SuiteError, match="models\\[0\\]: Cannot use model 'json:dumps'.*expected a subclass"):
        parse_suite({**raw, "models": [{"name": "json:dumps", "label": "j"}]})
