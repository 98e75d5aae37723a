"""HUGT training steps with the loss's score buffer reused (``losses.WORKSPACE``) and fresh.

    python benchmarks/loss_workspace.py --data_path ../shared/datasets --dataset ml-1m

The first ``--batches`` training batches of HUGT (the paper's ML-1M shape, ``eval_protocol:
hugt``, MP), forward, backward and Adam, ``--repeat`` times each way, interleaved in one process;
CPU seconds per step (``time.process_time``: steadier than wall time on a shared machine). The
fresh way is the loss before the workspace: ``F.linear`` allocates the ``[P, n_items]`` scores
every step.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from common import machine

from recbole_hug.config import Config
from recbole_hug.model import losses
from recbole_hug.quick_start import _build
from recbole_hug.utils import get_trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = {
        "data_path": os.path.abspath(args.data_path),
        "MAX_ITEM_LIST_LENGTH": 200,
        "eval_protocol": "hugt",
        "graph_mode": "MP",
        "show_progress": False,
        "state": "WARNING",
    }
    os.chdir(tempfile.mkdtemp(prefix="loss-workspace-"))
    config = Config("HUGT", args.dataset, config_dict=options)
    _, train, _, _, model = _build(config, log=False)
    optimizer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model).optimizer
    batches = []
    for batch in train:
        batches.append(batch)
        if len(batches) == args.batches:
            break
    reusable = losses._reusable
    ways = {"reused": reusable, "fresh": lambda *_: False}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    model.train()
    for _ in range(args.repeat):
        for way, choice in ways.items():
            losses._reusable = choice
            start = time.process_time()
            for batch in batches:
                optimizer.zero_grad()
                model.calculate_loss(batch).backward()
                optimizer.step()
            seconds[way].append((time.process_time() - start) / len(batches))
    losses._reusable = reusable
    print(machine(), "one torch thread")
    shape = tuple(batches[0][model.ITEM_SEQ].shape)
    print(f"\n| score buffer | CPU s per step ({len(batches)} batches of {shape}), each repeat |")
    print("|---|---|")
    for way, values in seconds.items():
        print(f"| {way} | {', '.join(f'{v:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
