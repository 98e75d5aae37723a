"""HG-GNN's speed target: session data and global graph preparation, and an epoch against SRGNN.

    python benchmarks/hggnn_speed.py --data_path ../shared/datasets --dataset taobao-ub-head

Every model trains on exactly the same personalized session rows (``session_rows: True``, batch 512
from ``properties/sessions.yaml``), with RecBole's default sizes for the baselines and HGGNN.yaml's
for HG-GNN (leak-free, its default, and on the paper's graph), plus SRGNN at the paper's d = 128
(its Table 3 compares run times at d = 128); one full epoch each.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from common import epoch_seconds, machine, timed

from recbole_hug.config import Config
from recbole_hug.data.utils import create_dataset

#: (label, model, options over the shared ones): HG-GNN and what its epoch is compared with.
RUNS = (
    ("HGGNN", "HGGNN", {}),
    ("HGGNN (paper graph)", "HGGNN", {"train_graph": "paper"}),
    ("HGGNN (bf16 AMP)", "HGGNN", {"enable_amp": True}),
    ("SRGNN", "SRGNN", {}),
    ("SRGNN (d = 128)", "SRGNN", {"embedding_size": 128}),
    ("GRU4Rec", "GRU4Rec", {}),
    ("NARM", "NARM", {}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_path", default="../shared/datasets")
    parser.add_argument("--dataset", default="taobao-ub-head")
    parser.add_argument("--session_gap", type=float, default=3600)
    args = parser.parse_args()
    print(machine())
    options = {
        "data_path": os.path.abspath(args.data_path),
        "dataset": args.dataset,
        "session_gap": args.session_gap,
        "session_rows": True,
        "show_progress": False,
        "state": "WARNING",
    }
    os.chdir(tempfile.mkdtemp(prefix="hggnn-bench-"))  # RecBole's log/ and saved/

    def prepare():
        dataset = create_dataset(Config("HGGNN", args.dataset, config_dict=options))
        return dataset, dataset.build()

    seconds, (_, (train, valid, test)) = timed(prepare)
    print(f"\n### Session data and global graph, {args.dataset} (gap {args.session_gap:g} s)\n")
    print("| what | value |\n|---|---|")
    print(f"| loading, sessions, split, rows and global graph | {seconds:.2f} s |")
    print(f"| rows (train / valid / test) | {len(train):,} / {len(valid):,} / {len(test):,} |")
    print(f"\n### One training epoch on the same rows, {args.dataset}\n")
    print("| model | batches | seconds per epoch |\n|---|---|---|")
    for label, model, extra in RUNS:
        seconds, batches = epoch_seconds(model, {**options, **extra}, None)
        print(f"| {label} | {batches} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
