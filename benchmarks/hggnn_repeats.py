"""Where test hits come from: rows whose target repeats a session item (or, with ``--split
out``, sits on the last item's ``out`` edge of HG-GNN's test graph), and the others.

    python benchmarks/hggnn_repeats.py saved/HGGNN-....pth saved/NARM-....pth [--labels A B]
    python benchmarks/hggnn_repeats.py --folder benchmarks/results/hggnn-reproduce-taobao-ub-head \
        --data_path ../shared/datasets [--table table2] [--split out]

HR@10 and MRR@10 over all test rows, over the rows whose target is already in the session
prefix (a repeat), and over the others. From checkpoints (of runs with ``session_rows: True``):
ranks over all items, as RecBole's full-sort evaluation of a sequential model (no history
masking), so the first column equals the run's test HR@10. From a reproduction folder
(``--folder``): the test ranks that the runner kept for every seed of every entry of ``--table``
(``ranks/<run_id>.npz``, no checkpoint needed), the repeat flags from the folder's dataset
rebuilt once (every run of the folder has the same session rows; each run's users and lengths
are checked against them), each entry's mean over its seeds.

``--split out`` (with ``--folder``) splits the test rows instead by whether the target is one of
the ``out`` neighbours (top S) of the row's last item in the graph that HG-GNN's test rows
propagate over (training and validation sessions): the rows where the global graph's transitions
name the answer, which a model without the graph must learn from the sequences. HG-GNN's test
rows are checked to be the runner's (users, lengths and targets).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from common import machine
from hggnn_graph_targets import block_nodes, contains, neighbours

from recbole_hug.compat import trusted_checkpoints
from recbole_hug.config import Config
from recbole_hug.data.dataloader import data_preparation
from recbole_hug.data.utils import create_dataset
from recbole_hug.quick_start import load_data_and_model

K = 10


def checkpoint_ranks(path: str) -> tuple[str, int, np.ndarray, np.ndarray]:
    """The checkpoint's model and seed, ``[R]`` 1-based target ranks and ``[R]`` repeat flags."""
    with trusted_checkpoints():
        config, model, dataset, _, _, test = load_data_and_model(path)
    model.eval()
    found, repeat = [], []
    with torch.no_grad():
        for interaction, *_ in test:
            scores = model.full_sort_predict(interaction).view(len(interaction), -1)
            scores[:, 0] = -torch.inf  # padding, as RecBole's evaluation
            target = interaction[dataset.iid_field]
            own = scores.gather(1, target.unsqueeze(1))
            found.append((scores > own).sum(1) + 1)
            repeat.append((interaction[dataset.item_id_list_field] == target[:, None]).any(1))
    return config["model"], config["seed"], torch.cat(found).numpy(), torch.cat(repeat).numpy()


def session_test_rows(dataset: str, data_path: str) -> dict[str, np.ndarray]:
    """The test rows of ``session_rows: True`` on ``dataset``, in the runner's order: ``user``,
    ``length``, ``target`` and ``repeat`` (the target is in the row's item sequence)."""
    config = Config("GRU4Rec", dataset, config_dict={"session_rows": True, "data_path": data_path})
    _, _, test = data_preparation(config, create_dataset(config))
    feat = test._dataset.inter_feat
    items = feat[config["ITEM_ID_FIELD"] + config["LIST_SUFFIX"]]
    target = feat[config["ITEM_ID_FIELD"]]
    return {
        "user": feat[config["USER_ID_FIELD"]].numpy(),
        "length": feat[config["ITEM_LIST_LENGTH_FIELD"]].numpy(),
        "target": target.numpy(),
        "repeat": (items == target[:, None]).any(1).numpy(),
    }


def out_edge_rows(name: str, data_path: str, rows: dict[str, np.ndarray]) -> np.ndarray:
    """``[R]`` bool: the target is an ``out`` neighbour of the last item in HG-GNN's test graph,
    for the session test ``rows`` (checked to be HG-GNN's test rows, in the same order)."""
    config = Config("HGGNN", name, config_dict={"data_path": data_path, "state": "WARNING"})
    dataset = create_dataset(config)
    train, _, test = dataset.build()  # the training part holds every row's graph blocks
    feat = test.inter_feat
    fields = {
        "user": dataset.uid_field,
        "target": dataset.iid_field,
        "length": dataset.item_list_length_field,
    }
    for key, field in fields.items():
        if not np.array_equal(feat[field].numpy(), rows[key]):
            raise SystemExit(f"{name}: HG-GNN's test rows' {key} differ from the session rows")
    _, last, target = block_nodes(dataset, feat)
    return contains(neighbours(train.graph_blocks, "out"), last, target)


