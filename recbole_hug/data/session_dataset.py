"""SessionDataset: HG-GNN's personalized session rows as a RecBole ``SequentialDataset``.

Pang et al., Heterogeneous Global Graph Neural Networks for Personalized Session-based
Recommendation, WSDM 2022, sections 3 and 5.1.1. What it changes in ``SequentialDataset`` (the
loading, RecBole's own filters and the id remapping stay RecBole's):

- Filtering (``_data_filtering``, before ids are remapped): every user's interactions are cut into
  sessions with :mod:`recbole_hug.data.sessions` and split with
  :mod:`recbole_hug.data.session_split` (cut by ``SESSION_ID_FIELD`` when that
  column is loaded, else by ``session_gap`` seconds -> ``remove_repeats`` -> first
  ``max_session_length`` items -> sessions >= ``min_session_length``, users >= ``min_user_sessions``
  sessions -> ``session_split`` -> validation/test items unseen in training dropped). Only the
  kept interactions reach RecBole's remapping, so the item vocabulary is exactly the training
  items (and every kept user has an id).
- Augmentation: one row per position >= 2 (1-based) of every session: the user, the last
  ``MAX_ITEM_LIST_LENGTH`` items before the target in the same session (``item_id_list``,
  ``item_length``) and the target ``item_id``; no other column.
- ``build()`` returns the train / valid / test rows of the session split (``eval_args`` is not
  used), and puts the heterogeneous global graph of the TRAINING sessions on the training
  dataset (``train.global_graph``, :func:`recbole_hug.graph.global_graph.build_global_graph`).
  With ``graph_session_ratio > 0`` (not in the paper), each user's earliest training sessions
  build the graph and the later ones give the training rows
  (:func:`recbole_hug.data.session_split.graph_only_sessions`).
- The graphs that HG-GNN's rows propagate over (:mod:`recbole_hug.graph.blocks`), stacked into
  ``train.graph_blocks``, and each row's block in the column ``graph_block``:

  * ``train_graph: cross_fit`` (HG-GNN's default): the training rows of fold ``f`` (of
    ``graph_folds``) read the graph of the training sessions outside fold ``f`` (blocks
    ``0..F-1``); validation rows the graph of all training sessions (block ``F``);
  * ``train_graph: paper``: training and validation rows read the graph of all training
    sessions (block 0), Eq. 1-8 as the paper;
  * test rows read the graph of the training AND validation sessions (the paper's training
    data) with ``test_graph_with_valid: True``, else the validation rows' graph. Model selection
    runs on validation, over the graph without the validation sessions.

Any RecBole sequential model reads these rows unchanged (``session_rows: True``).

Fallback for a user with test sessions but no training session (possible with
``session_split: time`` only; ``user_ratio`` keeps >= 1 training session per user): the user keeps
an id and its rows are evaluated; the global graph has no edge of that user, so HG-GNN's Eq. 4
aggregate for it is zero and its embedding is never trained (its general preference rests on an
untrained user vector). The number of such users is logged.

The options and their defaults are in ``properties/sessions.yaml``, which the Config layers in
whenever ``session_rows`` is True.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from recbole.data.dataset import SequentialDataset
from recbole.data.interaction import Interaction, cat_interactions
from recbole.utils import FeatureSource, FeatureType, set_color

from recbole_hug.data.session_split import (
    SessionSplit,
    drop_unseen_items,
    graph_only_sessions,
    split_by_time,
    split_by_user_ratio,
)
from recbole_hug.data.sessions import (
    cut_sessions,
    filter_sessions,
    remove_immediate_repeats,
    session_rows,
    truncate_sessions,
)
from recbole_hug.errors import ConfigError, DataError
from recbole_hug.graph.blocks import GRAPH_BLOCK_FIELD, session_folds, stack_graphs
from recbole_hug.graph.global_graph import GlobalGraph, build_global_graph

#: The values of ``session_split``.
SESSION_SPLITS: tuple[str, ...] = ("user_ratio", "time")

#: The three parts, in the order of :meth:`SessionDataset.build`.
PARTS: tuple[str, ...] = ("train", "valid", "test")

#: The values of ``train_graph``: leave-own-session-out by cross-fitting, or the paper's graph.
TRAIN_GRAPHS: tuple[str, ...] = ("cross_fit", "paper")


@contextmanager
def _config_errors(step: str) -> Iterator[None]:
    """Turn a ValueError of a session step into a ConfigError (its message names the option)."""
    try:
        yield
    except ValueError as error:
        raise ConfigError(f"session data ({step}): {error}") from error


class SessionDataset(SequentialDataset):
    """RecBole's ``SequentialDataset`` with HG-GNN's personalized session rows (module docstring).

    After :meth:`build`, the training dataset has ``global_graph`` (a
    :class:`~recbole_hug.graph.global_graph.GlobalGraph` over RecBole's remapped ids) and
    ``graph_blocks`` (the stacked graphs of :mod:`recbole_hug.graph.blocks`); every row has its
    block in :data:`GRAPH_BLOCK_FIELD`.
    """

    def __init__(self, config) -> None:
        if config["benchmark_filename"] is not None:
            raise ConfigError(
                "option 'benchmark_filename' cannot be used with session data: the session "
                "split (option 'session_split') makes train/valid/test"
            )
        super().__init__(config)

    # ----------------------------------------------------------------------------------------
    # Sessions: cut and split before ids are remapped
    def _data_filtering(self) -> None:
        super()._data_filtering()
        frame, session_field, time_field = self._session_input()
        split = self._split_sessions(frame, session_field, time_field)
        parts = [split.train, split.valid, split.test]
        for field in list(self.inter_feat.columns):
            if field not in (self.uid_field, self.iid_field, self.time_field):
                self._del_col(self.inter_feat, field)
        self._rest_fields = np.array([f for f in self._rest_fields if f in self.field2type])
        columns = {self.uid_field: "user", self.iid_field: "item"}
        if self.time_field in self.inter_feat.columns:
            columns[self.time_field] = "timestamp"
        self.inter_feat = pd.DataFrame(
            {
                field: np.concatenate([p[column].to_numpy() for p in parts])
                for field, column in columns.items()
            }
        )
        # Aligned with the rows of inter_feat, which RecBole's remapping keeps in order.
        self._session_id = np.concatenate([p["session"].to_numpy() for p in parts])
        self._session_part = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
        with _config_errors("graph sessions"):
            graph_only = graph_only_sessions(split.train, self.config["graph_session_ratio"])
        training = self._session_part == 0
        only_graph = np.isin(self._session_id, graph_only)
        # The interactions that build the global graph, and those that give training rows.
        self._in_graph = training & only_graph if len(graph_only) else training
        self._in_training_rows = training & ~only_graph
        self._check_graph_options(len(graph_only) > 0)
        self._log_split(parts)

    def _check_graph_options(self, graph_only: bool) -> None:
        """ConfigError naming ``train_graph``: unknown, or with ``graph_session_ratio`` > 0."""
        mode = self.config["train_graph"]
        if mode not in TRAIN_GRAPHS:
            raise ConfigError(
                f"option 'train_graph' must be one of {', '.join(TRAIN_GRAPHS)}, got {mode!r}"
            )
        if mode == "cross_fit" and graph_only:
            raise ConfigError(
                "options 'train_graph: cross_fit' and 'graph_session_ratio' > 0 are two ways to "
                "keep training targets out of the graph; use one (train_graph: paper for the "
                "ratio)"
            )

    def _session_input(self) -> tuple[pd.DataFrame, str | None, str]:
        """The interactions, the session column to use (or None) and the time column."""
        frame = self.inter_feat
        session_field = self.config["SESSION_ID_FIELD"]
        if session_field not in frame.columns:
            session_field = None
        time_field = self.time_field
        if time_field not in frame.columns:
            if session_field is None:
                raise DataError(
                    f"session data needs a time column (option TIME_FIELD = {time_field!r}) "
                    "or a session column (option SESSION_ID_FIELD = "
                    f"{self.config['SESSION_ID_FIELD']!r}); dataset '{self.dataset_name}' has "
                    "neither loaded (see load_col)"
                )
            time_field = "_file_order"  # no time: a session's items in file order
            frame = frame.assign(**{time_field: np.arange(len(frame), dtype=np.float64)})
        if session_field is None:
            gap = self.config["session_gap"]
            if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not gap > 0:
                raise ConfigError(f"option 'session_gap' must be > 0 seconds, got {gap!r}")
        return frame, session_field, time_field

    def _split_sessions(
        self, frame: pd.DataFrame, session_field: str | None, time_field: str
    ) -> SessionSplit:
        """The sessions.py pipeline in the official order, errors as ConfigError."""
        split_mode = self.config["session_split"]
        if split_mode not in SESSION_SPLITS:
            raise ConfigError(
                f"option 'session_split' must be one of {', '.join(SESSION_SPLITS)}, "
                f"got {split_mode!r}"
            )
        with _config_errors("cut"):
            sessions = cut_sessions(
                frame,
                session_gap=None if session_field else self.config["session_gap"],
                session_field=session_field,
                user_field=self.uid_field,
                item_field=self.iid_field,
                time_field=time_field,
            )
        if self.config["remove_repeats"]:
            sessions = remove_immediate_repeats(sessions)
        with _config_errors("filter"):
            sessions = truncate_sessions(sessions, self.config["max_session_length"])
            sessions = filter_sessions(
                sessions, self.config["min_session_length"], self.config["min_user_sessions"]
            )
        with _config_errors("split"):
            if split_mode == "user_ratio":
                split = split_by_user_ratio(
                    sessions, self.config["test_ratio"], self.config["valid_ratio"]
                )
            else:
                split = split_by_time(
                    sessions, self._test_cut_time(sessions), self.config["valid_ratio"]
                )
        with _config_errors("test items unseen in training dropped"):
            return drop_unseen_items(split)

    def _test_cut_time(self, sessions: pd.DataFrame) -> float:
        """``test_cut_time``, or the (1 - ``test_ratio``) quantile of the session start times."""
        cut = self.config["test_cut_time"]
        if cut is not None:
            return float(cut)
        ratio = self.config["test_ratio"]
        if not 0 < ratio < 1:
            raise ConfigError(f"option 'test_ratio' must be a fraction with 0 < x < 1, got {ratio}")
        starts = sessions.groupby("session", sort=False)["timestamp"].min()
        return float(starts.quantile(1 - ratio))

    def _log_split(self, parts: list[pd.DataFrame]) -> None:
        train_users = set(parts[0]["user"])
        cold = len(set(parts[2]["user"]) - train_users)
        counts = ", ".join(
            f"{name} {p['session'].nunique()} sessions / {len(p)} interactions"
            for name, p in zip(PARTS, parts, strict=True)
        )
        self.logger.info(
            set_color("HG-GNN sessions", "pink")
            + f": {counts}; {len(train_users)} users with training sessions, "
            f"{cold} test users without (their user node has no edge)"
        )

    # ----------------------------------------------------------------------------------------
    # Rows and parts
    def data_augmentation(self) -> None:
        """Rows (user, last ``MAX_ITEM_LIST_LENGTH`` items of the session prefix, target)."""
        if len(self._session_id) != len(self.inter_feat):
            raise DataError(
                f"session data: {len(self.inter_feat)} interactions but {len(self._session_id)} "
                "session ids (a RecBole option removed interactions after the session cut)"
            )
        self.item_id_list_field = self.iid_field + self.config["LIST_SUFFIX"]
        width = self.max_item_list_len
        self.set_field_property(
            self.item_id_list_field, FeatureType.TOKEN_SEQ, FeatureSource.INTERACTION, width
        )
        self.set_field_property(
            self.item_list_length_field, FeatureType.TOKEN, FeatureSource.INTERACTION, 1
        )
        frame = pd.DataFrame(
            {
                "user": self.inter_feat[self.uid_field].numpy(),
                "item": self.inter_feat[self.iid_field].numpy(),
                "timestamp": np.zeros(len(self._session_id)),  # order is already the row order
                "session": self._session_id,
            }
        )
        self.set_field_property(GRAPH_BLOCK_FIELD, FeatureType.TOKEN, FeatureSource.INTERACTION, 1)
        session_block = self._plan_blocks(frame)
        self.part_rows: list[Interaction] = []
        for index in range(len(PARTS)):
            selected = self._in_training_rows if index == 0 else self._session_part == index
            rows = session_rows(frame[selected], width)
            self.part_rows.append(
                Interaction(
                    {
                        self.uid_field: torch.from_numpy(rows.user),
                        self.item_id_list_field: torch.from_numpy(rows.prefix),
                        self.item_list_length_field: torch.from_numpy(rows.prefix_length),
                        self.iid_field: torch.from_numpy(rows.target),
                        GRAPH_BLOCK_FIELD: torch.from_numpy(session_block[rows.session]),
                    }
                )
            )
        if self.time_field in self.inter_feat:
            self._del_col(self.inter_feat, self.time_field)
        self.inter_feat = cat_interactions(self.part_rows)

    def _plan_blocks(self, frame: pd.DataFrame) -> np.ndarray:
        """Set ``_block_sources`` (the interactions of each graph block, in block order; the
        module docstring gives the blocks) and return the block of every session, ``[S]``
        indexed by session id."""
        training, part = frame[self._in_graph], self._session_part
        session = frame["session"].to_numpy()
        block = np.zeros(int(session.max()) + 1, dtype=np.int64)
        sources = []
        if self.config["train_graph"] == "cross_fit":
            with _config_errors("graph folds"):
                fold = session_folds(
                    training["session"].to_numpy(),
                    training["user"].to_numpy(),
                    self.config["graph_folds"],
                )
            sources = [training[fold != f] for f in range(self.config["graph_folds"])]
            block[training["session"].to_numpy()] = fold
        sources.append(training)  # validation rows: every training session
        self._validation_block = len(sources) - 1
        block[session[part == 1]] = self._validation_block
        if self.config["test_graph_with_valid"]:
            sources.append(pd.concat([training, frame[part == 1]]))
        block[session[part == 2]] = len(sources) - 1
        self._block_sources = sources
        return block

    @property
    def training_interactions(self) -> pd.DataFrame:
        """The interactions of the training sessions that build the global graph (``user``,
        ``item``, ``session``, in RecBole's ids); available after augmentation."""
        return self._block_sources[self._validation_block]

    def build(self) -> list[SequentialDataset]:
        """``[train, valid, test]`` datasets of the session rows; ``train.global_graph`` and
        ``train.graph_blocks`` set."""
        self._change_feat_format()
        train, valid, test = (self.copy(rows) for rows in self.part_rows)
        graphs = [self._graph(source) for source in self._block_sources]
        train.global_graph = graphs[self._validation_block]
        train.graph_blocks = stack_graphs(graphs)
        return [train, valid, test]

    def _graph(self, interactions: pd.DataFrame) -> GlobalGraph:
        """The global graph of some sessions' interactions, in RecBole's ids."""
        with _config_errors("global graph"):
            return build_global_graph(
                interactions["session"].to_numpy(),
                interactions["user"].to_numpy(),
                interactions["item"].to_numpy(),
                n_users=self.user_num,
                n_items=self.item_num,
                transition_top_s=self.config["transition_top_s"],
                similar_top_k=self.config["similar_top_k"],
            )
