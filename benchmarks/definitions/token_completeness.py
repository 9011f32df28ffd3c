"""Token-level IG on the synthetic dataset: sum of attributions vs s_full - s_removed (metrics' removal),
and what the former [PAD]-embedding baseline summed to."""
import numpy as np
import torch
from captum.attr import LayerIntegratedGradients

from xrec_bench.datasets import load_dataset, make_split
from xrec_bench.explainers import get_explainer
from xrec_bench.explainers.targets import choose_targets
from xrec_bench.models import fit_or_load

ds = load_dataset("synthetic")
split = make_split(ds, "leave-last-out")
model = fit_or_load(ds, split, "bert-two-tower", params={"train_layers": 1, "max_steps": 100, "device": "cpu"}, seed=0)
cases = split.cases("test")
rows = list(range(8))
hist = [np.asarray(cases.histories[r], dtype=np.int64) for r in rows]
users = np.asarray([cases.users[r] for r in rows])
targets = choose_targets("top-recommendation", model, users, hist, [cases.targets[r] for r in rows])
ig = get_explainer("integrated-gradients", n_steps=16)
for u, h, t in zip(users, hist, targets, strict=True):
    task = model.feature_task("tokens", user=int(u), history=h, target=int(t))
    attr = ig.explain_task(task, seed=0).scores
    with torch.no_grad():
        s_full = task.forward(task.full_mask()).item()
        s_removed = task.forward(torch.zeros(1, task.n_features)).item()
        pad = task.forward_ids(task.baseline_ids, torch.ones_like(task.input_ids)).item()
    lig = LayerIntegratedGradients(task.forward_ids, task.embedding_layer)
    old = lig.attribute(task.input_ids, baselines=task.baseline_ids,
                        additional_forward_args=(torch.ones_like(task.input_ids),), n_steps=16).sum().item()
    print(f"user {u} F={task.n_features}: new IG sum {attr.sum():+.4f} vs s_full - s_removed {s_full - s_removed:+.4f}"
          f" (ratio {attr.sum() / (s_full - s_removed):.3f}); old [PAD] IG sum {old:+.4f} ~ s_full - s_PAD {s_full - pad:+.4f}")
