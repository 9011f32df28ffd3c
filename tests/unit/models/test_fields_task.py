"""The fields granularity: a removed field drops exactly its word-pieces, the same removal as the token
granularity; text outside every field is never removed; checkpoints keep the fields."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from xrec_bench.datasets.fields import item_fields
from xrec_bench.models import get_model
from xrec_bench.models.checkpoint import load_checkpoint, save_checkpoint

FIELDS = {"names": ["title", "word"], "values": f"{__name__}:field_values"}


def field_values(row):
    """``"Item 3. space robot love."``: the title, then each word."""
    words = str(row["text"]).split(". ", 1)[1].rstrip(".").split()
    return [("title", row["title"])] + [("word", w) for w in words]


@pytest.fixture(scope="module")
def fitted(tiny, tiny_bert):
    ds, split = tiny
    ds = replace(ds, fields=FIELDS)
    return ds, get_model("zero-shot-text", encoder=tiny_bert).fit(ds, split, seed=0)


@pytest.fixture()
def case(tiny):
    cases = tiny[1].cases("test")
    return int(cases.users[0]), cases.histories[0], int(cases.targets[0][0])


def test_fields_are_the_declared_values(fitted, case):
    ds, model = fitted
    user, hist, target = case
    task = model.feature_task("fields", user=user, history=hist, target=target)
    expected = [f"{n}: {v}" for n, v in field_values(ds.items.iloc[target].to_dict())]
    assert task.feature_labels == expected
    assert task.granularity == "fields" and task.n_features == 4


def test_removing_a_field_drops_exactly_its_word_pieces(fitted, case):
    ds, model = fitted
    user, hist, target = case
    task = model.feature_task("fields", user=user, history=hist, target=target)
    spans = item_fields(ds)[target]
    enc = model.encoder_.tokenizer([task.text], truncation=True, max_length=model.encoder_.max_length)
    n_tokens = len(enc["input_ids"][0])
    for j, span in enumerate(spans):
        mask = task.full_mask()
        mask[0, j] = 0.0
        expected = torch.ones(1, n_tokens)
        for t in range(n_tokens):
            chars = enc.token_to_chars(0, t) if enc.word_ids(0)[t] is not None else None
            if chars is not None and span.start <= chars.start < span.end:
                expected[0, t] = 0.0
        assert torch.equal(task.token_mask(mask), expected), span
        assert 0 < int((expected == 0).sum()) < n_tokens - 2  # some word-pieces, never [CLS]/[SEP]
        score = task.forward(mask)
        direct = task.forward_ids(task.input_ids, expected.long())
        assert score.item() == pytest.approx(direct.item(), abs=1e-6)


def test_field_removal_equals_removing_its_words_at_token_level(fitted, case):
    _, model = fitted
    user, hist, target = case
    fields = model.feature_task("fields", user=user, history=hist, target=target)
    tokens = model.feature_task("tokens", user=user, history=hist, target=target)
    # the title "Item 3" is the first two words of the text: removing the field == removing both words
    mask_f, mask_t = fields.full_mask(), tokens.full_mask()
    mask_f[0, 0] = 0.0
    mask_t[0, :2] = 0.0
    assert tokens.feature_labels[:2] == fields.feature_labels[0].split(": ")[1].split()
    assert fields.forward(mask_f).item() == pytest.approx(tokens.forward(mask_t).item(), abs=1e-6)
    assert fields.forward(fields.full_mask()).item() == pytest.approx(tokens.forward(tokens.full_mask()).item(), abs=1e-6)


def test_text_outside_fields_is_never_removed(fitted, case):
    _, model = fitted
    user, hist, target = case
    task = model.feature_task("fields", user=user, history=hist, target=target)
    none = task.token_mask(torch.zeros(1, task.n_features))
    kept = [model.encoder_.tokenizer.convert_ids_to_tokens(int(i)) for i, m in zip(task.input_ids[0], none[0], strict=True) if m]
    assert kept == ["[CLS]", ".", ".", "[SEP]"]


def test_checkpoint_round_trip_keeps_the_fields(fitted, case, tmp_path):
    _, model = fitted
    user, hist, target = case
    save_checkpoint(model, tmp_path / "ckpt")
    again = load_checkpoint(tmp_path / "ckpt")
    a = model.feature_task("fields", user=user, history=hist, target=target)
    b = again.feature_task("fields", user=user, history=hist, target=target)
    assert a.feature_labels == b.feature_labels
    assert np.isclose(a.forward(a.full_mask()).item(), b.forward(b.full_mask()).item(), atol=1e-6)


def test_a_dataset_without_fields_says_so(tiny, tiny_bert, case):
    ds, split = tiny
    model = get_model("zero-shot-text", encoder=tiny_bert).fit(ds, split, seed=0)
    user, hist, target = case
    with pytest.raises(ValueError, match=r"declares no item-text fields .*\[fields\]"):
        model.feature_task("fields", user=user, history=hist, target=target)


@pytest.mark.parametrize("name,params", [("bert-two-tower", {"max_epochs": 1, "batch_size": 8, "train_layers": 0}),
                                         ("sasrec", {"max_epochs": 1, "dim": 16, "n_heads": 2, "batch_size": 8})])
def test_every_text_model_explains_fields_after_fit_and_reload(tiny, tiny_bert, case, name, params, tmp_path):
    ds, split = tiny
    ds = replace(ds, fields=FIELDS)
    model = get_model(name, encoder=tiny_bert, **params).fit(ds, split, seed=0)
    user, hist, target = case
    save_checkpoint(model, tmp_path / "ckpt")
    again = load_checkpoint(tmp_path / "ckpt")
    expected = [f.label for f in item_fields(ds)[target]]
    for m in (model, again):
        task = m.feature_task("fields", user=user, history=hist, target=target)
        assert task.feature_labels == expected
        full = task.forward(task.full_mask()).item()
        assert np.isclose(full, m.score(np.array([user]), [hist])[0, target], atol=1e-5)
