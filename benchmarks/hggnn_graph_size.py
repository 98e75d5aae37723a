"""HG-GNN's global graph at Reddit's shape, synthetic: time and peak memory of building it.

    python benchmarks/hggnn_graph_size.py                  # Reddit's shape (target: <= 2 min)
    python benchmarks/hggnn_graph_size.py --scale 0.01     # a quick check that it runs

Reddit in the HG-GNN paper (Table 1): 18,271 users, 27,452 items, 1,135,488 sessions of 3.02
items on average, 901,161 of them training sessions. The synthetic data have that shape: every
user's sessions in a row, session lengths 2 + Poisson(1.02) (mean 3.02), items drawn from a
Zipf-like popularity (exponent ``--zipf``) with each user's items biased towards a few hundred of
its own, and no immediate repeats. Timed (wall clock, one process): the paper's graph of the
training sessions (:func:`~recbole_hug.graph.global_graph.build_global_graph`), and the
leave-own-session-out blocks that HG-GNN builds by default (``graph_folds`` fold graphs, the
validation and test graphs, stacked: :mod:`recbole_hug.graph.blocks`). Peak memory: the
process's maximum resident set size after each step.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from common import machine

from recbole_hug.graph.blocks import session_folds, stack_graphs
from recbole_hug.graph.global_graph import build_global_graph

#: Reddit's shape (HG-GNN paper, Table 1).
USERS, ITEMS, SESSIONS, TRAIN_SESSIONS = 18_271, 27_452, 1_135_488, 901_161


def synthetic_sessions(
    n_users: int, n_items: int, n_sessions: int, zipf: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(session, user, item)`` per interaction, ids from 1, sessions contiguous, each user's
    sessions in a row, no item repeated right after itself."""
    rng = np.random.default_rng(seed)
    lengths = 2 + rng.poisson(1.02, n_sessions)
    session_user = np.sort(rng.integers(1, n_users + 1, n_sessions))
    session = np.repeat(np.arange(n_sessions), lengths)
    user = np.repeat(session_user, lengths)
    popularity = 1.0 / np.arange(1, n_items + 1) ** zipf
    popular = rng.choice(n_items, len(session), p=popularity / popularity.sum())
    own = (user * 7919 + rng.integers(0, 300, len(session))) % n_items  # a user's own items
    item = np.where(rng.random(len(session)) < 0.5, popular, own) + 1
    repeat = np.flatnonzero((item[1:] == item[:-1]) & (session[1:] == session[:-1])) + 1
    item[repeat] = item[repeat] % n_items + 1  # the next id: no immediate repeat
    return session, user, item


def peak_gib() -> float:
    """The process's peak resident memory so far, in GiB (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of Reddit's sessions")
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--graph_folds", type=int, default=5)
    parser.add_argument("--transition_top_s", type=int, default=12)
    parser.add_argument("--similar_top_k", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(machine())
    n_sessions = max(int(SESSIONS * args.scale), 10)
    session, user, item = synthetic_sessions(USERS, ITEMS, n_sessions, args.zipf, args.seed)
    # Each user's last sessions are test and validation in the paper's split; here simply the
    # sessions after the training share (the graph's cost depends on sizes, not on who).
    n_train = int(n_sessions * TRAIN_SESSIONS / SESSIONS)
    n_valid = int(n_train * 0.1)
    train = session < n_train - n_valid
    graph_part = session < n_train
    sizes = {"n_users": USERS + 1, "n_items": ITEMS + 1}
    top = {"transition_top_s": args.transition_top_s, "similar_top_k": args.similar_top_k}
    print(
        f"{n_sessions:,} sessions, {len(session):,} interactions; training {n_train - n_valid:,} "
        f"sessions ({int(train.sum()):,} interactions), validation {n_valid:,}"
    )

    start = time.perf_counter()
    graph = build_global_graph(session[train], user[train], item[train], **sizes, **top)
    paper = time.perf_counter() - start
    edges = {name: len(graph.edge(name)[0]) for name in graph.edges}
    print(f"| the paper's graph (training sessions) | {paper:.1f} s | peak {peak_gib():.2f} GiB |")
    print("edges: " + ", ".join(f"{name} {count:,}" for name, count in edges.items()))

    start = time.perf_counter()
    fold = session_folds(session[train], user[train], args.graph_folds)
    graphs = [
        build_global_graph(
            session[train][fold != f],
            user[train][fold != f],
            item[train][fold != f],
            **sizes,
            **top,
        )
        for f in range(args.graph_folds)
    ]
    graphs.append(graph)  # validation rows: every training session (built above)
    graphs.append(
        build_global_graph(session[graph_part], user[graph_part], item[graph_part], **sizes, **top)
    )
    stacked = stack_graphs(graphs)
    blocks = time.perf_counter() - start
    total = sum(len(stacked.edge(name)[0]) for name in stacked.edges)
    print(
        f"| + {args.graph_folds} fold graphs, the test graph, stacked | {blocks:.1f} s | peak "
        f"{peak_gib():.2f} GiB | {total:,} edges |"
    )


if __name__ == "__main__":
    main()
