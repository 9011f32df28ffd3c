"""Decoder (GPT-style) encoders: a tiny random GPT-2 with a word-level tokenizer, both built offline.
Last-token and mean pooling; removing a word equals deleting it (causal attention); the text models
train on it, explain its words and are evaluated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.unit.models.conftest import WORDS
from xrec_bench.explainers import Request, get_explainer
from xrec_bench.metrics import evaluate_explainer
from xrec_bench.models import get_model
from xrec_bench.models.encoder import TextEncoder


@pytest.fixture(scope="session")
def tiny_gpt(tmp_path_factory) -> str:
    """A folder with a random 2-layer GPT-2 (n_embd 32) and a word-level tokenizer (no special tokens
    around a text, so the last token is a word and last-token pooling reads a word)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny-gpt")
    vocab = ["[UNK]", "[PAD]", "[EOS]", "Item", ".", *WORDS, *(str(i) for i in range(100))]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", eos_token="[EOS]")  # no pad token
    fast.save_pretrained(path)
    torch.manual_seed(0)
    GPT2Model(GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=32, n_layer=2, n_head=2)).save_pretrained(path)
    return str(path)


def test_decoder_is_detected_and_pools_the_last_token(tiny_gpt):
    enc = TextEncoder.from_pretrained(tiny_gpt)
    assert enc.causal and enc.pooling == "last" and enc.tokenizer.pad_token is not None
    batch = enc.tokenize(["Item 1. space robot", "Item 2. war"])  # right-padded
    out = enc(batch["input_ids"], batch["attention_mask"])
    alone = enc.tokenize(["Item 2. war"])
    torch.testing.assert_close(out[1], enc(alone["input_ids"], alone["attention_mask"])[0], atol=1e-5, rtol=0)
    hidden = enc.model(input_ids=alone["input_ids"]).last_hidden_state
    torch.testing.assert_close(enc(alone["input_ids"], alone["attention_mask"])[0], hidden[0, -1], atol=1e-5, rtol=0)
    mean = TextEncoder.from_pretrained(tiny_gpt, pooling="mean")
    torch.testing.assert_close(mean(alone["input_ids"], alone["attention_mask"])[0], hidden[0].mean(0),
                               atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="pooling must be one of"):
        TextEncoder.from_pretrained(tiny_gpt, pooling="cls")


@pytest.mark.parametrize("pooling", ["last", "mean"])
@pytest.mark.parametrize("removed", [[0], [2], [4], [1, 4], [0, 1, 2, 3]])
def test_removing_words_equals_deleting_them(tiny_gpt, pooling, removed):
    enc = TextEncoder.from_pretrained(tiny_gpt, pooling=pooling)
    words = ["Item", "7", "ghost", "king", "ocean"]
    full = enc.tokenize([" ".join(words)])
    mask = full["attention_mask"].clone()
    mask[0, removed] = 0  # one token per word here
    shorter = enc.tokenize([" ".join(w for i, w in enumerate(words) if i not in removed)])
    torch.testing.assert_close(enc(full["input_ids"], mask), enc(shorter["input_ids"], shorter["attention_mask"]),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,params", [
    ("bert-two-tower", {"max_epochs": 1, "train_layers": "all", "batch_size": 16, "device": "cpu"}),
    ("sasrec", {"max_epochs": 1, "dim": 16, "batch_size": 8}),
    ("zero-shot-text", {"pooling": "mean"}),
])
def test_decoder_round_trip_train_explain_evaluate(tiny, tiny_gpt, name, params):
    ds, split = tiny
    model = get_model(name, encoder=tiny_gpt, **params).fit(ds, split, seed=0)
    assert model.encoder_.causal
    cases = split.cases("test")
    hist = cases.histories[0]
    target = int(model.recommend(cases.users[:1], [hist], 1, exclude=[hist])[0, 0])
    req = Request(int(cases.users[0]), target, hist)
    task = model.feature_task("tokens", user=req.user, history=hist, target=target)
    assert task.n_features >= 3 and task.forward(task.full_mask()).item() == pytest.approx(
        float(model.score(cases.users[:1], [hist])[0, target]), abs=1e-5)
    for explainer in ("leave-one-out", "saliency", "kernel-shap"):
        result = evaluate_explainer(model, get_explainer(explainer), [req], granularity="tokens", seed=0,
                                    metrics=["deletion_auc", "comprehensiveness"])
        assert result.explanations[0].ok, result.explanations[0].reason
        assert np.isfinite(result.per_user["deletion_auc"]).all()
    # a path over a soft word presence is defined for mean-pooled bidirectional encoders only: said, not crashed
    skipped = get_explainer("integrated-gradients").explain(model, [req], granularity="tokens", seed=0)[0]
    assert not skipped.ok and "soft word presence" in skipped.reason
