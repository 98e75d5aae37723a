"""The small aligned table that ends a run: what ran, on what, how it was evaluated, and the
metrics of its best epoch on validation and test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def protocol_name(options: Mapping[str, Any]) -> str:
    """How a run was split and evaluated, in words: HG-GNN's session rows, the HUGT paper's
    protocol, or RecBole's ``eval_args``."""
    if options.get("session_rows"):
        return "sessions (session_rows: each user's last sessions are test)"
    if options.get("eval_protocol") == "hugt":
        return "hugt (each user's last 10%, step by step)"
    args = options.get("eval_args") or {}
    split = args.get("split") or {}
    parts = [f"split {' '.join(f'{k} {v}' for k, v in split.items())}"] if split else []
    if args.get("order"):
        parts.append(f"order {args['order']}")
    mode = args.get("mode")
    if isinstance(mode, Mapping):  # RecBole 1.2: {'valid': 'full', 'test': 'full'}
        modes = set(mode.values())
        mode = modes.pop() if len(modes) == 1 else ", ".join(f"{k} {v}" for k, v in mode.items())
    if mode:
        parts.append(f"mode {mode}")
    return f"recbole ({', '.join(parts)})" if parts else "recbole"


def summary_table(options: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """The end-of-run table.

    Args:
        options: the run's options (a Config or its final options): ``model``, ``dataset``,
            ``session_rows``, ``eval_protocol``, ``eval_args``.
        result: :func:`recbole_hug.quick_start.run_recbole_hug`'s result: ``best_epoch``,
            ``epochs_run``, ``best_valid_result`` and ``test_result``.

    Returns:
        Lines such as::

            model       HUGT
            dataset     ml-100k
            protocol    recbole (split LS valid_and_test, order TO, mode full)
            best epoch  3 (of 5 trained)

            metric   valid   test
            hit@10   0.0329  0.0318
    """
    best = result.get("best_epoch")
    rows = [
        ("model", str(options["model"])),
        ("dataset", str(options["dataset"])),
        ("protocol", protocol_name(options)),
        ("best epoch", "-" if best is None else f"{best} (of {result['epochs_run']} trained)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    valid = dict(result.get("best_valid_result") or {})
    test = dict(result.get("test_result") or {})
    metrics = list(dict.fromkeys([*valid, *test]))
    if metrics:
        table = [("metric", "valid", "test")] + [
            (name, _number(valid.get(name)), _number(test.get(name))) for name in metrics
        ]
        widths = [max(len(row[i]) for row in table) for i in range(3)]
        lines.append("")
        lines += [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in table
        ]
    return "\n".join(lines)


def _number(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4f}"
