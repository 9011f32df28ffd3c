"""Where the two-tower runs: its encoder stays on ``device`` after fitting and loading (token- and
field-level explanations run it there, batch by batch, and hand the vectors back to the CPU); the rest
of the model lives on the CPU. The GPU test is skipped on machines without CUDA."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from xrec_bench.explainers import Request, get_explainer
from xrec_bench.models import get_model
from xrec_bench.models.masked_items import ACCELERATOR_BATCH_SIZE, DEFAULT_BATCH_SIZE, batch_size_for
from xrec_bench.models.ranking import resolve_device


def _fit(tiny, tiny_bert, device):
    ds, split = tiny
    return get_model("bert-two-tower", encoder=tiny_bert, max_steps=2, train_layers="all", batch_size=16,
                     device=device).fit(ds, split, seed=0)


def _requests(tiny, n=3):
    cases = tiny[1].cases("test")
    return [Request(user=int(cases.users[i]), target=int(cases.targets[i][0]), history=cases.histories[i])
            for i in range(n)]


def test_masked_texts_are_encoded_in_larger_batches_off_the_cpu():
    assert batch_size_for(torch.device("cpu")) == DEFAULT_BATCH_SIZE == 64
    assert batch_size_for(torch.device("cuda", 0)) == ACCELERATOR_BATCH_SIZE > DEFAULT_BATCH_SIZE


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_where_there_is_none_says_how_to_run_on_the_cpu():
    with pytest.raises(ValueError, match="torch sees none on this machine.*device='cpu'"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="Unknown device 'gpu'"):
        resolve_device("gpu")
    assert resolve_device("auto").type == "cpu"


def test_on_the_cpu_everything_stays_there(tiny, tiny_bert):
    model = _fit(tiny, tiny_bert, "cpu")
    assert model.encoder_.device.type == "cpu" and model.item_emb_.device.type == "cpu"
    req = _requests(tiny, 1)[0]
    task = model.feature_task("tokens", user=req.user, history=req.history, target=req.target)
    assert task._encode_batch == DEFAULT_BATCH_SIZE


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_token_explanations_with_the_encoder_on_the_gpu_agree_with_the_cpu(tiny, tiny_bert):
    from xrec_bench.metrics import EvalConfig, evaluate_explainer

    gpu = _fit(tiny, tiny_bert, "cuda")
    assert gpu.encoder_.device.type == "cuda" and gpu.item_emb_.device.type == "cpu"
    cpu = copy.deepcopy(gpu)
    cpu.encoder_.to("cpu")
    requests = _requests(tiny)
    task = gpu.feature_task("tokens", user=requests[0].user, history=requests[0].history, target=requests[0].target)
    assert task._encode_batch == ACCELERATOR_BATCH_SIZE
    for name in ("leave-one-out", "saliency", "input-x-gradient", "integrated-gradients", "gradient-shap", "lime",
                 "kernel-shap"):
        explainer = get_explainer(name)
        on_gpu = explainer.explain(gpu, requests, granularity="tokens", seed=0)
        on_cpu = explainer.explain(cpu, requests, granularity="tokens", seed=0)
        for a, b in zip(on_gpu, on_cpu, strict=True):
            assert a.status == b.status == "ok", (name, a.reason, b.reason)
            scale = max(float(np.abs(b.scores).max()), 1e-6)
            np.testing.assert_allclose(a.scores, b.scores, atol=2e-3 * scale, rtol=2e-3, err_msg=name)
    # the metrics, the stability re-explanations and the randomised copy (sanity) run with it too
    result = evaluate_explainer(gpu, get_explainer("leave-one-out"), requests, granularity="tokens", seed=1,
                                metrics=["faithfulness", "input-perturbation", "sanity"],
                                config=EvalConfig(stability_users=2, sanity_users=2))
    assert np.isfinite(result.per_user["deletion_auc"]).all()


def test_the_encoder_moves_inputs_to_its_device_and_results_back_differentiably(tiny_bert, monkeypatch):
    """The moving branch of the encoder's forward passes, exercised on the CPU: a device object that differs
    from the inputs' (``cpu:0`` vs ``cpu``) sends every call through it. Values and gradients must be
    those of the direct call (on a GPU, ``test_token_explanations_with_the_encoder_on_the_gpu_...``)."""
    from xrec_bench.models.encoder import TextEncoder

    enc = TextEncoder.from_pretrained(tiny_bert, max_length=16)
    batch = enc.tokenize(["a red bicycle for sale", "blue"])
    ids, mask = batch["input_ids"], batch["attention_mask"]
    positions = torch.arange(ids.shape[1]).expand_as(ids) + 3  # not the default: dropping them would show
    presence = mask.float().clone().requires_grad_(True)
    direct = enc(ids, mask, positions)
    (direct_grad,) = torch.autograd.grad(enc(ids, presence).sum(), presence)

    calls = []
    monkeypatch.setattr(TextEncoder, "device", property(lambda self: calls.append(1) or torch.device("cpu", 0)))
    moved = enc(ids, mask, positions)
    presence2 = mask.float().clone().requires_grad_(True)
    (moved_grad,) = torch.autograd.grad(enc(ids, presence2).sum(), presence2)
    assert len(calls) >= 2  # both forward passes asked for the device and took the moving branch
    torch.testing.assert_close(moved, direct, rtol=0, atol=0)
    torch.testing.assert_close(moved_grad, direct_grad, rtol=0, atol=0)
