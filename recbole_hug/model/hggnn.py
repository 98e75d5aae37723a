"""HG-GNN: the Heterogeneous Global Graph Neural Network for personalized session-based recs.

Paper: Pang, Yu, Zhang, Cai, Zhang, Han, Yang. "Heterogeneous Global Graph Neural Networks for
Personalized Session-based Recommendation", WSDM 2022 (``../shared/papers/hg-gnn.txt``). The data
(personalized session rows, and the global graph of section 4.2 built from the training sessions)
come from :class:`recbole_hug.data.session_dataset.SessionDataset`. Map of the paper to the code:

- Eq. 4 (mean over the neighbours of one edge type): one sparse matmul per edge type with the
  row-normalised matrices of :func:`recbole_hug.graph.global_graph.edge_matrix` (COO buffers, on
  the model's device): :class:`HGNNLayer`.
- Eq. 5 (``relu(W_r [mean || own state] + b_r)``) and Eq. 6-7 (the mean over the edge types of
  item nodes, ``in``/``out``/``similar``/``interacted_by``, and of user nodes, ``interact``):
  :class:`HGNNLayer`. A node kind with no edge type left (an ablation) keeps its state.
- Eq. 8 (layers 0..K averaged, ``alpha_k = 1/(K+1)``): :meth:`HGGNN.propagate`, which computes
  each batch's nodes exactly from their K-hop neighbourhood (rows gathered from CSR buffers).
- Eq. 9-13 (current preference: reversed position embeddings, soft attention):
  :meth:`HGGNN.current_preference`.
- Eq. 14-16 (general preference: attention with the user embedding):
  :meth:`HGGNN.general_preference`.
- Eq. 17-18 (the gate) and Eq. 19 (scores against the initial item embeddings ``p^(0)``):
  :meth:`HGGNN.forward`, :meth:`HGGNN.full_sort_predict`; Eq. 20: cross-entropy over all
  items (:func:`recbole_hug.model.losses.linear_cross_entropy`).

Which graph a row propagates over (``train_graph``, :mod:`recbole_hug.graph.blocks`): each row
carries its graph block (``graph_block``); node ``b * n_items + v`` is item v in block b, and
every block reads the same embeddings. ``cross_fit`` (the default, not in the paper): a training
row never aggregates over its own session (F-fold cross-fitting); validation rows read the graph
of all training sessions and test rows that of the training and validation sessions.
``paper``: Eq. 1-8 over the graph of all training sessions, for training as for validation. A row
without a block (serving) reads the last block, the test graph.

Ablations (Tables 4-5): ``use_hgnn: False`` (``p = p^(0)``, ``q = q^(0)``), ``use_cpl: False``
(``S = O``), ``use_gpl: False`` (``S = C``), and ``edge_types`` (any subset of
:data:`~recbole_hug.graph.global_graph.EDGE_TYPES`; "w/o user nodes" drops ``interact`` and
``interacted_by``). ``user_residual: True`` adds the user's node state to the session preference
(``S_u + q_u``), as the OFFICIAL CODE does; the paper has no such term.

Padding (item 0, user 0): zero embeddings (kept zero by ``padding_idx``), and item 0 is never a
candidate of the training softmax (the official code scores items 1.. only; RecBole's full-sort
evaluation masks item 0).

Where the paper is silent we follow the official code: dropout on the node features entering the
HGNN (not on ``p^(0)`` of Eq. 8 and 19); a node with no neighbour of a type aggregates zeros
(Eq. 4). Cost: a forward pass propagates only the nodes within ``n_layers`` hops of its batch's
session items and users (scores use the initial embeddings, Eq. 19), with the same result as
propagating the whole graph, as the paper does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from recbole.model.abstract_recommender import SequentialRecommender
from recbole.utils import InputType
from torch import nn

from recbole_hug.errors import ConfigError
from recbole_hug.graph.blocks import GRAPH_BLOCK_FIELD
from recbole_hug.graph.global_graph import EDGE_ENDS, EDGE_TYPES, edge_matrix
from recbole_hug.model.losses import linear_cross_entropy


def check_options(config) -> None:
    """Raise ConfigError naming the first HG-GNN option outside its allowed values."""
    edge_types = config["edge_types"]
    if not isinstance(edge_types, (list, tuple)):
        raise ConfigError(f"option 'edge_types' must be a list, got {edge_types!r}")
    unknown = [name for name in edge_types if name not in EDGE_TYPES]
    if unknown:
        raise ConfigError(
            f"option 'edge_types' has unknown edge types {unknown}; valid names: "
            f"{', '.join(EDGE_TYPES)}"
        )
    if config["use_hgnn"] and not edge_types:
        raise ConfigError("option 'edge_types' is empty: use use_hgnn: False for no graph")
    if config["train_graph"] == "cross_fit" and not config["use_hgnn"]:
        raise ConfigError(
            "option 'train_graph: cross_fit' leaves each row's own session out of the graph, and "
            "option 'use_hgnn: False' leaves no graph; use train_graph: paper with use_hgnn: False"
        )
    if config["loss_type"] != "CE":
        raise ConfigError(f"option 'loss_type' must be CE (Eq. 20), got {config['loss_type']!r}")
    if not (config["use_cpl"] or config["use_gpl"]):
        raise ConfigError("options 'use_cpl' and 'use_gpl' are both False: no session encoder")
    for option in ("embedding_size", "n_layers"):
        if config[option] < 1:
            raise ConfigError(f"option '{option}' must be >= 1, got {config[option]}")
    if not 0 <= config["dropout"] < 1:
        raise ConfigError(f"option 'dropout' must be in [0, 1), got {config['dropout']}")


class HGNNLayer(nn.Module):
    """One HGNN layer (Eq. 4-7) over the edge types it is given.

    Args:
        edge_types: the edge types it propagates (names of :data:`EDGE_ENDS`).
        dim: the node state width ``d``.
    """

    def __init__(self, edge_types: Sequence[str], dim: int) -> None:
        super().__init__()
        self.edge_linears = nn.ModuleDict({name: nn.Linear(2 * dim, dim) for name in edge_types})

    def forward(
        self,
        states: Mapping[str, torch.Tensor],
        matrices: Mapping[str, torch.Tensor],
        targets: Mapping[str, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Propagate once.

        Args:
            states: ``{"item": [n_i, d], "user": [n_u, d]}``, layer k (all nodes or a subset).
            matrices: edge type -> row-normalised sparse ``[n_targets, n_neighbours]`` (Eq. 4's
                mean), its rows the nodes updated, its columns rows of ``states``.
            targets: node kind -> ``[n_targets]`` rows of ``states`` updated; None = all.

        Returns:
            ``{"item": [n_targets_i, d], "user": [n_targets_u, d]}``, layer k + 1.
        """
        own = states if targets is None else {k: states[k][targets[k]] for k in states}
        messages: dict[str, list[torch.Tensor]] = {kind: [] for kind in states}
        for name, linear in self.edge_linears.items():
            node, neighbour = EDGE_ENDS[name]
            matrix, source = matrices[name], states[neighbour]
            with torch.autocast(source.device.type, enabled=False):  # sparse: in float32
                mean = torch.sparse.mm(matrix, source.to(matrix.dtype))  # Eq. 4
            messages[node].append(F.relu(linear(torch.cat([mean, own[node]], dim=-1))))  # Eq. 5
        return {  # Eq. 6-7: mean over the edge types of each node kind
            kind: torch.stack(found).mean(dim=0) if found else own[kind]
            for kind, found in messages.items()
        }


