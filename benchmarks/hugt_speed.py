"""HUGT's speed targets: HUG preparation, epoch and validation time against a baseline, head cost.

    python benchmarks/hugt_speed.py --data_path ../shared/datasets --dataset ml-1m \
        --baseline ../baseline

Prints one Markdown table per measurement (paste into BENCHMARKS.md with the machine and date):

1. HUG preparation: the HUGT dataset's own steps on the loaded dataset (rows as indices,
   whole-sequence windows, truncated SVD of the training matrix), against RecBole's
   ``data_augmentation`` which SASRec needs.
2. One training epoch of HUGT (sequence-only, MP, SE; the paper's ML-1M shape) and one
   validation pass (``eval_protocol: hugt`` and leave-one-out), for this checkout and, in a
   subprocess right after, for the checkout at ``--baseline`` (``git worktree add --detach
   ../baseline COMMIT``): both measured in the same run.
3. Per-token cost of a graph head against a (fused) sequence head: forward + backward of a
   2-block encoder with all heads of one kind, the per-batch HUG edges included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from common import epoch_seconds, machine, timed, valid_seconds
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


#: The training variants timed, as the HUGT paper's ML-1M setting: hidden 50, 4 heads of 50, 2
#: layers, batch 128 (HUGT.yaml's defaults).
EPOCH_VARIANTS = {
    "HUGT, sequence-only (SASRec-Ours)": {"n_graph_heads": 0},
    "HUGT-MP": {"graph_mode": "MP"},
    "HUGT-SE": {"graph_mode": "SE"},
}
#: The validation passes timed: the paper's protocol, and RecBole's leave-one-out.
EVAL_VARIANTS = {
    "eval_protocol hugt, sequence-only": {"eval_protocol": "hugt", "n_graph_heads": 0},
    "eval_protocol hugt": {"eval_protocol": "hugt", "graph_mode": "MP"},
    "leave-one-out": {"eval_protocol": "recbole", "graph_mode": "MP"},
}


def measure(options: dict, parts: list[str], attn_dropout: float) -> dict:
    """Epoch and validation seconds of this checkout's HUGT (``{label: [seconds, count]}``)."""
    found = {}
    if "epoch" in parts:
        for label, extra in EPOCH_VARIANTS.items():
            run = {**options, **extra, "attn_dropout_prob": attn_dropout}
            found[label] = epoch_seconds("HUGT", run, None)
    if "eval" in parts:
        for label, extra in EVAL_VARIANTS.items():
            found[label] = valid_seconds("HUGT", {**options, **extra, "eval_batch_size": 1024})
    return found


def _baseline(tree: str, args: argparse.Namespace, parts: list[str]) -> dict:
    """:func:`measure` on the checkout at ``tree`` (today's implementation), in a subprocess."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--emit-json",
        f"--data_path={args.data_path}",
        f"--dataset={args.dataset}",
        f"--max-len={args.max_len}",
        f"--parts={','.join(parts)}",
        f"--attn-dropout={args.baseline_attn_dropout}",
    ]
    env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"baseline run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(options: dict, args: argparse.Namespace, parts: list[str]) -> None:
    """This checkout's epoch and validation times beside ``--baseline``'s, measured in turn."""
    ours = measure(options, parts, args.attn_dropout)
    theirs = _baseline(args.baseline, args, parts) if args.baseline else {}
    print(
        f"\n### HUGT on {options['dataset']} (L = {args.max_len}, hidden 50, 4 heads of 50, "
        f"2 layers, batch 128): this checkout (attn_dropout_prob {args.attn_dropout}) against "
        f"{args.baseline or 'no baseline'} (attn_dropout_prob {args.baseline_attn_dropout})\n"
    )
    print("| what | batches / rows | seconds, this | seconds, baseline | speed-up |")
    print("|---|---|---|---|---|")
    for label, (seconds, count) in ours.items():
        base = theirs.get(label, [float("nan")])[0]
        print(f"| {label} | {count:,} | {seconds:.1f} | {base:.1f} | {base / seconds:.2f}x |")


def head_cost(batch: int, length: int, n_items: int, repeat: int, n_layers: int = 2) -> None:
    """An encoder of ``n_layers`` blocks whose 4 heads (of 50, hidden 50) are all of one kind,
    as HUGT runs it: the HUG edges (and SE's path lengths and ``phi`` bias) once per batch."""
    torch.manual_seed(0)
    hidden, heads, head_size, clip = 50, 4, 50, 5
    items = torch.randint(1, n_items, (batch, length))
    embeddings = torch.nn.functional.normalize(torch.randn(n_items, 64), dim=1)
    x = torch.randn(batch, length, hidden, requires_grad=True)
    positions = torch.randn(length, hidden)
    phi = torch.nn.Parameter(torch.randn(heads, clip + 1))
    later = torch.ones(length, length, dtype=torch.bool).triu(1)

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
                    if mode == "MP":
                        graph = graph_attention_mask(edges).unsqueeze(1)
                    else:
                        lengths = shortest_path_lengths(edges, clip)
                if mode == "SE":
                    graph = phi[:, lengths].transpose(0, 1).masked_fill(later, float("-inf"))
            state = x
            for block in blocks:
                state = block(state, positions, graph)
            state.sum().backward()

        return timed(step, repeat)[0]

    sequence = run(0, "MP")
    print(
        f"\n### Cost per token of a head (B = {batch}, L = {length}, {n_layers} blocks of 4 heads "
        f"of 50, forward + backward, HUG edges per batch included; best of {repeat})\n"
    )
    print("| heads | ms per batch | / sequence heads |\n|---|---|---|")
    print(f"| 4 sequence heads (causal, psi as one shared bias) | {1000 * sequence:.1f} | 1.00 |")
    for mode in ("MP", "SE"):
        seconds = run(heads, mode)
        print(f"| 4 graph heads, {mode} | {1000 * seconds:.1f} | {seconds / sequence:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="ml-1m")
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--parts", default="prepare,epoch,eval,heads")
    parser.add_argument("--attn-dropout", type=float, default=0.0)
    parser.add_argument("--baseline", help="a checkout of today's implementation, timed in turn")
    parser.add_argument("--baseline-attn-dropout", type=float, default=0.2)
    parser.add_argument("--emit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.data_path = data_path = os.path.abspath(args.data_path)
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    os.chdir(tempfile.mkdtemp(prefix="hugt-bench-"))  # RecBole's log/ and saved/
    options = {
        "data_path": data_path,
        "dataset": args.dataset,
        "MAX_ITEM_LIST_LENGTH": args.max_len,
        "show_progress": False,
        "state": "WARNING",
    }
    parts = args.parts.split(",")
    if args.emit_json:
        print(json.dumps(measure(options, parts, args.attn_dropout)))
        return
    print(machine())
    if "prepare" in parts:
        preparation(options)
    if "epoch" in parts or "eval" in parts:
        compare(options, args, [part for part in parts if part in ("epoch", "eval")])
    if "heads" in parts:
        head_cost(batch=128, length=args.max_len, n_items=3500, repeat=3)


if __name__ == "__main__":
    main()
