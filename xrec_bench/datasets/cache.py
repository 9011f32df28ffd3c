"""The processed-dataset cache: a :class:`Dataset` stored as a folder, without pickle.

Layout of one entry (written into a temporary folder and renamed into place, so a reader never sees a
half-written entry)::

    meta.json     name, version, checksums, options, stats, each frame's columns and kinds, and the
                  sha256 of the two data files (verified on load: a damaged entry is moved aside and rebuilt)
    arrays.npz    numeric columns, and ragged array columns as values + offsets (np.load, no pickle)
    strings.json  string columns, and tuple-of-string columns

pickle (``DataFrame.to_pickle``) would run code from the cache on load; parquet needs pyarrow, which is
not a dependency. Both files load in well under a second for MovieLens-1M.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pooch import file_hash

from xrec_bench.datasets.schema import Dataset
from xrec_bench.io import atomic_path, read_json, write_json

#: bump when the layout changes; old entries are then simply not found (2: data files' sha256 in meta.json)
FORMAT = 2
DATA_FILES = ("arrays.npz", "strings.json")
logger = logging.getLogger(__name__)
_FRAMES = ("items", "users", "interactions", "impressions", "ground_truth")


def save(dataset: Dataset, folder: Path) -> Path:
    """Write ``dataset`` to ``folder`` atomically."""
    arrays: dict[str, np.ndarray] = {}
    strings: dict[str, dict[str, list]] = {}
    frames: dict[str, list[dict[str, str]]] = {}
    for frame_name in _FRAMES:
        frame = getattr(dataset, frame_name)
        if frame is None:
            continue
        frames[frame_name] = columns = []
        for i, column in enumerate(frame.columns):
            key = f"{frame_name}__{i}"
            kind = _encode(frame[column], key, arrays, strings.setdefault(frame_name, {}))
            columns.append({"name": str(column), "kind": kind, "key": key})
    meta = {
        "format": FORMAT,
        "name": dataset.name,
        "version": dataset.version,
        "checksums": dataset.checksums,
        "options": dataset.options,
        "stats": dataset.stats,
        "frames": frames,
    }
    with atomic_path(folder, is_dir=True) as tmp:
        np.savez(tmp / "arrays.npz", **arrays)
        (tmp / "strings.json").write_text(json.dumps(strings, ensure_ascii=False), encoding="utf-8")
        meta["files"] = {name: file_hash(tmp / name) for name in DATA_FILES}
        write_json(tmp / "meta.json", meta)
    return folder


def load(folder: Path) -> Dataset | None:
    """The dataset stored in ``folder``, or None if there is no (complete, current-format) entry.

    A damaged entry (unreadable ``meta.json``, a data file whose sha256 differs from the one recorded
    when it was written, or one that does not decode) is logged, moved aside to
    ``<folder>.damaged-<time>`` for inspection, and reported as absent, so the caller rebuilds it.
    """
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        return _load(folder)
    except _Outdated:
        return None
    except Exception as exc:  # noqa: BLE001 - any failure to read a cache entry means: rebuild it
        quarantine(folder, f"{type(exc).__name__}: {exc}")
        return None


class _Outdated(Exception):
    """An entry of another format: not damaged, simply not ours."""


def _load(folder: Path) -> Dataset:
    meta = read_json(folder / "meta.json")
    if not isinstance(meta, dict):
        raise ValueError(f"meta.json holds a {type(meta).__name__}, not a table")
    if meta.get("format") != FORMAT:
        raise _Outdated
    recorded = meta.get("files")
    if not isinstance(recorded, dict):
        raise ValueError("meta.json records no checksums of the data files")
    for name in DATA_FILES:
        actual = file_hash(folder / name)
        if actual != recorded.get(name):
            raise ValueError(f"{name} has sha256 {actual[:12]}, but {str(recorded.get(name))[:12]} was recorded "
                             "when it was written")
    strings = json.loads((folder / "strings.json").read_text(encoding="utf-8"))
    frames: dict[str, pd.DataFrame] = {}
    with np.load(folder / "arrays.npz", allow_pickle=False) as arrays:
        for frame_name, columns in meta["frames"].items():
            data = {c["name"]: _decode(c["kind"], c["key"], arrays, strings.get(frame_name, {})) for c in columns}
            frames[frame_name] = pd.DataFrame(data)
    return Dataset(
        name=meta["name"],
        version=meta["version"],
        checksums=meta["checksums"],
        options=meta["options"],
        stats=meta["stats"],
        **{name: frames.get(name) for name in _FRAMES},
    )


def quarantine(folder: Path, why: str) -> Path | None:
    """Move a damaged cache entry aside (kept for inspection, never read again); returns where."""
    aside = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    try:
        os.rename(folder, aside)
    except FileNotFoundError:  # another process moved it first
        return None
    logger.warning("The cache entry %s is damaged (%s); moved it to %s and rebuilding it.", folder, why, aside)
    return aside


def _encode(series: pd.Series, key: str, arrays: dict, strings: dict) -> str:
    values = series.to_numpy()
    if series.dtype.kind in "biuf":
        arrays[key] = values
        return "array"
    non_null = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if all(isinstance(v, str) for v in non_null):
        strings[key] = [v if isinstance(v, str) else None for v in values]
        return "object-str" if series.dtype == object else "str"
    if all(isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype.kind in "biuf" for v in non_null) and len(
        non_null
    ) == len(values):
        lengths = np.array([len(v) for v in values], dtype=np.int64)
        dtype = values[0].dtype if len(values) else np.int64
        arrays[f"{key}.values"] = np.concatenate(list(values)).astype(dtype) if len(values) else np.zeros(0, dtype)
        arrays[f"{key}.offsets"] = np.concatenate([[0], np.cumsum(lengths)])
        return "ragged"
    if all(isinstance(v, tuple | list) and all(isinstance(x, str) for x in v) for v in non_null):
        strings[key] = [list(v) if v is not None else None for v in values]
        return "tuple"
    raise TypeError(f"Cannot store column {series.name!r} (dtype {series.dtype}) in the dataset cache.")


def _decode(kind: str, key: str, arrays: Any, strings: dict) -> Any:
    if kind == "array":
        return arrays[key]
    if kind == "str":
        return pd.Series(strings[key], dtype="str").array
    if kind == "object-str":
        return pd.Series(strings[key], dtype=object).to_numpy()
    if kind == "tuple":
        return pd.Series([tuple(v) if v is not None else None for v in strings[key]], dtype=object).to_numpy()
    values, offsets = arrays[f"{key}.values"], arrays[f"{key}.offsets"]
    out = np.empty(len(offsets) - 1, dtype=object)
    for i, (a, b) in enumerate(zip(offsets[:-1], offsets[1:], strict=True)):
        out[i] = values[a:b]
    return out
