"""Shared fixtures: a loopback HTTP server over the dataset mirror (and over any folder a test builds).

The mirror is ``$XREC_BENCH_TEST_MIRROR`` (default ``<repo>/../shared/mirror``): official dataset files
laid out as ``HOST/PATH`` of their URLs. Tests that need it skip when it is absent; tests of the other
datasets generate small files of the official formats instead.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output clean
        pass


@contextlib.contextmanager
def serve_directory(directory: str | os.PathLike) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def test_mirror() -> Path:
    """The folder of official dataset files (skips the test if it is absent)."""
    path = Path(os.environ.get("XREC_BENCH_TEST_MIRROR", REPO.parent / "shared" / "mirror")).expanduser()
    if not path.is_dir():
        pytest.skip(f"dataset mirror {path} is absent (set XREC_BENCH_TEST_MIRROR)")
    return path


@pytest.fixture(scope="session")
def mirror_server(test_mirror: Path) -> Iterator[str]:
    """Base URL of a loopback HTTP server serving the dataset mirror."""
    with serve_directory(test_mirror) as url:
        yield url


@pytest.fixture
def serve() -> Iterator:
    """``serve(folder) -> base URL``: serve a folder a test built, for the rest of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda folder: stack.enter_context(serve_directory(folder))


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
