"""Faults: a damaged processed-dataset entry (truncated arrays.npz, bad meta.json) or a truncated
model checkpoint. Each is detected on load (checksums recorded at write time), logged, moved aside
and rebuilt, so the next run works without anyone deleting files by hand."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from xrec_bench.datasets.loader import prepare_dataset

OPTIONS = {"n_users": 40, "n_items": 120, "min_length": 8, "max_length": 12}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XREC_BENCH_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    lambda f: _truncate(f / "arrays.npz"),
    lambda f: _flip(f / "arrays.npz"),
    lambda f: (f / "meta.json").write_text("{not json"),
    lambda f: (f / "meta.json").write_text("[]"),
    lambda f: _truncate(f / "strings.json", 0.9),
], ids=["truncated-npz", "flipped-byte-npz", "bad-meta-json", "meta-json-wrong-shape", "truncated-strings"])
def test_a_damaged_dataset_entry_is_moved_aside_and_rebuilt(cache, caplog, damage):
    first = prepare_dataset("synthetic", progress=False, **OPTIONS)
    assert not first.cached
    damage(first.path)
    with caplog.at_level(logging.WARNING):
        second = prepare_dataset("synthetic", progress=False, **OPTIONS)
    assert not second.cached and second.path == first.path
    assert "damaged" in caplog.text
    aside = list(first.path.parent.glob(f"{first.path.name}.damaged-*"))
    assert len(aside) == 1  # kept for inspection, never read again
    np.testing.assert_array_equal(second.dataset.interactions["item"], first.dataset.interactions["item"])
    third = prepare_dataset("synthetic", progress=False, **OPTIONS)
    assert third.cached  # the rebuilt entry is good


def test_a_truncated_checkpoint_is_moved_aside_and_retrained(cache, caplog):
    from xrec_bench.datasets import make_split
    from xrec_bench.models.checkpoint import WEIGHTS_FILE, fit_or_load

    data = prepare_dataset("synthetic", progress=False, **OPTIONS).dataset
    split = make_split(data)
    first = fit_or_load(data, split, "most-popular", progress=False)
    folder = first.cache_path_
    _truncate(folder / WEIGHTS_FILE, 0.7)
    with caplog.at_level(logging.WARNING):
        again = fit_or_load(data, split, "most-popular", progress=False)
    assert not again.from_cache_ and "damaged" in caplog.text
    assert len(list(folder.parent.glob(f"{folder.name}.damaged-*"))) == 1
    np.testing.assert_array_equal(again.counts_, first.counts_)
    assert fit_or_load(data, split, "most-popular", progress=False).from_cache_


def test_a_checkpoint_whose_weights_were_swapped_is_refused(cache, tmp_path):
    from xrec_bench.datasets import make_split
    from xrec_bench.models.checkpoint import (
        WEIGHTS_FILE,
        DamagedCheckpointError,
        load_checkpoint,
        save_checkpoint,
    )

    data = prepare_dataset("synthetic", progress=False, **OPTIONS).dataset
    split = make_split(data)
    from xrec_bench.models import get_model

    a = save_checkpoint(get_model("most-popular").fit(data, split), tmp_path / "a")
    b = save_checkpoint(get_model("item-knn", neighbors=5).fit(data, split), tmp_path / "b")
    (a / WEIGHTS_FILE).write_bytes((b / WEIGHTS_FILE).read_bytes())
    with pytest.raises(DamagedCheckpointError, match="was recorded when it was saved"):
        load_checkpoint(a)
