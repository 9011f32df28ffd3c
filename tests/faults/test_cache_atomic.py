"""Faults in writing: concurrent re-saves of one cache entry, and permissions of written files."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from xrec_bench.io import atomic_path, write_text


def test_concurrent_resaves_of_one_entry_never_leave_it_missing(tmp_path):
    entry = tmp_path / "entry"
    with atomic_path(entry, is_dir=True) as tmp:
        (tmp / "data").write_text("0")
    stop = threading.Event()
    missing: list[int] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                with atomic_path(entry, is_dir=True) as tmp:
                    (tmp / "data").write_text(f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            if not (entry / "data").exists():
                missing.append(1)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not errors, errors
    assert not missing, f"the entry was missing {len(missing)} time(s) while being replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry"]  # no temporary or old folder left behind


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_and_folders_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_text(tmp_path / "published.html", "x")
        with atomic_path(tmp_path / "shared-cache", is_dir=True) as tmp:
            (tmp / "f").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "shared-cache").stat().st_mode) == 0o777 & ~umask
