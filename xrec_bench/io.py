"""Atomic file writes and safe archive extraction: the cache never holds a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` atomically.

    On any exception the temporary file (or folder) is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        if is_dir:
            if path.exists():
                shutil.rmtree(path)
            os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    return write_text(path, json.dumps(obj, indent=indent, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class UnsafeArchiveError(ValueError):
    """An archive member would land outside the extraction folder."""


def safe_extract_zip(archive: str | os.PathLike, dest: str | os.PathLike, members: list[str] | None = None) -> list[Path]:
    """Extract ``members`` (default: all) of a zip into ``dest``, refusing path traversal.

    Extraction goes to a temporary folder that is moved into place only when every member was read,
    so a truncated or corrupt archive leaves nothing behind. Raises :class:`UnsafeArchiveError` for a
    member whose path escapes ``dest`` and :class:`zipfile.BadZipFile` for a corrupt archive.
    """
    dest = Path(dest)
    with zipfile.ZipFile(archive) as zf:
        names = members if members is not None else [n for n in zf.namelist() if not n.endswith("/")]
        for name in names:
            target = (dest / name).resolve()
            if not target.is_relative_to(dest.resolve()) or os.path.isabs(name) or ".." in Path(name).parts:
                raise UnsafeArchiveError(
                    f"Refusing to extract {name!r} from {archive}: it would be written outside {dest}. "
                    "The archive is malformed or malicious; delete it and download it again."
                )
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest, is_dir=True) as tmp:
            if dest.exists():  # keep what was there: extraction adds members, it does not drop them
                shutil.copytree(dest, tmp, dirs_exist_ok=True)
            out = []
            for name in names:
                target = tmp / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(name) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                out.append(dest / name)
    return out
