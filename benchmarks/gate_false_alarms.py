"""Measure the gate's false-alarm rate: clean re-runs of unchanged code gated against one baseline.

    python benchmarks/gate_false_alarms.py --suite gate --work /tmp/gate-noise --calibration-runs 3 --clean-runs 5

Run 1 is the baseline (its leaderboard built under WORK/results); runs 1..C calibrate the latency
threshold (``xrec-bench gate-calibrate``, stored next to the baseline); runs C+1.. are the clean
re-runs, each gated. ``--load N`` starts N busy-looping processes during every other clean run
(background CPU load). Existing run folders are reused (a crashed measurement resumes). Prints one
Markdown row per clean run (for benchmarks/GATE.md).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _busy(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def _run(suite: str, out: Path, load: int = 0) -> tuple[float, str]:
    if (out / "record.json").is_file():
        return float("nan"), "reused"
    procs = [mp.Process(target=_busy, args=(time.time() + 3600,), daemon=True) for _ in range(load)]
    for p in procs:
        p.start()
    before = Path("/proc/loadavg").read_text().split()[0]
    t0 = time.time()
    try:
        subprocess.run(["xrec-bench", "run", "--suite", suite, "--out", str(out), "--no-progress"], check=True)
    finally:
        for p in procs:
            p.terminate()
    after = Path("/proc/loadavg").read_text().split()[0]
    return time.time() - t0, f"{before} -> {after}"


def main() -> int:
    from xrec_bench.cli import main as cli
    from xrec_bench.io import read_json
    from xrec_bench.leaderboard.gate import GateConfig, compare
    from xrec_bench.leaderboard.load import load_board

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="gate")
    p.add_argument("--work", required=True)
    p.add_argument("--calibration-runs", type=int, default=3)
    p.add_argument("--clean-runs", type=int, default=5)
    p.add_argument("--load", type=int, default=2, help="busy processes during every other clean run")
    args = p.parse_args()
    work = Path(args.work)
    cal = [work / f"run{i}" for i in range(1, args.calibration_runs + 1)]
    for r in cal:
        print(f"calibration {r.name}: {_run(args.suite, r)}", flush=True)
    assert cli(["leaderboard", "build", "--runs", str(cal[0]), "--out", str(work / "results")]) == 0
    baseline = next((work / "results").glob("*/v*/leaderboard.json"))
    calibration = baseline.parent / "gate-calibration.json"
    assert cli(["gate-calibrate", *map(str, cal), "--out", str(calibration)]) == 0
    threshold = read_json(calibration)["latency_threshold"]
    rows = ["| run | background load | load avg (start -> end) | wall s | verdict | regressions | latency judged | "
            "latency ratio max | quality mode |", "|---|---|---|---|---|---|---|---|---|"]
    failures = 0
    for i in range(args.clean_runs):
        out = work / f"clean{i + 1}"
        load = args.load if i % 2 else 0
        wall, loadavg = _run(args.suite, out, load)
        report = compare(load_board([baseline]), load_board([out]), GateConfig(latency_threshold=threshold))
        ratios = [f.diff for f in report.findings if f.metric == "wall_time_s" and f.verdict != "not judged"]
        judged = f"{len(ratios)}/{sum(f.metric == 'wall_time_s' for f in report.findings)}"
        failures += not report.passed
        rows.append(f"| {out.name} | {load} busy procs | {loadavg} | {wall:.0f} | "
                    f"{'PASSED' if report.passed else 'FAILED'} | {len(report.regressions)} | {judged} | "
                    f"{max(ratios) if ratios else float('nan'):.3f} | {report.mode} |")
        print(rows[-1], flush=True)
    print(f"\nlatency threshold {threshold:.3f} (calibrated from {len(cal)} runs); "
          f"{failures} failure(s) in {args.clean_runs} clean re-runs\n")
    print("\n".join(rows))
    spread = np.array(list(read_json(calibration)["spread_per_cell"].values()))
    print(f"\ncalibration spread per cell: median {np.median(spread):.3f}, max {spread.max():.3f}")
    return int(failures > 0)


if __name__ == "__main__":
    sys.exit(main())
