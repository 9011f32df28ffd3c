from __future__ import annotations

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite


@pytest.fixture
def suite(tmp_path):
    path = tmp_path / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    return load_suite(path, catalog=fake_catalog())


@pytest.fixture
def run(suite, tmp_path):
    """Run the fake suite into a fresh folder; returns the folder."""
    counter = iter(range(100))

    def _run(stages: FakeStages | None = None, *, suite_=None, users=None):
        out = tmp_path / f"run{next(counter)}"
        run_suite(suite_ or suite, out, stages=stages or FakeStages(), progress=False, users_override=users)
        return out

    return _run