def folder_ranks(
    folder: Path, table: str, data_path: str, split: str = "repeat"
) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
    """``(entry, seed, ranks, flags)`` of every kept seed run of ``table`` (learning-rate
    candidates left out: each entry's first seed is its chosen candidate's run); ``flags``: the
    rows of the ``split`` (``repeat`` or ``out``)."""
    with open(folder / "runs.csv", encoding="utf-8") as handle:
        runs = [r for r in csv.DictReader(handle) if r["table"] == table]
    runs = [run for run in runs if " (lr " not in run["entry"]]
    if not runs:
        raise SystemExit(f"{folder / 'runs.csv'}: no run of table {table!r}")
    dataset = folder.name.split("-reproduce-", 1)[1]
    rows = session_test_rows(dataset, data_path)
    flags = rows["repeat"] if split == "repeat" else out_edge_rows(dataset, data_path, rows)
    out = []
    for run in runs:
        path = folder / "ranks" / f"{run['run_id']}.npz"
        if not path.is_file():  # a run recorded before the runner kept test ranks
            print(f"left out: {run['entry']} seed {run['seed']} (no {path.name})", file=sys.stderr)
            continue
        kept = np.load(path)
        for key in ("user", "length"):
            if not np.array_equal(kept[key], rows[key]):
                raise SystemExit(
                    f"{folder}/ranks/{run['run_id']}.npz: its test rows' {key} differ from "
                    f"{dataset}'s session rows rebuilt here"
                )
        rank = np.where(kept["rank"] > 0, kept["rank"], K + 1)  # 0: beyond the kept top K
        out.append((run["entry"], int(run["seed"]), rank, flags))
    return out


def cells(rank: np.ndarray, repeat: np.ndarray) -> tuple[list[float], list[float]]:
    """HR@K and MRR@K over all rows, the repeats and the others (nan where there are none)."""
    hit = (rank <= K).astype(float)
    mrr = np.where(rank <= K, 1.0 / rank, 0.0)
    masks = (np.ones_like(repeat, dtype=bool), repeat, ~repeat)
    hits, mrrs = ([v[m].mean() if m.any() else float("nan") for m in masks] for v in (hit, mrr))
    return hits, mrrs


def _shown(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="*")
    parser.add_argument("--labels", nargs="+", help="one per checkpoint (default: the model)")
    parser.add_argument("--folder", type=Path, help="a reproduction folder instead of checkpoints")
    parser.add_argument("--table", default="table2", help="with --folder: the table's entries")
    parser.add_argument("--data_path", default="../shared/datasets", help="with --folder")
    parser.add_argument(
        "--split",
        choices=("repeat", "out"),
        default="repeat",
        help="with --folder: split by repeats, or by the target on the last item's out edge",
    )
    args = parser.parse_args()
    if args.split != "repeat" and not args.folder:
        parser.error("--split out needs --folder")
    if bool(args.checkpoints) == bool(args.folder):
        parser.error("give checkpoints or --folder, not both")
    if args.labels and len(args.labels) != len(args.checkpoints):
        parser.error(f"{len(args.labels)} --labels for {len(args.checkpoints)} checkpoints")
    if args.folder:
        folder, data_path = args.folder.resolve(), os.path.abspath(args.data_path)
        os.chdir(tempfile.mkdtemp(prefix="hggnn-repeats-"))
        runs = folder_ranks(folder, args.table, data_path, args.split)
    else:
        paths = [os.path.abspath(p) for p in args.checkpoints]
        os.chdir(tempfile.mkdtemp(prefix="hggnn-repeats-"))
        runs = [checkpoint_ranks(path) for path in paths]
        if args.labels:
            runs = [(label, *run[1:]) for label, run in zip(args.labels, runs, strict=True)]
    print(machine())
    part = "repeats" if args.split == "repeat" else "out edge"
    print(
        f"\n| model | seeds | rows ({part}) | HR@{K} all / {part} / others "
        f"| MRR@{K} all / {part} / others |"
    )
    print("|---|---|---|---|---|")
    by_entry: dict[str, list[tuple[int, list[float], list[float], int, int]]] = {}
    for entry, seed, rank, repeat in runs:
        hit, mrr = cells(rank, repeat)
        by_entry.setdefault(entry, []).append((seed, hit, mrr, len(rank), int(repeat.sum())))
    for entry, seeds in by_entry.items():
        hit = np.mean([s[1] for s in seeds], axis=0)
        mrr = np.mean([s[2] for s in seeds], axis=0)
        print(
            f"| {entry} | {', '.join(str(s[0]) for s in seeds)} "
            f"| {seeds[0][3]:,} ({seeds[0][4]:,}) "
            f"| {' / '.join(_shown(v) for v in hit)} | {' / '.join(_shown(v) for v in mrr)} |"
        )


if __name__ == "__main__":
    main()
