"""What the benchmark scripts share: timing, one training epoch, the machine line."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import date

import torch
from recbole.utils import get_trainer, init_seed

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset

try:
    from recbole_hug.data.dataloader import data_preparation
except ImportError:  # a baseline checkout from before length-bucketed batches (--baseline)
    from recbole.data import data_preparation
from recbole_hug.utils import get_model


def timed(function: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls (seconds), and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def epoch_seconds(model_name: str, options: dict, max_batches: int | None) -> tuple[float, int]:
    """Seconds for one training epoch (or ``max_batches`` batches) and the epoch's batch count."""
    config = Config(model_name, options["dataset"], config_dict=options)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, _, _ = data_preparation(config, dataset)
    model = get_model(model_name)(config, train._dataset)
    trainer = get_trainer(config["MODEL_TYPE"], model_name)(config, model)
    optimizer = trainer.optimizer
    model.train()
    n_batches = len(train)
    start = time.perf_counter()
    for index, batch in enumerate(train):
        if max_batches is not None and index == max_batches:
            break
        optimizer.zero_grad()
        with torch.autocast("cpu", enabled=bool(config["enable_amp"])):  # as RecBole's trainer
            loss = model.calculate_loss(batch)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    done = min(n_batches, max_batches or n_batches)
    return seconds * n_batches / done, n_batches


def valid_seconds(model_name: str, options: dict) -> tuple[float, int]:
    """Seconds of one validation pass (the trainer's full-ranking evaluation of an untrained
    model: the same work as after any epoch) and the number of validation rows."""
    config = Config(model_name, options["dataset"], config_dict=options)
    init_seed(config["seed"], config["reproducibility"])
    train, valid, _ = data_preparation(config, create_dataset(config))
    model = get_model(model_name)(config, train._dataset)
    trainer = get_trainer(config["MODEL_TYPE"], model_name)(config, model)
    start = time.perf_counter()
    trainer.evaluate(valid, load_best_model=False, show_progress=False)
    return time.perf_counter() - start, len(valid._dataset)


def machine() -> str:
    """Date, processor, cores, torch and the GPU (if any), for the results' header."""
    if torch.cuda.is_available():
        return f"{date.today()}, {torch.cuda.get_device_name()}, torch {torch.__version__}"
    return (
        f"{date.today()}, {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"torch {torch.__version__}, no GPU"
    )
