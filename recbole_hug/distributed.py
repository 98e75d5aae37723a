"""Multi-process (DDP) training and exact evaluation, on GPUs (NCCL) or CPU processes (gloo).

RecBole 1.2.1's trainer, under DDP:

- wraps the model in ``DistributedDataParallel(device_ids=[local_rank])`` after converting it to
  ``SyncBatchNorm``; both work on GPUs only;
- evaluates each process's share of the rows that ``DistributedSampler`` gives it (padded with
  duplicates of the first rows so that every process gets as many), then averages the processes'
  metric values weighted by a wrong count (``len`` of a batch tuple) in ``_map_reduce``: the
  metrics differ from a single process's (RecBole PR #1872), and metrics that are not means over
  rows (item coverage, Gini index, ...) cannot be averaged at all;
- loads the best checkpoint at test time on every process, each from a file name it made up from
  the clock, though only process 0 writes one and nothing waits for the writing to end: a process
  may find no file, or a half-written one (RecBole #1811 reports multi-process runs of
  sequential models that stop in the test phase).

:class:`DistributedTrainerMixin`, in front of any RecBole ``Trainer``, fixes the three: a CPU model
is wrapped without device ids or ``SyncBatchNorm``; each process scores its share and the rows
collected for the metrics (top-k hits, ranks, scores, labels) are gathered on every process,
restored to the single-process order and freed of the sampler's duplicates
(:class:`GatheringCollector`), and the metrics are computed once from them, exactly as by one
process; the best checkpoint is read by process 0 and sent to the others. In a single process it
changes nothing.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from recbole.evaluator import Collector
from recbole.evaluator.collector import DataStruct
from recbole.trainer import Trainer
from torch.nn.parallel import DistributedDataParallel

from recbole_hug.errors import HugError

#: The collector's entries with one row per evaluated sample (user or sequence), in sample order.
ROW_KEYS: tuple[str, ...] = ("rec.topk", "rec.meanrank", "rec.score", "rec.items", "data.label")


def gather_rows(struct: DataStruct, sample_index: torch.Tensor) -> None:
    """Replace this process's rows in ``struct`` by every process's, as one process has them.

    Each process holds the rows of the samples ``sample_index`` (``[n]``, the positions in the
    evaluation data that its ``DistributedSampler`` gave it, in order), ``[n, ...]`` for each of
    :data:`ROW_KEYS`. The rows are gathered on every process, sorted by sample position, and
    the duplicates the sampler pads with are dropped.

    Raises:
        HugError: a process holds a different number of rows than samples, or the processes'
            samples do not cover the evaluation data once (a dataloader that is not one row per
            sample cannot be evaluated in several processes).
    """
    rows = {key: struct.get(key) for key in ROW_KEYS if key in struct}
    for key, value in rows.items():
        if len(value) != len(sample_index):
            raise HugError(
                f"cannot evaluate in several processes: '{key}' has {len(value)} rows for "
                f"{len(sample_index)} samples of this process's share"
            )
    shares: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(shares, (sample_index, rows))
    positions, order = torch.sort(torch.cat([index for index, _ in shares]), stable=True)
    first = torch.ones_like(positions, dtype=torch.bool)
    first[1:] = positions[1:] != positions[:-1]
    if not torch.equal(positions[first], torch.arange(int(first.sum()))):
        raise HugError("cannot evaluate in several processes: the processes' samples have gaps")
    for key in rows:
        struct.set(key, torch.cat([share[key] for _, share in shares])[order][first])


class GatheringCollector(Collector):
    """RecBole's collector whose data, in a multi-process run, hold every process's rows
    (:func:`gather_rows`); ``sample_index`` is set before each evaluation."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.sample_index = torch.empty(0, dtype=torch.long)

    def get_data_struct(self) -> DataStruct:
        struct = super().get_data_struct()
        if not self.config["single_spec"]:
            gather_rows(struct, self.sample_index)
        return struct


class DistributedTrainerMixin:
    """Put in front of a RecBole ``Trainer`` (see :func:`distributed_trainer`): DDP on GPUs or
    CPU processes, exact evaluation, the best checkpoint sent from process 0."""

    def __init__(self, config: Any, model: Any) -> None:
        if config["single_spec"]:
            super().__init__(config, model)
            return
        # RecBole's own wrapping (SyncBatchNorm, device_ids=[local_rank]) works on GPUs only.
        config["single_spec"] = True
        try:
            super().__init__(config, model)
        finally:
            config["single_spec"] = False
        device_ids = None
        if self.device.type == "cuda":
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
            device_ids = [self.device.index]
        self.distributed_model = DistributedDataParallel(self.model, device_ids=device_ids)
        self.eval_collector = GatheringCollector(config)

    @torch.no_grad()
    def evaluate(
        self,
        eval_data: Any,
        load_best_model: bool = True,
        model_file: str | None = None,
        show_progress: bool = False,
    ) -> dict[str, float] | None:
        """RecBole's ``evaluate``; with several processes, the metrics of all the evaluation
        data, computed once, equal on every process and to a single process's."""
        if self.config["single_spec"] or not eval_data:
            return super().evaluate(eval_data, load_best_model, model_file, show_progress)
        if load_best_model:
            self._load_from_first_process(model_file or self.saved_model_file)
        self.eval_collector.sample_index = torch.tensor(list(eval_data.sampler), dtype=torch.long)
        return super().evaluate(eval_data, load_best_model=False, show_progress=show_progress)

    def _map_reduce(self, result: dict[str, float], num_sample: int) -> dict[str, float]:
        """The metrics are already those of all the data (:class:`GatheringCollector`)."""
        return result

    def _load_from_first_process(self, checkpoint_file: str) -> None:
        """Load on every process the checkpoint file that process 0 reads (only its machine
        needs to have it)."""
        payload = [Path(checkpoint_file).read_bytes() if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(payload, src=0)
        # As RecBole's own load (a pickled Config needs recbole_hug.compat.trusted_checkpoints).
        checkpoint = torch.load(io.BytesIO(payload[0]), map_location=self.device)
        self.model.load_state_dict(checkpoint["state_dict"])
        self.model.load_other_parameter(checkpoint.get("other_parameter"))
        self.logger.info(f"Loading model structure and parameters from {checkpoint_file}")


@cache
def distributed_trainer(base: type) -> type:
    """``base`` with :class:`DistributedTrainerMixin` in front, for RecBole ``Trainer``
    subclasses (one class per base, named ``Distributed<base>``); other trainers (decision trees)
    and classes that have the mixin already are returned as they are."""
    if not issubclass(base, Trainer) or issubclass(base, DistributedTrainerMixin):
        return base
    return type(
        f"Distributed{base.__name__}", (DistributedTrainerMixin, base), {"__module__": __name__}
    )