class HGGNN(SequentialRecommender):
    """The Heterogeneous Global Graph Neural Network (see the module docstring)."""

    input_type = InputType.POINTWISE

    def __init__(self, config, dataset) -> None:
        super().__init__(config, dataset)
        check_options(config)
        if not hasattr(dataset, "graph_blocks"):
            raise ConfigError(
                "HGGNN needs the graph blocks of SessionDataset (option 'session_rows: True', "
                "and HGGNN registered with dataset=SessionDataset)"
            )
        dim = config["embedding_size"]
        self.USER_ID = config["USER_ID_FIELD"]
        self.use_hgnn, self.use_cpl, self.use_gpl = (
            config["use_hgnn"],
            config["use_cpl"],
            config["use_gpl"],
        )
        self.user_residual = config["user_residual"]
        self.n_users = dataset.num(self.USER_ID)
        self.n_blocks = dataset.graph_blocks.n_items // self.n_items
        self.edge_types = [name for name in EDGE_TYPES if name in config["edge_types"]]
        self.item_embedding = nn.Embedding(self.n_items, dim, padding_idx=0)
        self.user_embedding = nn.Embedding(self.n_users, dim, padding_idx=0)
        self.node_dropout = nn.Dropout(config["dropout"])
        self.layers = nn.ModuleList(
            HGNNLayer(self.edge_types, dim) for _ in range(config["n_layers"] * self.use_hgnn)
        )
        for name in self.edge_types if self.use_hgnn else ():  # CSR parts, for row gathers
            matrix = edge_matrix(dataset.graph_blocks, name, layout="csr")
            for part in ("crow_indices", "col_indices", "values"):
                self.register_buffer(f"{name}_{part}", getattr(matrix, part)(), persistent=False)
        # Eq. 9-13
        self.position_embedding = nn.Embedding(self.max_seq_length, dim)
        self.position_merge = nn.Linear(2 * dim, dim, bias=False)  # W_c
        self.cpl_item = nn.Linear(dim, dim)  # W_0, b_0
        self.cpl_session = nn.Linear(dim, dim, bias=False)  # W_1
        self.cpl_score = nn.Linear(dim, 1, bias=False)  # v_0
        # Eq. 14-16
        self.gpl_item = nn.Linear(dim, dim)  # W_2, b_1
        self.gpl_user = nn.Linear(dim, dim, bias=False)  # W_3
        self.gpl_score = nn.Linear(dim, 1, bias=False)  # v_1
        # Eq. 17
        self.gate = nn.Linear(2 * dim, dim, bias=False)  # W_s
        for weight in self.parameters():  # the official code's U(-1/sqrt(d), 1/sqrt(d))
            nn.init.uniform_(weight, -(dim**-0.5), dim**-0.5)
        with torch.no_grad():  # padding stays zero (padding_idx: no gradient reaches it)
            self.item_embedding.weight[0].zero_()
            self.user_embedding.weight[0].zero_()

    def _rows(self, name: str, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The entries of edge type ``name`` in ``rows``: (row position, column, mean weight)."""
        crow = getattr(self, f"{name}_crow_indices")
        starts = crow[rows]
        counts = crow[rows + 1] - starts
        owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
        entry = (
            starts[owner]
            + torch.arange(len(owner), device=rows.device)
            - (torch.cumsum(counts, 0) - counts)[owner]
        )
        return (
            owner,
            getattr(self, f"{name}_col_indices")[entry],
            getattr(self, f"{name}_values")[entry],
        )

    def propagate(
        self, items: torch.Tensor, users: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 4-8 for the given nodes only: ``p`` ``[len(items), d]``, ``q`` ``[len(users), d]``.

        ``items`` and ``users`` are sorted unique node ids of the stacked graph (item v of block
        b is ``b * n_items + v``, users likewise; block 0 alone is the plain graph). Exact: layer
        ``k`` is computed for the nodes within ``K - k`` hops of the given ones, which is all that
        their layer-``K`` states depend on; a batch touches a few thousand nodes, not the graph.
        """
        tables = {"item": self.item_embedding.weight, "user": self.user_embedding.weight}
        sizes = {"item": self.n_items, "user": self.n_users}
        final = {"item": items, "user": users}
        if not self.use_hgnn:
            return tables["item"][items % self.n_items], tables["user"][users % self.n_users]
        needed, entries = [final], []  # node ids per layer, from layer K down to 0
        for _ in self.layers:
            current, below, found = needed[-1], {k: [v] for k, v in needed[-1].items()}, {}
            for name in self.edge_types:
                node, neighbour = EDGE_ENDS[name]
                found[name] = self._rows(name, current[node])
                below[neighbour].append(found[name][1])
            needed.append({kind: torch.unique(torch.cat(ids)) for kind, ids in below.items()})
            entries.append(found)
        needed.reverse()
        entries.reverse()
        state = {
            kind: self.node_dropout(tables[kind][needed[0][kind] % sizes[kind]]) for kind in tables
        }
        layers = {kind: [tables[kind][final[kind] % sizes[kind]]] for kind in tables}
        for k, layer in enumerate(self.layers, start=1):
            below, current = needed[k - 1], needed[k]
            matrices = {}
            for name, (owner, column, weight) in entries[k - 1].items():
                node, neighbour = EDGE_ENDS[name]
                index = torch.stack([owner, torch.searchsorted(below[neighbour], column)])
                shape = (len(current[node]), len(below[neighbour]))
                matrices[name] = torch.sparse_coo_tensor(
                    index, weight, shape, check_invariants=False
                )
            targets = {kind: torch.searchsorted(below[kind], current[kind]) for kind in tables}
            state = layer(state, matrices, targets)
            for kind in tables:
                layers[kind].append(state[kind][torch.searchsorted(current[kind], final[kind])])
        p, q = (torch.stack(layers[kind]).mean(dim=0) for kind in ("item", "user"))  # Eq. 8
        return p, q

    @staticmethod
    def _attend(scores: torch.Tensor, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``sum_i softmax_i(scores) values_i`` over the real positions: ``[B, L, 1]``,
        ``[B, L, d]``, ``[B, L]`` -> ``[B, d]`` (Eq. 11 + 13, Eq. 14 + 16)."""
        weights = torch.softmax(scores.squeeze(-1).masked_fill(~mask, float("-inf")), dim=-1)
        return torch.einsum("bl,bld->bd", weights, values)

    def current_preference(
        self, items: torch.Tensor, item_seq_len: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Eq. 9-13: ``[B, L, d]`` session items -> ``C_u`` ``[B, d]``."""
        steps = torch.arange(mask.shape[1], device=mask.device)
        reversed_position = (item_seq_len.unsqueeze(1) - 1 - steps).clamp(min=0)  # last item: 0
        merged = self.position_merge(
            torch.cat([items, self.position_embedding(reversed_position)], dim=-1)
        )  # Eq. 9
        real = mask.unsqueeze(-1).float()
        average = (merged * real).sum(1) / real.sum(1)  # Eq. 10
        scores = self.cpl_score(
            torch.sigmoid(self.cpl_item(merged) + self.cpl_session(average).unsqueeze(1))
        )  # Eq. 12
        return self._attend(scores, merged, mask)

    def general_preference(
        self, items: torch.Tensor, user: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Eq. 14-16: ``[B, L, d]`` session items, ``[B, d]`` user -> ``O_u`` ``[B, d]``."""
        scores = self.gpl_score(
            torch.sigmoid(self.gpl_item(items) + self.gpl_user(user).unsqueeze(1))
        )  # Eq. 15
        return self._attend(scores, items, mask)

    def aggregates(
        self, item_seq: torch.Tensor, user: torch.Tensor, block: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows' node states after Eq. 8, each over its own graph block.

        Args:
            item_seq: ``[B, L]`` items (0 = padding).
            user: ``[B]`` users.
            block: ``[B]`` graph blocks (:mod:`recbole_hug.graph.blocks`).

        Returns:
            ``[B, L, d]`` item states ``p`` (padding positions: block b's item 0, which has no
            edge), ``[B, d]`` user states ``q``.
        """
        item_ids, item_local = torch.unique(
            item_seq + (block * self.n_items).unsqueeze(1), return_inverse=True
        )
        user_ids, user_local = torch.unique(user + block * self.n_users, return_inverse=True)
        item_states, user_states = self.propagate(item_ids, user_ids)
        return item_states[item_local], user_states[user_local]

    def forward(
        self,
        item_seq: torch.Tensor,
        item_seq_len: torch.Tensor,
        user: torch.Tensor,
        block: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Session preference ``S_u`` ``[B, d]`` of ``[B, L]`` prefixes, ``[B]`` lengths, users
        and graph blocks (None: the last block, the test graph)."""
        if block is None:
            block = torch.full_like(user, self.n_blocks - 1)
        items, user_state = self.aggregates(item_seq, user, block)
        mask = item_seq > 0
        if not self.use_gpl:
            session = self.current_preference(items, item_seq_len, mask)
        elif not self.use_cpl:
            session = self.general_preference(items, user_state, mask)
        else:
            current = self.current_preference(items, item_seq_len, mask)
            general = self.general_preference(items, user_state, mask)
            gate = torch.sigmoid(self.gate(torch.cat([current, general], dim=-1)))  # Eq. 17
            session = gate * current + (1 - gate) * general  # Eq. 18
        return session + user_state if self.user_residual else session  # official code only

    def _session(self, interaction) -> torch.Tensor:
        block = None  # a serving row: the test graph
        if GRAPH_BLOCK_FIELD in interaction:
            block = interaction[GRAPH_BLOCK_FIELD]
        return self.forward(
            interaction[self.ITEM_SEQ],
            interaction[self.ITEM_SEQ_LEN],
            interaction[self.USER_ID],
            block,
        )

    def full_sort_predict(self, interaction) -> torch.Tensor:
        """Eq. 19 logits against every initial item embedding ``p^(0)``: ``[B, n_items]``."""
        return self._session(interaction) @ self.item_embedding.weight.T

    def calculate_loss(self, interaction) -> torch.Tensor:
        """Eq. 20: cross-entropy of the target over all items."""
        return linear_cross_entropy(
            self._session(interaction),
            self.item_embedding.weight,
            interaction[self.POS_ITEM_ID],
            excluded=0,  # padding is never a candidate
        )

    def predict(self, interaction) -> torch.Tensor:
        """Eq. 19 logit of ``interaction[ITEM_ID]``: ``[B]``."""
        targets = self.item_embedding(interaction[self.ITEM_ID])
        return (self._session(interaction) * targets).sum(-1)
