"""HUGT's speed targets: HUG preparation time, epoch cost against RecBole's SASRec, head cost.

    python benchmarks/hugt_speed.py --data_path ../shared/datasets --dataset ml-1m

Prints one Markdown table per measurement (paste into BENCHMARKS.md with the machine and date):

1. HUG preparation: the HUGT dataset's own steps on the loaded dataset (rows as indices,
   whole-sequence windows, truncated SVD of the training matrix), against RecBole's
   ``data_augmentation`` which SASRec needs.
2. One training epoch of HUGT (sequence-only, MP, SE) and of RecBole's SASRec with the same
   hidden size, length and layers. SASRec's epoch is timed over its first ``--sasrec-batches``
   batches and scaled to its number of batches (said so in the table).
3. Per-token cost of a graph head against a sequence head: forward + backward of one block with
   all heads of one kind, the per-batch HUG edges (and SE's shortest paths) included.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np
import torch
from common import epoch_seconds, machine, timed
from recbole.data.dataset import Dataset

from recbole_hug.config import Config
from recbole_hug.data.sequences import prefix_rows, training_windows
from recbole_hug.data.utils import create_dataset
from recbole_hug.graph.hug import (
    graph_attention_mask,
    knn_predecessor_edges,
    shortest_path_lengths,
    svd_item_embeddings,
)
from recbole_hug.model.layers import HUGAttention, HUGBlock


def preparation(options: dict) -> None:
    config = Config("HUGT", options["dataset"], config_dict=options)
    dataset = create_dataset(config)
    Dataset._change_feat_format(dataset)  # to tensors, without the sequential augmentation
    dataset.sort(by=[dataset.uid_field, dataset.time_field])
    users = dataset.inter_feat[dataset.uid_field].numpy()
    items = dataset.inter_feat[dataset.iid_field].numpy()
    width = config["MAX_ITEM_LIST_LENGTH"]
    rows_s, (target, _) = timed(lambda: prefix_rows(users, width), 3)
    is_target = np.zeros(len(users), dtype=bool)
    is_target[target] = True
    last = np.r_[users[1:] != users[:-1], True]  # leave-one-out: last two are valid and test
    is_target[last] = is_target[np.flatnonzero(last) - 1] = False

    def windows():
        cut = training_windows(users, is_target, width)
        return cut, cut.inputs(items, width), cut.targets(items, is_target, width)

    windows_s, (cut, _, _) = timed(windows, 3)
    train = cut.positions()
    svd_s, _ = timed(
        lambda: svd_item_embeddings(
            users[train], items[train], dataset.user_num, dataset.item_num, config["svd_dim"], 2020
        ),
        3,
    )
    print(
        f"\n### HUG preparation, {options['dataset']} (L = {width}, svd_dim = "
        f"{config['svd_dim']}), best of 3\n"
    )
    print("| step | seconds |\n|---|---|")
    print(f"| rows as indices ({len(target):,} rows) | {rows_s:.3f} |")
    print(
        f"| whole-sequence windows ({len(cut.end):,}) with inputs and targets | {windows_s:.3f} |"
    )
    print(f"| truncated SVD of the training matrix | {svd_s:.3f} |")
    print(f"| **HUG preparation in all** | **{rows_s + windows_s + svd_s:.3f}** |")
    recbole_config = Config("SASRec", options["dataset"], config_dict=options)
    recbole_dataset = create_dataset(recbole_config)
    Dataset._change_feat_format(recbole_dataset)
    augment_s, _ = timed(recbole_dataset.data_augmentation)
    print(f"| (RecBole's data_augmentation, which SASRec needs) | {augment_s:.3f} |")


def epochs(options: dict, sasrec_batches: int) -> None:
    shape = {
        "hidden_size": 50,
        "n_layers": 2,
        "n_heads": 2,
        "inner_size": 50,
        "train_batch_size": 128,
    }
    rows = []
    for label, extra in [
        ("HUGT, sequence-only (SASRec-Ours)", {"n_graph_heads": 0}),
        ("HUGT-MP", {"graph_mode": "MP"}),
        ("HUGT-SE", {"graph_mode": "SE"}),
    ]:
        seconds, batches = epoch_seconds(
            "HUGT", {**options, **shape, "head_size": 25, **extra}, None
        )
        rows.append((label, seconds, batches, "measured"))
    sasrec = {**options, **shape, "hidden_dropout_prob": 0.2, "attn_dropout_prob": 0.2}
    seconds, batches = epoch_seconds("SASRec", sasrec, sasrec_batches)
    rows.append(
        ("RecBole SASRec", seconds, batches, f"first {sasrec_batches} batches, scaled to {batches}")
    )
    print(
        f"\n### One training epoch, {options['dataset']} (hidden 50, 2 heads of 25, 2 layers, "
        f"L = {options['MAX_ITEM_LIST_LENGTH']}, batch 128)\n"
    )
    print("| model | batches | seconds per epoch | how | SASRec / this |\n|---|---|---|---|---|")
    for label, seconds, batches, how in rows:
        print(f"| {label} | {batches:,} | {seconds:.1f} | {how} | {rows[-1][1] / seconds:.1f}x |")


def head_cost(batch: int, length: int, n_items: int, repeat: int, n_layers: int = 2) -> None:
    """An encoder of ``n_layers`` blocks whose 4 heads are all of one kind, as HUGT runs it:
    the HUG edges (and SE's path lengths and ``phi`` bias) once per batch, shared by the blocks."""
    torch.manual_seed(0)
    hidden, heads, head_size, clip = 64, 4, 16, 5
    items = torch.randint(1, n_items, (batch, length))
    embeddings = torch.nn.functional.normalize(torch.randn(n_items, 32), dim=1)
    x = torch.randn(batch, length, hidden, requires_grad=True)
    causal = torch.full((length, length), float("-inf")).triu(1)
    positions = torch.randn(length, hidden)
    phi = torch.nn.Embedding(clip + 1, heads)

    def run(n_graph: int, mode: str) -> float:
        blocks = [
            HUGBlock(
                HUGAttention(hidden, head_size, heads - n_graph, n_graph, True, 0.0),
                hidden,
                hidden,
                0.0,
                "relu",
                1e-12,
            )
            for _ in range(n_layers)
        ]

        def step():
            graph = None
            if n_graph:
                with torch.no_grad():
                    edges = knn_predecessor_edges(items, embeddings, 10)
                    graph = graph_attention_mask(edges) if mode == "MP" else None
                    lengths = None if mode == "MP" else shortest_path_lengths(edges, clip)
                if mode == "SE":
                    graph = phi(lengths).permute(0, 3, 1, 2) + causal
            state = x
            for block in blocks:
                state = block(state, causal, positions, graph)
            state.sum().backward()

        return timed(step, repeat)[0]

    sequence = run(0, "MP")
    print(
        f"\n### Cost per token of a head (B = {batch}, L = {length}, {n_layers} blocks of 4 heads "
        f"of 16, forward + backward, HUG edges per batch included; best of {repeat})\n"
    )
    print("| heads | ms per batch | / sequence heads |\n|---|---|---|")
    print(f"| 4 sequence heads | {1000 * sequence:.1f} | 1.00 |")
    for mode in ("MP", "SE"):
        seconds = run(heads, mode)
        print(f"| 4 graph heads, {mode} | {1000 * seconds:.1f} | {seconds / sequence:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--sasrec-batches", type=int, default=20)
    parser.add_argument("--parts", default="prepare,epoch,heads")
    args = parser.parse_args()
    print(machine())
    data_path = os.path.abspath(args.data_path)
    os.chdir(tempfile.mkdtemp(prefix="hugt-bench-"))  # RecBole's log/ and saved/
    options = {
        "data_path": data_path,
        "dataset": args.dataset,
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "show_progress": False,
        "state": "WARNING",
    }
    parts = args.parts.split(",")
    if "prepare" in parts:
        preparation(options)
    if "epoch" in parts:
        epochs(options, args.sasrec_batches)
    if "heads" in parts:
        head_cost(batch=128, length=args.max_len, n_items=3500, repeat=3)


if __name__ == "__main__":
    main()
