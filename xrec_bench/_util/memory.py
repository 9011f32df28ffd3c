"""Peak memory of this process: resident set size (``getrusage``) and, where used, CUDA allocations."""

from __future__ import annotations

import sys


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return peak_rss_bytes() / 2**20


def peak_cuda_mb() -> float | None:
    """Peak CUDA memory allocated by torch in this process, in MiB; None without CUDA (or without torch
    imported: a process that never imported torch allocated nothing on the GPU)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20
