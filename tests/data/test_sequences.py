"""Sequence rows as indices and training windows, on hand-worked streams."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.data.sequences import (
    concat_ranges,
    gather_rows,
    prefix_rows,
    training_windows,
    user_starts,
)


def test_user_starts() -> None:
    assert user_starts(np.array([5, 5, 7, 7, 7, 2])).tolist() == [0, 0, 2, 2, 2, 5]


def test_concat_ranges() -> None:
    assert concat_ranges(np.array([3, 10]), np.array([2, 3])).tolist() == [3, 4, 10, 11, 12]


def test_prefix_rows_truncate_to_the_last_max_len_items() -> None:
    users = np.array([1, 1, 1, 2, 2])
    target, length = prefix_rows(users, max_len=5)
    assert target.tolist() == [1, 2, 4] and length.tolist() == [1, 2, 1]
    assert prefix_rows(users, max_len=1)[1].tolist() == [1, 1, 1]


def test_gather_rows_pads_on_the_right() -> None:
    stream = np.array([10, 11, 12, 20, 21])
    rows = gather_rows(stream, end=np.array([2, 4, 5]), length=np.array([2, 1, 2]), width=3)
    assert rows.tolist() == [[10, 11, 0], [20, 0, 0], [20, 21, 0]]


def test_training_windows_hand_worked() -> None:
    # user 1: a0..a4, targets a1..a3 (a4 held out); user 2: b0..b2, target b1 only.
    users = np.array([1, 1, 1, 1, 1, 2, 2, 2])
    stream = np.array([10, 11, 12, 13, 14, 20, 21, 22])
    is_target = np.array([0, 1, 1, 1, 0, 0, 1, 0], dtype=bool)
    windows = training_windows(users, is_target, width=2)
    assert windows.end.tolist() == [1, 3, 6] and windows.length.tolist() == [1, 2, 1]
    assert windows.inputs(stream, 2).tolist() == [[10, 0], [11, 12], [20, 0]]
    assert windows.targets(stream, is_target, 2).tolist() == [[11, 0], [12, 13], [21, 0]]
    assert windows.positions().tolist() == [0, 1, 2, 3, 5, 6]


def test_users_without_targets_get_no_window() -> None:
    windows = training_windows(np.array([1, 1, 2]), np.array([0, 0, 0], dtype=bool), width=4)
    assert len(windows.end) == 0


def _recbole_rows(users: np.ndarray, max_len: int) -> list[tuple[int, int]]:
    """RecBole 1.2.1's data_augmentation loop, as (target, seq_start)."""
    rows, last_uid, seq_start = [], None, 0
    for i, uid in enumerate(users):
        if last_uid != uid:
            last_uid, seq_start = uid, i
        else:
            if i - seq_start > max_len:
                seq_start += 1
            rows.append((i, seq_start))
    return rows


streams = st.lists(st.integers(1, 4), min_size=1, max_size=40).map(lambda u: np.sort(np.array(u)))


@settings(max_examples=60, deadline=None)
@given(users=streams, max_len=st.integers(1, 6))
def test_prefix_rows_equal_recbole_augmentation(users: np.ndarray, max_len: int) -> None:
    target, length = prefix_rows(users, max_len)
    assert list(zip(target.tolist(), (target - length).tolist(), strict=True)) == _recbole_rows(
        users, max_len
    )


@settings(max_examples=60, deadline=None)
@given(users=streams, width=st.integers(1, 6), data=st.data())
def test_windows_predict_every_target_once_from_its_own_past(users, width, data) -> None:
    n = len(users)
    first = user_starts(users) == np.arange(n)
    picks = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    is_target = np.array(picks) & ~first
    stream = np.arange(1, n + 1)  # item = position + 1: every item is unique
    windows = training_windows(users, is_target, width)
    inputs = windows.inputs(stream, width)
    targets = windows.targets(stream, is_target, width)
    assert (windows.length >= 1).all() and (windows.length <= width).all()
    predicted = sorted(targets[targets > 0].tolist())
    assert predicted == (np.flatnonzero(is_target) + 1).tolist()
    for row, col in zip(*np.nonzero(targets), strict=True):
        target_position = targets[row, col] - 1
        assert inputs[row, col] - 1 == target_position - 1  # the item just before the target
        assert users[inputs[row, 0] - 1] == users[target_position]  # same user


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 12)), min_size=0, max_size=20),
)
def test_window_positions_are_the_union_of_their_ranges(ranges: list[tuple[int, int]]) -> None:
    from recbole_hug.data.sequences import Windows

    end = np.array([start + length for start, length in ranges], dtype=np.int64)
    length = np.array([length for _, length in ranges], dtype=np.int64)
    expected = sorted({p for start, n in ranges for p in range(start, start + n + 1)})
    assert Windows(end=end, length=length).positions().tolist() == expected
