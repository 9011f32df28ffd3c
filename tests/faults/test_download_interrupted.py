"""Fault: a download killed mid-way (kill -9: no ``finally`` runs) leaves pooch's temporary file in the
cache. The next fetch into that folder removes it, once it is stale, and leaves live ones alone."""

from __future__ import annotations

import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers.hostile import Mirror, card, files_in, fresh_cache, zip_bytes
from xrec_bench.datasets import fetch
from xrec_bench.datasets.cards import TOFU
from xrec_bench.datasets.fetch import fetch_files, raw_dir, remove_stale_temporaries

REPO = Path(__file__).resolve().parents[2]
URL = "https://data.example.org/release/v1/data.zip"
FILES = [{"name": "archive", "urls": [URL], "members": {"d/ratings.dat": TOFU}}]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    return fresh_cache(tmp_path, monkeypatch)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_stale_temporaries_are_removed_and_live_ones_kept(tmp_path):
    mirror = Mirror(tmp_path / "mirror")
    mirror.put(URL, zip_bytes({"d/ratings.dat": b"1::2::3::4\n"}))
    folder = raw_dir() / "data.example.org/release/v1"
    folder.mkdir(parents=True)
    stale_download = folder / "tmpk2x_9qaz"  # pooch's NamedTemporaryFile naming
    stale_download.write_bytes(b"partial")
    stale_extraction = folder / ".data.zip.d.abc123.tmp"  # io.atomic_path's, a folder
    (stale_extraction / "d").mkdir(parents=True)
    (stale_extraction / "d" / "ratings.dat").write_bytes(b"partial")
    for path in (stale_download, stale_extraction / "d" / "ratings.dat", stale_extraction / "d", stale_extraction):
        _age(path, fetch.STALE_AFTER + 60)
    live = folder / "tmpabcdefgh"  # another process is writing this one right now
    live.write_bytes(b"in progress")
    unrelated = folder / "tmp_notes.txt"
    unrelated.write_bytes(b"not ours")
    _age(unrelated, fetch.STALE_AFTER + 60)

    fetched = fetch_files(card(FILES).resolve_files({}), mirror=str(mirror.root), progress=False)

    assert fetched[0].path.read_bytes() == b"1::2::3::4\n"
    assert not stale_download.exists() and not stale_extraction.exists()
    assert live.exists() and unrelated.exists()


class _StallingHandler(http.server.BaseHTTPRequestHandler):
    """Sends the headers and half the body, then waits (a connection that hangs until the client dies)."""

    body = b""
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body[: len(self.body) // 2])
        self.wfile.flush()
        self.release.wait(timeout=30)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_download_killed_mid_way_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    body = zip_bytes({"d/ratings.dat": os.urandom(400_000)})
    _StallingHandler.body = body
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StallingHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    code = (
        "from tests.helpers.hostile import card\n"
        "from xrec_bench.datasets.fetch import fetch_files\n"
        f"fetch_files(card({FILES!r}).resolve_files({{}}), mirror={base!r}, progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO)
    folder = raw_dir() / "data.example.org/release/v1"
    try:
        deadline = time.time() + 60
        while not any(p.stat().st_size > 0 for p in folder.glob("tmp*")) and time.time() < deadline:
            assert child.poll() is None, "the download finished or failed instead of hanging"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
        _StallingHandler.release.set()
        server.shutdown()
        server.server_close()
    leftovers = [p for p in files_in(raw_dir()) if p.name.startswith("tmp")]
    assert len(leftovers) == 1 and 0 < leftovers[0].stat().st_size < len(body)  # what the issue reported

    # not stale yet: a fetch now would leave it (it may be a live download); an hour later it goes
    assert remove_stale_temporaries([folder]) == []
    _age(leftovers[0], 3600)
    mirror = Mirror(tmp_path / "mirror")
    mirror.put(URL, body)
    fetch_files(card(FILES).resolve_files({}), mirror=str(mirror.root), progress=False)
    assert not leftovers[0].exists()
    assert sorted(p.name for p in folder.iterdir()) == ["data.zip", "data.zip.d", "data.zip.sha256.json"]
