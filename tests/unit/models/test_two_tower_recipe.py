"""The two-tower training recipe: the item-ID embedding (trains, scores, explains at both
granularities, cold items keep their text vector) and no test leakage (the test split is never read
by training or early stopping)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xrec_bench.datasets.schema import EvalCases
from xrec_bench.models import get_model

RECIPE = {
    "max_epochs": 3, "train_layers": 0, "batch_size": 8, "device": "cpu", "item_ids": True,
    "id_lr": 0.01, "positions_per_user": None, "patience": 3,
}


def _with_cold_item(split, item: int):
    """The split with every training interaction of ``item`` dropped (so it is cold in training)."""
    return dataclasses.replace(split, train=split.train[split.train["item"] != item])


@pytest.fixture(scope="module")
def id_model(tiny, tiny_bert):
    ds, split = tiny
    return get_model("bert-two-tower", encoder=tiny_bert, **RECIPE).fit(ds, _with_cold_item(split, 0), seed=0)


@pytest.fixture()
def case(tiny):
    cases = tiny[1].cases("test")
    return int(cases.users[0]), cases.histories[0], int(cases.targets[0][0])


def test_item_ids_train_and_score(id_model, tiny):
    _, split = tiny
    cases = split.cases("test")
    scores = id_model.score(cases.users, cases.histories)
    assert scores.shape == (len(cases), id_model.n_items) and np.isfinite(scores).all()
    ids = id_model.head_.item_ids
    assert ids is not None and float(ids.weight.detach()[ids.active > 0].abs().sum()) > 0  # the ID vectors learned
    # item vectors = text part + ID part, the same through the cache and through the item tower
    torch.testing.assert_close(id_model.encode_items(), id_model.item_emb_, atol=1e-5, rtol=1e-5)


def test_cold_items_rely_on_their_text(id_model):
    ids = id_model.head_.item_ids
    assert float(ids.active[0]) == 0.0 and float(ids.active.sum()) > 0
    assert torch.count_nonzero(ids(torch.tensor([0]))) == 0
    text_only = super(type(id_model), id_model).encode_items()
    torch.testing.assert_close(text_only[0], id_model.item_emb_[0], atol=1e-6, rtol=1e-6)
    assert not torch.allclose(text_only[1:], id_model.item_emb_[1:])


def test_item_ids_checkpoint_round_trip(id_model, tiny, tmp_path):
    from xrec_bench.models.checkpoint import load_checkpoint, save_checkpoint

    cases = tiny[1].cases("test")
    again = load_checkpoint(save_checkpoint(id_model, tmp_path / "ckpt"))
    np.testing.assert_array_equal(
        again.score(cases.users, cases.histories), id_model.score(cases.users, cases.histories)
    )
    torch.testing.assert_close(again.head_.item_ids.active, id_model.head_.item_ids.active)


def test_item_ids_explain_at_both_granularities(id_model, case):
    user, hist, target = case
    expected = id_model.score(np.array([user]), [hist])[0, target]
    history = id_model.feature_task("history", user=user, history=hist, target=target)
    tokens = id_model.feature_task("tokens", user=user, history=hist, target=target)
    # the full mask is the model's own score at both granularities (the token task includes the ID part)
    assert float(history.forward(history.full_mask())[0].detach()) == pytest.approx(float(expected), abs=1e-5)
    assert float(tokens.forward(tokens.full_mask())[0]) == pytest.approx(float(expected), abs=1e-5)
    # removing a history item removes it, ID vector and all: the model run without it
    without = id_model.score(np.array([user]), [hist[1:]])[0, target]
    mask = history.full_mask()
    mask[0, 0] = 0.0
    assert float(history.forward(mask)[0].detach()) == pytest.approx(float(without), abs=1e-5)
    # removing every word leaves the ID vector: the token features explain the text part only
    ids = id_model.head_.item_ids
    empty = tokens.forward(torch.zeros(1, tokens.n_features))
    if float(ids.active[target]) > 0:
        specials_only = tokens.token_mask(torch.zeros(1, tokens.n_features)).long()
        with torch.no_grad():
            item = id_model._item_fn(tokens.input_ids, specials_only) + ids(torch.tensor([target]))
            expected_empty = torch.nn.functional.cosine_similarity(id_model.user_vectors([hist]), item)
        assert float(empty[0]) == pytest.approx(float(expected_empty[0]), abs=1e-5)


def test_randomized_redraws_the_id_vectors(id_model):
    clone = id_model.randomized(seed=1)
    assert not torch.allclose(clone.head_.item_ids.weight, id_model.head_.item_ids.weight)
    assert torch.count_nonzero(clone.head_.item_ids(torch.tensor([0]))) == 0  # cold stays text-only


def test_training_never_reads_the_test_split(tiny, tiny_bert):
    """Training and early stopping see ``split.train`` and the validation cases only: replacing the
    test interactions and test cases by nonsense changes nothing in the fitted model."""
    ds, split = tiny
    params = {**RECIPE, "encoder": tiny_bert}
    ref = get_model("bert-two-tower", **params).fit(ds, split, seed=0)
    junk_cases = EvalCases(split.test_cases.users, [np.array([1, 2, 3])] * len(split.test_cases),
                           [np.array([4])] * len(split.test_cases))
    junk = dataclasses.replace(split, test=split.test.iloc[:0], test_cases=junk_cases)
    other = get_model("bert-two-tower", **params).fit(ds, junk, seed=0)
    torch.testing.assert_close(other.item_emb_, ref.item_emb_, atol=0, rtol=0)
    assert [r["valid_ndcg@10"] for r in other.training_log_] == [r["valid_ndcg@10"] for r in ref.training_log_]


def test_early_stopping_follows_the_validation_cases(tiny, tiny_bert):
    """The per-epoch validation NDCG@10 is computed on the validation cases: other validation
    targets give other values (and the test cases are not what it reads, see above)."""
    ds, split = tiny
    params = {**RECIPE, "encoder": tiny_bert, "max_epochs": 2, "patience": 2}
    ref = get_model("bert-two-tower", **params).fit(ds, split, seed=0)
    vc = split.valid_cases
    shifted = EvalCases(vc.users, vc.histories, [np.array([(int(t[0]) + 1) % ds.n_items]) for t in vc.targets])
    other = get_model("bert-two-tower", **params).fit(ds, dataclasses.replace(split, valid_cases=shifted), seed=0)
    assert [r["valid_ndcg@10"] for r in other.training_log_] != [r["valid_ndcg@10"] for r in ref.training_log_]


def test_item_id_parameters_are_checked(tiny_bert):
    with pytest.raises(ValueError, match="'item_ids' parameter of model 'bert-two-tower' must be True or False"):
        get_model("bert-two-tower", encoder=tiny_bert, item_ids="yes")
    with pytest.raises(ValueError, match="'id_min_count'"):
        get_model("bert-two-tower", encoder=tiny_bert, id_min_count=0)
