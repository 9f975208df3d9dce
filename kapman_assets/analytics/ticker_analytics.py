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
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Indicators, price metrics and Wyckoff columns per ticker-day in [start, end] (our design).

    `long` holds raw prints (`ticker, date, open, high, low, close, volume`); `splits` adjusts
    them first; `sessions` (the trading calendar) lets the gap rule see sessions with no row.
    All three parts see the same gap-filled bars. Rows: the window's sessions per ticker.
    """
    if long.empty:
        raise ValueError("analyze_tickers: no bars given")
    adjusted = long if splits is None or splits.empty else series.split_adjust(long, splits)
    indicators = compute_indicators_long(adjusted, None, start, end, sessions, with_json)
    prices = compute_price_metrics_long(adjusted, None, start, end, sessions)
    filled = series.by_ticker(
        adjusted, lambda bars: series.fill_gaps(bars, sessions).loc[:, list(series.BAR_COLUMNS)]
    )
    wyckoff = analyze_wyckoff_long(filled)
    lo = pd.Timestamp(start) if start is not None else wyckoff["date"].min()
    hi = pd.Timestamp(end) if end is not None else wyckoff["date"].max()
    wyckoff = wyckoff[(wyckoff["date"] >= lo) & (wyckoff["date"] <= hi)].copy()
    for frame in (indicators, prices, wyckoff):
        frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    merged = indicators.merge(prices, on=KEYS, how="left", suffixes=("", "_price"))
    merged = merged.merge(wyckoff, on=KEYS, how="left")
    return merged.sort_values(KEYS, kind="stable", ignore_index=True)


def _chunk(args: tuple) -> pd.DataFrame:
    """One process's share of `analyze_tickers_parallel`."""
    return analyze_tickers(*args)


def analyze_tickers_parallel(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
    workers: int = 2,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """`analyze_tickers` with the tickers split across `workers` processes (same result)."""
    tickers = np.array(sorted(long["ticker"].unique()))
    if workers <= 1 or len(tickers) < 2 * workers:
        return analyze_tickers(long, splits, start, end, with_json, sessions)
    groups = np.array_split(tickers, min(len(tickers), workers * 4))
    jobs = []
    for group in groups:
        wanted = set(group)
        part = long[long["ticker"].isin(wanted)]
        part_splits = None if splits is None else splits[splits["ticker"].isin(wanted)]
        jobs.append((part, part_splits, start, end, with_json, sessions))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        frames = list(pool.map(_chunk, jobs))
    return pd.concat(frames, ignore_index=True).sort_values(KEYS, kind="stable", ignore_index=True)
