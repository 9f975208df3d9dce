"""Writes small, controlled Massive day-aggregate mirrors for integration tests."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import numpy as np

from kapman_resources.flatfiles import day_aggs_key, new_york_midnight_ns

HEADER = "ticker,volume,open,close,high,low,window_start,transactions"


def day_rows(day: dt.date, tickers: list[str], seed: int = 0) -> list[str]:
    """Valid rows for one session: deterministic prices per (ticker, day)."""
    rows = []
    for i, symbol in enumerate(tickers):
        rng = np.random.default_rng([seed, i, day.toordinal()])
        close = round(50 + 10 * i + rng.normal(0, 1), 2)
        open_ = round(close + rng.normal(0, 0.5), 2)
        high = round(max(open_, close) + abs(rng.normal(0, 0.5)), 2)
        low = round(min(open_, close) - abs(rng.normal(0, 0.5)), 2)
        volume = int(rng.integers(10_000, 1_000_000))
        rows.append(
            f"{symbol},{volume},{open_},{close},{high},{low},{new_york_midnight_ns(day)},"
            f"{volume // 100}"
        )
    return rows


def write_day(root: Path, day: dt.date, lines: list[str], header: str = HEADER) -> Path:
    """Write one session's file (gzip, like the bucket) and return its path."""
    path = Path(root) / day_aggs_key(day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))
    return path


def write_mirror(root: Path, days: list[dt.date], tickers: list[str], seed: int = 0) -> None:
    """A valid mirror: one file per session with every ticker."""
    for day in days:
        write_day(root, day, day_rows(day, tickers, seed))
