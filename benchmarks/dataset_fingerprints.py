"""sha256 of every column of the processed datasets behind the published numbers, so a parser change
can be shown not to move them (compare the output of two checkouts; the processed cache is bypassed).

    XREC_BENCH_MIRROR=/path/to/mirror python benchmarks/dataset_fingerprints.py > after.json
    diff before.json after.json

Names given as arguments replace the default list (``movielens-1m`` with a mirror made by
``benchmarks/parse_memory.py --write-mirror DIR``, for instance).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import pandas as pd

DATASETS = [
    ("movielens-100k", {}),
    ("movielens-latest-small", {}),
    ("amazon-2018", {"category": "Magazine_Subscriptions"}),
]
#: stats keys added by later parser versions (new counters of new checks); compared when both have them
_NEW_STATS: set[str] = set()


def column_digest(values: pd.Series) -> str:
    digest = hashlib.sha256(str(values.dtype).encode())
    for value in values:
        if isinstance(value, np.ndarray):
            digest.update(str(value.dtype).encode() + value.tobytes() + b"\x00")
        else:
            digest.update(repr(value).encode() + b"\x00")
    return digest.hexdigest()


def fingerprint(dataset: object) -> dict:
    out: dict = {"stats": {k: v for k, v in dataset.stats.items() if k not in _NEW_STATS}}
    for frame_name in ("items", "users", "interactions", "impressions", "ground_truth"):
        frame = getattr(dataset, frame_name)
        if frame is not None:
            out[frame_name] = {"rows": len(frame), **{str(c): column_digest(frame[c]) for c in frame.columns}}
    return out


def main() -> None:
    from xrec_bench.datasets.loader import load_dataset

    with tempfile.TemporaryDirectory() as cache:
        os.environ["XREC_BENCH_DATA"] = cache  # a fresh cache: every dataset is parsed by this checkout's code
        wanted = [(name, {}) for name in sys.argv[1:]] or DATASETS
        result = {name: fingerprint(load_dataset(name, progress=False, **options)) for name, options in wanted}
    json.dump(result, sys.stdout, indent=1, sort_keys=True, default=str)
    print()


if __name__ == "__main__":
    main()
