"""The per-ticker analytics pass: indicators, price metrics and Wyckoff state (our design).

Every ticker's whole split-adjusted series is computed once, then sliced to the output window
(TA-Lib recursion and the Wyckoff state machine depend on where the series starts, so callers
pass >= `indicators.MIN_HISTORY_BARS` of history before `start`). Tickers are independent, so
a universe screen can spread them over processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from kapman_assets.analytics import series
from kapman_assets.analytics.indicators import JSON_COLUMN, indicators_from_prepared
from kapman_assets.analytics.price_metrics import price_metrics_from_prepared
from kapman_assets.analytics.wyckoff import analyze_wyckoff

KEYS = ["ticker", "date"]
CHUNKS_PER_WORKER = 12  # groups of tickers per process: balance against per-group overhead


def analyze_ticker(
    bars: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """One ticker's split-adjusted bars: indicators, price metrics and Wyckoff in [start, end].

    The bars go through the gap rule once and every part sees the same prepared bars.
    """
    prepared = series.prepare_bars(bars, sessions)
    out = indicators_from_prepared(prepared, start, end, with_json)
    prices = price_metrics_from_prepared(prepared, start, end)
    wyckoff = analyze_wyckoff(prepared.loc[:, list(series.BAR_COLUMNS)]).loc[out.index]
    return pd.concat([out, prices, wyckoff], axis=1)


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
    Rows: the window's sessions per ticker, sorted by ticker and date.
    """
    if long.empty:
        raise ValueError("analyze_tickers: no bars given")
    adjusted = long if splits is None or splits.empty else series.split_adjust(long, splits)
    result = series.by_ticker(
        adjusted, lambda bars: analyze_ticker(bars, start, end, with_json, sessions)
    )
    result["date"] = pd.to_datetime(result["date"]).astype("datetime64[ns]")
    return result


def json_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The indicators JSON column as compact JSON text (what a warehouse write sends anyway;
    encoding it where the rows are computed spreads the work over the processes)."""
    if JSON_COLUMN in frame.columns:
        frame[JSON_COLUMN] = [json.dumps(v, separators=(",", ":"), allow_nan=False)
                              for v in frame[JSON_COLUMN]]  # fmt: skip
    return frame


def _chunk(args: tuple) -> pd.DataFrame:
    """One group of tickers of `analyze_tickers_chunks` (run in a worker process)."""
    *rest, as_text = args
    out = analyze_tickers(*rest)
    return json_text(out) if as_text else out


def analyze_tickers_chunks(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
    workers: int = 2,
    sessions: pd.DatetimeIndex | None = None,
    as_json_text: bool = False,
) -> Iterator[pd.DataFrame]:
    """`analyze_tickers` a group of tickers at a time over `workers` processes, in ticker order,
    each group as soon as it is done (a caller can write one while the next is computed); with
    `as_json_text` the indicators JSON comes back encoded (see `json_text`)."""
    tickers = np.array(sorted(long["ticker"].unique()))
    if workers <= 1 or len(tickers) < 2 * workers:
        yield _chunk((long, splits, start, end, with_json, sessions, as_json_text))
        return
    jobs = []
    for group in np.array_split(tickers, min(len(tickers), workers * CHUNKS_PER_WORKER)):
        wanted = set(group)
        part = long[long["ticker"].isin(wanted)]
        part_splits = None if splits is None else splits[splits["ticker"].isin(wanted)]
        jobs.append((part, part_splits, start, end, with_json, sessions, as_json_text))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(_chunk, jobs)


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
    frames = list(analyze_tickers_chunks(long, splits, start, end, with_json, workers, sessions))
    return pd.concat(frames, ignore_index=True).sort_values(KEYS, kind="stable", ignore_index=True)
