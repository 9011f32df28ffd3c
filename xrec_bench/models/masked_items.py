"""Item vectors of one item text under many binary word-piece masks, computed once each.

Token-level explanation and its metrics score the same target text under many masks: LIME,
KernelSHAP, exact Shapley, leave-one-out, the deletion/insertion curves, infidelity and the
stability re-explanations of one user draw from only ``2**F`` distinct word masks (32 for a
five-word MovieLens title), and the item vector of a masked text does not depend on the user. So
:func:`masked_item_vectors`

* deduplicates identical masks within a call,
* looks each distinct (text, mask) up in the :class:`ItemVectorCache` it is given: the model passes
  one only inside :meth:`~xrec_bench.models.text_base.TextRecommender.reuse_scope`, which the metrics
  open around one request (explanations never reuse a vector),
* encodes the missing ones with the removed word-pieces left out of the sequence
  (``compact=True``: the kept word-pieces keep their original position ids, so the encoder sees
  exactly what the attention mask showed it before: removed tokens receive no attention and take
  no part in the pooling, and the kept ones are computed the same way), sorted by length and
  padded per batch only to the longest kept sequence,
* under ``torch.inference_mode``.

The values equal the full-width masked forward pass up to float rounding (different matmul
shapes): |difference| < 1e-5 on the scores, checked by ``tests/unit/models/test_masked_items.py``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

#: distinct (text, mask) item vectors kept per model (384 floats each for MiniLM: ~50 MB at most)
DEFAULT_CACHE_ENTRIES = 32_768
#: masked texts encoded per encoder call. Smaller batches keep the encoder's activations in cache:
#: LIME with 500 samples on ten MovieLens-100K titles (2 threads) took 0.86-1.03 s per explanation
#: at 48-64 against 1.17-1.60 s at 256 and 1.03-1.61 s at 8-16 (benchmarks/SPEED.md)
DEFAULT_BATCH_SIZE = 64
#: masked texts per encoder call when the encoder runs on an accelerator: a GPU needs large kernels to
#: be busy, and 1024 texts of at most 64 word-pieces hold well under 1 GB of activations in MiniLM or
#: BERT-base. Not tuned on a GPU here (none was at hand); the GPU suite's run record shows its throughput
ACCELERATOR_BATCH_SIZE = 1024


def batch_size_for(device) -> int:
    """Masked texts per encoder call on ``device`` (a ``torch.device``)."""
    return DEFAULT_BATCH_SIZE if torch.device(device).type == "cpu" else ACCELERATOR_BATCH_SIZE

ItemFn = Callable[..., torch.Tensor]


class ItemVectorCache:
    """A bounded least-recently-used map ``(text ids, token mask) -> item vector``.

    It belongs to one model state: :class:`~xrec_bench.models.text_base.TextRecommender` makes a
    new one whenever its item embeddings are (re)computed (fit, load, randomised copy).
    """

    def __init__(self, max_entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.max_entries = int(max_entries)
        self._store: OrderedDict[tuple[bytes, bytes], torch.Tensor] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    def get(self, key: tuple[bytes, bytes]) -> torch.Tensor | None:
        value = self._store.get(key)
        if value is not None:
            self._store.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return value

    def put(self, key: tuple[bytes, bytes], value: torch.Tensor) -> None:
        self._store[key] = value
        self._store.move_to_end(key)
        while len(self._store) > self.max_entries:
            self._store.popitem(last=False)


def masked_item_vectors(
    item_fn: ItemFn,
    input_ids: torch.Tensor,
    token_masks: torch.Tensor,
    *,
    cache: ItemVectorCache | None = None,
    compact: bool = False,
    pad_id: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> torch.Tensor:
    """Item vectors ``[B, D]`` of the text ``input_ids [1, T]`` under binary token masks ``[B, T]``.

    ``compact``: drop the masked word-pieces from the sequence and pass the kept ones' original
    positions as ``position_ids`` (``item_fn`` must accept them; only valid for encoders with
    absolute position embeddings). Otherwise every row is encoded at full width with the mask as
    the attention mask, as :meth:`TokenTask.forward_ids` does.
    """
    ids = input_ids.reshape(-1)
    masks = (token_masks > 0).to(torch.uint8).cpu().numpy()
    unique, inverse = np.unique(masks, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    text_key = ids.cpu().numpy().astype(np.int64).tobytes()
    keys = [(text_key, np.packbits(row).tobytes() + bytes([len(row) % 8])) for row in unique]
    vectors: list[torch.Tensor | None] = [cache.get(k) if cache is not None else None for k in keys]
    missing = [i for i, v in enumerate(vectors) if v is None]
    if missing:
        rows = torch.as_tensor(unique[missing], dtype=torch.long)
        encoded = _encode(item_fn, ids, rows, compact=compact, pad_id=pad_id, batch_size=batch_size)
        for j, i in enumerate(missing):
            vectors[i] = encoded[j]
            if cache is not None:
                cache.put(keys[i], encoded[j])
    stacked = torch.stack(vectors)  # type: ignore[arg-type]
    return stacked[torch.as_tensor(inverse, dtype=torch.long)]


def _encode(item_fn: ItemFn, ids: torch.Tensor, rows: torch.Tensor, *, compact: bool, pad_id: int,
            batch_size: int) -> torch.Tensor:
    """Encode the distinct masks ``rows [U, T]``; returns ordinary (not inference-mode) tensors."""
    lengths = rows.sum(dim=1)
    order = torch.argsort(lengths, descending=True, stable=True) if compact else torch.arange(len(rows))
    out = torch.empty(0)
    with torch.inference_mode():
        chunks = []
        for start in range(0, len(rows), batch_size):
            idx = order[start : start + batch_size]
            chunk = rows[idx]
            if compact:
                chunks.append(_compact_forward(item_fn, ids, chunk, int(lengths[idx].max()), pad_id))
            else:
                chunks.append(item_fn(ids.expand(len(chunk), -1), chunk))
        vecs = torch.cat(chunks).float()
        out = torch.empty_like(vecs)
        out[order] = vecs
    return out.clone()  # a normal tensor: usable outside inference mode


def _compact_forward(item_fn: ItemFn, ids: torch.Tensor, chunk: torch.Tensor, width: int,
                     pad_id: int) -> torch.Tensor:
    """One batch with the removed word-pieces left out: kept ids left-packed, padded to ``width``."""
    b, t = chunk.shape
    positions = torch.arange(t).expand(b, -1)
    keep = chunk.bool()
    # stable sort puts each row's kept positions first, in their original order
    rank = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :width]
    kept_pos = torch.gather(positions, 1, rank)
    attention = torch.gather(keep, 1, rank).long()
    packed_ids = torch.where(attention.bool(), ids[kept_pos], torch.full_like(kept_pos, pad_id))
    position_ids = torch.where(attention.bool(), kept_pos, torch.zeros_like(kept_pos))
    return item_fn(packed_ids, attention, position_ids=position_ids)
