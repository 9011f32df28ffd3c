"""Recommenders: the BERT two-tower reference model and the baselines, behind one interface
(:class:`~xrec_bench.models.base.Recommender`), registered by name and imported lazily.

``fit_or_load(dataset, split, name, params=..., seed=...)`` trains a model once and caches it
(content-addressed) under ``cache_dir()/models``.
"""

from __future__ import annotations

from typing import Any

from xrec_bench.models.base import GRANULARITIES, MODELS, NotFittedError, Recommender, get_model, topk

__all__ = ["GRANULARITIES", "MODELS", "NotFittedError", "Recommender", "fit_or_load", "get_model", "topk"]

MODELS.register("bert-two-tower", "xrec_bench.models.two_tower:BertTwoTower")
MODELS.register("zero-shot-text", "xrec_bench.models.zero_shot:ZeroShotText")
MODELS.register("most-popular", "xrec_bench.models.most_popular:MostPopular")
MODELS.register("item-knn", "xrec_bench.models.item_knn:ItemKNN")
MODELS.register("bpr-mf", "xrec_bench.models.bpr_mf:BPRMF")
MODELS.register("sasrec", "xrec_bench.models.sequential:SASRec")


def fit_or_load(
    dataset, split, model: str, *, params: dict[str, Any] | None = None, seed: int = 0, progress: bool = True
) -> Recommender:
    """Train ``model`` on ``split`` (or load it from the model cache); see :mod:`xrec_bench.models.checkpoint`."""
    from xrec_bench.models.checkpoint import fit_or_load as _fit_or_load

    return _fit_or_load(dataset, split, model, params=params, seed=seed, progress=progress)
