"""Download and verify a card's files with pooch; the cache never keeps a file that failed a check.

Pipeline per file (pooch does the download to a temporary file, hash check and move):
official URL or mirror -> ``cache_dir()/raw/HOST/PATH`` -> verify sha256 -> (zip) verify each member's
sha256 while streaming it out of the archive -> safe extraction into ``HOST/PATH.d/``.

Checksums are pinned in the card, or recorded on first download ("tofu") in a sidecar
``HOST/PATH.sha256.json`` and verified on every later download. Zip archives are never pinned as a
whole (mirrors repackage them); their members are.

Sizes are bounded by the card's ``max_bytes``, ``max_unpacked_bytes`` and ``max_ratio`` (see
:mod:`~xrec_bench.datasets.cards`): a download stops at ``max_bytes`` (nothing past the bound is
written, the partial file is deleted), a zip member's declared and streamed sizes are checked before
anything is extracted, and a ``.gz`` file recorded on first use is decompressed once, counting, before
it is trusted. Any excess raises :class:`TooLargeError` and leaves nothing in the cache.

Temporary files of downloads that a killed process left behind (pooch's ``tmpXXXXXXXX`` and the
``.NAME.*.tmp`` of an interrupted extraction) are removed by the next fetch into the same folder,
once untouched for :data:`STALE_AFTER` seconds (a live download writes far more often).

A mirror (``mirror=`` or ``$XREC_BENCH_MIRROR``) is a base URL (``http://...``), a ``file://`` URL
or a local folder, under which the file served at ``https://HOST/PATH`` lies at ``HOST/PATH``.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import re
import shutil
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pooch
import requests

from xrec_bench import paths
from xrec_bench.datasets.cards import Limits, ResolvedFile, url_to_relpath
from xrec_bench.datasets.errors import (
    ChecksumMismatchError,
    CorruptArchiveError,
    DownloadError,
    TooLargeError,
)
from xrec_bench.io import UnsafeArchiveError, read_json, safe_extract_zip, write_json

logger = logging.getLogger(__name__)

#: seconds to wait for a server to answer (connect, read)
TIMEOUT = (15, 60)
#: a temporary download file untouched this long (seconds) is left over from a killed process
STALE_AFTER = 10 * 60
#: members smaller than this (bytes) are not held to the compression-ratio bound
RATIO_FLOOR = 2**20
#: pooch's temporary files (``tempfile.NamedTemporaryFile(dir=...)``) and ``io.atomic_path``'s
_TEMP_NAMES = re.compile(r"^(tmp[a-z0-9_]{8}|\..+\.tmp)$")

MIRROR_HINT = (
    "If this machine is offline or the server is gone, point downloads at a mirror: set "
    "XREC_BENCH_MIRROR (or pass --mirror / mirror=) to a base URL or a local folder under which the "
    "file served at https://HOST/PATH lies at HOST/PATH."
)


@dataclass(frozen=True)
class FetchedFile:
    """A verified file ready to parse.

    ``key`` is what the parser receives (``"archive/ml-100k/u.data"``, ``"reviews"``); ``source``
    names it in ``Dataset.checksums`` (``"ml-100k.zip/ml-100k/u.data"``,
    ``"Magazine_Subscriptions_5.json.gz"``); ``pinned`` is False for a checksum recorded on first use.
    """

    key: str
    source: str
    path: Path
    sha256: str
    pinned: bool


def raw_dir() -> Path:
    return paths.cache_dir() / "raw"


def known_checksums(files: Iterable[ResolvedFile]) -> dict[str, tuple[str, bool]] | None:
    """``{source: (sha256, pinned)}`` from the cards and recorded checksums, without touching the network.

    None when some checksum is neither pinned nor recorded yet (the files must be fetched first).
    """
    out: dict[str, tuple[str, bool]] = {}
    for f in files:
        record = _read_record(raw_dir() / f.cache_path)
        for source, _, pinned_hash, member in _entries(f):
            sha = pinned_hash or (record.get("members", {}).get(member) if member else record.get("sha256"))
            if sha is None:
                return None
            out[source] = (sha, pinned_hash is not None)
    return out


def describe_checksums(files: Iterable[ResolvedFile]) -> list[dict[str, object]]:
    """For ``datasets info``: each source file or member with its URLs, sha256 and status
    (``pinned``, ``recorded, not pinned`` or ``not pinned, recorded on first download``)."""
    out: list[dict[str, object]] = []
    for f in files:
        record = _read_record(raw_dir() / f.cache_path)
        for source, _, pinned_hash, member in _entries(f):
            recorded = record.get("members", {}).get(member) if member else record.get("sha256")
            status = "pinned" if pinned_hash else "recorded, not pinned" if recorded else (
                "not pinned, recorded on first download"
            )
            out.append({"file": source, "urls": list(f.urls), "sha256": pinned_hash or recorded, "status": status})
    return out


def fetch_files(
    files: Iterable[ResolvedFile], *, mirror: str | None = None, progress: bool = True
) -> list[FetchedFile]:
    """Make every file (or zip member) of ``files`` present and verified in the cache."""
    mirror = mirror if mirror is not None else paths.mirror()
    files = list(files)
    remove_stale_temporaries({(raw_dir() / f.cache_path).parent for f in files})
    out: list[FetchedFile] = []
    for f in files:
        out.extend(_fetch_zip(f, mirror, progress) if f.is_zip else [_fetch_plain(f, mirror, progress)])
    return out


def _entries(f: ResolvedFile) -> list[tuple[str, str, str | None, str | None]]:
    """(source, key, pinned sha256 or None, member or None) of each thing ``f`` provides."""
    if not f.is_zip:
        return [(f.filename, f.name, f.sha256, None)]
    return [(f"{f.filename}/{m}", f"{f.name}/{m}", sha, m) for m, sha in f.members.items()]


def _fetch_plain(f: ResolvedFile, mirror: str | None, progress: bool) -> FetchedFile:
    target = raw_dir() / f.cache_path
    recorded = _read_record(target).get("sha256")
    known = f.sha256 or recorded
    url = _retrieve(f, target, known, mirror, progress)
    sha = known or pooch.file_hash(str(target))
    if known is None:  # first download of an unpinned file: check it is whole before trusting it
        if target.name.endswith(".gz"):
            _check_gzip(target, url, f)
        _write_record(target, f, sha256=sha)
        logger.warning("Recorded sha256 %s of %s (not pinned in the card).", sha, f.filename)
    return FetchedFile(f.name, f.filename, target, sha, f.sha256 is not None)


def _fetch_zip(f: ResolvedFile, mirror: str | None, progress: bool) -> list[FetchedFile]:
    archive = raw_dir() / f.cache_path
    dest = archive.with_name(archive.name + ".d")
    recorded = _read_record(archive).get("members", {})
    expected = {m: sha or recorded.get(m) for m, sha in f.members.items()}
    have = all(expected.values()) and all((dest / m).is_file() for m in f.members)
    if not (have and all(pooch.file_hash(str(dest / m)) == expected[m] for m in f.members)):
        url = _retrieve(f, archive, None, mirror, progress)
        try:
            got = _verify_zip(archive, f, expected, url)
            safe_extract_zip(archive, dest, list(f.members))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            _discard(archive, dest)
            raise CorruptArchiveError(
                f"{f.filename} (from {url or archive}) is truncated or corrupt: {exc}. It was deleted; run again "
                "to download it again, and if this repeats, the server or mirror holds a broken copy."
            ) from None
        except BaseException:
            _discard(archive, dest)
            raise
        new = {m: got[m] for m in f.members if expected[m] is None}
        if new:
            _write_record(archive, f, members={**recorded, **new})
            logger.warning("Recorded sha256 of %s members %s (not pinned in the card).", f.filename, sorted(new))
        expected = got
    return [
        FetchedFile(key, source, dest / member, expected[member], pinned is not None)
        for source, key, pinned, member in _entries(f)
    ]


def _verify_zip(archive: Path, f: ResolvedFile, expected: dict[str, str | None], url: str | None) -> dict[str, str]:
    """sha256 of each member the card names, streamed out of the archive, checked against ``expected``."""
    got = {}
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        unsafe = [n for n in names if _unsafe_member(n)]
        if unsafe:
            raise UnsafeArchiveError(
                f"{f.filename} (from {url or archive}) has member(s) {unsafe[:3]} that would be written outside "
                "the cache folder. The archive is malformed or malicious; it was deleted. Use the official URL."
            )
        missing = [m for m in f.members if m not in names]
        if missing:
            raise CorruptArchiveError(
                f"{f.filename} (from {url or archive}) lacks member(s) {missing}; the card expects them "
                f"(the archive has {names[:5]}{' ...' if len(names) > 5 else ''}). It was deleted."
            )
        for member in f.members:  # declared sizes first: a bomb is refused before a byte is inflated
            info = zf.getinfo(member)
            _check_unpacked(f"{f.filename}/{member}", info.file_size, info.compress_size, f.limits, url)
        for member in f.members:
            digest = hashlib.sha256()
            size, packed = 0, zf.getinfo(member).compress_size
            with zf.open(member) as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    size += len(chunk)  # the declared size may lie: count what is inflated
                    _check_unpacked(f"{f.filename}/{member}", size, packed, f.limits, url)
                    digest.update(chunk)
            got[member] = digest.hexdigest()
            if expected[member] is not None and got[member] != expected[member]:
                raise _mismatch(f"{f.filename}/{member}", expected[member], got[member], url, f.members[member])
    return got


def _retrieve(f: ResolvedFile, target: Path, known: str | None, mirror: str | None, progress: bool) -> str | None:
    """Download ``f`` to ``target`` through pooch unless it is there (and matches ``known``).

    Returns the URL it came from, or None when the cached file was used.
    """
    if target.is_file() and (known is None or pooch.file_hash(str(target)) == known):
        return None
    failures = []
    for url, unbounded in _sources(f.urls, mirror, progress):
        downloader = _bounded(unbounded, f.filename, f.limits)
        try:
            logger.info("Downloading %s to %s.", url, target)
            with _quiet_pooch():
                pooch.retrieve(
                    url,
                    known_hash=f"sha256:{known}" if known else None,
                    fname=target.name,
                    path=target.parent,
                    downloader=downloader,
                    progressbar=progress,
                )
            return url
        except ValueError as exc:
            if "does not match the known hash" not in str(exc):
                raise
            target.unlink(missing_ok=True)  # a stale copy that fails the check goes too
            got = str(exc).split(" but got ")[-1].split(".")[0]
            raise _mismatch(f.filename, known, got, url, f.sha256) from None
        except (requests.RequestException, OSError) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
            logger.info("Download of %s failed: %s", url, exc)
    tried = "\n  - ".join(failures)
    where = f"the mirror {mirror!r}" if mirror else "the official URL(s)"
    raise DownloadError(f"Could not download {f.filename} from {where}. Tried:\n  - {tried}\n{MIRROR_HINT}")


Downloader = Callable[..., None]


def _sources(urls: tuple[str, ...], mirror: str | None, progress: bool) -> list[tuple[str, Downloader]]:
    """(address, pooch downloader) to try in order for a file with these official ``urls``."""
    http = pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT)
    if not mirror:
        return [(u, http) for u in urls]
    if urlsplit(mirror).scheme in ("http", "https"):
        return [(f"{mirror.rstrip('/')}/{url_to_relpath(u)}", http) for u in urls]
    folder = Path(url2pathname(urlsplit(mirror).path)) if mirror.startswith("file://") else Path(mirror)
    folder = folder.expanduser()
    if not folder.is_dir():
        raise DownloadError(
            f"The mirror {mirror!r} is neither an http(s) URL nor an existing folder. {MIRROR_HINT}"
        )
    return [(str(folder / url_to_relpath(u)), _copy_from_folder) for u in urls]


def _copy_from_folder(url: str, output_file: Any, pooch_obj: object, check_only: bool = False) -> bool | None:
    """A pooch downloader for a mirror folder: a plain copy (pooch still verifies and moves it).
    ``output_file`` is a path or an open binary file (the size bound passes a file)."""
    source = Path(url)
    if check_only:
        return source.is_file()
    if not source.is_file():
        raise FileNotFoundError(f"{source} is not in the mirror folder")
    with open(source, "rb") as src:
        if isinstance(output_file, _BoundedFile):
            output_file.expect(source.stat().st_size, url)  # refused before a byte is copied
            shutil.copyfileobj(src, output_file, 1 << 20)
        else:
            with open(output_file, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return None


class _BoundedFile:
    """A binary file that refuses (:class:`TooLargeError`) a write that would take it past ``limit``
    bytes. pooch's downloaders accept an open file in place of a path, and write only through it."""

    def __init__(self, fh: Any, name: str, limits: Limits) -> None:
        self._fh, self._name, self._limits, self.written = fh, name, limits, 0

    def expect(self, size: int, url: str) -> None:
        if size > self._limits.max_bytes:
            raise _too_large(self._name, url, size, self._limits, "max_bytes")

    def write(self, data: bytes) -> int:
        if self.written + len(data) > self._limits.max_bytes:
            raise _too_large(self._name, None, self.written + len(data), self._limits, "max_bytes")
        self.written += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()


