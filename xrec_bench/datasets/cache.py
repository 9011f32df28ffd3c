"""The processed-dataset cache: a :class:`Dataset` stored as a folder, without pickle.

Layout of one entry (written into a temporary folder and renamed into place, so a reader never sees a
half-written entry)::

    meta.json     name, version, checksums, options, stats, and each frame's columns and kinds
    arrays.npz    numeric columns, and ragged array columns as values + offsets (np.load, no pickle)
    strings.json  string columns, and tuple-of-string columns

pickle (``DataFrame.to_pickle``) would run code from the cache on load; parquet needs pyarrow, which is
not a dependency. Both files load in well under a second for MovieLens-1M.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xrec_bench.datasets.schema import Dataset
from xrec_bench.io import atomic_path, read_json, write_json

#: bump when the layout changes; old entries are then simply not found
FORMAT = 1
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
        write_json(tmp / "meta.json", meta)
    return folder


def load(folder: Path) -> Dataset | None:
    """The dataset stored in ``folder``, or None if there is no (complete, current-format) entry."""
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    meta = read_json(meta_path)
    if meta.get("format") != FORMAT:
        return None
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
