"""The HUGT paper's protocol as pure functions: a hand-worked split, properties, bad options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recbole_hug.config import Config
from recbole_hug.data.protocols import (
    TEST,
    TRAIN,
    VALID,
    check_eval_protocol,
    draw_valid_users,
    protocol_rows,
    stream_parts,
    train_lengths,
)
from recbole_hug.data.sequences import gather_rows
from recbole_hug.errors import ConfigError

# The hand-worked stream: users a..e (ids 1..5) with 10, 5, 2, 1 and 11 interactions; user u's
# k-th item is 100 * u + k.
LENGTHS = {1: 10, 2: 5, 3: 2, 4: 1, 5: 11}
USERS = np.repeat(list(LENGTHS), list(LENGTHS.values()))
ITEMS = np.concatenate([100 * user + np.arange(n) for user, n in LENGTHS.items()])


def test_the_cut_rounds_training_down_with_at_least_one_on_each_side() -> None:
    # 90% of 10 = 9 | of 5 = 4.5 -> 4 | of 2 = 1.8 -> 1 | a single interaction trains | 9.9 -> 9
    assert train_lengths(np.array(list(LENGTHS.values())), 0.9).tolist() == [9, 4, 1, 1, 9]
    # at least one in training, at least one evaluated, whatever the ratio
    assert train_lengths(np.array([2, 3, 20]), 0.1).tolist() == [1, 1, 2]
    assert train_lengths(np.array([2, 3, 20]), 0.99).tolist() == [1, 2, 19]


def test_the_cut_is_exact_where_floating_point_is_not() -> None:
    # 0.29 * 100 is 28.999999999999996 and 0.9 * 70 is 63.00000000000001 in floating point
    assert train_lengths(np.array([100, 70, 30]), 0.29).tolist() == [29, 20, 8]
    assert train_lengths(np.array([70]), 0.9).tolist() == [63]


def test_hand_worked_split() -> None:
    part = stream_parts(USERS, 0.9, 0.3, seed=7)
    # evaluated users a, b, c, e (d has one interaction): round(0.3 * 4) = 1 validated
    is_valid = draw_valid_users(4, 0.3, seed=7)
    assert is_valid.sum() == 1
    valid_user = [1, 2, 3, 5][int(np.flatnonzero(is_valid)[0])]
    evaluated = {1: [109], 2: [204], 3: [301], 4: [], 5: [509, 510]}
    for user, items in evaluated.items():
        mine = part[np.equal(USERS, user)]
        assert (mine[: LENGTHS[user] - len(items)] == TRAIN).all()
        assert (mine[LENGTHS[user] - len(items) :] == (VALID if user == valid_user else TEST)).all()

    rows = protocol_rows(USERS, 3, 0.9, 0.3, seed=7)
    prefixes = gather_rows(ITEMS, rows.target, rows.length, 3)
    evaluated_rows = {
        (int(ITEMS[t]), tuple(int(i) for i in p if i), int(k))
        for t, p, k in zip(rows.target, prefixes, rows.part, strict=True)
        if k != TRAIN
    }
    status = {user: VALID if user == valid_user else TEST for user in LENGTHS}
    assert evaluated_rows == {
        (109, (106, 107, 108), status[1]),
        (204, (201, 202, 203), status[2]),
        (301, (300,), status[3]),
        (509, (506, 507, 508), status[5]),
        (510, (507, 508, 509), status[5]),  # 509, evaluated just before, is in the prefix
    }
    train_targets = ITEMS[rows.target[rows.part == TRAIN]]
    assert train_targets.tolist() == [*range(101, 109), *range(201, 204), *range(501, 509)]


def test_prefixes_reach_back_into_training_up_to_max_len() -> None:
    rows = protocol_rows(USERS, 20, 0.9, 0.3, seed=7)
    last = rows.target == np.flatnonzero(ITEMS == 109)[0]
    assert gather_rows(ITEMS, rows.target[last], rows.length[last], 20)[0, :9].tolist() == list(
        range(100, 109)
    )


def test_the_draw_is_numpys_seeded_permutation() -> None:
    for seed in range(5):
        chosen = np.random.default_rng(seed).permutation(10)[:3]  # round(0.3 * 10) users
        assert np.flatnonzero(draw_valid_users(10, 0.3, seed)).tolist() == sorted(chosen)


def test_the_draw_keeps_one_user_on_each_side() -> None:
    assert draw_valid_users(2, 0.01, 0).sum() == 1
    assert draw_valid_users(2, 0.99, 0).sum() == 1
    assert draw_valid_users(5, 0.3, 0).sum() == 2  # 1.5 rounds half up
    with pytest.raises(ValueError, match="1 user"):
        draw_valid_users(1, 0.3, 0)


@pytest.mark.parametrize("ratio", [0, 1, 1.5, -0.2, True, "0.9", float("nan")])
def test_ratios_outside_the_unit_interval_are_refused(ratio) -> None:
    with pytest.raises(ValueError, match="0 < x < 1"):
        train_lengths(np.array([5]), ratio)
    with pytest.raises(ValueError, match="0 < x < 1"):
        draw_valid_users(5, ratio, 0)


# ------------------------------------------------------------------------------------------------
# Properties


@st.composite
def streams(draw) -> tuple[np.ndarray, float, float, int, int]:
    lengths = draw(st.lists(st.integers(1, 30), min_size=1, max_size=25))
    lengths.append(draw(st.integers(2, 30)))  # at least two evaluated users
    lengths.append(draw(st.integers(2, 30)))
    users = np.repeat(np.arange(len(lengths)) * 3 + 1, lengths)
    train_ratio = draw(st.floats(0.01, 0.99))
    valid_ratio = draw(st.floats(0.01, 0.99))
    return users, train_ratio, valid_ratio, draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 8))


@settings(max_examples=150, deadline=None)
@given(streams())
def test_every_interaction_trains_or_is_evaluated_once_in_order(case) -> None:
    users, train_ratio, valid_ratio, seed, max_len = case
    part = stream_parts(users, train_ratio, valid_ratio, seed)
    rows = protocol_rows(users, max_len, train_ratio, valid_ratio, seed)
    first = np.r_[True, users[1:] != users[:-1]]
    # one row per interaction but a user's first, each target once, in stream order
    assert rows.target.tolist() == np.flatnonzero(~first).tolist()
    assert (rows.part == part[rows.target]).all()
    assert (part[first] == TRAIN).all()
    for user in np.unique(users):
        mine = part[users == user]
        n_train = int((mine == TRAIN).sum())
        # the training part is a prefix; the evaluated part is the rest, of one kind
        assert (mine[:n_train] == TRAIN).all() and len(set(mine[n_train:].tolist())) <= 1
        assert n_train == max(1, min(len(mine) - 1, int(np.floor(train_ratio * len(mine) + 1e-9))))
        assert n_train < len(mine) or len(mine) == 1


@settings(max_examples=150, deadline=None)
@given(streams())
def test_prefixes_are_the_true_past_and_never_the_future(case) -> None:
    users, train_ratio, valid_ratio, seed, max_len = case
    rows = protocol_rows(users, max_len, train_ratio, valid_ratio, seed)
    positions = gather_rows(np.arange(len(users)) + 1, rows.target, rows.length, max_len) - 1
    for target, prefix in zip(rows.target, positions, strict=True):
        prefix = prefix[prefix >= 0]
        earlier = np.flatnonzero((users == users[target]) & (np.arange(len(users)) < target))
        assert prefix.tolist() == earlier[-max_len:].tolist()


@settings(max_examples=150, deadline=None)
@given(streams())
def test_valid_and_test_users_partition_the_evaluated_users(case) -> None:
    users, train_ratio, valid_ratio, seed, _ = case
    part = stream_parts(users, train_ratio, valid_ratio, seed)
    valid = set(users[part == VALID].tolist())
    test = set(users[part == TEST].tolist())
    lengths = np.unique(users, return_counts=True)[1]
    evaluated = set(np.unique(users)[lengths > 1].tolist())
    assert valid | test == evaluated and not valid & test
    expected = min(
        max(int(np.floor(valid_ratio * len(evaluated) + 0.5 + 1e-9)), 1), len(evaluated) - 1
    )
    assert len(valid) == expected
    assert (stream_parts(users, train_ratio, valid_ratio, seed) == part).all()  # reproducible


def test_other_seeds_draw_other_users() -> None:
    users = np.repeat(np.arange(40), 5)
    draws = {tuple(stream_parts(users, 0.9, 0.3, seed)) for seed in range(5)}
    assert len(draws) == 5


# ------------------------------------------------------------------------------------------------
# Options


def _config(tiny_data: Path, model: str = "SASRec", **options) -> Config:
    return Config(
        model,
        "tiny",
        config_dict={"data_path": str(tiny_data), "eval_protocol": "hugt", **options},
    )


def test_the_default_is_recboles_own(tiny_data: Path) -> None:
    config = Config("SASRec", "tiny", config_dict={"data_path": str(tiny_data)})
    assert check_eval_protocol(config) == "recbole"
    assert check_eval_protocol(_config(tiny_data)) == "hugt"


@pytest.mark.parametrize(
    ("model", "options", "message"),
    [
        ("SASRec", {"eval_protocol": "paper"}, "'eval_protocol' must be one of recbole, hugt"),
        ("BPR", {}, "needs a sequential model; model 'BPR' is of type GENERAL"),
        ("ItemKNN", {}, "needs a sequential model; model 'ItemKNN' is of type TRADITIONAL"),
        ("SASRec", {"protocol_train_ratio": 1.0}, "'protocol_train_ratio' must be a fraction"),
        ("SASRec", {"protocol_train_ratio": 0}, "'protocol_train_ratio' must be a fraction"),
        ("SASRec", {"protocol_valid_user_ratio": 1.3}, "'protocol_valid_user_ratio' must be"),
        ("SASRec", {"protocol_valid_user_ratio": "x"}, "'protocol_valid_user_ratio' must be"),
        ("SASRec", {"session_rows": True}, "'session_rows: True' are two different protocols"),
        ("SASRec", {"eval_args": {"mode": "uni100"}}, "ranks all items: option 'eval_args'"),
        ("SASRec", {"benchmark_filename": ["a", "b", "c"]}, "'benchmark_filename'"),
        ("HGGNN", {}, "'session_rows: True' are two different protocols"),
    ],
)
def test_bad_options_are_config_errors(tiny_data: Path, model, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        check_eval_protocol(_config(tiny_data, model, **options))
