"""Per-window graph structure kept across evaluation passes: HUGT's evaluation fast path.

HUGT's graph heads read, for every window of items, a structure built from the window's items
and the frozen SVD item embeddings alone (:mod:`recbole_hug.graph.hug`): the MP heads'
attention mask (the k-nearest-predecessor edges) or the SE heads' clipped shortest-path lengths.
It does not depend on the model's weights, and validation evaluates the same windows every
epoch (``eval_protocol: hugt``: one pass per window of each validation user), so building it
again each epoch repeats the same work: on ML-1M (L = 200, k = 10) 24% of an MP validation pass
and 52% of an SE one (BENCHMARKS.md). :class:`WindowGraphCache` keeps each window's structure,
keyed by the window's exact items (its padding included), up to a memory limit, and builds
only the windows it has not seen. Exact: a hit returns what the build returned for that window.
The plain path (no cache) is the build itself; ``tests/model/test_graph_cache.py`` checks that
both give the same evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


class WindowGraphCache:
    """Each window's ``[L, L]`` structure by the window's items, up to ``limit_bytes``.

    Boolean structures (MP masks) are stored as bits (``np.packbits``), others (SE lengths) in
    their own dtype. Once the stored structures reach the limit, further windows are built
    and not stored. Lives on the CPU.

    Args:
        limit_bytes: the most bytes of stored structures (keys not counted: 8 bytes per item).
    """

    def __init__(self, limit_bytes: int) -> None:
        if limit_bytes < 0:
            raise ValueError(f"limit_bytes must be >= 0, got {limit_bytes}")
        self.limit_bytes = limit_bytes
        self.stored_bytes = 0
        self._structures: dict[bytes, np.ndarray] = {}
        self._dtype: torch.dtype | None = None

    def __len__(self) -> int:
        return len(self._structures)

    def get(
        self, windows: torch.Tensor, build: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """``[P, L, L]``: each of the ``[P, L]`` windows' structure, ``build`` called once on
        the windows not stored (``[M, L]`` -> ``[M, L, L]``, all of one dtype)."""
        rows = windows.cpu().numpy()
        keys = [row.tobytes() for row in rows]
        missing = [at for at, key in enumerate(keys) if key not in self._structures]
        found = sorted(set(range(len(keys))) - set(missing))
        built = build(windows[missing]).cpu() if missing else None
        if built is not None:
            if self._dtype not in (None, built.dtype):
                raise ValueError(f"one cache holds one dtype: {self._dtype}, then {built.dtype}")
            self._dtype = built.dtype
            self._store([keys[at] for at in missing], built)
        if built is not None and len(missing) == len(keys):
            return built.to(windows.device)
        length = rows.shape[1]
        out = torch.empty(len(keys), length, length, dtype=self._dtype)
        if built is not None:
            out[missing] = built
        out[found] = self._unpack(np.stack([self._structures[keys[at]] for at in found]), length)
        return out.to(windows.device)

    def _store(self, keys: list[bytes], built: torch.Tensor) -> None:
        values = built.numpy()
        if built.dtype == torch.bool:
            values = np.packbits(values, axis=-1)
        for key, value in zip(keys, values, strict=True):
            if key in self._structures:  # a window repeated within the batch
                continue
            if self.stored_bytes + value.nbytes > self.limit_bytes:
                return
            self._structures[key] = value.copy()  # not a view that keeps the batch alive
            self.stored_bytes += value.nbytes

    def _unpack(self, values: np.ndarray, length: int) -> torch.Tensor:
        if self._dtype == torch.bool:
            values = np.unpackbits(values, axis=-1, count=length).astype(bool)
        return torch.from_numpy(values)
