"""The installed package carries no test code: test doubles live under tests/helpers/."""

import ast
from pathlib import Path

import xrec_bench

PACKAGE = Path(xrec_bench.__file__).parent


def test_no_package_module_imports_the_tests():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            if any(n == "tests" or n.startswith("tests.") for n in names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"package modules importing test code: {offenders}"


def test_no_test_doubles_in_the_package():
    doubles = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if p.stem in {"fake", "fakes", "mock", "mocks"}]
    assert not doubles, f"test doubles belong under tests/helpers/, not in the wheel: {doubles}"
