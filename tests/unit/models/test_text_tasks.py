"""Feature tasks of the text models: removal semantics at both granularities, empty history,
gradients, bad input, and the randomised copy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tests.unit.models.conftest import quick_params, text_models
from xrec_bench.models import get_model

TEXT_MODELS = text_models()  # from the registry: every model explainable at the token level


@pytest.fixture(scope="module")
def models(tiny, tiny_bert):
    ds, split = tiny
    fitted = {}
    for name in TEXT_MODELS:
        params = quick_params(name, tiny_bert)
        if "max_epochs" in params:
            params["max_epochs"] = 1
        fitted[name] = get_model(name, **params).fit(ds, split, seed=0)
    return fitted


@pytest.fixture()
def case(tiny):
    cases = tiny[1].cases("test")
    return int(cases.users[0]), cases.histories[0], int(cases.targets[0][0])


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_history_task_matches_model_score(models, case, name):
    user, hist, target = case
    model = models[name]
    task = model.feature_task("history", user=user, history=hist, target=target)
    full = model.score(np.array([user]), [hist])[0]
    assert task.forward(task.full_mask()).item() == pytest.approx(full[target], abs=1e-6)
    _, rank = task.score_and_rank(task.full_mask())
    masked = full.astype(np.float64).copy()
    masked[hist] = -np.inf
    expected = 1 + (masked > masked[target]).sum() + (masked[:target] == masked[target]).sum()
    assert rank[0] == expected
    assert task.feature_embeddings.shape[0] == task.n_features and task.target_embedding.ndim == 1


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_weight_zero_history_item_is_truly_absent(models, case, name):
    user, hist, target = case
    model = models[name]
    if name == "bert-two-tower":  # make recency matter, so that a shifted rank would show
        model = copy.deepcopy(model)
        with torch.no_grad():
            model.head_.user_tower.position_bias.normal_(generator=torch.Generator().manual_seed(0))
    task = model.feature_task("history", user=user, history=hist, target=target)
    for j in range(task.n_features):
        mask = task.full_mask()
        mask[0, j] = 0.0
        without = model.feature_task(
            "history", user=user, history=np.delete(hist, j), target=target, exclude=hist
        )
        # equal up to float rounding (the softmax's max shift includes the removed item's logit)
        assert task.forward(mask).item() == pytest.approx(
            without.forward(without.full_mask()).item(), abs=1e-5
        )
        np.testing.assert_allclose(
            task._all_scores(mask).detach().numpy(),
            without._all_scores(without.full_mask()).detach().numpy(),
            atol=1e-5,
        )


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_empty_history_is_defined(models, case, name):
    user, hist, target = case
    model = models[name]
    task = model.feature_task("history", user=user, history=hist, target=target)
    empty = task.forward(torch.zeros(1, task.n_features))
    assert torch.isfinite(empty).all()
    assert np.isfinite(model.score(np.array([user]), [np.array([], dtype=np.int64)])).all()
    no_history = model.feature_task("history", user=user, history=np.array([], dtype=np.int64), target=target)
    assert no_history.n_features == 0
    assert no_history.forward(torch.zeros(1, 0)).item() == pytest.approx(empty.item(), abs=1e-6)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_history_mask_gradients_and_attention(models, case, name):
    user, hist, target = case
    task = models[name].feature_task("history", user=user, history=hist, target=target)
    mask = torch.full((1, task.n_features), 0.5, requires_grad=True)
    task.forward(mask).sum().backward()
    assert torch.isfinite(mask.grad).all() and mask.grad.abs().sum() > 0
    att = task.attention()
    assert att.shape == (task.n_features,) and (att >= 0).all() and att.sum() <= 1 + 1e-6


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_token_task_removal_semantics(models, tiny, case, name):
    user, hist, target = case
    model = models[name]
    task = model.feature_task("tokens", user=user, history=hist, target=target)
    text = tiny[0].item_texts[target]
    assert task.n_features == len(task.feature_labels) > 0 and all(w in text for w in task.feature_labels)
    assert task.input_ids.shape == task.word_of_token.unsqueeze(0).shape == task.baseline_ids.shape
    specials = task.word_of_token < 0
    assert torch.equal(task.baseline_ids[0, specials], task.input_ids[0, specials])
    full = model.score(np.array([user]), [hist])[0, target]
    assert task.forward(task.full_mask()).item() == pytest.approx(full, abs=1e-5)
    # dropping word j = dropping its word-pieces from the attention mask, nothing else
    j = task.n_features - 1
    mask = task.full_mask()
    mask[0, j] = 0
    tok = torch.ones_like(task.input_ids)
    tok[0, task.word_of_token == j] = 0
    assert task.forward(mask).item() == pytest.approx(task.forward_ids(task.input_ids, tok).item(), abs=1e-6)
    assert task.forward(mask).item() != pytest.approx(task.forward(task.full_mask()).item(), abs=1e-7)
    scores = task._all_scores(mask)
    assert scores[0, target].item() == pytest.approx(task.forward(mask).item(), abs=1e-6)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_forward_ids_is_differentiable_through_the_embeddings(models, case, name):
    user, hist, target = case
    task = models[name].feature_task("tokens", user=user, history=hist, target=target)
    grads = []

    def keep_grad(module, inputs, output):
        output.register_hook(grads.append)

    handle = task.embedding_layer.register_forward_hook(keep_grad)
    try:
        task.forward_ids(task.input_ids, torch.ones_like(task.input_ids)).sum().backward()
    finally:
        handle.remove()
    assert grads and torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_text_without_words_gives_zero_features(models, case, name):
    user, hist, target = case
    model = models[name]
    saved = model.item_texts_[target]
    model.item_texts_[target] = "   "
    try:
        task = model.feature_task("tokens", user=user, history=hist, target=target)
    finally:
        model.item_texts_[target] = saved
    assert task.n_features == 0 and torch.isfinite(task.forward(torch.zeros(1, 0))).all()


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_bad_input_is_refused_clearly(models, case, name):
    user, hist, target = case
    model = models[name]
    with pytest.raises(ValueError, match="already in the history"):
        model.feature_task("history", user=user, history=hist, target=int(hist[0]))
    with pytest.raises(ValueError, match="Unknown item index"):
        model.feature_task("tokens", user=user, history=hist, target=10_000)
    with pytest.raises(ValueError, match="granularity"):
        model.feature_task("pixels", user=user, history=hist, target=target)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_randomized_changes_scores_and_leaves_the_original(models, case, name):
    user, hist, target = case
    model = models[name]
    before = model.score(np.array([user]), [hist])
    rand = model.randomized(seed=1)
    after = rand.score(np.array([user]), [hist])
    assert not np.allclose(before, after, atol=1e-4)
    np.testing.assert_array_equal(model.score(np.array([user]), [hist]), before)
    assert rand.feature_task("history", user=user, history=hist, target=target).n_features == len(hist)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_soft_word_presence_at_0_and_1_is_the_metrics_removal(models, case, name):
    user, hist, target = case
    task = models[name].feature_task("tokens", user=user, history=hist, target=target)
    rng = np.random.default_rng(0)
    masks = torch.as_tensor(rng.integers(0, 2, size=(4, task.n_features)), dtype=torch.float32)
    masks[0] = 1.0
    masks[1] = 0.0
    binary = task.forward(masks)  # the metrics' removal: word-pieces out of BERT's own attention mask
    soft = task.forward_ids(task.input_ids.expand(4, -1), task.token_mask(masks).float())
    np.testing.assert_allclose(soft.detach().numpy(), binary.numpy(), atol=1e-5)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_token_integrated_gradients_is_complete_against_the_metrics_removal(models, tiny, name):
    from xrec_bench.explainers import get_explainer

    ds, split = tiny
    cases = split.cases("test")
    ig = get_explainer("integrated-gradients", n_steps=32)
    for row in range(3):
        user, hist, target = int(cases.users[row]), cases.histories[row], int(cases.targets[row][0])
        task = models[name].feature_task("tokens", user=user, history=hist, target=target)
        attr = ig.explain_task(task, seed=0).scores
        with torch.no_grad():
            s_full = task.forward(task.full_mask()).item()
            s_removed = task.forward(torch.zeros(1, task.n_features)).item()  # every word removed, metrics' way
        assert abs(s_full - s_removed) > 1e-4
        assert attr.sum() == pytest.approx(s_full - s_removed, rel=0.05)
