"""BPR matrix factorisation (Rendle et al., 2009): user and item factors (+ item bias) trained on
(user, positive, uniformly sampled negative) triples; early stopping on validation NDCG@10.

An id-based model: ``score`` uses the user index and ignores the history (users unseen in
training get the factors they were initialised with, i.e. no information)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from xrec_bench.models.base import NotFittedError, Recommender
from xrec_bench.models.ranking import EarlyStopping, check_users, ndcg_at_k, subsample_cases
from xrec_bench.params import Int, Real

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "dim": 64,
    "lr": 5e-3,
    "reg": 1e-5,  # L2 on the factors of each triple
    "batch_size": 1024,
    "max_epochs": 100,
    "eval_every": 5,  # epochs between validation checks
    "patience": 3,  # checks without gain before stopping
    "valid_users": 2000,
}


class BPRMF(Recommender):
    name = "bpr-mf"
    version: ClassVar[str] = "1"

    defaults = DEFAULTS
    constraints = {"dim": (Int(1),), "lr": (Real(0, low_open=True),), "reg": (Real(0),), "batch_size": (Int(1),),
                   "max_epochs": (Int(1),), "eval_every": (Int(1),), "patience": (Int(1),), "valid_users": (Int(1),)}

    def fit(self, dataset, split, *, seed: int = 0, progress: bool = False) -> BPRMF:
        from tqdm.auto import trange

        p = self.params
        gen = torch.Generator().manual_seed(int(seed))
        n_users, n_items, dim = dataset.n_users, dataset.n_items, int(p["dim"])
        user_f = (torch.randn(n_users, dim, generator=gen) * 0.1).requires_grad_()
        item_f = (torch.randn(n_items, dim, generator=gen) * 0.1).requires_grad_()
        item_b = torch.zeros(n_items, requires_grad=True)
        opt = torch.optim.Adam([user_f, item_f, item_b], lr=float(p["lr"]))
        users = torch.as_tensor(split.train["user"].to_numpy(np.int64, copy=True))
        items = torch.as_tensor(split.train["item"].to_numpy(np.int64, copy=True))
        vusers, vhist, vtgt = subsample_cases(split.cases("valid"), p["valid_users"], seed)
        stopper = EarlyStopping(p["patience"])
        self.training_log_ = []
        reg, bs = float(p["reg"]), int(p["batch_size"])
        for epoch in trange(int(p["max_epochs"]), desc="bpr-mf", disable=not progress, leave=False):
            order = torch.randperm(len(users), generator=gen)
            negs = torch.randint(0, n_items, (len(users),), generator=gen)
            for s in range(0, len(order), bs):
                idx = order[s : s + bs]
                u, i, j = user_f[users[idx]], item_f[items[idx]], item_f[negs[idx]]
                x = (u * (i - j)).sum(dim=1) + item_b[items[idx]] - item_b[negs[idx]]
                loss = -F.logsigmoid(x).mean() + reg * (
                    u.pow(2).sum() + i.pow(2).sum() + j.pow(2).sum()
                ) / len(idx)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if (epoch + 1) % int(p["eval_every"]) == 0 or epoch + 1 == int(p["max_epochs"]):
                with torch.no_grad():
                    scores = (user_f[torch.from_numpy(vusers)] @ item_f.T + item_b).numpy()
                ndcg = ndcg_at_k(scores, vtgt, vhist, 10)
                self.training_log_.append({"epoch": epoch + 1, "loss": loss.item(), "valid_ndcg@10": ndcg})
                log.info("bpr-mf epoch %d: valid NDCG@10 %.4f", epoch + 1, ndcg)
                if stopper.update(ndcg, lambda: [user_f.detach(), item_f.detach(), item_b.detach()]):
                    break
        self.user_f_, self.item_f_, self.item_b_ = stopper.best_state
        return self

    def score(self, users: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
        if getattr(self, "user_f_", None) is None:
            raise NotFittedError("BPRMF is not fitted: call fit(dataset, split) first.")
        users = check_users(users, self.user_f_.shape[0], self.name)
        with torch.no_grad():
            return (self.user_f_[torch.from_numpy(users)] @ self.item_f_.T + self.item_b_).numpy()

    def _fitted_config(self) -> dict[str, Any]:
        return {"training_log": self.training_log_}

    def _state_tensors(self) -> dict[str, torch.Tensor]:
        return {"user_f": self.user_f_, "item_f": self.item_f_, "item_b": self.item_b_}

    def _restore(self, fitted: dict[str, Any], tensors: dict[str, torch.Tensor]) -> None:
        self.user_f_, self.item_f_, self.item_b_ = tensors["user_f"], tensors["item_f"], tensors["item_b"]
        self.training_log_ = fitted.get("training_log", [])
