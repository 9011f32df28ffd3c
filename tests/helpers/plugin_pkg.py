"""Helpers for plugin tests: the example plugin package on sys.path, and a simulated installation
(a ``*.dist-info`` folder with ``entry_points.txt``, which importlib.metadata reads like pip's)."""

from __future__ import annotations

import importlib
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xrec_bench_example_plugin"
ENTRY = "xrec_bench_example_plugin.explainers:RecencyExplainer"
METRIC_ENTRY = "xrec_bench_example_plugin.metrics:Concentration"


def fake_install(site: Path, *, name: str = "xrec-bench-example-plugin", version: str = "0.1.0",
                 top_level: str = "xrec_bench_example_plugin", entry_points: dict[str, str] | None = None,
                 metrics: dict[str, str] | None = None) -> Path:
    """Write ``site/<dist>-<version>.dist-info`` declaring ``entry_points`` (name -> module:Class) in the
    group ``xrec_bench.explainers`` (and ``metrics`` in ``xrec_bench.metrics``); ``site`` must be on
    sys.path (with the package importable)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "top_level.txt").write_text(top_level + "\n")
    eps = entry_points if entry_points is not None else {"recency": ENTRY}
    text = "[xrec_bench.explainers]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
    if metrics:
        text += "\n[xrec_bench.metrics]\n" + "".join(f"{k} = {v}\n" for k, v in metrics.items())
    (info / "entry_points.txt").write_text(text)
    importlib.invalidate_caches()
    return info


def fresh_entry_points(monkeypatch, registry) -> None:
    """Make ``registry`` read the entry points again (restored after the test)."""
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.setattr(registry, "_plugins", dict(registry._plugins))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
