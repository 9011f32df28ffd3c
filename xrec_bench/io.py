"""Atomic file writes and safe archive extraction: the cache never holds a half-written file."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` atomically.

    On any exception the temporary file (or folder) is removed and ``path`` is left untouched. The
    result gets the permissions the umask gives a new file or folder (``mkstemp``/``mkdtemp`` make
    them private, which would hide published leaderboards and shared caches from their readers).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~current_umask())
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~current_umask())
    try:
        yield tmp
        if is_dir:
            replace_dir(tmp, path)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """This process's umask (read from /proc on Linux; elsewhere set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_dir(src: Path, dest: Path, *, attempts: int = 20) -> None:
    """Move the folder ``src`` onto ``dest`` so that a reader of ``dest`` never finds it missing.

    A folder cannot be ``os.replace``d onto a non-empty one, and "rmtree, then rename" leaves a
    moment with no entry at all (a concurrent run sharing the cache then fails). So: rename into
    place when ``dest`` is absent; when it exists, swap the two atomically (Linux ``renameat2`` with
    ``RENAME_EXCHANGE``) and delete the old one. Where the swap is unavailable, the old entry is
    renamed aside just before the new one is renamed in. A lost race (another writer put an entry in
    between) is retried.
    """
    for _ in range(attempts):
        if not dest.exists():
            try:
                os.rename(src, dest)
                return
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
                continue  # another writer got there first: swap with its entry instead
        if _exchange(src, dest):
            shutil.rmtree(src, ignore_errors=True)  # ``src`` now holds the old entry
            return
        aside = dest.with_name(f".{dest.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        try:
            os.rename(dest, aside)
        except FileNotFoundError:
            continue  # someone else moved it: try again from the start
        try:
            os.rename(src, dest)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue
        finally:
            shutil.rmtree(aside, ignore_errors=True)
        return
    raise OSError(f"Could not move {src} onto {dest}: other writers kept replacing it ({attempts} attempts).")


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # kernel or file system without the flag
    if err == errno.ENOENT:
        return False  # ``b`` vanished meanwhile: the caller's loop renames into place
    raise OSError(err, os.strerror(err), str(b))


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
