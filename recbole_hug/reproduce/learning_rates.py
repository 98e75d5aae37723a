"""Learning rates chosen on validation, as the HG-GNN paper does for every model (section 5.1.4).

In a ``choose_lr`` table each entry runs once per learning rate with the first seed (its
candidate cells, :func:`~recbole_hug.reproduce.cells.build_cells`). The candidate with the best
first-seed validation score (the cell's ``valid_metric``; ties: the earlier learning rate of the
list) becomes the entry's cell, which every seed then runs; the first seed's run is the
candidate's own (same configuration, same run id). A choice on the smallest or largest learning
rate of a list of two or more is on the grid's edge: the report marks it, and the list should be
extended on that side (the grid's ``learning_rates``, or the dataset's) and the command rerun,
which runs only the new candidates and, where the choice moves, the entry's seeds again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from recbole_hug.reproduce.cells import Cell


@dataclass(frozen=True)
class Choice:
    """One entry's learning-rate choice.

    Attributes:
        table, entry: the entry.
        metric: the validation metric (RecBole's key, ``hit@10``).
        rates: the learning rates, in the grid's order.
        scores: the first seed's validation score per learning rate (None: not run yet).
        cell: the chosen candidate as the entry's cell, None until every candidate has run.
    """

    table: str
    entry: str
    metric: str
    rates: tuple[float, ...]
    scores: tuple[float | None, ...]
    cell: Cell | None

    @property
    def rate(self) -> float | None:
        """The chosen learning rate (None until every candidate has run)."""
        return None if self.cell is None else self.cell.options["learning_rate"]

    @property
    def on_edge(self) -> bool:
        """The choice is the smallest or the largest of two or more learning rates."""
        return len(self.rates) > 1 and self.rate in (min(self.rates), max(self.rates))


def choices(candidates: Sequence[Cell], rows: Sequence[dict[str, str]], seed: int) -> list[Choice]:
    """The choice of every entry that has candidates among ``candidates`` (grid order).

    Args:
        candidates: cells; those with ``lr_of`` are learning-rate candidates.
        rows: the runs.csv rows.
        seed: the first seed, whose validation scores choose.
    """
    by_run = {row["run_id"]: row for row in rows}
    groups: dict[tuple[str, str], list[Cell]] = {}
    for cell in candidates:
        if cell.lr_of is not None:
            groups.setdefault((cell.table, cell.lr_of), []).append(cell)
    found = []
    for (table, entry), cells in groups.items():
        metric = cells[0].valid_metric
        runs = [by_run.get(cell.run_id(seed)) for cell in cells]
        scores = tuple(None if run is None else float(run[f"valid_{metric}"]) for run in runs)
        cell = None
        if None not in scores:
            best = max(range(len(cells)), key=lambda index: scores[index])  # ties: the first
            cell = replace(cells[best], entry=entry, lr_of=None)
        rates = tuple(float(c.options["learning_rate"]) for c in cells)
        found.append(Choice(table, entry, metric, rates, scores, cell))
    return found


def drop_stale(rows: list[dict[str, str]], chosen: Sequence[Cell]) -> None:
    """Remove from ``rows`` the runs of a chosen entry at another configuration (a choice that
    moved since they ran), so that the entry's seeds run again at the new choice."""
    keep = {(cell.table, cell.entry): cell for cell in chosen}
    rows[:] = [
        row
        for row in rows
        if (row["table"], row["entry"]) not in keep
        or row["run_id"] == keep[(row["table"], row["entry"])].run_id(int(row["seed"]))
    ]


def report_lines(table_choices: Sequence[Choice]) -> list[str]:
    """Markdown: per entry, the first seed's validation score at each learning rate and the
    choice (empty for no choice)."""
    if not table_choices:
        return []
    rates = table_choices[0].rates
    metric = table_choices[0].metric
    lines = [
        f"Learning rates chosen on validation ({metric}, first seed):",
        "",
        "| entry | " + " | ".join(f"lr {rate:g}" for rate in rates) + " | chosen |",
        "|---" * (len(rates) + 2) + "|",
    ]
    for choice in table_choices:
        scores = " | ".join("not run" if s is None else f"{s:.4f}" for s in choice.scores)
        chosen = "–" if choice.rate is None else f"{choice.rate:g}"
        if choice.on_edge:
            chosen += " (on the grid's edge: extend it)"
        lines.append(f"| {choice.entry} | {scores} | {chosen} |")
    return [*lines, ""]
