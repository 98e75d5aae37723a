"""In-memory interactions: compact numpy columns built chunk by chunk from a raw stream.

String ids (user names, artist ids) are encoded to int64 codes through a :class:`Vocab`; integer
ids are kept as they are, and interaction types become codes. Memory is a few tens of bytes per
interaction whatever the raw format (``benchmarks/convert_memory.py`` measures it), while the raw
text is streamed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


class Vocab:
    """Maps string tokens to dense int64 codes in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Codes of ``values`` (new tokens get the next codes)."""
        codes, uniques = pd.factorize(pd.Series(values, copy=False), sort=False)
        idx = self.index
        mapping = np.fromiter(
            (idx.setdefault(u, len(idx)) for u in uniques), dtype=np.int64, count=len(uniques)
        )
        return mapping[codes]

    def tokens(self) -> np.ndarray:
        """All tokens, indexed by code (object array)."""
        out = np.empty(len(self.index), dtype=object)
        out[:] = list(self.index)
        return out


@dataclass
class Interactions:
    """Interactions as parallel arrays, one row per interaction.

    Attributes:
        user: int64 user ids, or codes into ``user_tokens``.
        item: int64 item ids, or codes into ``item_tokens``.
        time: Unix seconds (int64 or float64).
        kind: optional interaction type (behaviour) per row, as int64 codes into
            ``kind_tokens``.
        user_tokens: the user names when ``user`` holds codes, else None.
        item_tokens: the item names when ``item`` holds codes, else None.
        session: optional int64 session id per row.
        kind_tokens: the interaction type names, indexed by the codes in ``kind``.
    """

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    kind: np.ndarray | None = None
    user_tokens: np.ndarray | None = None
    item_tokens: np.ndarray | None = None
    session: np.ndarray | None = None
    kind_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.user)

    def select(self, rows: np.ndarray) -> Interactions:
        """A new table with the rows selected by a boolean mask or an index array."""

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[rows]

        return Interactions(
            self.user[rows],
            self.item[rows],
            self.time[rows],
            pick(self.kind),
            self.user_tokens,
            self.item_tokens,
            pick(self.session),
            self.kind_tokens,
        )

    def user_strings(self, ids: np.ndarray | None = None) -> np.ndarray:
        """User ids (of every row, or the given ones) as atomic-file tokens."""
        return _strings(self.user if ids is None else ids, self.user_tokens)

    def item_strings(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Item ids (of every row, or the given ones) as atomic-file tokens."""
        return _strings(self.item if ids is None else ids, self.item_tokens)

    def kind_codes(self, names: Iterable[str]) -> np.ndarray:
        """The codes in ``kind`` of the interaction types ``names`` (absent names are skipped)."""
        wanted = set(names)
        tokens = [] if self.kind_tokens is None else self.kind_tokens
        return np.array([code for code, name in enumerate(tokens) if name in wanted], np.int64)

    def user_sort_key(self) -> np.ndarray:
        """A key ordering users numerically (integer ids) or lexicographically (names)."""
        return _sort_key(self.user, self.user_tokens)


def _strings(ids: np.ndarray, tokens: np.ndarray | None) -> np.ndarray:
    return ids.astype(str) if tokens is None else tokens[ids]


def _sort_key(ids: np.ndarray, tokens: np.ndarray | None) -> np.ndarray:
    if tokens is None:
        return ids
    rank = np.empty(len(tokens), dtype=np.int64)
    rank[np.argsort(tokens.astype(str), kind="stable")] = np.arange(len(tokens))
    return rank[ids]


@dataclass
class InteractionBuilder:
    """Accumulates parsed chunks into :class:`Interactions`.

    Args:
        string_users: user ids are names (encoded through a :class:`Vocab`), not integers.
        string_items: item ids are names, not integers.
    """

    string_users: bool = False
    string_items: bool = False
    _parts: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    _users: Vocab = field(default_factory=Vocab)
    _items: Vocab = field(default_factory=Vocab)
    _kinds: Vocab = field(default_factory=Vocab)

    def add(
        self, user: np.ndarray, item: np.ndarray, time: np.ndarray, kind: np.ndarray | None = None
    ) -> None:
        """Append rows (in file order)."""
        u = self._users.encode(user) if self.string_users else _as_int(user)
        i = self._items.encode(item) if self.string_items else _as_int(item)
        k = None if kind is None else self._kinds.encode(kind)
        self._parts.append((u, i, np.asarray(time), k))

    def build(self) -> Interactions:
        """All rows appended so far, in order."""
        if not self._parts:
            empty = np.zeros(0, dtype=np.int64)
            return Interactions(empty, empty.copy(), empty.copy())
        users, items, times, kinds = zip(*self._parts, strict=True)
        self._parts = []
        kind = None if kinds[0] is None else np.concatenate(kinds)
        return Interactions(
            np.concatenate(users),
            np.concatenate(items),
            np.concatenate(times),
            kind,
            self._users.tokens() if self.string_users else None,
            self._items.tokens() if self.string_items else None,
            kind_tokens=None if kind is None else self._kinds.tokens(),
        )


def _as_int(values: np.ndarray) -> np.ndarray:
    """Integer ids as they are (int32 stays int32), anything else as int64."""
    values = np.asarray(values)
    return values if values.dtype.kind == "i" else values.astype(np.int64)


def dense_codes(values: np.ndarray) -> np.ndarray:
    """0-based dense codes of ``values`` (any hashable dtype), for bincount."""
    return pd.factorize(values, sort=False)[0].astype(np.int64)
