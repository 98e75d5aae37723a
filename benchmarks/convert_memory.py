"""Peak memory and speed of a large conversion: a synthetic Taobao UserBehavior.csv.gz.

    python benchmarks/convert_memory.py --rows 10000000

Writes ``--rows`` rows in the publisher's format (user-grouped, 1-300 events per user, the
official 9-day window), converts them with the taobao preset in a child process and reports the
child's peak resident memory (``ru_maxrss``) and wall time, so the memory per raw row can be
scaled to the full files (Taobao: 100M rows; Netflix: 100M ratings).
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

WINDOW_START = 1511539200  # 2017-11-25 00:00 UTC+8
WINDOW_SECONDS = 9 * 86400


def write_raw(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` lines ``user,item,category,behavior,timestamp``, grouped by user."""
    rng = np.random.default_rng(seed)
    behaviors = np.array(["pv", "pv", "pv", "pv", "cart", "fav", "buy"])
    with gzip.open(path, "wt", compresslevel=1) as file:
        written, user = 0, 0
        while written < rows:
            user += 1
            n = int(min(rng.integers(1, 300), rows - written))
            items = rng.integers(1, 5_000_000, n)
            times = np.sort(WINDOW_START + rng.integers(0, WINDOW_SECONDS, n))
            kinds = behaviors[rng.integers(0, len(behaviors), n)]
            file.write(
                "".join(
                    f"{user},{i},{i % 9000},{k},{t}\n"
                    for i, k, t in zip(items, kinds, times, strict=True)
                )
            )
            written += n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="convert-bench-"))
    raw = folder / "UserBehavior.csv.gz"
    start = time.perf_counter()
    write_raw(raw, args.rows)
    print(
        f"wrote {args.rows:,} rows ({raw.stat().st_size / 2**20:.0f} MiB gz) in "
        f"{time.perf_counter() - start:.0f} s"
    )
    command = [
        sys.executable,
        "-m",
        "recbole_hug.data.convert",
        "taobao",
        str(raw),
        "--out",
        str(folder / "out"),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
    print(f"\n{date.today()}, {platform.machine()}, {os.cpu_count()} CPU cores\n")
    print("| raw rows | wall seconds | rows per second | peak RSS (MiB) | peak bytes per row |")
    print("|---|---|---|---|---|")
    print(
        f"| {args.rows:,} | {seconds:.0f} | {args.rows / seconds:,.0f} | {peak / 2**20:,.0f} | "
        f"{peak / args.rows:.0f} |"
    )


if __name__ == "__main__":
    main()
