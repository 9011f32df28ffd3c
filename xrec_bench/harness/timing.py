"""Latency that survives a noisy machine: work timed in blocks interleaved with a reference workload.

One timing per explanation on a shared machine measures the machine as much as the explainer (a
busy minute makes every explanation of a cell slower together), so per-user timings are not
independent samples and one reference timing per run cannot correct them. Instead, per cell:

* the work (explaining a batch of requests) and a fixed reference workload alternate, ``blocks``
  times, so both see the same machine state;
* both are measured in CPU time of the calling thread (``time.thread_time``) with torch held to one
  thread, so time the process spends descheduled by other users' jobs does not count;
* a block repeats whole cycles over the first ``TIMED_ITEMS`` requests until it lasts
  ``min_block_s`` (operations well under a millisecond are timed in batches, never one by one; and
  every run times the same requests, whose costs may differ widely);
* the cell's figure is the median over blocks of ``work / reference`` per explanation: the
  explainer's cost in reference units, comparable across runs and machines.

A cell whose blocks are too short or too few to judge says so (``judged: false`` and a reason).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

CLOCK = "thread_time, 1 torch thread"
REFERENCE_NAME = "matmul-256x256x256-x32 (1 thread)"
#: below this a block's CPU time is mostly clock resolution and scheduling jitter
MIN_JUDGED_BLOCK_S = 0.004
MIN_BLOCKS = 3
MAX_BATCH = 2000
#: times a batch is re-sized when it runs shorter than half a block (see ``_size_batch``)
RESIZE_TRIES = 3
#: every block times whole cycles over the first this many explained requests (the same ones in every
#: run: a figure over a mix of users that noise could change would move with the mix)
TIMED_ITEMS = 4


@contextmanager
def one_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reference_block() -> None:
    """The reference: float32 matmuls (the bulk of a forward pass), ~20 ms on one thread."""
    import torch

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(256, 256, generator=gen)
    with torch.no_grad():
        for _ in range(32):
            a = torch.tanh(a @ a)


def not_judged(reason: str) -> dict[str, Any]:
    return {"judged": False, "reason": reason, "clock": CLOCK}


def _size_batch(work: Callable[[int], None], n_timed: int, min_block_s: float,
                clock: Callable[[], float]) -> tuple[float, int]:
    """Seconds per item and the batch (whole cycles over the ``n_timed`` items) that makes one block
    last ``min_block_s``.

    Items differ in cost (exact Shapley costs ``2**F`` evaluations, so one user can cost 100 others),
    so a block always covers whole cycles over the same items: were a batch of ``k`` items the first
    ``k``, a batch sized differently by noise would time another mix of users, and the figure would
    move with it (seen: 0.29 vs 0.55 reference units for exact Shapley between two runs of the same
    code, with batches of 7 and 3 users). Cycles double until they last a quarter block, so short
    items are not sized from one clock reading. One hiccup while sizing (a page fault, a cache flush,
    another process on the core) can make items look many times slower than they are, and a batch
    sized from that gives blocks too short to time; so the batch is then run once in full, and
    re-sized while it falls short of half a block. Hiccups only ever make work look slower, so each
    re-sizing moves towards the truth.
    """
    def timed(k: int) -> float:
        t0 = clock()
        for j in range(k):
            work(j % n_timed)
        return clock() - t0

    cap = max(1, MAX_BATCH // n_timed) * n_timed

    def batch_for(one: float) -> int:
        return int(min(cap, n_timed * max(1, math.ceil(min_block_s / max(one * n_timed, 1e-7)))))

    k = n_timed
    while True:
        took = timed(k)
        if took >= min_block_s / 4 or k >= cap:
            break
        k = min(cap, 2 * k)
    one = took / k
    for _ in range(RESIZE_TRIES):
        batch = batch_for(one)
        if batch <= k or batch >= cap:
            return one, batch  # already measured at this size, or at the cap
        took = timed(batch)
        if took >= min_block_s / 2:
            return took / batch, batch
        one, k = took / batch, batch
    return one, batch_for(one)


def interleaved(work: Callable[[int], None], n_items: int, *, blocks: int = 5, min_block_s: float = 0.05,
                max_probe_s: float = 30.0, reference: Callable[[], None] = reference_block,
                clock: Callable[[], float] = time.thread_time) -> dict[str, Any]:
    """Time ``work(i)`` (one explanation of item ``i`` of ``n_items``) in blocks alternating with ``reference``.

    Returns ``ratio`` (median over blocks of work/reference, per item), ``per_item_s`` and the raw
    block timings; or ``judged: false`` with the reason.
    """
    if blocks < MIN_BLOCKS:
        return not_judged(f"timing probe off or too few blocks ({blocks} < {MIN_BLOCKS})")
    if n_items < 1:
        return not_judged("no explained request to time")
    with one_thread():
        reference()  # warm-up: allocator, kernels, caches
        work(0)  # warm-up (first calls are slower: caches, lazy initialisation)
        n_timed = min(n_items, TIMED_ITEMS)
        one, batch = _size_batch(work, n_timed, min_block_s, clock)
        n_blocks = blocks
        if one * batch * blocks > max_probe_s:  # long explanations: fewer blocks, within the budget
            n_blocks = max(MIN_BLOCKS, int(max_probe_s // max(one * batch, 1e-9)))
        work_s, ref_s = [], []
        for _ in range(n_blocks):
            t0 = clock()
            reference()
            ref_s.append(clock() - t0)
            t0 = clock()
            for j in range(batch):
                work(j % n_timed)
            work_s.append(clock() - t0)
    w, r = np.asarray(work_s), np.asarray(ref_s)
    out: dict[str, Any] = {"judged": True, "reason": "", "clock": CLOCK, "reference": REFERENCE_NAME,
                           "blocks": n_blocks, "batch": batch, "n_items": n_items, "timed_items": n_timed, "work_s": work_s,
                           "reference_s": ref_s}
    if float(np.median(w)) < MIN_JUDGED_BLOCK_S or float(np.median(r)) < MIN_JUDGED_BLOCK_S:
        out.update(judged=False, reason=f"blocks too short to time ({np.median(w) * 1e3:.2f} ms of work, "
                   f"{np.median(r) * 1e3:.2f} ms of reference per block; needs >= {MIN_JUDGED_BLOCK_S * 1e3:g} ms)")
    out["ratio"] = float(np.median(w / np.maximum(r, 1e-12))) / batch
    out["per_item_s"] = float(np.median(w)) / batch
    return out
