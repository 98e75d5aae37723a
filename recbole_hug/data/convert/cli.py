"""Command line: ``python -m recbole_hug.data.convert <dataset> <raw path> [options]``."""

from __future__ import annotations

import argparse
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .core import READERS, convert, get_preset
from .errors import ConversionError
from .presets import DEFAULT_PRESET, PRESETS

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds of ``"8h"``, ``"60min"``, ``"30m"``, ``"90s"``, ``"1d"`` or plain seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", text)
    if not m or m.group(2) not in ("", *_UNITS):
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 8h, 60min, 1800)")
    return float(m.group(1)) * _UNITS.get(m.group(2), 1.0)


def parse_window(text: str) -> tuple[str, str]:
    """``"YYYY-MM-DD:YYYY-MM-DD"`` -> the two dates (inclusive days); ``"none"`` -> ``()``."""
    if text.strip().lower() == "none":
        return ()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad window {text!r} (expected YYYY-MM-DD:YYYY-MM-DD)")
    return m.group(1), m.group(2)


def _types(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; preprocessing options left unset keep the preset's values."""
    presets = "; ".join(
        f"{d}: {', '.join(PRESETS[d])} (default {DEFAULT_PRESET[d]})" for d in READERS
    )
    p = argparse.ArgumentParser(
        prog="python -m recbole_hug.data.convert",
        description="Convert a paper's raw dataset to RecBole atomic files. Presets: " + presets,
    )
    p.add_argument("dataset", choices=list(READERS), help="the dataset")
    p.add_argument("raw", help="the raw file, archive or folder, as published")
    p.add_argument("--out", default="atomic_data", help="output root (default atomic_data/)")
    p.add_argument("--name", help="output dataset name (default: the dataset)")
    p.add_argument("--preset", help="preprocessing preset (default: the paper's)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--skip-bad-lines",
        action="store_true",
        help="drop and count malformed lines instead of failing",
    )
    p.add_argument(
        "--item-level",
        choices=["artist", "track"],
        default="artist",
        help="lastfm-1k items (default artist, as in HG-GNN)",
    )
    g = p.add_argument_group("preprocessing (default: the preset's)")
    g.add_argument(
        "--truncated-head",
        dest="drop_last_user",
        action="store_const",
        const=True,
        help="the raw file is a head (first lines) of the publisher's user-grouped "
        "file: drop its last user, whose block may be cut",
    )
    g.add_argument("--keep-types", type=_types, help="keep these types (Taobao: pv,buy,cart,fav)")
    g.add_argument("--drop-types", type=_types, help="drop these types (Xing: 4 = delete)")
    g.add_argument(
        "--window",
        type=parse_window,
        help="keep days START:END (inclusive) or 'none' (Taobao: 2017-11-25:2017-12-03)",
    )
    g.add_argument(
        "--utc-offset",
        dest="utc_offset_hours",
        type=float,
        help="time zone of --window in hours (Taobao: 8)",
    )
    g.add_argument(
        "--duplicates",
        choices=["drop", "keep", "error"],
        help="identical rows: drop (counted, default), keep, or fail",
    )
    g.add_argument(
        "--session-gap", type=parse_duration, help="cut sessions at larger gaps (e.g. 8h, 60min)"
    )
    g.add_argument(
        "--drop-repeats",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="remove immediate repeats of an item",
    )
    g.add_argument("--max-session-len", type=int, help="keep the first N of a session (0: all)")
    g.add_argument("--top-items", type=int, help="keep the N most popular items (0: all)")
    g.add_argument("--user-core", type=int, help="min interactions per user (iterative)")
    g.add_argument("--item-core", type=int, help="min interactions per item (iterative)")
    g.add_argument("--min-session-len", type=int, help="min interactions per session")
    g.add_argument("--min-user-sessions", type=int, help="min sessions per user")
    return p


OVERRIDES = (
    "drop_last_user",
    "keep_types",
    "drop_types",
    "window",
    "utc_offset_hours",
    "duplicates",
    "session_gap",
    "drop_repeats",
    "max_session_len",
    "top_items",
    "user_core",
    "item_core",
    "min_session_len",
    "min_user_sessions",
)
"""CLI destinations that override a preset's :class:`pipeline.Preprocess` field."""


class Terminated(BaseException):
    """SIGTERM (``timeout``, ``docker stop``, schedulers), raised like Ctrl-C's KeyboardInterrupt
    so that the writer deletes its temporary files."""


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (the previous handler is restored)."""

    def _raise(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status: 2 on a conversion error (one ``error:`` line, no
    traceback), 130 on Ctrl-C and 143 on SIGTERM (one line; no file is written or left)."""
    args = build_parser().parse_args(argv)
    given = vars(args)
    overrides: dict[str, Any] = {}
    for key in OVERRIDES:
        if key in given and given[key] is not None:
            overrides[key] = given[key]
    if overrides.get("window") == ():
        overrides["window"] = None
    with _terminate_as_exception():
        try:
            get_preset(args.dataset, args.preset)
            convert(
                args.dataset,
                args.raw,
                args.out,
                args.preset,
                overrides,
                args.name,
                args.skip_bad_lines,
                args.item_level,
                progress=not args.quiet,
            )
        except ConversionError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except OSError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("error: interrupted (Ctrl-C); no file was written", file=sys.stderr)
            return 130
        except Terminated:
            print("error: terminated (SIGTERM); no file was written", file=sys.stderr)
            return 143
    return 0