def _bounded(downloader: Downloader, name: str, limits: Limits) -> Downloader:
    """``downloader`` writing through a :class:`_BoundedFile` (pooch deletes its temporary file when the
    download raises, so a refused download leaves nothing)."""

    def download(url: str, output_file: str, pooch_obj: object, check_only: bool = False) -> bool | None:
        if check_only:
            return downloader(url, output_file, pooch_obj, check_only=True)
        with open(output_file, "w+b") as fh:
            return downloader(url, _BoundedFile(fh, name, limits), pooch_obj)

    return download


def _check_unpacked(name: str, size: int, packed: int, limits: Limits, url: str | None) -> None:
    if size > limits.max_unpacked_bytes:
        raise _too_large(name, url, size, limits, "max_unpacked_bytes")
    if size > RATIO_FLOOR and size > limits.max_ratio * max(packed, 1):
        raise _too_large(name, url, size, limits, "max_ratio", packed=packed)


def _too_large(name: str, url: str | None, size: int, limits: Limits, key: str, packed: int = 0) -> TooLargeError:
    limit = getattr(limits, key)
    if key == "max_ratio":
        what = (f"unpacks {packed} bytes into more than {size} bytes, a compression ratio over the bound "
                f"max_ratio = {limit}")
    else:
        kind = "download is" if key == "max_bytes" else "unpacked content is"
        what = f"{kind} larger than the bound {key} = {limit} bytes ({limit / 2**20:.1f} MiB; got at least {size})"
    return TooLargeError(
        f"{name}{f' (from {url})' if url else ''}: the {what}, set for {limits.where}. It was refused before "
        "the excess was written and nothing was kept. This is what a decompression bomb or a wrong file "
        f"looks like; if the file is genuine (the publisher's release grew), raise {key} for this file in "
        "the dataset card.",
        file=name,
        limit=limit,
    )


