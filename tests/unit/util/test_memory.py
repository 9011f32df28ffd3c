"""Peak memory of this process."""

import resource
import sys

import numpy as np

from xrec_bench._util.memory import peak_cuda_mb, peak_rss_bytes, peak_rss_mb


def test_peak_rss_is_ru_maxrss_in_bytes_and_mib():
    before = peak_rss_bytes()
    raw = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert before == (raw if sys.platform == "darwin" else raw * 1024)
    assert peak_rss_mb() == peak_rss_bytes() / 2**20
    if sys.platform != "darwin":  # the value the metrics wrote before: KiB / 1024
        assert peak_rss_mb() == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_peak_rss_grows_with_a_large_allocation():
    before = peak_rss_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert peak_rss_mb() >= before
    assert peak_rss_mb() >= block.nbytes / 2**20


def test_cuda_peak_is_none_without_cuda(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert peak_cuda_mb() is None
