"""The interleaved timing probe, driven by a simulated clock (no real timing, so nothing here is flaky)."""

from __future__ import annotations

import pytest

from xrec_bench.harness import timing


class SimulatedMachine:
    """A clock that only moves when work or the reference runs; ``hiccups`` add seconds to given work
    calls; ``item_s`` is one cost for every item, or a cost per item."""

    def __init__(self, item_s, reference_s: float, hiccups: dict[int, float] | None = None):
        self.now, self.item_s, self.reference_s = 0.0, item_s, reference_s
        self.hiccups, self.work_calls = dict(hiccups or {}), 0

    def clock(self) -> float:
        return self.now

    def work(self, i: int) -> None:
        cost = self.item_s[i] if isinstance(self.item_s, list) else self.item_s
        self.now += cost + self.hiccups.get(self.work_calls, 0.0)
        self.work_calls += 1

    def reference(self) -> None:
        self.now += self.reference_s


def _probe(machine: SimulatedMachine, **kw):
    return timing.interleaved(machine.work, 10, reference=machine.reference, clock=machine.clock,
                              blocks=5, min_block_s=0.01, max_probe_s=0.5, **kw)


@pytest.fixture(autouse=True)
def _no_torch_threads(monkeypatch):
    from contextlib import nullcontext

    monkeypatch.setattr(timing, "one_thread", nullcontext)


def test_a_steady_machine_gives_the_true_ratio():
    out = _probe(SimulatedMachine(item_s=0.0002, reference_s=0.008))
    assert out["judged"], out["reason"]
    assert out["per_item_s"] == pytest.approx(0.0002)
    assert out["ratio"] == pytest.approx(0.0002 / 0.008)
    assert min(out["work_s"]) >= 0.01 / 2


def test_one_hiccup_while_sizing_still_gives_blocks_long_enough_to_judge():
    """A 2.5 ms stall on the first sizing call made 0.2 ms items look 13x slower: the batch was sized to
    4 items, every block lasted 0.8 ms and the cell came out 'too short to time' (seen on a CI machine)."""
    machine = SimulatedMachine(item_s=0.0002, reference_s=0.008, hiccups={1: 0.0025})  # call 0 is the warm-up
    out = _probe(machine)
    assert out["judged"], out["reason"]
    assert out["batch"] >= 0.01 / 0.0002
    assert out["ratio"] == pytest.approx(0.0002 / 0.008)


def test_items_of_different_cost_give_the_same_figure_whatever_the_noise():
    """Exact Shapley costs 2**F evaluations: users differ 100-fold. Blocks cover whole cycles over the
    same first requests, so a hiccup that changes the batch does not change which users are timed
    (before: batches of 3 and 7 users gave 0.55 and 0.29 reference units for the same code)."""
    costs = [0.009, 0.009, 0.009, 0.0003, 0.0003, 0.0003, 0.0003, 0.02, 0.02, 0.02]
    figures = []
    for hiccups in ({}, {1: 0.02}, {2: 0.05, 5: 0.01}):
        out = _probe(SimulatedMachine(costs, reference_s=0.008, hiccups=hiccups))
        assert out["judged"], out["reason"]
        assert out["timed_items"] == timing.TIMED_ITEMS and out["batch"] % timing.TIMED_ITEMS == 0
        figures.append(out["ratio"])
    mean_of_timed = sum(costs[: timing.TIMED_ITEMS]) / timing.TIMED_ITEMS
    assert figures == pytest.approx([mean_of_timed / 0.008] * 3)


def test_work_too_short_even_at_the_largest_batch_is_not_judged():
    out = _probe(SimulatedMachine(item_s=1e-7, reference_s=0.008))
    assert not out["judged"] and "too short" in out["reason"]
    assert out["batch"] == timing.MAX_BATCH


def test_long_explanations_take_fewer_blocks_within_the_budget():
    out = _probe(SimulatedMachine(item_s=0.05, reference_s=0.008))
    assert out["batch"] == timing.TIMED_ITEMS and out["blocks"] == timing.MIN_BLOCKS
