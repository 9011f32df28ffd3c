"""Data flows one way: datasets -> models -> explainers -> metrics -> harness -> leaderboard.

A module of a layer may import only its own layer, layers to its left, and the shared modules.
The CLI sits on top and may import anything.
"""

import ast
from pathlib import Path

import pytest

import xrec_bench

LAYERS = ["datasets", "models", "explainers", "metrics", "harness", "leaderboard"]
SHARED = {"registry", "seeding", "io", "paths", "params", "contract", "__init__", "_util"}
PACKAGE = Path(xrec_bench.__file__).parent


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "xrec_bench" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_only_layers_to_its_left(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1]) | SHARED
    offenders = {}
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        bad = _imported_layers(path) - allowed
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not offenders, f"imports against the data flow: {offenders}"


def test_shared_helpers_import_no_layer():
    """``_util`` sits below every layer: it may import only the standard library, numpy and scipy."""
    offenders = {}
    for path in sorted((PACKAGE / "_util").rglob("*.py")):
        bad = _imported_layers(path) - {"_util"}
        if bad:
            offenders[str(path.relative_to(PACKAGE))] = sorted(bad)
    assert not offenders, f"_util imports package modules above it: {offenders}"
