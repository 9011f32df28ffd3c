"""Fingerprints of the code a cell's numbers come from, for its cache key.

The package version and a format number do not change when an explainer or a metric is edited in a
checkout, so a cached cell would outlive the code that made it. A cell's key therefore holds the
sha256 of the source files of its explainer's module and of the whole metrics package: editing
either recomputes exactly the cells it can move (MTEB keeps the revision in every result path for
the same reason).

A plugin's explainer may import helpers from anywhere in its package, so for a plugin the whole
top-level package is hashed (and its version recorded). Code with no source file to hash (a class
typed into an interactive session) gets a fingerprint of its own per process: its cells are always
recomputed rather than risk reusing numbers from other code.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
import uuid
from pathlib import Path


@functools.cache
def module_sources(module: str) -> str:
    """sha256 (16 hex digits) of a module's source file, or of every ``.py`` file of a package."""
    mod = importlib.import_module(module)
    try:
        file = Path(inspect.getfile(mod))
    except TypeError:  # a namespace package or a module without a file: nothing to hash
        return f"nosource-{uuid.uuid4().hex[:8]}"
    if not file.is_file():  # e.g. __main__ of an interactive session
        return f"nosource-{uuid.uuid4().hex[:8]}"
    files = sorted(file.parent.rglob("*.py")) if file.name == "__init__.py" else [file]
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(file.parent).as_posix().encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_fingerprint(explainer_module: str | None, *, plugin: dict[str, str] | None = None) -> dict[str, str]:
    """The fingerprints a cell's key holds: the metrics package, and the explainer's module if any.

    For a ``plugin`` explainer (its provenance, :meth:`xrec_bench.registry.Registry.plugin`) the
    explainer's whole top-level package is hashed and its version kept."""
    out = {"metrics": module_sources("xrec_bench.metrics")}
    if explainer_module is not None:
        out["explainer"] = module_sources(explainer_module.split(".")[0] if plugin else explainer_module)
    if plugin:
        out["plugin"] = f"{plugin.get('package')} {plugin.get('version')}"
    return out
