"""Peak memory of preparing a MovieLens-1M-sized dataset (the figure in ``datasets/README.md``).

Writes a synthetic archive in the official ML-1M format (1,000,209 ratings from 6,040 users on 3,952
movies, ``ml-1m/ratings.dat`` and ``ml-1m/movies.dat``) into a temporary mirror folder, then, in a
fresh process per measurement, prepares ``movielens-1m`` from it (fetch, verify, parse, preprocess,
cache) and reports:

* ``rss``: the process's peak resident set size while preparing (Linux: the peak mark is reset after the
  imports, ``peak_reset``; elsewhere ``ru_maxrss`` of the whole process), and ``rss_imports``, the
  resident size after the imports, so ``rss - rss_imports`` is what preparing added;
* ``traced``: the peak of Python and numpy allocations during parsing alone (``tracemalloc``), and the
  size of the parsed output (``output``: the bytes of the parsed ``Dataset``'s frames, deep).

    python benchmarks/parse_memory.py                      # prints a JSON object
    python benchmarks/parse_memory.py --write-mirror DIR   # only writes the synthetic mirror
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from xrec_bench._util.memory import peak_rss_bytes

N_RATINGS, N_USERS, N_MOVIES = 1_000_209, 6_040, 3_952
URL_PATH = "files.grouplens.org/datasets/movielens/ml-1m.zip"


def write_mirror(folder: Path, seed: int = 0) -> Path:
    """A mirror folder holding a synthetic ml-1m.zip in the official format."""
    rng = np.random.default_rng(seed)
    users = np.sort(rng.integers(1, N_USERS + 1, N_RATINGS))
    users[:N_USERS] = np.arange(1, N_USERS + 1)  # every user occurs
    users.sort()
    movies = rng.zipf(1.3, N_RATINGS) % N_MOVIES + 1
    ratings = rng.integers(1, 6, N_RATINGS)
    times = rng.integers(956_703_932, 1_046_454_590, N_RATINGS)
    ratings_dat = "".join(f"{u}::{m}::{r}::{t}\n" for u, m, r, t in zip(users, movies, ratings, times, strict=True))
    genres = ["Action", "Comedy", "Drama", "Thriller", "Children's", "Sci-Fi"]
    movies_dat = "".join(
        f"{i}::Movie number {i}, The ({1919 + i % 81})::{genres[i % 6]}|{genres[(i * 7) % 6]}\n"
        for i in range(1, N_MOVIES + 1)
    )
    target = folder / URL_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-1m/ratings.dat", ratings_dat.encode("latin-1"))
        zf.writestr("ml-1m/movies.dat", movies_dat.encode("latin-1"))
    target.write_bytes(buffer.getvalue())
    return folder


def _status(field: str) -> int | None:
    """A memory figure of this process from /proc (bytes), or None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux: write 5 to /proc/self/clear_refs), so that the peak read
    afterwards is the peak of what follows, not of the imports."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    peak = _status("VmHWM")
    if peak is not None:
        return peak
    return peak_rss_bytes()


def measure(mirror: str, mode: str) -> dict:
    """Run in a fresh process: ``mode`` is ``prepare`` (peak RSS) or ``trace`` (tracemalloc of the parser)."""
    import tracemalloc

    import xrec_bench.datasets.loader as loader
    from xrec_bench.datasets.cards import get_card
    from xrec_bench.datasets.fetch import fetch_files

    rss_imports = _status("VmRSS") or _peak_rss_bytes()
    if mode == "prepare":
        reset = _reset_peak()
        prepared = loader.prepare_dataset("movielens-1m", mirror=mirror, progress=False)
        return {"rss": _peak_rss_bytes(), "rss_imports": rss_imports, "peak_reset": reset,
                "interactions": len(prepared.dataset.interactions)}
    card = get_card("movielens-1m")
    options = card.resolve_options()
    fetched = fetch_files(card.resolve_files(options), mirror=mirror, progress=False)
    parser = loader._resolve(card.parser)
    tracemalloc.start()
    raw = parser(card, {f.key: f.path for f in fetched}, dict(options))
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    output = sum(int(f.memory_usage(deep=True).sum()) for f in (raw.items, raw.users, raw.interactions))
    return {"traced": traced, "output": output, "raw_interactions": len(raw.interactions)}


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--write-mirror":
        write_mirror(Path(sys.argv[2]))
        return
    if len(sys.argv) == 3:  # child process
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))
        return
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        mirror = write_mirror(Path(tmp) / "mirror")
        for mode in ("prepare", "trace"):
            env = {**os.environ, "XREC_BENCH_DATA": str(Path(tmp) / f"cache-{mode}")}
            out = subprocess.run(
                [sys.executable, __file__, str(mirror), mode], env=env, check=True, capture_output=True, text=True
            )
            result.update(json.loads(out.stdout.strip().splitlines()[-1]))
    mib = {k: round(v / 2**20, 1) for k, v in result.items() if k in ("rss", "rss_imports", "traced", "output")}
    result["MiB"] = {**mib, "rss_added": round(mib["rss"] - mib["rss_imports"], 1)}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
