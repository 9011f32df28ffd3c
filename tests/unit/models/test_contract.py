"""Every registered model follows the Recommender contract on a tiny dataset; checkpoints round-trip;
the same seed gives the same model."""

from __future__ import annotations

import numpy as np
import pytest

from xrec_bench.models import MODELS, NotFittedError, fit_or_load, get_model
from xrec_bench.models.checkpoint import load_checkpoint, save_checkpoint

FAST = {
    "bert-two-tower": {"max_epochs": 2, "train_layers": 1, "batch_size": 16, "device": "cpu"},
    "zero-shot-text": {},
    "most-popular": {},
    "item-knn": {},
    "bpr-mf": {"max_epochs": 4, "eval_every": 1, "dim": 8},
    "sasrec": {"max_epochs": 2, "dim": 16, "batch_size": 8},
}
TEXT_MODELS = ("bert-two-tower", "zero-shot-text", "sasrec")


def params_for(name: str, tiny_bert: str) -> dict:
    params = dict(FAST.get(name, {}))
    if name in TEXT_MODELS:
        params["encoder"] = tiny_bert
    return params


def test_registry_names():
    assert set(FAST) <= set(MODELS.names())


@pytest.fixture(scope="module")
def fitted(tiny, tiny_bert):
    ds, split = tiny
    return {
        name: get_model(name, **params_for(name, tiny_bert)).fit(ds, split, seed=0) for name in MODELS.names()
    }


@pytest.mark.parametrize("name", sorted(FAST))
def test_score_and_recommend(fitted, tiny, name):
    ds, split = tiny
    model = fitted[name]
    cases = split.cases("test")
    scores = model.score(cases.users, cases.histories)
    assert scores.shape == (len(cases), ds.n_items)
    assert np.isfinite(scores).all()
    top = model.recommend(cases.users, cases.histories, 5, exclude=cases.histories)
    assert top.shape == (len(cases), 5)
    for row, hist in enumerate(cases.histories):
        assert not set(top[row]) & set(hist.tolist())
        s = scores[row, top[row]]
        assert (np.diff(s) <= 0).all()


@pytest.mark.parametrize("name", sorted(FAST))
def test_unfitted_model_says_so(name, tiny_bert):
    with pytest.raises(NotFittedError):
        get_model(name, **params_for(name, tiny_bert)).score(np.array([0]), [np.array([1])])


@pytest.mark.parametrize("name", sorted(FAST))
def test_unknown_parameter_is_refused(name):
    with pytest.raises(TypeError, match="Unknown parameter"):
        get_model(name, not_a_parameter=1)


@pytest.mark.parametrize("name", sorted(FAST))
def test_checkpoint_round_trip_gives_identical_scores(fitted, tiny, tmp_path, name):
    ds, split = tiny
    cases = split.cases("test")
    save_checkpoint(fitted[name], tmp_path / name)
    loaded = load_checkpoint(tmp_path / name)
    np.testing.assert_array_equal(
        loaded.score(cases.users, cases.histories), fitted[name].score(cases.users, cases.histories)
    )


def test_checkpoint_loading_never_unpickles(fitted, tmp_path):
    save_checkpoint(fitted["bpr-mf"], tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"config.json", "weights.safetensors"}


def test_fit_or_load_caches_and_reloads(tiny, tiny_bert, model_cache):
    ds, split = tiny
    params = params_for("bert-two-tower", tiny_bert)
    first = fit_or_load(ds, split, "bert-two-tower", params=params, seed=0, progress=False)
    assert (
        not first.from_cache_
        and first.fit_seconds_ > 0
        and first.cache_path_.is_relative_to(model_cache / "models" / "bert-two-tower")
    )
    again = fit_or_load(ds, split, "bert-two-tower", params=params, seed=0, progress=False)
    assert (
        again.from_cache_
        and again.fit_seconds_ == first.fit_seconds_
        and again.cache_path_ == first.cache_path_
    )
    other_seed = fit_or_load(ds, split, "most-popular", seed=1, progress=False)
    assert (
        other_seed.cache_path_ != fit_or_load(ds, split, "most-popular", seed=0, progress=False).cache_path_
    )
    cases = split.cases("test")
    np.testing.assert_array_equal(
        first.score(cases.users, cases.histories), again.score(cases.users, cases.histories)
    )


@pytest.mark.parametrize("name", ["bert-two-tower", "bpr-mf", "sasrec"])
def test_same_seed_same_model(fitted, tiny, tiny_bert, name):
    ds, split = tiny
    cases = split.cases("test")
    again = get_model(name, **params_for(name, tiny_bert)).fit(ds, split, seed=0)
    np.testing.assert_array_equal(
        again.score(cases.users, cases.histories), fitted[name].score(cases.users, cases.histories)
    )


def test_bpr_unknown_user_is_refused(fitted):
    with pytest.raises(ValueError, match="Unknown user index 999"):
        fitted["bpr-mf"].score(np.array([999]), [np.array([0])])


@pytest.mark.parametrize(
    "extra",
    [
        {"negatives": "in-batch", "train_layers": 0},
        {"train_layers": "all", "grad_accum": 2, "fresh_items": None},
        {"positions_per_user": None, "max_steps": 2},
    ],
)
def test_two_tower_training_variants(tiny, tiny_bert, extra):
    ds, split = tiny
    params = {**params_for("bert-two-tower", tiny_bert), **extra}
    model = get_model("bert-two-tower", **params).fit(ds, split, seed=0)
    cases = split.cases("test")
    assert np.isfinite(model.score(cases.users, cases.histories)).all()
    assert model.training_log_ and all(np.isfinite(row["loss"]) for row in model.training_log_)
    if extra.get("max_steps"):
        assert model.training_log_[-1]["steps"] <= extra["max_steps"]


def test_two_tower_bad_parameters_are_refused(tiny, tiny_bert):
    ds, split = tiny
    with pytest.raises(ValueError, match="train_layers"):
        get_model("bert-two-tower", **{**params_for("bert-two-tower", tiny_bert), "train_layers": 7}).fit(
            ds, split
        )
    with pytest.raises(ValueError, match="negatives"):
        get_model("bert-two-tower", **{**params_for("bert-two-tower", tiny_bert), "negatives": "x"}).fit(
            ds, split
        )
