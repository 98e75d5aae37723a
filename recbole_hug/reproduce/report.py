"""report.md and the PNG plots of a results folder, from its runs.csv rows.

Each table of the grid that has runs gets a section in ``report.md``: per entry, our mean and
standard deviation over the seeds beside the paper's number (in the paper's unit), the epoch of
the best validation score and the epochs trained, and the mean time of a training epoch and of a
validation pass; and a plot ``<table>.png``: for a figure, each metric against the figure's x
(mean, with the standard deviation as error bars); for a table, a bar per entry and metric, the
paper's number as a marker. A table whose runs have epoch logs (``epochs/<run_id>.json``) also
gets ``<table>-curves.png``: each entry's validation score per epoch, one line per seed. Plots
are drawn with matplotlib's Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from recbole_hug.files import atomic_file
from recbole_hug.reproduce.grid import DatasetSection, Entry, Grid, Table
from recbole_hug.reproduce.learning_rates import Choice, report_lines
from recbole_hug.reproduce.results import EPOCHS

REPORT = "report.md"


@dataclass(frozen=True)
class Summary:
    """An entry's results over seeds, in the paper's unit (``None`` where nothing ran).

    Attributes:
        entry: the grid entry.
        runs: how many seeds have a result.
        means: per metric (the grid's order), the mean over the seeds.
        sds: per metric, the sample standard deviation (None with fewer than two seeds).
        paper: per metric, the paper's number for the dataset's column, or None.
        costs: mean over the seeds of the best epoch (counted from 1), the epochs trained, the
            seconds of a training epoch and of a validation pass (None where no run says).
        run_ids: the runs, in runs.csv order.
    """

    entry: Entry
    runs: int
    means: tuple[float | None, ...]
    sds: tuple[float | None, ...]
    paper: tuple[float | None, ...]
    costs: tuple[float | None, ...] = (None, None, None, None)
    run_ids: tuple[str, ...] = ()


#: The cost columns of a table, in :attr:`Summary.costs` order, and each one's runs.csv column.
COSTS = (
    ("best epoch", "best_epoch"),
    ("epochs", "epochs_run"),
    ("epoch s", "epoch_seconds"),
    ("eval s", "valid_seconds"),
)


def _mean_column(rows: Sequence[dict[str, str]], column: str, shift: float = 0.0) -> float | None:
    values = [float(row[column]) + shift for row in rows if row.get(column, "") not in ("", None)]
    return statistics.fmean(values) if values else None


def summarize(
    grid: Grid, table: Table, section: DatasetSection, rows: Sequence[dict[str, str]]
) -> list[Summary]:
    """The summaries of ``table``'s entries from ``rows`` (runs.csv rows of this grid)."""
    summaries = []
    for entry in table.entries:
        mine = [r for r in rows if r["table"] == table.name and r["entry"] == entry.name]
        values = [[float(r[f"test_{m}"]) * grid.paper_scale for r in mine] for m in grid.metrics]
        paper = entry.paper.get(section.paper or "")
        summaries.append(
            Summary(
                entry,
                len(mine),
                tuple(statistics.fmean(v) if v else None for v in values),
                tuple(statistics.stdev(v) if len(v) > 1 else None for v in values),
                tuple(paper) if paper else (None,) * len(grid.metrics),
                tuple(
                    _mean_column(mine, column, 1.0 if column == "best_epoch" else 0.0)
                    for _, column in COSTS
                ),
                tuple(row["run_id"] for row in mine),
            )
        )
    if table.is_figure:
        summaries.sort(key=lambda s: s.entry.x)
    return summaries


def _number(value: float | None, decimals: int) -> str:
    return "–" if value is None else f"{value:.{decimals}f}"


def _ours(summary: Summary, index: int, decimals: int) -> str:
    mean, sd = summary.means[index], summary.sds[index]
    if mean is None:
        return "not run" if summary.entry.model else "–"
    return _number(mean, decimals) + ("" if sd is None else f" ± {_number(sd, decimals)}")


def _table_section(
    grid: Grid, table: Table, section: DatasetSection, summaries: list[Summary], folder: Path
) -> list[str]:
    columns = sorted({column for entry in table.entries for column in entry.paper})
    lines = [f"## {table.title}", ""]
    if table.note:
        lines += [table.note, ""]
    if columns and section.paper not in columns:
        lines += [
            f"The paper gives this {'figure' if table.is_figure else 'table'} for "
            f"{', '.join(columns)}; none of them is this dataset's column: ours only.",
            "",
        ]
    with_paper = section.paper in columns
    header = [table.x_label] if table.is_figure else []
    header += ["entry", "model", "seeds"]
    for name in grid.metric_names:
        header += [f"{name} ours", f"{name} paper"] if with_paper else [name]
    header += [name for name, _ in COSTS]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for summary in summaries:
        entry = summary.entry
        if entry.model is None and not with_paper:
            continue  # a row of the paper only, and no paper column shown
        cells = [f"{entry.x:g}"] if table.is_figure else []
        cells += [entry.name, entry.model or "(paper only)", str(summary.runs)]
        for index in range(len(grid.metrics)):
            cells.append(_ours(summary, index, grid.decimals))
            if with_paper:
                cells.append(_number(summary.paper[index], grid.decimals))
        cells += [_number(cost, 1) for cost in summary.costs]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"![{table.name}]({table.name}.png)", ""]
    if (folder / f"{table.name}-curves.png").is_file():
        lines += [f"![{table.name}: validation per epoch]({table.name}-curves.png)", ""]
    return lines


