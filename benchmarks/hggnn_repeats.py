"""Where a saved model's test hits come from: rows whose target repeats a session item, and not.

    python benchmarks/hggnn_repeats.py saved/HGGNN-....pth saved/NARM-....pth [--labels A B]

For each checkpoint (of a run with ``session_rows: True``), HR@10 and MRR@10 over all test rows,
over the rows whose target is already in the session prefix (a repeat), and over the others;
ranks over all items, as RecBole's full-sort evaluation of a sequential model (no history
masking), so the first column equals the run's test HR@10.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from common import machine

from recbole_hug.compat import trusted_checkpoints
from recbole_hug.quick_start import load_data_and_model


def ranks(path: str) -> tuple[str, int, torch.Tensor, torch.Tensor]:
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
    return config["model"], config["seed"], torch.cat(found), torch.cat(repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--labels", nargs="+", help="one per checkpoint (default: the model)")
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.checkpoints):
        parser.error(f"{len(args.labels)} --labels for {len(args.checkpoints)} checkpoints")
    paths = [os.path.abspath(p) for p in args.checkpoints]
    os.chdir(tempfile.mkdtemp(prefix="hggnn-repeats-"))
    print(machine())
    print(
        "\n| model | seed | rows (repeats) | HR@10 all / repeats / others "
        "| MRR@10 all / repeats / others |"
    )
    print("|---|---|---|---|---|")
    for index, path in enumerate(paths):
        model, seed, rank, repeat = ranks(path)
        hit = (rank <= 10).float()
        mrr = torch.where(rank <= 10, 1.0 / rank, torch.zeros_like(hit))
        cells = [
            " / ".join(f"{v[m].mean():.4f}" for m in (slice(None), repeat, ~repeat))
            for v in (hit, mrr)
        ]
        print(
            f"| {args.labels[index] if args.labels else model} | {seed} "
            f"| {len(rank):,} ({int(repeat.sum()):,}) "
            f"| {cells[0]} | {cells[1]} |"
        )


if __name__ == "__main__":
    main()
