"""The converters' error type and their run report (skips, warnings)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from recbole_hug.errors import DataError


class ConversionError(DataError):
    """A raw file cannot be converted: wrong format, corrupt, truncated or inconsistent.

    Attributes:
        file: the raw file (or folder) concerned, if known.
        line: the 1-based line number in ``file``, if known.
    """

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None):
        self.file = None if file is None else str(file)
        self.line = line
        where = ""
        if self.file is not None:
            where = self.file if line is None else f"{self.file}, line {line}"
            where += ": "
        super().__init__(where + message)


@dataclass
class Report:
    """What a conversion dropped or noticed, printed in its summary.

    ``skips`` counts rows dropped, by reason (e.g. ``"outside window"``); ``warnings`` holds the
    lines that a user must read (e.g. a statistic that differs from the paper's).
    """

    skips: Counter = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def skip(self, reason: str, count: int = 1) -> None:
        """Count ``count`` rows dropped for ``reason`` (zero counts are not recorded)."""
        if count:
            self.skips[reason] += int(count)

    def warn(self, message: str) -> None:
        """Record a warning (printed in the summary)."""
        self.warnings.append(message)

    def lines(self) -> list[str]:
        """The summary lines: one per skip reason, then the warnings."""
        out = [f"dropped {n:,} rows: {reason}" for reason, n in self.skips.items()]
        out += [f"warning: {w}" for w in self.warnings]
        return out
