"""The fused full-item cross-entropy against ``F.cross_entropy`` on the scores, one training step.

    python benchmarks/loss_speed.py --rows 512 --items 28663 --dim 128 --threads 1

Forward and backward of ``loss(states @ items.T, target)``, best of ``--repeat``, in CPU time
of this process (``time.process_time``: steadier than wall time on a shared machine), with
``--threads`` torch threads.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import machine

from recbole_hug.model.losses import linear_cross_entropy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--items", type=int, default=28663)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    states = torch.randn(args.rows, args.dim, requires_grad=True)
    items = torch.randn(args.items, args.dim, requires_grad=True)
    target = torch.randint(0, args.items, (args.rows,))
    losses = {
        "F.cross_entropy(states @ items.T)": lambda: F.cross_entropy(states @ items.T, target),
        "linear_cross_entropy(states, items)": lambda: linear_cross_entropy(states, items, target),
    }
    print(machine(), f"{args.threads} torch thread(s)")
    print(f"\n| loss, {args.rows} x {args.items} x {args.dim} | CPU ms per step (best) |")
    print("|---|---|")
    for name, loss in losses.items():
        best = float("inf")
        for _ in range(args.repeat + 1):
            states.grad = items.grad = None
            start = time.process_time()
            loss().backward()
            best = min(best, time.process_time() - start)
        print(f"| {name} | {1000 * best:.1f} |")


if __name__ == "__main__":
    main()
