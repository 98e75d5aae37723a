"""Converters from the HUGT and HG-GNN papers' raw datasets to RecBole atomic files.

Command line: ``python -m recbole_hug.data.convert <dataset> <raw path> [--out atomic_data/]``;
Python: :func:`convert`. See ``docs/datasets.md``.
"""

from .core import READERS, ConversionResult, convert, get_preset
from .errors import ConversionError, Report
from .pipeline import Preprocess
from .presets import DEFAULT_PRESET, PRESETS, Preset

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "READERS",
    "ConversionError",
    "ConversionResult",
    "Preprocess",
    "Preset",
    "Report",
    "convert",
    "get_preset",
]
