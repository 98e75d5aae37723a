"""Reproduce a paper's tables and figures: ``python -m recbole_hug.reproduce hugt --dataset ml-1m``.

The experiment grid of each paper is ``properties/reproduce/<paper>.yaml`` (:mod:`.grid`); each
entry of each table runs with several seeds through the plugin's entry point (:mod:`.runner`),
and a results folder collects ``runs.csv``, ``grid.json`` (:mod:`.results`), ``report.md`` and
PNG plots (:mod:`.report`). See ``docs/reproduce.md``.
"""

from recbole_hug.reproduce.runner import main, reproduce

__all__ = ["main", "reproduce"]