def remove_stale_temporaries(folders: Iterable[Path], *, older_than: float | None = None) -> list[Path]:
    """Delete temporary download and extraction files in ``folders`` (not below them) untouched since
    ``older_than`` (a time; default: :data:`STALE_AFTER` seconds ago): left by a killed process."""
    cutoff = time.time() - STALE_AFTER if older_than is None else older_than
    removed = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not _TEMP_NAMES.match(path.name) or _last_touched(path) >= cutoff:
                continue
            try:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except FileNotFoundError:  # another process cleaned it first
                continue
            removed.append(path)
            logger.warning("Removed %s, left over from an interrupted download.", path)
    return removed


def _last_touched(path: Path) -> float:
    try:
        if path.is_dir() and not path.is_symlink():
            return max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.rglob("*")])
        return path.lstat().st_mtime
    except FileNotFoundError:
        return time.time()


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """pooch logs every download at INFO with advice meant for its own users ("use this value as
    known_hash"); ours say what happens instead, so pooch is held to warnings meanwhile."""
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        pooch_logger.setLevel(level)


def _mismatch(name: str, expected: str, got: str, url: str | None, pinned: str | None) -> ChecksumMismatchError:
    how = "pinned in the dataset card" if pinned else "recorded on its first download"
    return ChecksumMismatchError(
        f"Checksum mismatch for {name} (from {url or 'the cache'}): expected sha256 {expected} ({how}), "
        f"got {got}. The download was deleted. The file is corrupt or not the one the card describes: "
        "run again to retry, or use the official URL instead of the mirror; if the publisher changed the "
        "file, the dataset card needs a new version.",
        file=name,
        expected=expected,
        got=got,
    )


def _check_gzip(path: Path, url: str | None, f: ResolvedFile) -> None:
    """Decompress ``path`` once (streaming) to check it is whole and within the card's bounds."""
    packed, size = path.stat().st_size, 0
    try:
        with gzip.open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                size += len(chunk)
                _check_unpacked(f.filename, size, packed, f.limits, url)
    except TooLargeError:
        path.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, zlib.error) as exc:
        path.unlink(missing_ok=True)
        raise CorruptArchiveError(
            f"{path.name} (from {url or path}) is truncated or corrupt: {exc}. It was deleted; run again to "
            "download it again, and if this repeats, the server or mirror holds a broken copy."
        ) from None


def _unsafe_member(name: str) -> bool:
    p = PurePosixPath(name.replace("\\", "/"))
    return p.is_absolute() or ".." in p.parts or (len(name) > 1 and name[1] == ":")


def _discard(archive: Path, dest: Path) -> None:
    archive.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _read_record(target: Path) -> dict:
    path = _record_path(target)
    return read_json(path) if path.is_file() else {}


def _write_record(target: Path, f: ResolvedFile, **hashes: object) -> None:
    write_json(
        _record_path(target),
        {"url": f.urls[0], "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **hashes},
    )
