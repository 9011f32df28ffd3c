"""Attack: a forged run record (the leaderboard merges submitted records). Its names become paths
and page text: a record with ``suite.name = "/abs/path"``, a traversal label, markup in the version
or no suite at all is refused when read, with a message naming the file, and nothing is written."""

from __future__ import annotations

import json

import pytest

from tests.helpers.fake_stages import FAKE_SUITE_TOML, FakeStages, fake_catalog
from xrec_bench.cli import main
from xrec_bench.harness.runner import run_suite
from xrec_bench.harness.suite import load_suite
from xrec_bench.leaderboard.load import Board, load_board, read_record
from xrec_bench.leaderboard.write import write_leaderboard
from xrec_bench.paths import UnsafePathError


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forged")
    path = tmp / "fake.toml"
    path.write_text(FAKE_SUITE_TOML, encoding="utf-8")
    result = run_suite(load_suite(path, catalog=fake_catalog()), tmp / "run", stages=FakeStages(), progress=False,
                       users_override=5)
    return json.loads(result.record_path.read_text())


def _forge(tmp_path, record, edit) -> str:
    forged = json.loads(json.dumps(record))
    edit(forged)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    return str(path)


ATTACKS = {
    "absolute suite name": lambda r: r["suite"].__setitem__("name", "/abs/path"),
    "traversal suite name": lambda r: r["suite"].__setitem__("name", "../../../../tmp/x"),
    "markup in the version": lambda r: r["suite"].__setitem__("version", "1<img src=x onerror=alert(1)>"),
    "traversal dataset label": lambda r: r["cells"][0]["key"].__setitem__("dataset", "../../x"),
    "markup in a model label": lambda r: r["cells"][0]["key"].__setitem__("model", "<script>alert(1)</script>"),
    "metric values that are not numbers": lambda r: r["cells"][0].__setitem__("metrics", {"ndcg@10": ["<b>"]}),
    "no suite": lambda r: r.pop("suite"),
    "traversal run id": lambda r: r.__setitem__("run_id", "../../../tmp/x"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_forged_record_is_refused_when_read(tmp_path, record, attack):
    path = _forge(tmp_path, record, ATTACKS[attack])
    with pytest.raises(ValueError, match="not a valid run record") as err:
        read_record(path)
    assert path in str(err.value)


def test_leaderboard_build_refuses_it_cleanly_and_writes_nothing(tmp_path, record, capsys):
    target = tmp_path / "abs" / "path"
    path = _forge(tmp_path, record, lambda r: r["suite"].__setitem__("name", str(target)))
    out = tmp_path / "out"
    assert main(["leaderboard", "build", "--runs", path, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "suite.name" in err and "Traceback" not in err
    assert not target.exists() and not out.exists()


def test_a_record_without_a_suite_gets_a_clear_message(tmp_path, record, capsys):
    path = _forge(tmp_path, record, lambda r: r.pop("suite"))
    assert main(["leaderboard", "show", path]) == 2
    err = capsys.readouterr().err
    assert "no 'suite'" in err and "KeyError" not in err


def test_the_writer_checks_paths_even_for_a_board_built_in_code(tmp_path, record):
    good = load_board([_forge(tmp_path, record, lambda r: None)])
    for name in ("../../escape", "/abs/path"):
        board = Board({**good.suite, "name": name}, good.config_hash, good.datasets, good.models, good.metric_specs,
                      good.cells, good.runs)
        with pytest.raises(ValueError):
            write_leaderboard(board, tmp_path / "out", plots=False)
    assert not (tmp_path / "escape").exists() and not list((tmp_path).glob("out/**/*.json"))
    assert issubclass(UnsafePathError, ValueError)


def test_a_record_without_hashes_is_refused_by_the_merge(tmp_path, record):
    from xrec_bench.leaderboard.load import MergeError

    path = _forge(tmp_path, record, lambda r: r.pop("config_hash"))
    with pytest.raises(MergeError, match="lacks config_hash"):
        load_board([path])
