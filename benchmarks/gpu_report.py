"""The throughput figures of one run, read from its run record (nothing is re-measured):

    python benchmarks/gpu_report.py runs/gpu-smoke/record.json

Prints the device and the run's wall time, cells computed per second, each model's training time, and
per model, granularity and explainer: explanations per second (explained requests over the seconds spent
explaining them, summed over datasets), the median wall time of one explanation, model evaluations per
explanation, and the peak GPU memory of the process when the run had a GPU (else the peak RSS). Meant
for ``gpu-smoke`` on a GPU (the figures that go into ``benchmarks/GPU.md``); it reads any run record.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path


def report(record: dict) -> str:
    env = record.get("environment", {})
    suite = record.get("suite", {})
    computed = int(record.get("counts", {}).get("computed", 0))
    elapsed = float(record.get("elapsed_s") or 0.0)
    lines = [
        f"run {record.get('run_id', '?')}: suite {suite.get('name')} v{suite.get('version')}, device "
        f"{env.get('device', '?')}, {env.get('cpu_count', '?')} CPUs"
        + (f", device override {suite['device_override']}" if suite.get("device_override") else ""),
        f"wall {elapsed:.0f} s; {computed} cells computed"
        + (f" ({computed / elapsed:.3f} cells/s)" if elapsed > 0 else ""),
    ]
    for model in record.get("models", []):
        rev = model.get("revision") or {}
        if rev.get("fit_seconds") is not None:
            lines.append(f"training {model['dataset']}/{model['model']}: {rev['fit_seconds']:.1f} s")
    rows: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    p50s: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for cell in record.get("cells", []):
        cost = (cell.get("info") or {}).get("cost")
        if cell.get("kind") != "explainer" or cell.get("status") != "ok" or not cost:
            continue
        key = (cell["key"]["model"], cell["key"]["granularity"], cell["key"]["explainer"])
        row = rows[key]
        n = float(cost.get("n_explained") or 0)
        row["explained"] += n
        row["seconds"] += float(cost.get("total_wall_s") or 0.0)
        row["evals"] += n * float(cost.get("n_evals_mean") or 0.0)
        row["gpu_mb"] = max(row["gpu_mb"], float(cost.get("cuda_peak_mb") or 0.0))
        row["rss_mb"] = max(row["rss_mb"], float(cost.get("peak_rss_mb") or 0.0))
        if cost.get("wall_time_p50_s") is not None:
            p50s[key].append(float(cost["wall_time_p50_s"]))
    any_gpu = any(r["gpu_mb"] > 0 for r in rows.values())
    memory = "peak GPU MB" if any_gpu else "peak RSS MB"
    lines += ["", f"| model | granularity | explainer | explained | explanations/s | p50 s (median over datasets) | "
                  f"evals/explanation | {memory} |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for (model, granularity, explainer), r in sorted(rows.items()):
        rate = r["explained"] / r["seconds"] if r["seconds"] > 0 else math.nan
        p50 = sorted(p50s[(model, granularity, explainer)])
        mid = p50[len(p50) // 2] if p50 else math.nan
        evals = r["evals"] / r["explained"] if r["explained"] else math.nan
        mem = r["gpu_mb"] if any_gpu else r["rss_mb"]
        lines.append(f"| {model} | {granularity} | {explainer} | {r['explained']:.0f} | {rate:.1f} | {mid:.4f} | {evals:.0f} | "
                     f"{mem:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("record", type=Path, help="a run record (runs/<suite>/record.json or records/*.json)")
    args = parser.parse_args(argv)
    try:
        record = json.loads(args.record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        parser.error(f"cannot read the run record {args.record}: {exc}")
    print(report(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
