"""SessionDataset: a hand-worked toy file through RecBole's loading, the split, rows and graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from recbole_hug.config import Config
from recbole_hug.data.session_dataset import SessionDataset
from recbole_hug.errors import ConfigError, DataError

# user, [(session start time, items)], sessions 100 s apart inside, >= 1000 s apart between.
# a: 6 sessions; the last (1, 2) is too short (< 3) and goes. s2 has an immediate repeat (3, 3).
#    Kept 5 -> test: the last ceil(5 * 0.2) = 1 (4, 5, 9: 9 never in training, dropped);
#    training 4 -> validation: the last ceil(4 * 0.25) = 1 (3, 4, 8, 5: 8 dropped).
# b: 4 sessions; b4 is cut to its first 4 items (max_session_length 4). Test b4, validation b3.
# c: 2 sessions < min_user_sessions 3: the user goes.
TOY = {
    "a": [
        (0, [1, 2, 3]),
        (1000, [2, 3, 3, 4]),
        (2000, [1, 3, 4]),
        (3000, [3, 4, 8, 5]),
        (4000, [4, 5, 9]),
        (5000, [1, 2]),
    ],
    "b": [(0, [5, 6, 7]), (1000, [6, 7, 1]), (2000, [7, 1, 2]), (3000, [1, 2, 6, 7, 5])],
    "c": [(0, [1, 2, 3]), (1000, [3, 4, 5])],
}

OPTIONS = {
    "session_rows": True,
    "session_gap": 500,
    "min_user_sessions": 3,
    "max_session_length": 4,
    "valid_ratio": 0.25,
    "MAX_ITEM_LIST_LENGTH": 2,
    "state": "WARNING",
}

# (user, prefix, target) in tokens, prefixes the last 2 items of the session before the target.
EXPECTED = {
    "train": [
        ("a", ("1",), "2"),
        ("a", ("1", "2"), "3"),
        ("a", ("2",), "3"),
        ("a", ("2", "3"), "4"),
        ("a", ("1",), "3"),
        ("a", ("1", "3"), "4"),
        ("b", ("5",), "6"),
        ("b", ("5", "6"), "7"),
        ("b", ("6",), "7"),
        ("b", ("6", "7"), "1"),
    ],
    "valid": [
        ("a", ("3",), "4"),
        ("a", ("3", "4"), "5"),
        ("b", ("7",), "1"),
        ("b", ("7", "1"), "2"),
    ],
    "test": [
        ("a", ("4",), "5"),
        ("b", ("1",), "2"),
        ("b", ("1", "2"), "6"),
        ("b", ("2", "6"), "7"),
    ],
}


def write_toy(folder: Path, session_column: bool = True, time_column: bool = True) -> Path:
    """``folder/toy/toy.inter`` from :data:`TOY` (optionally without time or session column)."""
    header = ["user_id:token", "item_id:token"]
    header += ["timestamp:float"] * time_column + ["session_id:token"] * session_column
    lines = ["\t".join(header)]
    for user, sessions in TOY.items():
        for number, (start, items) in enumerate(sessions):
            for step, item in enumerate(items):
                row = [user, str(item)] + [str(start + 100 * step)] * time_column
                lines.append("\t".join(row + [f"{user}{number}"] * session_column))
    (folder / "toy").mkdir(parents=True, exist_ok=True)
    (folder / "toy" / "toy.inter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def build(folder: Path, **options) -> list[SessionDataset]:
    config = Config("GRU4Rec", "toy", config_dict={**OPTIONS, "data_path": str(folder), **options})
    return SessionDataset(config).build()


def decoded(dataset: SessionDataset) -> list[tuple[str, tuple[str, ...], str]]:
    rows = dataset.inter_feat
    users = dataset.id2token(dataset.uid_field, rows[dataset.uid_field].numpy())
    targets = dataset.id2token(dataset.iid_field, rows[dataset.iid_field].numpy())
    prefixes = rows[dataset.item_id_list_field].numpy()
    lengths = rows[dataset.item_list_length_field].numpy()
    return [
        (str(user), tuple(dataset.id2token(dataset.iid_field, prefix[:length])), str(target))
        for user, prefix, length, target in zip(users, prefixes, lengths, targets, strict=True)
    ]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy(tmp_path_factory.mktemp("session-data"), session_column=False)


@pytest.fixture(scope="module")
def parts(toy: Path) -> list[SessionDataset]:
    return build(toy)


@pytest.mark.parametrize("index", range(3), ids=["train", "valid", "test"])
def test_rows_are_the_hand_worked_ones(parts, index: int) -> None:
    part = parts[index]
    assert decoded(part) == EXPECTED[["train", "valid", "test"][index]]
    assert set(part.inter_feat.columns) == {
        "user_id", "item_id", "item_id_list", "item_length", "graph_block"
    }  # fmt: skip


def test_vocabulary_is_the_kept_users_and_training_items(parts) -> None:
    train = parts[0]
    assert list(train.field2id_token["user_id"]) == ["[PAD]", "a", "b"]
    assert sorted(train.field2id_token["item_id"][1:]) == ["1", "2", "3", "4", "5", "6", "7"]


def test_global_graph_holds_training_sessions_only(parts) -> None:
    train = parts[0]
    graph = train.global_graph
    item = lambda ids: [str(t) for t in train.id2token("item_id", ids)]  # noqa: E731
    src, dst, _ = graph.edge("out")
    assert set(zip(item(src), item(dst), strict=True)) == {
        ("1", "2"), ("2", "3"), ("3", "4"), ("1", "3"), ("5", "6"), ("6", "7"), ("7", "1")
    }  # fmt: skip
    src, dst, weight = graph.edge("interact")
    users = [str(t) for t in train.id2token("user_id", src)]
    assert sorted(zip(users, item(dst), weight.tolist(), strict=True)) == [
        ("a", "1", 2.0), ("a", "2", 2.0), ("a", "3", 3.0), ("a", "4", 2.0),
        ("b", "1", 1.0), ("b", "5", 1.0), ("b", "6", 2.0), ("b", "7", 2.0),
    ]  # fmt: skip
    assert (graph.n_users, graph.n_items) == (train.user_num, train.item_num)
    assert not hasattr(parts[1], "global_graph") and not hasattr(parts[2], "global_graph")


def test_graph_session_ratio_keeps_training_targets_out_of_the_graph(toy: Path) -> None:
    # Training sessions: a0 (1, 2, 3), a1 (2, 3, 4), a2 (1, 3, 4); b0 (5, 6, 7), b1 (6, 7, 1).
    # Ratio 0.5: a's first ceil(1.5) = 2 and b's first ceil(1.0) = 1 build the graph only; the
    # rows come from a2 and b1 alone; validation and test are unchanged.
    train, valid, test = build(toy, graph_session_ratio=0.5)
    assert decoded(train) == [
        ("a", ("1",), "3"), ("a", ("1", "3"), "4"), ("b", ("6",), "7"), ("b", ("6", "7"), "1")
    ]  # fmt: skip
    assert (decoded(valid), decoded(test)) == (EXPECTED["valid"], EXPECTED["test"])
    item = lambda ids: [str(t) for t in train.id2token("item_id", ids)]  # noqa: E731
    src, dst, _ = train.global_graph.edge("out")
    assert set(zip(item(src), item(dst), strict=True)) == {
        ("1", "2"), ("2", "3"), ("3", "4"), ("5", "6"), ("6", "7")
    }  # fmt: skip
    src, dst, weight = train.global_graph.edge("interact")
    users = [str(t) for t in train.id2token("user_id", src)]
    assert sorted(zip(users, item(dst), weight.tolist(), strict=True)) == [
        ("a", "1", 1.0), ("a", "2", 2.0), ("a", "3", 2.0), ("a", "4", 1.0),
        ("b", "5", 1.0), ("b", "6", 1.0), ("b", "7", 1.0),
    ]  # fmt: skip


def block_out_edges(train: SessionDataset, block: int) -> set[tuple[str, str]]:
    """The ``out`` edges of one graph block of ``train.graph_blocks``, in item tokens."""
    n = train.item_num
    src, dst, _ = train.graph_blocks.edge("out")
    mine = src // n == block
    tokens = lambda ids: [str(t) for t in train.id2token("item_id", ids % n)]  # noqa: E731
    return set(zip(tokens(src[mine]), tokens(dst[mine]), strict=True))


def test_cross_fit_blocks_leave_each_training_session_out(toy: Path) -> None:
    # Training sessions a0 (1, 2, 3), a1 (2, 3, 4), a2 (1, 3, 4); b0 (5, 6, 7), b1 (6, 7, 1);
    # users a = 1, b = 2. Folds (user + rank) % 2: a0 1, a1 0, a2 1; b0 0, b1 1.
    # Validation: a3 (3, 4, 5; 8 dropped), b2 (7, 1, 2).
    train, valid, test = build(toy, train_graph="cross_fit", graph_folds=2)
    blocks = train.inter_feat["graph_block"].tolist()
    assert blocks == [1, 1, 0, 0, 1, 1, 0, 0, 1, 1]  # the rows of EXPECTED["train"]
    assert set(valid.inter_feat["graph_block"].tolist()) == {2}
    assert set(test.inter_feat["graph_block"].tolist()) == {3}
    assert train.graph_blocks.n_items == 4 * train.item_num
    assert block_out_edges(train, 0) == {  # a0, a2, b1
        ("1", "2"), ("2", "3"), ("1", "3"), ("3", "4"), ("6", "7"), ("7", "1")
    }  # fmt: skip
    assert block_out_edges(train, 1) == {("2", "3"), ("3", "4"), ("5", "6"), ("6", "7")}
    every = {("1", "2"), ("2", "3"), ("3", "4"), ("1", "3"), ("5", "6"), ("6", "7"), ("7", "1")}
    assert block_out_edges(train, 2) == every  # validation: all training sessions
    assert block_out_edges(train, 3) == every | {("4", "5")}  # test: and validation's
    # User a's items: fold 0 lacks a1 (2, 3, 4), whose items a0 and a2 still have (counts drop);
    # fold 1 lacks a0 and a2 (a has 3 sessions for 2 folds), so item 1 goes.
    src, dst, weight = train.graph_blocks.edge("interact")
    for block, expected in ((0, {"1": 2, "2": 1, "3": 2, "4": 1}), (1, {"2": 1, "3": 1, "4": 1})):
        mine = src == block * train.user_num + 1
        tokens = train.id2token("item_id", dst[mine] % train.item_num)
        assert dict(zip(map(str, tokens), weight[mine].tolist(), strict=True)) == expected


def test_paper_graph_is_one_block_and_the_test_graph_adds_validation(toy: Path) -> None:
    train, valid, test = build(toy, train_graph="paper")
    assert set(train.inter_feat["graph_block"].tolist()) == {0}
    assert set(valid.inter_feat["graph_block"].tolist()) == {0}
    assert set(test.inter_feat["graph_block"].tolist()) == {1}
    assert block_out_edges(train, 0) == block_out_edges(train, 1) - {("4", "5")}
    train, valid, test = build(toy, train_graph="paper", test_graph_with_valid=False)
    assert train.graph_blocks.n_items == train.item_num
    assert set(test.inter_feat["graph_block"].tolist()) == {0}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"graph_folds": 1},
            r"graph_folds must be >= 2 and at most the number of training "
            r"sessions \(5\), got 1",
        ),
        ({"graph_folds": 6}, r"graph_folds must be >= 2 .*\(5\), got 6"),
        ({"train_graph": "exact"}, "option 'train_graph' must be one of cross_fit, paper"),
        ({"graph_session_ratio": 0.5}, "'train_graph: cross_fit' and 'graph_session_ratio'"),
    ],
)
def test_bad_graph_options_name_the_option(toy: Path, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(toy, **{"train_graph": "cross_fit", **options})


def test_the_session_column_gives_the_same_sessions(tmp_path: Path) -> None:
    with_column = write_toy(tmp_path / "column")
    assert [decoded(p) for p in build(with_column, SESSION_ID_FIELD="session_id")] == list(
        EXPECTED.values()
    )
    no_time = write_toy(tmp_path / "no-time", time_column=False)
    assert [decoded(p) for p in build(no_time, SESSION_ID_FIELD="session_id")] == list(
        EXPECTED.values()
    )


def test_time_split_cuts_all_users_at_one_time(toy: Path) -> None:
    train, valid, test = build(toy, session_split="time", test_cut_time=2500, valid_ratio=0.0)
    assert len(valid) == 0
    # test: a's sessions at 3000 (3, 4, 5; 8 dropped) and 4000 (4, 5; 9 dropped), and b4.
    assert decoded(test) == [
        ("a", ("3",), "4"),
        ("a", ("3", "4"), "5"),
        ("a", ("4",), "5"),
        ("b", ("1",), "2"),
        ("b", ("1", "2"), "6"),
        ("b", ("2", "6"), "7"),
    ]
    assert len(train) == 12  # a: 3 sessions of 3, b: 3 sessions of 3; 2 rows each


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"session_gap": 0}, ConfigError, "option 'session_gap' must be > 0 seconds, got 0"),
        ({"session_gap": -5.0}, ConfigError, "'session_gap' must be > 0"),
        ({"min_user_sessions": 6}, ConfigError, "min_user_sessions=6 leaves no user"),
        ({"min_session_length": 6}, ConfigError, "min_session_length=6 leaves no session"),
        ({"session_split": "random"}, ConfigError, "'session_split' must be one of user_ratio"),
        (
            {"graph_session_ratio": 1.0},
            ConfigError,
            "graph_session_ratio must be a fraction with 0 <= x < 1, got 1.0",
        ),
        (
            {"session_split": "time", "test_cut_time": 99999},
            ConfigError,
            "test_cut_time=99999.0: no session starts after it",
        ),
        ({"test_ratio": 1.5}, ConfigError, "test_ratio must be a fraction"),
        ({"benchmark_filename": ["a"]}, ConfigError, "'benchmark_filename'"),
    ],
)
def test_bad_options_name_the_option(toy: Path, options, error, message) -> None:
    with pytest.raises(error, match=message):
        build(toy, **options)


def test_no_time_and_no_session_column_is_a_data_error(tmp_path: Path) -> None:
    folder = write_toy(tmp_path, session_column=False, time_column=False)
    with pytest.raises(DataError, match="TIME_FIELD = 'timestamp'.*SESSION_ID_FIELD = None"):
        build(folder)


def test_no_test_item_seen_in_training_is_a_config_error(tmp_path: Path) -> None:
    folder = write_toy(tmp_path, session_column=False)
    inter = folder / "toy" / "toy.inter"
    # Every item of a's and b's last session replaced by items never seen in training.
    lines = inter.read_text(encoding="utf-8").splitlines()
    last = {"a": "4", "b": "3"}  # the first digit of the times of a's and b's last sessions
    fixed = [
        f"{user}\tx{item}\t{time}" if last.get(user) == time[0] else line
        for line in lines
        for user, item, time in [line.split("\t")]
    ]
    inter.write_text("\n".join(fixed) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no test session left after dropping items unseen"):
        build(folder)
