"""``xrec-bench datasets list | info | prepare``."""

from __future__ import annotations

import json

from xrec_bench.cli import main


def run(capsys, *argv):
    code = main(["datasets", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prepare_movielens_100k_json_then_cached(capsys, mirror_server):
    code, out, _ = run(capsys, "prepare", "movielens-100k", "--mirror", mirror_server, "--json", "--no-progress")
    assert code == 0
    first = json.loads(out)
    assert first["before_implicit"] == {"interactions": 100000, "users": 943, "items": 1682}
    assert first["cached"] is False
    after = first["after_implicit"]
    assert after["interactions"] == first["stats"]["implicit_interactions"] - first["stats"]["duplicate_interactions"]
    split = first["split"]
    assert split["train"] + split["valid"] + split["test"] == after["interactions"]
    assert {c["status"] for c in first["checksums"].values()} == {"pinned"}
    code, out, _ = run(capsys, "prepare", "movielens-100k", "--mirror", mirror_server, "--json", "--no-progress")
    second = json.loads(out)
    assert code == 0 and second["cached"] is True
    assert {k: v for k, v in second.items() if k != "cached"} == {k: v for k, v in first.items() if k != "cached"}
    code, out, _ = run(capsys, "prepare", "movielens-100k", "--no-progress")
    assert code == 0 and "from cache, nothing re-done" in out and "100000 interactions, 943 users, 1682 items" in out


def test_prepare_options_and_recorded_status(capsys, mirror_folder, formats):
    formats.put_amazon(mirror_folder, "All_Beauty")
    code, out, _ = run(capsys, "prepare", "amazon-2018", "--category", "All_Beauty", "--mirror", str(mirror_folder.root),
                       "--rating-threshold", "none", "--json", "--no-progress")
    report = json.loads(out)
    assert code == 0 and report["options"] == {"category": "All_Beauty", "rating_threshold": None, "kcore": 0}
    assert {c["status"] for c in report["checksums"].values()} == {"recorded, not pinned"}
    code, out, _ = run(capsys, "info", "amazon-2018", "--category", "All_Beauty")
    assert code == 0 and out.count("recorded, not pinned") == 2
    code, out, _ = run(capsys, "info", "amazon-2018")
    assert out.count(": pinned:") == 2 and "license:" in out and "citation:" in out


def test_list_and_unknown_names(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    for name in ("movielens-100k", "movielens-1m", "movielens-latest-small", "mind-small", "amazon-2018", "synthetic"):
        assert name in out
    code, _, err = run(capsys, "info", "amazon2018")
    assert code == 2 and "Did you mean: amazon-2018" in err
    code, _, err = run(capsys, "prepare", "movielens-100", "--no-progress")
    assert code == 2 and "Did you mean: movielens-100k" in err


def test_prepare_offline_is_a_clear_error(capsys, unused_port):
    code, _, err = run(capsys, "prepare", "movielens-100k", "--mirror", f"http://127.0.0.1:{unused_port}", "--no-progress")
    assert code == 2
    assert f"http://127.0.0.1:{unused_port}/files.grouplens.org/datasets/movielens/ml-100k.zip" in err
    assert "XREC_BENCH_MIRROR" in err
