"""Suites as data: full validation with clear errors, shipped suites valid and version-locked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, fake_catalog
from xrec_bench.harness.suite import (
    Catalog,
    SuiteError,
    check_locked,
    content_hash,
    load_suite,
    lock_path,
    parse_suite,
    read_lock,
    tomllib,  # the stdlib parser (tomli on Python 3.10)
)
from xrec_bench.paths import shipped_dir


def _raw(**changes):
    raw = tomllib.loads(FAKE_SUITE_TOML)
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return raw


def test_fake_suite_parses_with_defaults():
    suite = parse_suite(_raw(), catalog=fake_catalog())
    assert (suite.name, suite.version, suite.seed, suite.seeds) == ("fake", 1, 7, (0,))
    assert [d.label for d in suite.datasets] == ["toy-a", "toy-b"]
    assert suite.datasets[1].options == {"size": 3} and suite.datasets[0].split == "leave-last-out"
    assert [e.name for e in suite.explainers][:2] == ["random", "oracle"]
    assert suite.users == {"history": 60, "tokens": 30}
    assert suite.metrics is None and suite.targets == "top-recommendation"
    assert suite.content_hash == content_hash(_raw())


def test_content_hash_ignores_layout_but_not_values():
    reformatted = "# a comment\n" + FAKE_SUITE_TOML.replace("seed = 7", "seed   =   7   # same")
    assert content_hash(tomllib.loads(reformatted)) == content_hash(_raw())
    assert content_hash(_raw(seed=8)) != content_hash(_raw())


def test_every_problem_is_reported_at_once_with_did_you_mean():
    raw = _raw(version=0, seeds=[1, 1], granularities=["history", "token"], users={"history": 0},
               explainers=["random", "oracel"], metrics=["insertion_auc", "deletion_acu"], sede=3)
    with pytest.raises(SuiteError) as err:
        parse_suite(raw, catalog=fake_catalog())
    msg = str(err.value)
    assert "'version' must be an int in the range [1, inf). Got 0 instead." in msg
    assert "'seeds' must be a non-empty list of distinct ints" in msg
    assert "unknown value 'token'. Did you mean: tokens?" in msg
    assert "'history' must be an int in the range [1, 1000000]. Got 0" in msg
    assert "unknown explainer 'oracel'. Did you mean: oracle?" in msg
    assert "unknown metric 'deletion_acu'. Did you mean: deletion_auc" in msg
    assert "unknown key 'sede'. Did you mean: seed?" in msg
    assert msg.count("\n  - ") == 7


def test_datasets_models_and_labels_are_checked():
    raw = _raw(datasets=[{"name": "toy-c"}, {"name": "toy-a", "split": "leave-one-out", "option": {}}],
               models=[{"name": "fake-two-tower"}], baselines=[{"name": "fake-two-tower"}])
    with pytest.raises(SuiteError) as err:
        parse_suite(raw, catalog=fake_catalog())
    msg = str(err.value)
    assert "unknown dataset 'toy-c'. Did you mean: toy-b, toy-a?" in msg
    assert "'split' must be one of ['leave-last-out', 'temporal']. Got 'leave-one-out' instead. Did you mean: leave-last-out?" in msg
    assert "unknown key 'option'. Did you mean: options?" in msg
    assert "labels must be unique; ['fake-two-tower']" in msg


def test_component_params_are_checked_against_the_contract():
    from xrec_bench.explainers import Explainer
    from xrec_bench.params import Int, Param

    class Oracle(Explainer):  # parameters read off the constructor's signature
        name = "oracle"

        def __init__(self, *, n_samples: int = 10, baseline: str = "zero"):
            super().__init__(n_samples=n_samples, baseline=baseline)

        def _attribute(self, task, rng):
            raise NotImplementedError

    class Declared(Oracle):  # parameters declared with ranges: every problem reported at once
        parameters = {"n_samples": Param(10, (Int(1),), "samples"), "baseline": Param("zero", ("zero", "mean"))}

    base = fake_catalog()
    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics,
                      explainer_class=lambda name: Oracle)
    raw = _raw(explainers=[{"name": "oracle", "params": {"n_sample": 5}}])
    with pytest.raises(SuiteError, match=r"'oracle' refuses its params: Unknown parameter 'n_sample' for explainer "
                                         r"'oracle'. Did you mean: n_samples\?"):
        parse_suite(raw, catalog=catalog)
    declared = Catalog(base.datasets, base.models, base.explainers, base.metrics,
                       explainer_class=lambda name: Declared)
    with pytest.raises(SuiteError) as err:
        parse_suite(_raw(explainers=[{"name": "oracle", "params": {"n_samples": 0, "baseline": "x", "k": 1}}]),
                    catalog=declared)
    msg = str(err.value)
    assert "(3 problems)" in msg and "Unknown parameter 'k'" in msg
    assert "The 'n_samples' parameter of explainer 'oracle' must be an int in the range [1, inf). Got 0 instead." in msg
    assert "The 'baseline' parameter of explainer 'oracle' must be 'zero' or 'mean'. Got 'x' instead." in msg
    ok = parse_suite(_raw(explainers=[{"name": "oracle", "label": "oracle-5", "params": {"n_samples": 5}}]),
                     catalog=catalog)
    assert ok.explainers[0].label == "oracle-5" and ok.explainers[0].params == {"n_samples": 5}


def test_explained_model_is_explained_at_the_granularities_it_supports():
    class HistoryOnly:
        explainable_granularities = ("history",)

    class FieldsOnly:
        explainable_granularities = ("fields",)

    base = fake_catalog()
    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics, model_class=lambda n: HistoryOnly)
    suite = parse_suite(_raw(), catalog=catalog)
    assert suite.granularities == ("history", "tokens")
    assert suite.granularities_for(suite.models[0]) == ("history",)
    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics, model_class=lambda n: FieldsOnly)
    with pytest.raises(SuiteError, match=r"cannot be explained at \['history', 'tokens'\]"):
        parse_suite(_raw(), catalog=catalog)


def test_a_model_can_be_explained_at_fewer_of_the_suites_granularities():
    class TwoLevels:
        explainable_granularities = ("history", "tokens")

    base = fake_catalog()
    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics, model_class=lambda n: TwoLevels)
    raw = _raw()
    model = dict(raw["models"][0])
    suite = parse_suite(_raw(models=[{**model, "granularities": ["history"]}]), catalog=catalog)
    assert suite.granularities_for(suite.models[0]) == ("history",)
    assert suite.granularities == ("history", "tokens")
    assert parse_suite(_raw(), catalog=catalog).granularities_for(suite.models[0]) == ("history", "tokens")
    with pytest.raises(SuiteError, match=r"'granularities' has unknown value 'fields'"):
        parse_suite(_raw(models=[{**model, "granularities": ["fields"]}]), catalog=catalog)

    class HistoryOnly:
        explainable_granularities = ("history",)

    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics, model_class=lambda n: HistoryOnly)
    with pytest.raises(SuiteError, match=r"lists \['tokens'\], which .* cannot be explained at"):
        parse_suite(_raw(models=[{**model, "granularities": ["tokens"]}]), catalog=catalog)
    with pytest.raises(SuiteError, match=r"baselines\[0\]: 'granularities' belongs to \[\[models\]\] entries only"):
        parse_suite(_raw(baselines=[{"name": model["name"], "label": "b", "granularities": ["history"]}]), catalog=catalog)


def test_unknown_suite_name_and_bad_toml(tmp_path):
    with pytest.raises(SuiteError, match="Unknown suite 'quik'. Did you mean: quick?"):
        load_suite("quik", catalog=fake_catalog())
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(SuiteError, match="is not valid TOML"):
        load_suite(bad, catalog=fake_catalog())


def test_users_override_caps_every_granularity():
    suite = parse_suite(_raw(), catalog=fake_catalog())
    small = suite.with_users(5)
    assert small.users == {"history": 5, "tokens": 5} and small.content_hash == suite.content_hash
    with pytest.raises(SuiteError):
        suite.with_users(0)


def test_lock_check_catches_an_edit_without_a_version_bump():
    suite = parse_suite(_raw(), catalog=fake_catalog())
    lock = {("fake", 1): suite.content_hash}
    assert check_locked(suite, lock) is None
    edited = parse_suite(_raw(seed=8), catalog=fake_catalog())
    assert "changed but its version (1) did not" in check_locked(edited, lock)
    bumped = parse_suite(_raw(seed=8, version=2), catalog=fake_catalog())
    assert "not in versions.lock; add the line: fake 2" in check_locked(bumped, lock)


SHIPPED = sorted(p.stem for p in shipped_dir("suites").glob("*.toml"))


def test_quick_and_standard_are_shipped():
    assert {"quick", "standard"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_suite_is_valid_against_the_registries(name):
    suite = load_suite(name)
    assert suite.name == name
    assert suite.explainers and suite.models and suite.datasets


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_suite_version_matches_the_lock(name):
    """Any change that can move a number bumps the suite version; released versions are never edited."""
    raw = tomllib.loads((shipped_dir("suites") / f"{name}.toml").read_text(encoding="utf-8"))
    suite = parse_suite(raw, catalog=fake_catalog_accepting_all())
    problem = check_locked(suite, read_lock())
    assert problem is None, problem


def test_lock_file_lines_are_unique():
    lines = [ln.split("#")[0].split() for ln in Path(lock_path()).read_text().splitlines() if ln.split("#")[0].strip()]
    keys = [(n, v) for n, v, _ in lines]
    assert len(keys) == len(set(keys))


def fake_catalog_accepting_all() -> Catalog:
    """Names are checked by the test above; here only the content and version matter."""

    class Anything:
        def __contains__(self, item):
            return True

        def __iter__(self):
            return iter(())

        def __bool__(self):
            return True

    return Catalog(Anything, Anything, Anything, Anything)


def test_suite_source_names_no_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Published run records say where a suite came from without the producing machine's paths."""
    assert load_suite("quick").source == "shipped:quick"
    folder = tmp_path / "work" / "suites"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text((shipped_dir("suites") / "quick.toml").read_text())
    monkeypatch.chdir(tmp_path / "work")
    source = load_suite(folder / "mine.toml").source
    assert source == "suites/mine.toml"
    assert not Path(source).is_absolute() and str(tmp_path) not in source


