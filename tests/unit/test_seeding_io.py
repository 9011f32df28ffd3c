import zipfile

import numpy as np
import pytest

from xrec_bench.io import UnsafeArchiveError, atomic_path, read_json, safe_extract_zip, write_json
from xrec_bench.seeding import derive_seed, rng


def test_derive_seed_depends_only_on_its_key():
    a = derive_seed(0, "ml-100k", "lime", "history")
    assert a == derive_seed(0, "ml-100k", "lime", "history")
    assert a != derive_seed(1, "ml-100k", "lime", "history")
    assert a != derive_seed(0, "ml-100k", "lime", "tokens")
    assert 0 <= a < 2**32


def test_rng_requires_a_seed():
    with pytest.raises(ValueError, match="seed"):
        rng(None)
    assert rng(3).integers(100) == np.random.default_rng(3).integers(100)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    write_json(target, {"a": np.int64(3), "b": np.arange(2)})
    assert read_json(target) == {"a": 3, "b": [0, 1]}


def test_safe_extract_refuses_traversal(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../escape.txt", "bad")
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError, match="outside"):
        safe_extract_zip(archive, dest)
    assert not dest.exists()
    assert not (tmp_path / "escape.txt").exists()
    assert safe_extract_zip(archive, dest, ["ok.txt"]) == [dest / "ok.txt"]
    assert (dest / "ok.txt").read_text() == "fine"


def test_safe_extract_corrupt_archive_leaves_nothing(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "x" * 10000)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(zipfile.BadZipFile):
        safe_extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_deterministic_torch_is_scoped():
    import torch

    from xrec_bench.seeding import deterministic_torch

    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_torch():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before
