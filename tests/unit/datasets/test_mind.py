"""MIND-small: generated train/dev archives of the official format, and the genuine sample whose
behaviors name mostly news that its news.tsv lacks (dangling references)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from xrec_bench.datasets.errors import DanglingReferenceError, MalformedDataError
from xrec_bench.datasets.loader import load_dataset


def put_mind(mirror_folder, formats, train=None, dev=None):
    mirror_folder.put(formats.MIND_URLS["train"], train or formats.mind_zip("train"))
    mirror_folder.put(formats.MIND_URLS["dev"], dev or formats.mind_zip("dev"))


def epoch(text: str) -> int:
    return int(datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p").replace(tzinfo=timezone.utc).timestamp())


def test_generated_train_and_dev(mirror_folder, formats, serve):
    put_mind(mirror_folder, formats)
    ds = load_dataset("mind-small", mirror=serve(mirror_folder.root), progress=False)
    assert set(ds.stats["checksum_status"].values()) == {"recorded, not pinned"}
    assert len(ds.checksums) == 4  # news.tsv and behaviors.tsv of train and dev
    assert ds.items["item_id"].tolist() == ["N1", "N2", "N3", "N4", "N5"]
    assert ds.items["text"].iloc[0] == "Team wins. Category: sports, sportssub. A team won."
    assert ds.users["user_id"].tolist() == ["U1", "U2", "U3"]
    items, users = ds.items["item_id"].to_numpy(), ds.users["user_id"].to_numpy()
    clicks = [(users[u], items[i], t) for u, i, t in ds.interactions[["user", "item", "timestamp"]].to_numpy()]
    t1 = epoch("11/11/2019 9:05:58 AM")
    assert clicks == [
        # U1's history clicks just before the first impression, in order; N99 (not in news.tsv) dropped
        ("U1", "N1", t1 - 2), ("U1", "N2", t1 - 1), ("U1", "N3", t1),
        ("U1", "N4", epoch("11/13/2019 10:00:00 AM")), ("U1", "N5", epoch("11/15/2019 8:00:00 AM")),
        ("U2", "N2", epoch("11/12/2019 3:00:00 PM") - 1), ("U2", "N4", epoch("11/12/2019 3:00:00 PM")),
        ("U3", "N3", epoch("11/15/2019 9:00:00 PM")),
    ]
    assert ds.stats["dangling_references"] == 3 and ds.stats["dangling_news_ids"] == 1
    imp = ds.impressions
    assert imp[["source", "impression_id"]].values.tolist() == [["train", 1], ["train", 2], ["train", 3], ["dev", 1],
                                                                ["dev", 2]]
    first = imp.iloc[0]
    assert items[first["candidates"]].tolist() == ["N3", "N4"] and first["labels"].tolist() == [1, 0]
    assert items[first["history"]].tolist() == ["N1", "N2"]
    assert imp.iloc[4]["history"].size == 0 and users[imp.iloc[4]["user"]] == "U3"
    # every click in an impression is an interaction at the impression time
    for row in imp.itertuples():
        for item in row.candidates[row.labels == 1]:
            assert ((ds.interactions["user"] == row.user) & (ds.interactions["item"] == item)).any()


def test_generated_dangling_references_refused_in_strict_mode(mirror_folder, formats):
    put_mind(mirror_folder, formats)
    with pytest.raises(DanglingReferenceError, match="missing from news.tsv \\(1 distinct ids\\): 3 \\(e.g. N99\\)"):
        load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False, strict=True)


def test_malformed_behaviors_rows(mirror_folder, formats):
    behaviors = [*formats.MIND_BEHAVIORS["train"], "4\tU4\tnot a time\tN1\tN2-1", "5\tU5\t11/12/2019 1:00:00 PM\tN1\tN2-x",
                 "6\tU6\t11/12/2019 1:00:00 PM\tN1"]
    put_mind(mirror_folder, formats, train=formats.mind_zip("train", behaviors=behaviors))
    ds = load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False)
    assert ds.stats["malformed_rows"] == 3
    assert not {"U4", "U5", "U6"} & set(ds.users["user_id"])
    with pytest.raises(MalformedDataError, match="behaviors.tsv rows that do not parse: 3"):
        load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False, strict=True)


def test_genuine_sample_with_dangling_references(test_mirror, mirror_folder, formats):
    sample = test_mirror / "samples/mind/MINDsmall_train_sample5000"
    news, behaviors = (sample / "news.tsv").read_bytes(), (sample / "behaviors.tsv").read_bytes()
    put_mind(mirror_folder, formats, train=formats.zip_bytes({"news.tsv": news, "behaviors.tsv": behaviors}),
             dev=formats.mind_zip("dev", news=[], behaviors=[]))
    # what the sample holds, counted independently of the parser
    known = {line.split("\t")[0] for line in news.decode().splitlines()}
    references = []
    for line in behaviors.decode().splitlines():
        _, _, _, history, shown = line.split("\t")
        references += history.split() + [token.rsplit("-", 1)[0] for token in shown.split()]
    missing = [r for r in references if r not in known]
    assert len(set(missing)) / len(set(references)) > 0.9  # the MANIFEST: only 3.7% of ids are present

    ds = load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False)
    assert ds.stats["dangling_references"] == len(missing)
    assert ds.stats["dangling_news_ids"] == len(set(missing))
    assert ds.stats["raw_impressions"] == 5000
    assert set(ds.items["item_id"]) <= known
    for row in ds.impressions.itertuples():
        assert len(row.candidates) == len(row.labels) > 0
    assert np.concatenate(ds.impressions["candidates"].tolist()).max() < ds.n_items
    with pytest.raises(DanglingReferenceError, match=f": {len(missing)} "):
        load_dataset("mind-small", mirror=str(mirror_folder.root), progress=False, strict=True)
