"""Checkpoints (a JSON config + safetensors; loading never unpickles) and the content-addressed
model cache behind :func:`fit_or_load`.

A checkpoint folder holds ``config.json`` (model name, code version, resolved parameters, what
the fit produced besides tensors, e.g. item texts and the training log) and ``weights.safetensors``.
The cache key hashes (model name, code version, resolved parameters, dataset fingerprint, split
fingerprint, seed), so a change to any of them trains a new model instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pooch import file_hash

from xrec_bench import io, paths
from xrec_bench._util import memory
from xrec_bench._util.hashing import canonical_json, json_sha256
from xrec_bench.models.base import MODELS, Recommender
from xrec_bench.seeding import deterministic_torch

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 2  # 2: config.json records the weights' sha256
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


def save_checkpoint(model: Recommender, path: str | Path) -> Path:
    """Write ``model`` to the folder ``path`` (atomically: the folder appears complete or not at all)."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model._state_tensors().items()}
    config = {
        "format": CHECKPOINT_FORMAT,
        "model": model.name,
        "code_version": model.version,
        "params": model.params,
        "fitted": model._fitted_config(),
        "fit_seconds": getattr(model, "fit_seconds_", None),
        "fit_peak_rss_mb": getattr(model, "fit_peak_rss_mb_", None),
    }
    with io.atomic_path(path, is_dir=True) as tmp:
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        config["weights_sha256"] = file_hash(tmp / WEIGHTS_FILE)  # verified on load
        io.write_json(tmp / CONFIG_FILE, config)
    return path


def load_checkpoint(path: str | Path) -> Recommender:
    """Rebuild a model saved by :func:`save_checkpoint` (tensors via safetensors, no pickle)."""
    from safetensors.torch import load_file

    import xrec_bench.models  # noqa: F401  (registers the built-in models)

    path = Path(path)
    if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(
            f"{path} is not a model checkpoint: expected {CONFIG_FILE} and {WEIGHTS_FILE} in it. "
            "Pass the folder a checkpoint was saved to (fit_or_load moves a damaged cache folder aside and trains again)."
        )
    config = io.read_json(path / CONFIG_FILE)
    if not isinstance(config, dict):
        raise ValueError(f"Checkpoint {path}: {CONFIG_FILE} holds a {type(config).__name__}, not a table.")
    if config.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"Checkpoint {path} has format {config.get('format')!r}; this code reads {CHECKPOINT_FORMAT}."
        )
    cls = MODELS.get(config["model"])
    if str(config["code_version"]) != str(cls.version):
        raise ValueError(
            f"Checkpoint {path} was written by {config['model']} code version {config['code_version']}; this code "
            f"is version {cls.version}. Train again (fit_or_load keys its cache by code version)."
        )
    actual = file_hash(path / WEIGHTS_FILE)
    if actual != config.get("weights_sha256"):
        raise DamagedCheckpointError(
            f"Checkpoint {path}: {WEIGHTS_FILE} has sha256 {actual[:12]}, but {str(config.get('weights_sha256'))[:12]} "
            "was recorded when it was saved (truncated or altered). Train again.")
    model = cls(**config["params"])
    model._restore(config["fitted"], load_file(str(path / WEIGHTS_FILE)))
    model.fit_seconds_ = config.get("fit_seconds")
    model.fit_peak_rss_mb_ = config.get("fit_peak_rss_mb")
    return model


class DamagedCheckpointError(ValueError):
    """A checkpoint whose weights do not match the checksum recorded when it was saved."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB, to 0.1 (as written into checkpoints)."""
    return round(memory.peak_rss_mb(), 1)


def _frame_digest(h, frame: pd.DataFrame) -> None:
    for col in ("user", "item", "timestamp"):
        if col in frame.columns:
            h.update(np.ascontiguousarray(frame[col].to_numpy(np.int64)).tobytes())
    h.update(b"|")


def split_fingerprint(split) -> str:
    """A short hash of the split's strategy, options and train/valid/test interactions."""
    h = hashlib.sha256(canonical_json({"strategy": split.strategy, "options": split.options}).encode())
    for frame in (split.train, split.valid, split.test):
        _frame_digest(h, frame)
    return h.hexdigest()[:16]


def cache_key(dataset, split, model: str, params: dict[str, Any], seed: int) -> str:
    cls = MODELS.get(model)
    payload = {
        "model": model,
        "code_version": str(cls.version),
        "params": params,
        "dataset": dataset.fingerprint,
        "split": split_fingerprint(split),
        "seed": int(seed),
    }
    return json_sha256(payload, length=20)


def _quarantine(folder: Path, why: str) -> None:
    """Move a damaged model-cache folder aside (kept for inspection) so that it is trained again."""
    import os

    aside = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:
        return
    log.warning("The cached model %s is damaged (%s); moved it to %s and training again.", folder, why, aside)


def fit_or_load(
    dataset, split, model: str, *, params: dict[str, Any] | None = None, seed: int = 0, progress: bool = True
) -> Recommender:
    """The model ``model`` fitted on ``split`` with ``params`` and ``seed``: loaded from the cache
    (``cache_dir()/models/<model>/<key>/``) when it was trained before, else trained and cached."""
    import xrec_bench.models  # noqa: F401

    cls = MODELS.get(model)
    resolved = cls.resolve_params(params)
    key = cache_key(dataset, split, model, resolved, seed)
    folder = paths.cache_dir() / "models" / model / key
    if folder.exists():
        log.info("loading %s from %s", model, folder)
        try:
            loaded = load_checkpoint(folder)
        except Exception as exc:  # noqa: BLE001 - a cache entry that does not load is rebuilt, never fatal
            _quarantine(folder, f"{type(exc).__name__}: {exc}")
        else:
            loaded.cache_path_ = folder
            loaded.from_cache_ = True
            return loaded
    log.info("training %s (cache key %s)", model, key)
    start = time.perf_counter()
    with deterministic_torch():  # same seed -> bit-identical weights, whatever the thread count
        fitted = cls(**resolved).fit(dataset, split, seed=seed, progress=progress)
    fitted.fit_seconds_ = time.perf_counter() - start
    fitted.fit_peak_rss_mb_ = peak_rss_mb()
    save_checkpoint(fitted, folder)
    fitted.cache_path_ = folder
    fitted.from_cache_ = False
    return fitted
