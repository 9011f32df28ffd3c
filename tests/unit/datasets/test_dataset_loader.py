"""load_dataset: the processed cache (second call re-downloads and re-parses nothing), keys, round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import xrec_bench.datasets.loader as loader
import xrec_bench.datasets.mind as mind
import xrec_bench.datasets.movielens as movielens
from xrec_bench import datasets
from xrec_bench.datasets.errors import CardError
from xrec_bench.datasets.loader import load_dataset, prepare_dataset
from xrec_bench.registry import UnknownNameError


def forbid(monkeypatch, module, name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{module.__name__}.{name} was called on a cached load")

    monkeypatch.setattr(module, name, fail)


def count_calls(monkeypatch, module, name):
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def assert_same(a, b):
    assert (a.name, a.version, a.checksums, a.options, a.stats) == (b.name, b.version, b.checksums, b.options, b.stats)
    for frame in ("items", "users", "interactions"):
        pd.testing.assert_frame_equal(getattr(a, frame), getattr(b, frame))


def test_second_call_downloads_and_parses_nothing(mirror_server, monkeypatch, unused_port):
    parses = count_calls(monkeypatch, movielens, "parse_100k")
    first = prepare_dataset("movielens-100k", mirror=mirror_server, progress=False)
    assert not first.cached and len(parses) == 1
    forbid(monkeypatch, movielens, "parse_100k")
    forbid(monkeypatch, loader, "fetch_files")
    second = prepare_dataset("movielens-100k", mirror=f"http://127.0.0.1:{unused_port}", progress=False)
    assert second.cached and second.path == first.path
    assert_same(first.dataset, second.dataset)
    # the public entry point goes through the same cache
    assert_same(datasets.load_dataset("movielens-100k", progress=False), first.dataset)


def test_other_options_are_another_cache_entry(mirror_folder, formats, monkeypatch):
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip())
    parses = count_calls(monkeypatch, movielens, "parse_1m")
    a = prepare_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False)
    b = prepare_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, rating_threshold=None)
    c = prepare_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False, rating_threshold=None)
    assert len(parses) == 2 and a.path != b.path and c.cached and c.path == b.path
    assert len(a.dataset.interactions) < len(b.dataset.interactions)
    assert a.dataset.options["rating_threshold"] == 4 and b.dataset.options["rating_threshold"] is None
    assert a.dataset.fingerprint != b.dataset.fingerprint


def test_recorded_checksums_also_skip_the_download(mirror_folder, formats, monkeypatch):
    mirror_folder.put(formats.MIND_URLS["train"], formats.mind_zip("train"))
    mirror_folder.put(formats.MIND_URLS["dev"], formats.mind_zip("dev"))
    first = load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False)
    forbid(monkeypatch, mind, "parse_small")
    forbid(monkeypatch, loader, "fetch_files")
    second = prepare_dataset("mind-small", progress=False)  # no mirror: it must not need one
    assert second.cached
    assert_same(first, second.dataset)
    for column in ("history", "candidates", "labels"):
        for x, y in zip(first.impressions[column], second.dataset.impressions[column], strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)
    pd.testing.assert_frame_equal(first.impressions.drop(columns=["history", "candidates", "labels"]),
                                  second.dataset.impressions.drop(columns=["history", "candidates", "labels"]))


def test_cache_holds_no_temporary_folders(mirror_folder, formats, data_dir):
    mirror_folder.put(formats.ML1M_URL, formats.ml1m_zip())
    load_dataset("movielens-1m", mirror=str(mirror_folder.root), progress=False)
    leftovers = [p for p in data_dir.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []


def test_unknown_name_and_unknown_option():
    with pytest.raises(UnknownNameError, match="Did you mean: mind-small"):
        load_dataset("mind-smal")
    with pytest.raises(CardError, match="unknown option.*categry"):
        load_dataset("amazon-2018", categry="Books")


def test_synthetic_ground_truth_survives_the_cache(monkeypatch):
    synthetic = pytest.importorskip("xrec_bench.datasets.synthetic")
    options = {"n_users": 30, "n_items": 200, "min_length": 5, "max_length": 10}
    first = prepare_dataset("synthetic", progress=False, **options)
    forbid(monkeypatch, synthetic, "generate")
    second = prepare_dataset("synthetic", progress=False, **options)
    assert not first.cached and second.cached
    assert_same(first.dataset, second.dataset)
    a, b = first.dataset.ground_truth, second.dataset.ground_truth
    assert a["cause_words"].tolist() == b["cause_words"].tolist() and isinstance(b["cause_words"][0], tuple)
    assert all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a["cause_items"], b["cause_items"], strict=True))
    assert first.dataset.checksums == {} and first.dataset.stats["checksum_status"] == {}
