"""Fault: the runner is killed (``kill -9``) while its pool workers compute. The workers must exit
instead of computing on, then idling with their models in memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from xrec_bench.harness.executor import ProcessPoolExecutor

WORKER = ("import os, sys, time; from xrec_bench.harness.executor import watch_parent; "
          "watch_parent(int(sys.argv[1]), interval=0.1); time.sleep(120)")
RUNNER = ("import subprocess, sys, time; "
          "w = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(__import__('os').getpid())]); "
          "print(w.pid, flush=True); time.sleep(120)")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_worker_exits_when_its_runner_is_killed():
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, WORKER], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    worker = int(runner.stdout.readline())
    try:
        time.sleep(0.5)
        assert _alive(worker)
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the worker outlived its killed runner"
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)


def test_the_process_pool_hands_its_workers_the_runner_pid(monkeypatch):
    seen = {}

    class Pool:
        def __init__(self, **kwargs):
            seen.update(kwargs)

        def submit(self, *a):
            raise RuntimeError("stop")

        def shutdown(self, **kwargs):
            pass

    import concurrent.futures as cf

    monkeypatch.setattr(cf, "ProcessPoolExecutor", Pool)
    with pytest.raises(RuntimeError, match="stop"):
        list(ProcessPoolExecutor(workers=1).run([object()], type("C", (), {"stages": None})()))
    assert seen["initargs"][1] == os.getpid()
