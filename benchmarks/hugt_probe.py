"""Does a trained HUGT-MP read its collaborative edges? Its validation score with other edges.

A HUGT-MP checkpoint is evaluated on its validation rows (the run's own protocol and data) with
the graph heads' edges replaced at inference, the weights unchanged:

- ``trained``: the edges it was trained with (``hug_k`` most similar predecessors by the SVD
  vectors); the score must equal the run's recorded best validation score;
- ``random``: ``hug_k`` predecessors by the cosine of random vectors (as many edges, none
  collaborative);
- ``recent``: the ``hug_k`` immediate predecessors (sequential neighbours);
- ``all``: every predecessor (the graph heads become causal sequence heads without positions);
- ``self``: no edge (each graph head attends to its own position only).

If the trained edges score no better than random or recent ones, the graph heads do not use
what makes the edges collaborative. Nothing is trained.

    python benchmarks/hugt_probe.py benchmarks/results/hugt-reproduce-ml-1m/saved/RUN/X.pth

Prints a markdown table and writes ``--out`` (JSON lines, one per variant).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from common import machine
from recbole.utils import get_trainer

from recbole_hug.model import hugt as hugt_module
from recbole_hug.quick_start import load_data_and_model


def recent_edges(item_seq: torch.Tensor, item_emb: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, L, L]``: each non-padding position to its ``k`` immediate non-padding
    predecessors (the format of :func:`recbole_hug.graph.hug.knn_predecessor_edges`)."""
    length = item_seq.shape[1]
    steps = torch.arange(length, device=item_seq.device)
    offset = steps.view(-1, 1) - steps.view(1, -1)  # i - j
    window = (offset >= 1) & (offset <= k)
    real = item_seq > 0
    return window.unsqueeze(0) & real.unsqueeze(2) & real.unsqueeze(1)


def no_edges(item_seq: torch.Tensor, item_emb: torch.Tensor, k: int) -> torch.Tensor:
    """``[B, L, L]`` of False: the graph heads attend to their own position only."""
    length = item_seq.shape[1]
    return torch.zeros(len(item_seq), length, length, dtype=torch.bool, device=item_seq.device)


@contextmanager
def edges_of(model, variant: str, seed: int) -> Iterator[None]:
    """Within the block, ``model``'s graph heads read the edges of ``variant``."""
    saved = (model.svd_item_embeddings.clone(), model.hug_k, hugt_module.knn_predecessor_edges)
    builder: Callable | None = {"recent": recent_edges, "self": no_edges}.get(variant)
    try:
        if variant == "random":
            generator = torch.Generator().manual_seed(seed)
            shape = model.svd_item_embeddings.shape
            model.svd_item_embeddings.copy_(torch.randn(shape, generator=generator))
        elif variant == "all":
            model.hug_k = int(model.max_seq_length)
        elif builder is not None:
            hugt_module.knn_predecessor_edges = builder
        yield
    finally:
        model.svd_item_embeddings.copy_(saved[0])
        model.hug_k = saved[1]
        hugt_module.knn_predecessor_edges = saved[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a HUGT-MP checkpoint (.pth) of a run")
    variants = ["trained", "random", "recent", "all", "self"]
    parser.add_argument("--variants", nargs="+", choices=variants, default=variants)
    parser.add_argument("--seed", type=int, default=0, help="the random vectors' seed")
    parser.add_argument("--out", default="benchmarks/results/hugt-probe-ml-1m.jsonl")
    args = parser.parse_args()
    config, model, _, _, valid, _ = load_data_and_model(args.checkpoint)
    if not model.uses_graph or model.graph_mode != "MP":
        parser.error(f"{args.checkpoint}: not a HUGT-MP checkpoint (graph_mode MP, graph heads)")
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    model.eval()
    records = []
    print(f"{machine()}; {args.checkpoint}, validation rows: {len(valid._dataset)}")
    print("| edges | " + " | ".join(config["metrics"]) + " | seconds |")
    for variant in args.variants:
        start = time.perf_counter()
        with torch.no_grad(), edges_of(model, variant, args.seed):
            result = trainer.evaluate(valid, load_best_model=False, show_progress=False)
            k = model.hug_k
        seconds = time.perf_counter() - start
        record = {"edges": variant, "hug_k": k, **dict(result), "seconds": seconds}
        records.append(record)
        print(f"| {variant} | " + " | ".join(f"{v:.4f}" for v in dict(result).values())
              + f" | {seconds:.0f} |", flush=True)  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", encoding="utf-8") as file:
        for record in records:
            file.write(
                json.dumps({"checkpoint": args.checkpoint, "machine": machine(), **record}) + "\n"
            )


if __name__ == "__main__":
    main()
