"""Learning rates chosen on validation: the best first-seed candidate, ties to the earlier rate,
no choice before every candidate ran, stale runs of a moved choice dropped, the report's table."""

from __future__ import annotations

from recbole_hug.reproduce.cells import Cell, candidate_name
from recbole_hug.reproduce.learning_rates import choices, drop_stale, report_lines

RATES = (0.001, 0.01, 0.1)


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


def test_no_choice_until_every_candidate_ran_and_edges_are_marked() -> None:
    cells = candidates()
    (waiting,) = choices(cells, [row(cells[0], 1, 0.5)], seed=1)
    assert waiting.cell is None and waiting.scores == (0.5, None, None)
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