def test_metric_options_can_differ_per_granularity():
    raw = _raw(metric_options={"stability_users": 20, "tokens": {"stability_users": 10, "sanity_users": 5}})
    suite = parse_suite(raw, catalog=registry_like_catalog())
    assert suite.metric_options_for("history") == {"stability_users": 20}
    assert suite.metric_options_for("tokens") == {"stability_users": 10, "sanity_users": 5}


def test_metric_options_per_granularity_are_checked_there():
    with pytest.raises(SuiteError, match=r"metric_options \(tokens\): .*stability_users"):
        parse_suite(_raw(metric_options={"tokens": {"stability_users": -2}}), catalog=registry_like_catalog())
    with pytest.raises(SuiteError, match="'tokens' must be a table"):
        parse_suite(_raw(metric_options={"tokens": 3}), catalog=registry_like_catalog())


def registry_like_catalog() -> Catalog:
    """The fake catalog, checking metric options with the real metrics configuration."""
    from dataclasses import replace

    from xrec_bench.harness.suite import registry_catalog

    return replace(fake_catalog(), check_metric_options=registry_catalog().check_metric_options)


def test_a_dataset_can_set_its_own_targets():
    raw = _raw()
    raw["datasets"][0]["targets"] = "test-item"
    suite = parse_suite(raw, catalog=fake_catalog())
    assert [suite.targets_for(d) for d in suite.datasets] == ["test-item", "top-recommendation"]
    assert suite.datasets[0].as_dict()["targets"] == "test-item" and "targets" not in suite.datasets[1].as_dict()
    raw["datasets"][1]["targets"] = "top1"
    with pytest.raises(SuiteError, match=r"datasets\[1\]: 'targets' must be one of"):
        parse_suite(raw, catalog=fake_catalog())


def test_a_broken_component_is_reported_not_swallowed():
    """A catalog function that fails with anything but an unknown name (a bug in a component's own
    checks) surfaces, instead of the suite passing with the checks silently skipped."""

    def broken(name):
        raise RuntimeError("boom in the model's parameter check")

    base = fake_catalog()
    catalog = Catalog(base.datasets, base.models, base.explainers, base.metrics, model_class=broken)
    with pytest.raises(RuntimeError, match="boom in the model's parameter check"):
        parse_suite(_raw(), catalog=catalog)
