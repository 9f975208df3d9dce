"""The per-ticker analytics pass: indicators, price metrics and Wyckoff state (our design).

Every ticker's whole split-adjusted series is computed once, then sliced to the output window
(TA-Lib recursion and the Wyckoff state machine depend on where the series starts, so callers
pass >= `indicators.MIN_HISTORY_BARS` of history before `start`). Tickers are independent, so
a universe screen can spread them over processes.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from kapman_assets.analytics import series
from kapman_assets.analytics.indicators import compute_indicators_long
from kapman_assets.analytics.price_metrics import compute_price_metrics_long
from kapman_assets.analytics.wyckoff import analyze_wyckoff_long

KEYS = ["ticker", "date"]


def analyze_tickers(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
) -> pd.DataFrame:
    """Indicators, price metrics and Wyckoff columns per ticker-day in [start, end] (our design).

    `long` holds raw prints (`ticker, date, open, high, low, close, volume`); `splits` adjusts
    them first. Rows: the gap-filled sessions of the window, sorted by ticker and date.
    """
    adjusted = long if splits is None or splits.empty else series.split_adjust(long, splits)
    indicators = compute_indicators_long(adjusted, None, start, end, with_json=with_json)
    prices = compute_price_metrics_long(adjusted, None, start, end)
    wyckoff = analyze_wyckoff_long(adjusted)
    lo = pd.Timestamp(start) if start is not None else wyckoff["date"].min()
    hi = pd.Timestamp(end) if end is not None else wyckoff["date"].max()
    wyckoff = wyckoff[(wyckoff["date"] >= lo) & (wyckoff["date"] <= hi)].copy()
    for frame in (indicators, prices, wyckoff):
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    merged = indicators.merge(prices, on=KEYS, how="left", suffixes=("", "_price"))
    merged = merged.merge(wyckoff, on=KEYS, how="left")
    return merged.sort_values(KEYS, kind="stable", ignore_index=True)


def _chunk(args: tuple) -> pd.DataFrame:
    return analyze_tickers(*args)


def analyze_tickers_parallel(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
    workers: int = 2,
) -> pd.DataFrame:
    """`analyze_tickers` with the tickers split across `workers` processes (same result)."""
    tickers = np.array(sorted(long["ticker"].unique()))
    if workers <= 1 or len(tickers) < 2 * workers:
        return analyze_tickers(long, splits, start, end, with_json)
    groups = np.array_split(tickers, workers * 4)
    jobs = []
    for group in groups:
        wanted = set(group)
        part = long[long["ticker"].isin(wanted)]
        part_splits = None if splits is None else splits[splits["ticker"].isin(wanted)]
        jobs.append((part, part_splits, start, end, with_json))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        frames = list(pool.map(_chunk, jobs))
    return pd.concat(frames, ignore_index=True).sort_values(KEYS, kind="stable", ignore_index=True)
