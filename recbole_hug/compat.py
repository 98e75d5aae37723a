"""Every fix that RecBole 1.2.1 needs to run on today's stack, in one place.

Each fix is applied by the plugin's own entry points (``recbole_hug.config.Config``,
``recbole_hug.quick_start``), never at import time, and each has a test in
``tests/test_compat.py`` that fails without it.

- numpy >= 2: ``Config.compatibility_settings`` reads ``np.float_``, ``np.complex_`` and
  ``np.unicode_`` (removed in numpy 2), then sets the legacy names ``np.float``, ``np.int``, ...
  that RecBole's metrics and data code use. :func:`restore_legacy_numpy_names` sets the same
  legacy names from numpy-2-safe types, and only where numpy lacks them.
- torch >= 2.6: ``torch.load`` defaults to ``weights_only=True``, and RecBole's checkpoints
  pickle the whole Config, so every reload (``Trainer.evaluate(load_best_model=True)``,
  ``resume_checkpoint``, ``load_data_and_model``) fails. :func:`trusted_checkpoints` restores
  the old default around the plugin's own reloads.
- RecBole's sequential models: importing ``recbole.model.sequential_recommender`` runs
  ``torch.autograd.set_detect_anomaly(True)`` (sine.py), which makes every epoch 25-30% slower.
  :func:`preserve_anomaly_mode` keeps the caller's anomaly-detection setting.
- ``recbole.quick_start`` imports ray (and, through ray 2.6, ``pkg_resources``, which
  setuptools >= 82 removed). The plugin never imports it: its quick start is
  ``recbole_hug.quick_start``.
- RecBole's Pop counts an item once per batch however often the batch holds it
  (``item_cnt[item] = item_cnt[item] + 1`` with repeated indices), so its "popularity" is the
  number of batches holding an item, capped at the batch count, and depends on the batch size.
  :func:`count_pop_rows` makes it count every training row.
- pandas >= 3: RecBole's chained in-place ``fillna`` becomes a silent no-op and ``token_seq``
  fields break. No shim is sound, so ``pyproject.toml`` pins ``pandas<3`` (tested by loading an
  atomic file with empty cells).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

#: The legacy numpy names RecBole 1.2.1 sets in ``Config.compatibility_settings`` and then uses
#: (``np.float`` in its metrics, ``np.long`` in its layers, ``np.str`` in HyperTuning, ...),
#: each with the numpy-2-safe type it stands for.
LEGACY_NUMPY_NAMES: dict[str, type] = {
    "bool": np.bool_,
    "int": np.int_,
    "float": np.float64,
    "complex": np.complex128,
    "object": np.object_,
    "str": np.str_,
    "long": np.int_,
    "unicode": np.str_,
}


def restore_legacy_numpy_names() -> None:
    """Give numpy the legacy names RecBole 1.2.1 relies on, without touching existing ones.

    Replaces ``recbole.config.Config.compatibility_settings``, which fails on numpy >= 2 because it
    reads ``np.float_``. Names that numpy still defines (``np.bool``, and ``np.long`` in numpy 2)
    keep their meaning. Idempotent.
    """
    for name, legacy_type in LEGACY_NUMPY_NAMES.items():
        if name not in np.__dict__:
            setattr(np, name, legacy_type)


#: torch's switch (read by every ``torch.load`` call, torch >= 2.6) that restores the old default.
TORCH_TRUST_ENV = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


@contextmanager
def trusted_checkpoints() -> Iterator[None]:
    """Let RecBole's own ``torch.load`` calls read the checkpoints that RecBole wrote.

    RecBole saves ``{'config': Config, 'state_dict', ...}`` with pickle protocol 4, which torch's
    ``weights_only`` unpickler refuses outright (it rejects the protocol's FRAME opcode, so no
    allow-list of classes can help). Inside the block, ``torch.load`` calls that do not pass
    ``weights_only`` use the pre-2.6 default (full unpickling), as RecBole was written for; the
    caller's environment is restored on exit. Use it only around code that reads checkpoints
    the same run saved (``Trainer.fit``/``evaluate``) or that the user asked to load.
    """
    previous = os.environ.get(TORCH_TRUST_ENV)
    os.environ[TORCH_TRUST_ENV] = "1"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=f"Environment variable {TORCH_TRUST_ENV}")
            yield
    finally:
        if previous is None:
            del os.environ[TORCH_TRUST_ENV]
        else:
            os.environ[TORCH_TRUST_ENV] = previous


@contextmanager
def preserve_anomaly_mode() -> Iterator[None]:
    """Keep the caller's autograd anomaly-detection setting across imports of RecBole's models.

    RecBole's ``sine.py`` switches anomaly detection on at import time, and it is imported with
    every sequential model (even ``importlib.util.find_spec`` of one imports the package); this
    undoes that side effect and nothing else.
    """
    enabled = torch.is_anomaly_enabled()
    check_nan = torch.is_anomaly_check_nan_enabled()
    try:
        yield
    finally:
        torch.autograd.set_detect_anomaly(enabled, check_nan)


def _pop_calculate_loss(self, interaction):  # noqa: ANN001, ANN202 (RecBole's signature)
    """RecBole's ``Pop.calculate_loss``, counting every row (repeated items included)."""
    item = interaction[self.ITEM_ID]
    self.item_cnt.index_add_(0, item, torch.ones_like(item).unsqueeze(1))
    self.max_cnt = torch.max(self.item_cnt, dim=0)[0]
    return torch.nn.Parameter(torch.zeros(1)).to(self.device)


def count_pop_rows() -> None:
    """Make RecBole's Pop count each training row (module docstring). Idempotent."""
    from recbole.model.general_recommender.pop import Pop

    Pop.calculate_loss = _pop_calculate_loss
