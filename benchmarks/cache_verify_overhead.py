"""How much verifying a processed-dataset entry's checksums adds to loading it from the cache.

    python benchmarks/cache_verify_overhead.py [dataset]   (default movielens-100k)
"""

from __future__ import annotations

import sys
import time

from pooch import file_hash

from xrec_bench.datasets import cache
from xrec_bench.datasets.loader import prepare_dataset


def main(name: str = "movielens-100k") -> None:
    prepare_dataset(name, progress=False)  # build the entry if needed
    start = time.perf_counter()
    entry = prepare_dataset(name, progress=False)
    load = time.perf_counter() - start
    start = time.perf_counter()
    for file in cache.DATA_FILES:
        file_hash(entry.path / file)
    verify = time.perf_counter() - start
    size = sum((entry.path / f).stat().st_size for f in cache.DATA_FILES)
    print(f"{name}: cached load {load * 1000:.0f} ms, of which sha256 of {size / 1e6:.1f} MB {verify * 1000:.1f} ms")


if __name__ == "__main__":
    main(*sys.argv[1:])