def plot_table(grid: Grid, table: Table, summaries: list[Summary], path: Path) -> None:
    """Draw ``path``: a figure's metrics against x, or a table's bars (see module docstring)."""
    shown = [s for s in summaries if s.runs]
    figure = Figure(figsize=(4.5 * len(grid.metrics), 4.0 if table.is_figure else 4.8))
    axes = figure.subplots(1, len(grid.metrics), squeeze=False)[0]
    for index, (axis, name) in enumerate(zip(axes, grid.metric_names, strict=True)):
        means = [s.means[index] for s in shown]
        spread = [s.sds[index] for s in shown]
        errors = None if spread.count(None) == len(spread) else [sd or 0.0 for sd in spread]
        if table.is_figure:
            xs = [s.entry.x for s in shown]
            axis.errorbar(xs, means, yerr=errors, marker="o", capsize=3)
            axis.set_xticks(xs)
            axis.set_xlabel(table.x_label)
        else:
            positions = range(len(shown))
            axis.bar(positions, means, yerr=errors, capsize=3, color="tab:blue", label="ours")
            paper = [(p, s.paper[index]) for p, s in zip(positions, shown, strict=True)]
            paper = [(p, value) for p, value in paper if value is not None]
            if paper:
                axis.scatter(*zip(*paper, strict=True), marker="D", color="black", label="paper")
                axis.legend()
            axis.set_xticks(list(positions), [s.entry.name for s in shown], rotation=45, ha="right")
        axis.set_ylabel(name)
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle(table.title, fontsize="medium")
    figure.tight_layout()
    with atomic_file(path) as handle:
        figure.savefig(handle, dpi=100, format="png")


def read_epochs(folder: Path, run_id: str) -> list[dict] | None:
    """The epochs of run ``run_id`` (``epochs/<run_id>.json``), or None if it has none."""
    path = folder / EPOCHS / f"{run_id}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def plot_curves(table: Table, summaries: list[Summary], folder: Path, metric: str) -> Path | None:
    """Draw ``<table>-curves.png``: per entry, the validation score of each of its runs per
    epoch; None (nothing drawn) if no run of the table has an epoch log."""
    curves = [
        (summary.entry.name, epochs)
        for summary in summaries
        for run_id in summary.run_ids
        if (epochs := read_epochs(folder, run_id))
    ]
    if not curves:
        return None
    figure = Figure(figsize=(7.0, 4.5))
    axis = figure.subplots()
    colours: dict[str, str] = {}
    for name, epochs in curves:
        scored = [epoch for epoch in epochs if "valid_score" in epoch]
        line = axis.plot(
            [epoch["epoch"] + 1 for epoch in scored],
            [epoch["valid_score"] for epoch in scored],
            color=colours.get(name),
            label=None if name in colours else name,
            linewidth=1.2,
        )[0]
        colours.setdefault(name, line.get_color())
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"validation {metric}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small")
    axis.set_title(f"{table.title}: validation per epoch", fontsize="medium")
    figure.tight_layout()
    path = folder / f"{table.name}-curves.png"
    with atomic_file(path) as handle:
        figure.savefig(handle, dpi=100, format="png")
    return path


def write_report(
    grid: Grid,
    section: DatasetSection,
    seeds: Sequence[int],
    rows: Sequence[dict[str, str]],
    folder: Path,
    command: str,
    lr_choices: Sequence[Choice] = (),
) -> list[Path]:
    """Write report.md and a plot per table that has runs (rows of ``seeds`` only); a table
    that chooses learning rates lists its ``lr_choices`` under its results.

    Returns:
        The files written: report.md first, then the plots.
    """
    wanted = {str(seed) for seed in seeds}
    rows = [row for row in rows if row["seed"] in wanted]
    unit = "" if grid.paper_scale == 1 else f" (numbers × {grid.paper_scale:g}, as the paper's)"
    lines = [
        f"# {grid.title}: dataset {section.name}",
        "",
        f"Command: `{command}`  ",
        f"Seeds: {', '.join(map(str, seeds))}; ours: mean ± standard deviation over the seeds "
        f"of the test results at the best validation epoch{unit}.  ",
        f"The paper's column: {section.paper or 'none'}."
        + (f" {section.note}" if section.note else ""),
        "",
        "Protocol (options of every run): "
        + ", ".join(f"`{key}: {value}`" for key, value in grid.protocol.items())
        + ".  ",
        "Every run: `runs.csv`; the options of every entry: `grid.json`.",
        "",
    ]
    written = []
    for table in grid.tables.values():
        if not any(row["table"] == table.name for row in rows):
            continue
        summaries = summarize(grid, table, section, rows)
        curves = plot_curves(table, summaries, folder, str(grid.options.get("valid_metric", "")))
        lines += _table_section(grid, table, section, summaries, folder)
        lines += report_lines([choice for choice in lr_choices if choice.table == table.name])
        plot = folder / f"{table.name}.png"
        plot_table(grid, table, summaries, plot)
        written += [plot] if curves is None else [plot, curves]
    report = folder / REPORT
    with atomic_file(report, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    return [report, *written]
