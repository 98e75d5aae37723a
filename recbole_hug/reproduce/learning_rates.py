"""Learning rates chosen on validation, as the HG-GNN paper does for every model (section 5.1.4).

In a ``choose_lr`` table each entry has one candidate cell per learning rate of an increasing
ladder (the grid's ``learning_rates``, or the dataset's; :func:`~recbole_hug.reproduce.cells.
build_cells`), run with the first seed. The ladder is searched, not swept: the middle rate and
its two neighbours run first; while the best of the rates run so far has a neighbour on the
ladder that has not run, that neighbour runs; the search stops at a best whose neighbours both
ran (or at an end of the ladder). On a score that is unimodal in the learning rate (the usual
case: too small does not learn within the epochs, too large diverges) this finds the best of the
whole ladder with 3-4 runs instead of one per rate, and its path depends only on the scores, so a
rerun from scratch takes the same path. The best is by the cell's ``valid_metric``; ties go to the
smaller learning rate. The chosen candidate becomes the entry's cell, which every seed then runs;
the first seed's run is the candidate's own (same configuration, same run id). A choice at the
smallest or largest rate of a ladder of two or more is on the grid's edge: the report marks it,
and the ladder should be extended on that side and the command rerun, which runs only the new
candidates the search then asks for and, where the choice moves, the entry's seeds again.
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
        rates: the ladder's learning rates, increasing.
        scores: the first seed's validation score per learning rate (None: not run).
        cell: the chosen candidate as the entry's cell, None until the search has ended.
        path: the candidates the search has reached (those without a score: the runs it
            waits on), in ladder order.
    """

    table: str
    entry: str
    metric: str
    rates: tuple[float, ...]
    scores: tuple[float | None, ...]
    cell: Cell | None
    path: tuple[Cell, ...] = ()

    @property
    def rate(self) -> float | None:
        """The chosen learning rate (None until the search has ended)."""
        return None if self.cell is None else self.cell.options["learning_rate"]

    @property
    def on_edge(self) -> bool:
        """The choice is the smallest or the largest of two or more learning rates."""
        return len(self.rates) > 1 and self.rate in (min(self.rates), max(self.rates))


def search(scores: Sequence[float | None]) -> tuple[list[int], int | None]:
    """The ladder search (module docstring) as far as the scores known so far take it.

    Args:
        scores: per rung of the ladder (increasing learning rates), its score or None (not run).

    Returns:
        The rungs the search has reached, increasing (those without a score are the runs it
        waits on), and the chosen rung, None until the search has ended. Only the rungs on the
        search's own path count: a score elsewhere is ignored.
    """
    if not scores:
        return [], None
    middle = (len(scores) - 1) // 2
    path = {rung for rung in (middle - 1, middle, middle + 1) if 0 <= rung < len(scores)}
    while True:
        if any(scores[rung] is None for rung in path):
            return sorted(path), None
        best = max(sorted(path), key=lambda rung: scores[rung])  # ties: the smaller rate
        new = {rung for rung in (best - 1, best + 1) if 0 <= rung < len(scores)} - path
        if not new:
            return sorted(path), best
        path |= new


def choices(candidates: Sequence[Cell], rows: Sequence[dict[str, str]], seed: int) -> list[Choice]:
    """The search of every entry that has candidates among ``candidates`` (grid order).

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
        cells = sorted(cells, key=lambda c: float(c.options["learning_rate"]))
        metric = cells[0].valid_metric
        runs = [by_run.get(cell.run_id(seed)) for cell in cells]
        scores = tuple(None if run is None else float(run[f"valid_{metric}"]) for run in runs)
        path, best = search(scores)
        cell = None if best is None else replace(cells[best], entry=entry, lr_of=None)
        rates = tuple(float(c.options["learning_rate"]) for c in cells)
        found.append(
            Choice(table, entry, metric, rates, scores, cell, tuple(cells[i] for i in path))
        )
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
    """Markdown: per entry, the first seed's validation score at each learning rate (``not
    run`` while the search may still ask for it, ``–`` where it ended without it) and the
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
        absent = "not run" if choice.cell is None else "–"
        scores = " | ".join(absent if s is None else f"{s:.4f}" for s in choice.scores)
        chosen = "–" if choice.rate is None else f"{choice.rate:g}"
        if choice.on_edge:
            chosen += " (on the grid's edge: extend it)"
        lines.append(f"| {choice.entry} | {scores} | {chosen} |")
    return [*lines, ""]
