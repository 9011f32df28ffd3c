"""``xrec-bench`` over the fake stages, for tests of scripts that call the CLI (scripts/ci-gate.sh).

``run`` runs a suite of the fake catalog with :class:`FakeStages` (knobs as JSON in ``FAKE_KNOBS``);
every other command is the real CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from tests.helpers.fake_stages import FakeStages, fake_catalog
from xrec_bench.cli import main as cli
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "run":
        return cli(argv)
    p = argparse.ArgumentParser()
    p.add_argument("--suite", required=True)
    p.add_argument("--out", default=None)
    p.add_argument("--check", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv[1:])
    suite = load_suite(args.suite, catalog=fake_catalog())
    if args.check:
        print(f"suite {suite.name} v{suite.version} ({suite.content_hash[:12]}) is valid")
        return 0
    knobs = json.loads(os.environ.get("FAKE_KNOBS", "{}"))
    run_suite(suite, args.out, stages=FakeStages(**knobs), progress=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
