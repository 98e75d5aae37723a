"""HUGT: the Heterogeneous User Graph Transformer.

Paper: "Heterogeneous User Graph Transformer" (HUGT; ``../shared/papers/hugt.txt``). Each user's
sequence is a heterogeneous user graph (section 3): sequential edges (the order) and
collaborative edges (each item to its ``hug_k`` most similar predecessors by cosine similarity of
truncated-SVD item embeddings of the training user-item matrix; built per batch, on the model's
device, in :mod:`recbole_hug.graph.hug`). Map of the paper to the code:

- Eq. 1 (generalised self-attention), Eq. 4 (heads concatenated and projected), section 4.3
  (relative positional encoding ``psi``) and 4.4 (graph heads: ``MP`` message passing over
  collaborative edges, ``SE`` spatial encoding ``phi(s_ij)``, one learned scalar per graph head
  and clipped length, shared by the blocks as Graphormer's): :mod:`recbole_hug.model.layers`,
  where the ``n_heads`` heads of each block are split into ``n_heads - n_graph_heads`` sequence
  heads and ``n_graph_heads`` graph heads.
- Eq. 2-3 (self-attention blocks, with residuals and layer norm as SASRec): ``HUGBlock``.
- Section 4.5 / Table 3 (RQ3): ``fusion`` ``concurrent`` (the heads of each block split),
  ``graph_then_sequence`` or ``sequence_then_graph`` (graph-only blocks, then sequence-only
  blocks, or the reverse: ``n_layers`` of each, or ``n_layers`` in all with
  ``fusion_depth: matched``, the depth of concurrent fusion).
- The graph heads' structure of a window (MP mask, SE lengths) depends on its items alone: on a
  CPU, evaluation keeps it per window across epochs (``graph_cache_mb``;
  :mod:`recbole_hug.model.graph_cache`).
- Eq. 5: ``y_ti = w_i^T h_t + b_i``, ``w_i`` the input embedding of item ``i`` (tied), ``b_i`` a
  per-item bias: :meth:`HUGT.scores`.
- Eq. 6: cross-entropy at every position of a training sequence (windows of whole sequences from
  :class:`recbole_hug.data.hugt_dataset.HUGTDataset`), over all items or ``n_candidates`` sampled
  items: :meth:`HUGT.calculate_loss` (all items: the fused
  :func:`recbole_hug.model.losses.linear_cross_entropy`).

``n_graph_heads: 0`` is the paper's sequence-only "SASRec-Ours": the same all-position training.
Every output at position ``i`` depends on the items at positions ``<= i`` only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn

from recbole_hug.data.hugt_dataset import TARGET_LIST_FIELD, TARGET_POSITION_FIELD
from recbole_hug.errors import ConfigError
from recbole_hug.graph.hug import graph_attention_mask, knn_predecessor_edges, shortest_path_lengths
from recbole_hug.model.graph_cache import WindowGraphCache
from recbole_hug.model.layers import ACTIVATIONS, HUGAttention, HUGBlock, head_split
from recbole_hug.model.losses import linear_cross_entropy

#: On a CPU, evaluation passes run in chunks of at most this many positions (windows x width):
#: a chunk's per-block tensors stay in cache. Measured on the 2-core development CPU, one thread,
#: 1,024 single-row passes of 200 positions: 5.6 s whole, 3.2 s in chunks of 32 (MP); 8.6 s
#: and 4.3 s (SE). Exact: rows do not interact in evaluation.
CPU_EVAL_POSITIONS = 6400

CHOICES = {
    "graph_mode": ("MP", "SE"),
    "fusion": ("concurrent", "graph_then_sequence", "sequence_then_graph"),
    "fusion_depth": ("stacked", "matched"),
    "position_encoding": ("relative", "absolute"),
    "hidden_act": tuple(ACTIVATIONS),
}


def check_options(config) -> None:
    """Raise ConfigError naming the first HUGT option outside its allowed values."""
    for option, allowed in CHOICES.items():
        if config[option] not in allowed:
            raise ConfigError(
                f"option '{option}' must be one of {', '.join(allowed)}, got {config[option]!r}"
            )
    n_heads, n_graph = config["n_heads"], config["n_graph_heads"]
    if n_heads < 1:
        raise ConfigError(f"option 'n_heads' must be >= 1, got {n_heads}")
    if config["head_size"] is None and config["hidden_size"] % n_heads:
        raise ConfigError(
            f"option 'hidden_size' ({config['hidden_size']}) must be divisible by "
            f"'n_heads' ({n_heads}) when 'head_size' is ~"
        )
    if not 0 <= n_graph <= n_heads:
        raise ConfigError(
            f"option 'n_graph_heads' must be in 0..n_heads (0..{n_heads}), got {n_graph}"
        )
    for option in ("hug_k", "spatial_clip", "svd_dim", "n_layers", "hidden_size"):
        if config[option] < 1:
            raise ConfigError(f"option '{option}' must be >= 1, got {config[option]}")
    for option in ("n_candidates", "head_size"):
        if config[option] is not None and config[option] < 1:
            raise ConfigError(f"option '{option}' must be >= 1 or ~, got {config[option]}")
    cache = config["graph_cache_mb"]
    if cache is not None and (isinstance(cache, bool) or not isinstance(cache, int) or cache < 0):
        raise ConfigError(f"option 'graph_cache_mb' must be an integer >= 0, got {cache!r}")
    if config["graph_mode"] == "SE" and config["spatial_clip"] > 255:
        raise ConfigError(f"option 'spatial_clip' must be <= 255, got {config['spatial_clip']}")


class HUGT(SequentialRecommender):
    """The Heterogeneous User Graph Transformer (see the module docstring)."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        check_options(config)
        hidden = config["hidden_size"]
        head_size = config["head_size"] or hidden // config["n_heads"]
        self.hug_k, self.graph_mode = config["hug_k"], config["graph_mode"]
        self.spatial_clip, self.n_candidates = config["spatial_clip"], config["n_candidates"]
        self.relative = config["position_encoding"] == "relative"
        split = head_split(config)
        self.uses_graph = any(n_graph for _, n_graph in split)
        if self.uses_graph:
            if not hasattr(dataset, "svd_item_embeddings"):
                raise ConfigError(
                    "HUGT's graph heads need the SVD item embeddings of "
                    "HUGTDataset (run HUGT through recbole_hug)"
                )
            self.register_buffer("svd_item_embeddings", dataset.svd_item_embeddings.float())
        self.graph_cache = WindowGraphCache((config["graph_cache_mb"] or 0) << 20)

        if self.uses_graph and self.graph_mode == "SE":  # phi, shared by the blocks
            n_graph = max(n_graph for _, n_graph in split)
            self.spatial_encoding = nn.Embedding(self.spatial_clip + 1, n_graph)
        self.item_embedding = nn.Embedding(self.n_items, hidden, padding_idx=0)
        self.item_bias = nn.Parameter(torch.zeros(self.n_items))
        self.position_embedding = nn.Embedding(self.max_seq_length, hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=config["layer_norm_eps"])
        self.embedding_dropout = nn.Dropout(config["hidden_dropout_prob"])
        self.blocks = nn.ModuleList(
            HUGBlock(
                HUGAttention(
                    hidden,
                    head_size,
                    n_seq,
                    n_graph,
                    self.relative,
                    config["attn_dropout_prob"],
                ),
                hidden,
                config["inner_size"],
                config["hidden_dropout_prob"],
                config["hidden_act"],
                config["layer_norm_eps"],
            )
            for n_seq, n_graph in split
        )
        self.attn_dropout, self._logged_unfused = config["attn_dropout_prob"], False
        self.initializer_range = config["initializer_range"]
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """SASRec's initialisation: N(0, initializer_range) weights, zero biases, unit norms."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=self.initializer_range)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def graph_inputs(self, item_seq: torch.Tensor) -> torch.Tensor | None:
        """Graph heads' input for ``[B, L]`` items, built once per batch and shared by the blocks.

        MP: the ``[B, 1, L, L]`` boolean mask of collaborative neighbours (and self). SE: the
        ``[B, H_graph, L, L]`` bias ``phi(s_ij)``, ``-inf`` where ``j > i``.
        """
        if not self.uses_graph:
            return None
        if self.training or item_seq.device.type != "cpu" or not self.graph_cache.limit_bytes:
            structure = self.graph_structure(item_seq)
        else:  # evaluation passes repeat their windows every epoch
            structure = self.graph_cache.get(item_seq, self.graph_structure)
        if self.graph_mode == "MP":
            return structure.unsqueeze(1)
        length = item_seq.shape[1]
        later = torch.ones(length, length, dtype=torch.bool, device=item_seq.device).triu(1)
        phi = self.spatial_encoding.weight.T  # [H_graph, S + 1]
        return phi[:, structure.long()].transpose(0, 1).masked_fill(later, float("-inf"))

    @torch.no_grad()  # the HUG is fixed: built from the frozen SVD embeddings
    def graph_structure(self, item_seq: torch.Tensor) -> torch.Tensor:
        """The weight-free part of the graph heads' input, ``[B, L, L]``: MP's boolean mask
        (collaborative edges and self loops), SE's clipped path lengths ``s_ij`` (uint8)."""
        edges = knn_predecessor_edges(item_seq, self.svd_item_embeddings, self.hug_k)
        if self.graph_mode == "MP":
            return graph_attention_mask(edges)
        return shortest_path_lengths(edges, self.spatial_clip).to(torch.uint8)

    def forward(self, item_seq: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, L]`` items (0 = padding, on the right) -> ``[B, L, d]``, a state per position;
        with ``rows`` (``[B]`` positions), ``[B, 1, d]``: the last block computes those alone."""
        if self.training and self.attn_dropout and not self._logged_unfused:
            self.logger.info(
                "HUGT: attn_dropout_prob > 0 has no fused attention kernel on this device; "
                "training takes the unfused, slower path (attn_dropout_prob: 0 keeps the fused one)"
            )
            self._logged_unfused = True
        length = item_seq.shape[1]
        positions = self.position_embedding.weight[:length]
        x = self.item_embedding(item_seq)
        if not self.relative:
            x = x + positions.unsqueeze(0)
        x = self.embedding_dropout(self.embedding_norm(x))
        graph = self.graph_inputs(item_seq)
        relative = positions if self.relative else None
        for block in self.blocks[:-1]:
            x = block(x, relative, graph)
        return self.blocks[-1](x, relative, graph, rows)

    def scores(self, states: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 5: ``[..., d]`` states -> ``[..., n_items]`` scores (``[..., C]`` for ``items``)."""
        if items is None:
            return states @ self.item_embedding.weight.T + self.item_bias
        return states @ self.item_embedding(items).T + self.item_bias[items]

    def calculate_loss(self, interaction) -> torch.Tensor:
        """Eq. 6: cross-entropy at every position that has a training target."""
        width = int(interaction[self.ITEM_SEQ_LEN].max())  # right padding past it is cut
        states = self.forward(interaction[self.ITEM_SEQ][:, :width])
        targets = interaction[TARGET_LIST_FIELD][:, :width]
        mask = targets > 0
        states, targets = states[mask], targets[mask]  # [P, d], [P]
        if self.n_candidates is None:  # padding (item 0) is never a candidate
            return linear_cross_entropy(
                states, self.item_embedding.weight, targets, self.item_bias, excluded=0
            )
        negatives = torch.randint(1, self.n_items, (self.n_candidates,), device=targets.device)
        positive = (states * self.item_embedding(targets)).sum(-1) + self.item_bias[targets]
        negative = self.scores(states, negatives).masked_fill(
            negatives.unsqueeze(0) == targets.unsqueeze(1), float("-inf")
        )  # a sampled copy of the target is not a negative
        logits = torch.cat([positive.unsqueeze(1), negative], dim=1)
        return F.cross_entropy(logits, torch.zeros_like(targets))

    def _last_states(self, interaction) -> torch.Tensor:
        """``[B, d]``: each row's state after its prefix, one causal pass per window.

        Rows that read the same window (the same user's items from the same stream position,
        ``target_position - length``, as the steps of ``eval_protocol: hugt``) are prefixes of
        the longest of them: the model is causal, so that row's pass gives every one of their
        states, exactly. A pass that serves one row (no ``target_position``, or a window of its
        own) computes its last block at that row's position alone.
        """
        items, lengths = interaction[self.ITEM_SEQ], interaction[self.ITEM_SEQ_LEN]
        row = torch.arange(len(lengths), device=lengths.device)
        window, longest, reader = row, lengths, row  # a pass per row
        if TARGET_POSITION_FIELD in interaction:
            starts = interaction[TARGET_POSITION_FIELD] - lengths
            first, window = torch.unique(starts, return_inverse=True)  # [B] window of each row
            longest = lengths.new_zeros(len(first)).scatter_reduce(0, window, lengths, "amax")
            is_longest = lengths == longest[window]  # one such row per window is its pass
            reader = torch.empty_like(longest).scatter_(0, window[is_longest], row[is_longest])
        alone = torch.bincount(window)[window] == 1  # [B] rows whose pass serves them alone
        states = torch.empty(len(lengths), self.item_embedding.embedding_dim, device=items.device)
        if alone.any():
            passes = items[reader[window[alone]]]
            last = lengths[alone] - 1
            states[alone] = self._chunked(passes[:, : int(last.max()) + 1], last)[:, 0].float()
        if not alone.all():
            shared, pass_of = torch.unique(window[~alone], return_inverse=True)
            passes = items[reader[shared], : int(longest[shared].max())]
            states[~alone] = self._chunked(passes)[pass_of, lengths[~alone] - 1].float()
        return states

    def _chunked(self, passes: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`forward` of ``[P, L]`` passes, on a CPU in chunks of at most
        :data:`CPU_EVAL_POSITIONS` positions (elsewhere whole)."""
        step = len(passes)
        if passes.device.type == "cpu":
            step = max(1, CPU_EVAL_POSITIONS // max(1, passes.shape[1]))
        if step >= len(passes):
            return self.forward(passes, rows)
        return torch.cat(
            [
                self.forward(passes[at : at + step], None if rows is None else rows[at : at + step])
                for at in range(0, len(passes), step)
            ]
        )

    def predict(self, interaction) -> torch.Tensor:
        """``[B]`` scores of the rows' items."""
        states = self._last_states(interaction)
        items = interaction[self.ITEM_ID]
        return (states * self.item_embedding(items)).sum(-1) + self.item_bias[items]

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """``[B, n_items]`` scores of every item."""
        return self.scores(self._last_states(interaction))
