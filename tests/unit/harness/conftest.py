from __future__ import annotations

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, fake_catalog
from xrec_bench.harness.suite import load_suite


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    return path


@pytest.fixture
def suite(suite_file):
    return load_suite(suite_file, catalog=fake_catalog())
