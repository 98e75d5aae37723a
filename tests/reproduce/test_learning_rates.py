"""Learning rates chosen on validation: the ladder search by hand and its invariants, the best
first-seed candidate, ties to the earlier rate, no choice before the search ends, stale runs of
a moved choice dropped, the report's table."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from recbole_hug.reproduce.cells import Cell, candidate_name
from recbole_hug.reproduce.learning_rates import choices, drop_stale, report_lines, search

RATES = (0.001, 0.01, 0.1)


def drive(scores: list[float]) -> tuple[list[int], int]:
    """The search run to its end on known ``scores``: the rungs it ran, in order, and its
    choice."""
    known: list[float | None] = [None] * len(scores)
    ran = []
    while True:
        path, best = search(known)
        assert set(ran) <= set(path)  # the path only grows
        if best is not None:
            return ran, best
        needed = [rung for rung in path if known[rung] is None]
        assert needed
        for rung in needed:
            known[rung] = scores[rung]
        ran += needed


def test_the_search_climbs_from_the_middle_by_hand() -> None:
    assert search([None] * 7) == ([2, 3, 4], None)  # the middle and its neighbours first
    assert search([None, None, 1, 2, 1, None, None]) == ([2, 3, 4], 3)
    # 7 rungs, best at rung 5: {2, 3, 4} -> best 4, so 5 -> best 5, so 6 -> 6 is worse: 5
    assert drive([1, 2, 3, 4, 5, 6, 5]) == ([2, 3, 4, 5, 6], 5)
    assert drive([1, 2, 3, 9, 5, 4, 3]) == ([2, 3, 4], 3)  # best in the middle: 3 runs
    assert drive([9, 8, 7, 6, 5, 4, 3]) == ([2, 3, 4, 1, 0], 0)  # down to the lower end
    assert drive([1, 1, 1]) == ([0, 1, 2], 0)  # ties: the smaller learning rate
    assert drive([0.5]) == ([0], 0) and search([]) == ([], None)
    assert drive([1, 2]) == ([0, 1], 1)  # even length: the lower middle, 0, and 1


def test_scores_off_the_search_path_are_ignored() -> None:
    # rung 0 ran earlier (another ladder) and is the best, but the search never reaches it
    assert search([9.0, None, 1.0, 2.0, 1.0, None, None]) == ([2, 3, 4], 3)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_the_search_ends_at_a_local_best_of_the_ladder(scores: list[float]) -> None:
    ran, best = drive(scores)
    assert len(ran) == len(set(ran)) <= len(scores) and best in ran
    for rung in (best - 1, best + 1):
        if 0 <= rung < len(scores):
            assert rung in ran and scores[rung] <= scores[best]


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_on_a_unimodal_score_the_search_finds_the_best_rung(size_and_peak) -> None:
    size, peak = size_and_peak
    scores = [-abs(rung - peak) for rung in range(size)]
    ran, best = drive(scores)
    assert best == peak
    assert len(ran) <= abs(peak - (size - 1) // 2) + 3  # the walk to the peak, plus the start


def candidates(entry: str = "NARM") -> list[Cell]:
    return [
        Cell(
            table="table2",
            entry=candidate_name(entry, lr),
            model=entry,
            options={"learning_rate": lr},
            changed={"learning_rate": lr},
            config=f"{entry}-{lr}",
            valid_metric="hit@10",
            lr_of=entry,
        )
        for lr in RATES
    ]


def row(cell: Cell, seed: int, valid: float, entry: str | None = None) -> dict[str, str]:
    return {
        "run_id": cell.run_id(seed),
        "table": cell.table,
        "entry": entry or cell.entry,
        "seed": str(seed),
        "valid_hit@10": str(valid),
    }


def test_the_best_first_seed_score_chooses_and_ties_go_to_the_earlier_rate() -> None:
    cells = candidates()
    rows = [row(cells[0], 1, 0.2), row(cells[1], 1, 0.3), row(cells[2], 1, 0.3)]
    rows.append(row(cells[0], 2, 0.9))  # another seed's score does not choose
    (choice,) = choices(cells, rows, seed=1)
    assert (choice.table, choice.entry, choice.scores) == ("table2", "NARM", (0.2, 0.3, 0.3))
    assert choice.rate == 0.01 and not choice.on_edge
    assert choice.cell.entry == "NARM" and choice.cell.lr_of is None
    assert choice.cell.run_id(1) == cells[1].run_id(1)  # the first seed's run is the candidate's


def test_no_choice_until_the_search_ends_and_edges_are_marked() -> None:
    cells = candidates()
    (waiting,) = choices(cells, [row(cells[0], 1, 0.5)], seed=1)
    assert waiting.cell is None and waiting.scores == (0.5, None, None)
    assert waiting.path == tuple(cells)
    (edge,) = choices(cells, [row(cells[0], 1, 0.1), row(cells[1], 1, 0.2),
                              row(cells[2], 1, 0.4)], seed=1)  # fmt: skip
    assert edge.rate == 0.1 and edge.on_edge
    lines = report_lines([waiting, edge])
    assert "| entry | lr 0.001 | lr 0.01 | lr 0.1 | chosen |" in lines
    assert "| NARM | 0.5000 | not run | not run | – |" in lines
    assert "| NARM | 0.1000 | 0.2000 | 0.4000 | 0.1 (on the grid's edge: extend it) |" in lines


def test_runs_of_a_moved_choice_are_dropped() -> None:
    cells = candidates()
    rows = [row(cells[i], 1, score) for i, score in enumerate((0.1, 0.5, 0.2))]
    (choice,) = choices(cells, rows, seed=1)
    old = [row(cells[0], seed, 0.1, entry="NARM") for seed in (1, 2)]  # chosen before: 0.001
    kept = [row(cells[1], 2, 0.5, entry="NARM")]
    rows += old + kept
    drop_stale(rows, [choice.cell])
    assert [r for r in rows if r["entry"] == "NARM"] == kept
    assert len(rows) == 3 + len(kept)  # the candidates' own rows stay


def test_candidates_off_the_path_are_not_run_and_read_as_a_dash() -> None:
    cells = [
        Cell(
            table="table2",
            entry=candidate_name("NARM", lr),
            model="NARM",
            options={"learning_rate": lr},
            changed={"learning_rate": lr},
            config=f"NARM-{lr}",
            valid_metric="hit@10",
            lr_of="NARM",
        )
        for lr in (0.1, 0.0001, 0.01, 0.001, 0.03)  # any order: the ladder is sorted
    ]
    by_rate = {cell.options["learning_rate"]: cell for cell in cells}
    (start,) = choices(cells, [], seed=1)
    assert start.rates == (0.0001, 0.001, 0.01, 0.03, 0.1)
    assert start.path == (by_rate[0.001], by_rate[0.01], by_rate[0.03])
    rows = [row(by_rate[lr], 1, score) for lr, score in ((0.001, 0.3), (0.01, 0.2), (0.03, 0.1))]
    (climbing,) = choices(cells, rows, seed=1)
    assert climbing.path == (by_rate[0.0001], *start.path) and climbing.cell is None
    rows.append(row(by_rate[0.0001], 1, 0.25))
    (done,) = choices(cells, rows, seed=1)
    assert done.rate == 0.001 and done.path == climbing.path and not done.on_edge
    assert "| NARM | 0.2500 | 0.3000 | 0.2000 | 0.1000 | – | 0.001 |" in report_lines([done])
