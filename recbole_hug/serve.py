"""Serve recommendations from a saved checkpoint: the top-k items for users or for an item sequence.

From Python::

    from recbole_hug.serve import Recommender

    recommender = Recommender.load("saved/HUGT-....pth")
    recommender.recommend_for_users(["196", "186"], topk=10, exclude_seen=True)
    recommender.recommend_for_items(["242", "302", "377"], topk=10)

From the command line (``--json`` for JSON; ``-h`` for every flag)::

    python -m recbole_hug.serve saved/HUGT-....pth --users 196 186 --topk 10 --exclude-seen
    python -m recbole_hug.serve saved/SASRec-....pth --items 242 302 377

The checkpoint is read with ``torch.load(..., weights_only=True)`` and the model is rebuilt by its
own constructor, with the saved options, on a stand-in of its dataset (:mod:`recbole_hug.saved`):
no atomic file is read. What a checkpoint holds is described in :mod:`recbole_hug.checkpoint`.

- For a user, the model reads the user's served sequence: the user's latest
  ``MAX_ITEM_LIST_LENGTH`` items of the run's data (train, valid and test), oldest first; for
  HG-GNN, the user's latest session, i.e. the latest session's last ``MAX_ITEM_LIST_LENGTH`` items
  (:func:`recbole_hug.checkpoint.user_histories`). ``exclude_seen`` leaves out every item the user
  interacted with in that data.
- For an item sequence (oldest first), the model reads its last ``MAX_ITEM_LIST_LENGTH`` items;
  ``exclude_seen`` leaves out the sequence's items.

Supported: sequential models (HUGT, HG-GNN, and RecBole's SASRec, GRU4Rec, BERT4Rec, NARM,
SRGNN, CORE, ...). Not supported, with an error saying so: general, context-aware and
knowledge-aware models; models whose constructor reads item or user features (e.g. GRU4RecF,
FDSA); item sequences for models that also read the user (HG-GNN, Caser, FPMC, ...);
checkpoints that pickle Python objects (RecBole's own, and older recbole-hug ones:
:func:`upgrade_checkpoint` rewrites one that you trust). See ``docs/serving.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from recbole.data.interaction import Interaction

from recbole_hug.checkpoint import CHECKPOINT_KEY, checkpoint_state, restore_options, serving_entry
from recbole_hug.errors import ConfigError, DataError, HugError
from recbole_hug.files import save_checkpoint
from recbole_hug.saved import SavedConfig, ServingDataset, read_checkpoint
from recbole_hug.utils import get_model

#: Users scored at a time.
BATCH_SIZE = 256


def upgrade_checkpoint(source: str | Path, target: str | Path) -> Path:
    """Rewrite a checkpoint that pickles its Config (RecBole's, or an older recbole-hug's) as a
    servable one at ``target``.

    ``source`` is unpickled in full (load only files you trust) and the dataset is read again
    from its atomic files (:func:`recbole_hug.quick_start.load_data_and_model`), as at training.
    """
    from recbole_hug.quick_start import load_data_and_model

    config, _, _, train, valid, test = load_data_and_model(str(source))
    legacy = torch.load(source, map_location="cpu", weights_only=False)
    parts = [data._dataset for data in (train, valid, test)]
    training = {key: value for key, value in legacy.items() if key != "config"}
    state = checkpoint_state(config, serving_entry(config, parts[0], parts), training)
    save_checkpoint(state, target)
    return Path(target)


@dataclass(frozen=True)
class Recommendation:
    """The top-k items for one user or one item sequence.

    Attributes:
        user: the user's token, None for an item sequence.
        sequence: the item tokens the model read, oldest first.
        items: the recommended item tokens, best first.
        scores: their scores (the model's ``full_sort_predict``), same order.
    """

    user: str | None
    sequence: tuple[str, ...]
    items: tuple[str, ...]
    scores: tuple[float, ...]


def _check_topk(topk: Any) -> int:
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise ConfigError(f"option 'topk' must be an integer >= 1, got {topk!r}")
    return topk


def _device(device: str | torch.device) -> torch.device:
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ConfigError(f"option 'device': {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("option 'device' is cuda, but torch sees no CUDA device")
    return device


class Recommender:
    """A model rebuilt from a checkpoint, with its vocabularies and the users' histories.

    Build it with :meth:`load`.
    """

    def __init__(
        self, model: Any, options: dict[str, Any], entry: dict[str, Any], device: torch.device
    ) -> None:
        self.model = model.eval()
        self.model_name, self.dataset_name = entry["model"], entry["dataset"]
        self.user_field, self.item_field = entry["user_field"], entry["item_field"]
        self.sequence_field = self.item_field + options["LIST_SUFFIX"]
        self.length_field = options["ITEM_LIST_LENGTH_FIELD"]
        self.max_length: int = options["MAX_ITEM_LIST_LENGTH"]
        self.device = device
        self.users: list[str] = entry["users"]
        self.items: list[str] = entry["items"]
        self._user_ids = {token: index for index, token in enumerate(self.users) if index}
        self._item_ids = {token: index for index, token in enumerate(self.items) if index}
        self._served = (entry["served_offsets"], entry["served_items"].long())
        self._seen = (entry["seen_offsets"], entry["seen_items"].long())

    @classmethod
    def load(
        cls,
        path: str | Path,
        model: str | None = None,
        dataset: str | None = None,
        device: str | torch.device = "cpu",
    ) -> Recommender:
        """Rebuild the model of a checkpoint written by a recbole-hug run.

        Args:
            path: the checkpoint (``saved/<Model>-<time>.pth``).
            model: the model the checkpoint must hold, or None for any.
            dataset: the dataset it must have been trained on, or None for any.
            device: where the model runs.

        Raises:
            HugError: an unreadable checkpoint (:func:`read_checkpoint`), one of another model
                or dataset than asked, or one whose model cannot be served.
        """
        checkpoint = read_checkpoint(path)
        entry, options = checkpoint[CHECKPOINT_KEY], restore_options(checkpoint["config"])
        for option, expected in (("model", model), ("dataset", dataset)):
            if expected is not None and entry[option] != expected:
                raise ConfigError(
                    f"{path} holds model {entry['model']} trained on dataset "
                    f"{entry['dataset']}, not {option} {expected}"
                )
        if "not_servable" in entry:
            raise ConfigError(f"{path} cannot be served: {entry['not_servable']}")
        device = _device(device)
        model_class = get_model(entry["model"])
        try:
            # requests seldom repeat a window: no evaluation cache (HUGT's graph_cache_mb)
            served = {**options, "device": device, "graph_cache_mb": 0}
            rebuilt = model_class(SavedConfig(served), ServingDataset(entry, options))
        except (AttributeError, KeyError) as error:
            raise ConfigError(
                f"model {entry['model']} cannot be served: its constructor reads dataset "
                f"data that checkpoints do not store ({error!s}); serving supports sequential "
                "models without item or user features"
            ) from error
        try:
            rebuilt.load_state_dict(checkpoint["state_dict"])
        except RuntimeError as error:
            raise ConfigError(
                f"{path}: the saved weights do not fit model {entry['model']} as its code builds "
                f"it from the saved options (did the model change since training?): "
                f"{str(error).splitlines()[0]}"
            ) from error
        rebuilt.load_other_parameter(checkpoint.get("other_parameter"))
        return cls(rebuilt.to(device), options, entry, device)

    # ----------------------------------------------------------------------------------------
    # Ids
    def user_ids(self, users: Sequence[str]) -> torch.Tensor:
        """``[B]`` ids of user tokens; DataError naming the unknown ones."""
        return self._ids(users, self._user_ids, "user", self.user_field)

    def item_ids(self, items: Sequence[str]) -> torch.Tensor:
        """``[B]`` ids of item tokens; DataError naming the unknown ones."""
        return self._ids(items, self._item_ids, "item", self.item_field)

    def _ids(
        self, tokens: Sequence[str], vocabulary: dict[str, int], kind: str, field: str
    ) -> torch.Tensor:
        unknown = [str(token) for token in tokens if str(token) not in vocabulary]
        if unknown:
            raise DataError(
                f"unknown {kind} {', '.join(map(repr, unknown))}: not in dataset "
                f"'{self.dataset_name}' (field {field}, {len(vocabulary)} {kind}s)"
            )
        return torch.tensor([vocabulary[str(token)] for token in tokens], dtype=torch.int64)

    def _history(self, csr: tuple[torch.Tensor, torch.Tensor], user: int) -> torch.Tensor:
        offsets, items = csr
        return items[offsets[user] : offsets[user + 1]]

    def served_sequence(self, user: str) -> list[str]:
        """The item tokens the model reads for ``user``, oldest first."""
        ids = self._history(self._served, int(self.user_ids([user])[0]))
        return [self.items[i] for i in ids.tolist()]

    def seen_items(self, user: str) -> list[str]:
        """The tokens of every item ``user`` interacted with in the run's data."""
        ids = self._history(self._seen, int(self.user_ids([user])[0]))
        return [self.items[i] for i in ids.tolist()]

    # ----------------------------------------------------------------------------------------
    # Inputs and scores
    def _rows(self, sequences: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``[B, MAX_ITEM_LIST_LENGTH]`` items (left-aligned, 0-padded) and ``[B]`` lengths."""
        items = torch.zeros(len(sequences), self.max_length, dtype=torch.int64)
        for row, sequence in enumerate(sequences):
            items[row, : len(sequence)] = sequence
        lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.int64)
        return {self.sequence_field: items, self.length_field: lengths}

    def user_inputs(self, users: Sequence[str]) -> Interaction:
        """The model's input for users: their ids and served sequences."""
        ids = self.user_ids(users)
        sequences = [self._history(self._served, int(user)) for user in ids]
        empty = [
            str(user) for user, sequence in zip(users, sequences, strict=True) if not len(sequence)
        ]
        if empty:
            raise DataError(f"user {', '.join(map(repr, empty))} has no items to recommend from")
        return Interaction({self.user_field: ids, **self._rows(sequences)})

    def sequence_inputs(self, items: Sequence[str]) -> Interaction:
        """The model's input for an item sequence (oldest first): its last
        ``MAX_ITEM_LIST_LENGTH`` items, no user."""
        if not len(items):
            raise DataError("the item sequence is empty")
        return Interaction(self._rows([self.item_ids(items)[-self.max_length :]]))

    def scores(self, interaction: Interaction) -> torch.Tensor:
        """``[B, n_items]`` scores of every item id (0 is padding): ``full_sort_predict``."""
        try:
            with torch.no_grad():
                scores = self.model.full_sort_predict(interaction.to(self.device))
        except KeyError as error:
            if error.args[0] == self.user_field:
                raise ConfigError(
                    f"model {self.model_name} recommends for users only (it reads the user "
                    f"field '{self.user_field}'): ask for users, not an item sequence"
                ) from error
            raise ConfigError(
                f"model {self.model_name} reads field {error.args[0]!r}, which serving does not "
                f"give (only {', '.join(interaction.columns)})"
            ) from error
        return scores.view(len(interaction), -1).cpu()

    # ----------------------------------------------------------------------------------------
    # Recommendations
    def _top(
        self, scores: torch.Tensor, excluded: list[torch.Tensor] | None, topk: int
    ) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
        """Each row's ``topk`` best items of ``[B, n_items]`` scores, leaving out padding and,
        with ``excluded``, each row's ``[E_b]`` excluded ids."""
        scores = scores.clone()
        scores[:, 0] = float("-inf")
        for row, items in enumerate(excluded or []):
            scores[row, items] = float("-inf")
        values, indices = torch.topk(scores, min(topk, scores.shape[1] - 1), dim=1)
        return [
            (
                tuple(self.items[i] for i, v in zip(ids, vals, strict=True) if v > float("-inf")),
                tuple(v for v in vals if v > float("-inf")),
            )
            for ids, vals in zip(indices.tolist(), values.tolist(), strict=True)
        ]

    def recommend_for_users(
        self, users: Sequence[str], topk: int = 10, exclude_seen: bool = False
    ) -> list[Recommendation]:
        """The ``topk`` best items for each user (after the user's served sequence).

        Raises:
            HugError: an unknown user (named), a user without items, ``topk`` < 1.
        """
        topk = _check_topk(topk)
        users = [str(user) for user in users]
        self.user_ids(users)  # every unknown user named at once
        results = []
        for start in range(0, len(users), BATCH_SIZE):
            batch = users[start : start + BATCH_SIZE]
            inputs = self.user_inputs(batch)
            ids = inputs[self.user_field].tolist()
            excluded = [self._history(self._seen, user) for user in ids] if exclude_seen else None
            top = self._top(self.scores(inputs), excluded, topk)
            for row, (user, (items, values)) in enumerate(zip(batch, top, strict=True)):
                length = int(inputs[self.length_field][row])
                sequence = inputs[self.sequence_field][row, :length].tolist()
                results.append(
                    Recommendation(user, tuple(self.items[i] for i in sequence), items, values)
                )
        return results

    def recommend_for_items(
        self, items: Sequence[str], topk: int = 10, exclude_seen: bool = False
    ) -> Recommendation:
        """The ``topk`` best items after an item sequence (oldest first); ``exclude_seen``
        leaves out the sequence's items.

        Raises:
            HugError: an unknown item (named), an empty sequence, ``topk`` < 1, a model that
                reads the user.
        """
        topk = _check_topk(topk)
        items = [str(item) for item in items]
        inputs = self.sequence_inputs(items)
        excluded = [self.item_ids(items)] if exclude_seen else None
        ((top, values),) = self._top(self.scores(inputs), excluded, topk)
        length = int(inputs[self.length_field][0])
        sequence = inputs[self.sequence_field][0, :length].tolist()
        return Recommendation(None, tuple(self.items[i] for i in sequence), top, values)


# --------------------------------------------------------------------------------------------
# Command line
def format_table(recommendations: Sequence[Recommendation]) -> str:
    """A readable table: one line per recommended item (user, rank, item, score)."""
    rows = [("user", "rank", "item", "score")]
    for recommendation in recommendations:
        user = recommendation.user if recommendation.user is not None else "-"
        for rank, (item, score) in enumerate(
            zip(recommendation.items, recommendation.scores, strict=True), start=1
        ):
            rows.append((user, str(rank), item, f"{score:.4f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m recbole_hug.serve``."""
    parser = argparse.ArgumentParser(
        prog="python -m recbole_hug.serve",
        description="Recommend the top-k items with a checkpoint saved by a recbole-hug run: "
        "for users (after each user's latest items) or for an item sequence (oldest first). "
        "Tokens are those of the dataset's atomic files.",
    )
    parser.add_argument("checkpoint", help="the checkpoint, e.g. saved/HUGT-....pth")
    query = parser.add_mutually_exclusive_group(required=True)
    query.add_argument("--users", nargs="+", metavar="USER", help="user tokens")
    query.add_argument("--items", nargs="+", metavar="ITEM", help="an item sequence")
    query.add_argument(
        "--upgrade-to",
        metavar="NEW",
        help="rewrite a RecBole checkpoint that you trust as a servable one at NEW "
        "(reads the dataset's atomic files again)",
    )
    parser.add_argument("--topk", type=int, default=10, help="items per answer (default 10)")
    parser.add_argument(
        "--exclude-seen",
        action="store_true",
        help="leave out the items each user interacted with (or the sequence's items)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--model", help="fail unless the checkpoint holds this model")
    parser.add_argument("--dataset", help="fail unless the checkpoint's dataset is this one")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m recbole_hug.serve``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.upgrade_to is not None:
            target = upgrade_checkpoint(args.checkpoint, args.upgrade_to)
            print(f"wrote {target}")
            return 0
        recommender = Recommender.load(args.checkpoint, args.model, args.dataset, args.device)
        if args.users is not None:
            found = recommender.recommend_for_users(args.users, args.topk, args.exclude_seen)
        else:
            found = [recommender.recommend_for_items(args.items, args.topk, args.exclude_seen)]
    except HugError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        answer = {
            "model": recommender.model_name,
            "dataset": recommender.dataset_name,
            "topk": args.topk,
            "exclude_seen": args.exclude_seen,
            "recommendations": [asdict(recommendation) for recommendation in found],
        }
        print(json.dumps(answer, indent=2))
    else:
        print(format_table(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
