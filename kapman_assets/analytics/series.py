"""Series hygiene before any indicator: split adjustment, gap filling and illiquid flags.

Frames follow the shared conventions: a single-ticker "bars" frame is indexed by a sorted, unique
``DatetimeIndex`` named ``date`` with float64 ``open, high, low, close, volume``; a long frame has
``ticker, date, open, high, low, close, volume``; a splits frame has
``ticker, execution_date, split_from, split_to`` (Massive's convention).

Split adjustment (docs/analytics.md, "Series hygiene"; Massive convention): a 2-for-1 split has
``split_from=1, split_to=2``; every bar strictly before ``execution_date`` has its prices divided
by ``split_to / split_from`` and its volume multiplied by it; bars on or after ``execution_date``
are unchanged. Several splits compound. A new split restates the adjusted history before it, so
indicators are recomputed over the whole series on every run (the analytics do that anyway).

Gap rule (our design). TA-Lib must never see an interior NaN (one NaN turns every later RSI into
0.0), so a ticker's series is cleaned as follows:
- it starts at its first bar with a close and ends at its last one (leading and trailing holes
  are not interior, they are dropped);
- a *missing bar* is a row whose close is NaN or, when the caller passes the exchange's
  ``sessions``, a session between the first and last bar with no row at all;
- a run of at most ``MAX_FILLED_GAP_BARS`` consecutive missing bars is filled with flat
  "no trade" bars: open = high = low = close = the last close before the run, volume 0;
- a longer run is not filled: its rows are dropped and the series restarts after it (a new
  ``segment``: indicators and rolling metrics start again from the first bar after the run, so
  they show their normal warm-up NaNs there). ``has_long_gap`` flags such a ticker;
- a bar with a close but a missing open/high/low/volume is repaired: open = the previous close
  (its own close on the first bar), high = max(open, close), low = min(open, close), volume 0.
Every synthesized or repaired bar carries ``gap_filled = True``.

Bad-print rule (our design). Real unadjusted bars carry prints that did not happen at any
tradable size: a high 60% above the close on a split day, a low of 0.13 on a $10 stock. One such
high moved the BC score for a month. After the gap rule, each bar's high may reach at most
``BAD_PRINT_RANGE_MULTIPLE`` typical ranges above the bar's body (max of open and close), and its
low as far below the body's low; the typical range is the median high-low range of the previous
``BAD_PRINT_LOOKBACK_BARS`` bars, at least ``BAD_PRINT_MIN_RANGE_FRACTION`` of the previous
close (a dead stretch has no range); a low under ``BAD_PRINT_MIN_LOW_FRACTION`` of the body's
low is implausible whatever the range. A print beyond its limit did not trade at any size, so
the bar keeps only what did: the bad high (low) becomes the body's high (low), and the bar is
flagged ``bad_print``; open, close and volume are never changed (a bad close cannot be told
from a real gap by one bar).
Why the body: on AAPL 2007-2009 with a high 60% above the close planted on 36 days, the
unguarded spike changed the BC score of the next 60 sessions on 32 days; clipping the print to
its limit left a bar twelve ranges wide and the score fired as before; the body plus one typical
range still changed it on 21 days; the body alone on 10 (raising it by more than 2 points on 2).
The guard flagged 32 of the 36 (the other four fell in 2008's volatile months, when a 60% wick
is within twelve typical ranges).
Why twelve: real wicks, even on climax days, stay well inside it. The longest in the vendored
real series are the flash crash of 2010-05-06 (AAPL's low 8.0 typical ranges below its body,
SPY's 6.1), then SPY's upper wick of 2015-08-24 (4.0); SPY's 99.9th percentile is 2.0. Twelve is
50% above the longest real wick seen and half of a 60% spike on a stock moving 2.5% a day.

Illiquid rule (our design). A flat or zero-volume stretch makes TA-Lib's RSI/STOCH/ADX/MFI
return 0 (or a stale constant) instead of a meaningful value. A *dead bar* is a bar with
volume <= 0 or high <= low (no range: no trading information). Bar t is ``illiquid`` when at
least ``ILLIQUID_MIN_DEAD_BARS`` of the last ``ILLIQUID_WINDOW_BARS`` bars (t included) are dead;
the indicator module publishes NaN instead of those oscillators on illiquid bars. Gap-filled
bars are dead by construction, so a filled week makes the next two weeks illiquid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = (*PRICE_COLUMNS, "volume")
SPLIT_COLUMNS = ("ticker", "execution_date", "split_from", "split_to")

MAX_FILLED_GAP_BARS = 5  # longest run of missing bars filled flat; a longer run restarts the series
ILLIQUID_WINDOW_BARS = 14  # the oscillators' period (RSI/STOCH/ADX/MFI 14)
ILLIQUID_MIN_DEAD_BARS = 5  # dead bars in the window (more than a third) that flag a bar illiquid
BAD_PRINT_RANGE_MULTIPLE = 12.0  # a wick beyond the body by > 12 typical ranges is a bad print
BAD_PRINT_LOOKBACK_BARS = 20  # the typical range: median high-low of the previous 20 bars
BAD_PRINT_MIN_PRIOR_BARS = 5  # fewer previous bars: the bar is not judged
BAD_PRINT_MIN_RANGE_FRACTION = 0.01  # the typical range is at least 1% of the previous close
BAD_PRINT_MIN_LOW_FRACTION = 0.2  # a low under a fifth of the body's low is a bad print anyway


def split_factors(splits: pd.DataFrame) -> pd.DataFrame:
    """Per split, the cumulative factor for bars before its execution_date (Massive convention).

    Returns ``ticker, execution_date, factor`` where factor is the product of
    ``split_to / split_from`` over this split and every later split of the ticker.
    """
    frame = splits.loc[:, list(SPLIT_COLUMNS)].copy()
    frame["execution_date"] = pd.to_datetime(frame["execution_date"]).astype("datetime64[ns]")
    ratio = frame["split_to"].astype(float) / frame["split_from"].astype(float)
    if not (np.isfinite(ratio) & (ratio > 0)).all():
        raise ValueError("splits: split_from and split_to must be positive numbers")
    frame = frame.assign(ratio=ratio).drop_duplicates(["ticker", "execution_date", "ratio"])
    if frame.duplicated(["ticker", "execution_date"]).any():
        raise ValueError("splits: conflicting ratios for the same ticker and execution_date")
    frame = frame.sort_values(["ticker", "execution_date"], ascending=[True, False])
    frame["factor"] = frame.groupby("ticker")["ratio"].cumprod()
    return frame.loc[:, ["ticker", "execution_date", "factor"]].reset_index(drop=True)


def split_adjust(long: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """Divide prices and multiply volume by the split ratio for bars before each execution_date.

    Long frame in, long frame out (same rows, same order, ``date`` as given); bars on or after an
    execution_date are unchanged (docs/analytics.md, "Series hygiene").
    """
    out = long.copy()
    if len(out) == 0 or len(splits) == 0:
        return out
    factors = split_factors(splits).sort_values("execution_date", kind="stable")
    rows = pd.DataFrame(
        {
            "ticker": out["ticker"].to_numpy(),
            "date": pd.to_datetime(out["date"]).to_numpy().astype("datetime64[ns]"),
        }
    )
    rows["row"] = np.arange(len(rows))
    matched = pd.merge_asof(
        rows.sort_values("date", kind="stable"),
        factors,
        left_on="date",
        right_on="execution_date",
        by="ticker",
        direction="forward",
        allow_exact_matches=False,
    )
    factor = np.ones(len(rows))
    factor[matched["row"].to_numpy()] = matched["factor"].fillna(1.0).to_numpy()
    for column in PRICE_COLUMNS:
        out[column] = out[column].astype(float) / factor
    out["volume"] = out["volume"].astype(float) * factor
    return out


def long_to_bars(group: pd.DataFrame) -> pd.DataFrame:
    """One ticker's rows of a long frame as a bars frame (sorted DatetimeIndex ``date``)."""
    bars = group.loc[:, ["date", *BAR_COLUMNS]]
    if not pd.api.types.is_datetime64_dtype(bars["date"]):
        bars = bars.assign(date=pd.to_datetime(bars["date"]))
    if not (bars.dtypes[list(BAR_COLUMNS)] == np.float64).all():
        bars = bars.astype({c: np.float64 for c in BAR_COLUMNS})
    bars = bars.set_index("date")
    return bars if bars.index.is_monotonic_increasing else bars.sort_index()


def fill_gaps(bars: pd.DataFrame, sessions: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Apply the gap rule of the module docstring (our design).

    Returns the cleaned bars plus ``gap_filled`` (bool) and ``segment`` (int, +1 after each run
    longer than ``MAX_FILLED_GAP_BARS``). No NaN remains in ``open..volume``.
    """
    if not (bars.index.is_monotonic_increasing and bars.index.is_unique):
        raise ValueError("bars: the date index must be sorted and unique")
    frame = bars.loc[:, list(BAR_COLUMNS)].astype(float)
    valid = frame.index[frame["close"].notna()]
    if len(valid) == 0:
        empty = frame.iloc[0:0]
        return empty.assign(gap_filled=pd.Series(dtype=bool), segment=pd.Series(dtype=np.int64))
    if sessions is not None:
        inside = sessions[(sessions >= valid[0]) & (sessions <= valid[-1])]
        frame = frame.reindex(frame.index.union(pd.DatetimeIndex(inside)))
        frame.index.name = bars.index.name
    frame = frame.loc[valid[0] : valid[-1]]

    missing = frame["close"].isna()
    run_length = missing.groupby((~missing).cumsum()).transform("sum")
    long_gap = missing & (run_length > MAX_FILLED_GAP_BARS)
    segment = (long_gap & ~long_gap.shift(fill_value=False)).cumsum()
    repaired = frame.isna().any(axis=1)

    close = frame["close"].ffill()
    open_ = frame["open"].fillna(close.shift(1)).fillna(close)
    high = frame["high"].fillna(np.maximum(open_, close))
    low = frame["low"].fillna(np.minimum(open_, close))
    volume = frame["volume"].fillna(0.0)
    out = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "gap_filled": repaired,
            "segment": segment.astype(np.int64),
        }
    )
    return out.loc[~long_gap.to_numpy()]


def has_long_gap(prepared: pd.DataFrame) -> bool:
    """True when the ticker's series restarted after a gap longer than MAX_FILLED_GAP_BARS."""
    return bool(len(prepared)) and bool(prepared["segment"].iloc[-1] > 0)


def dead_bars(bars: pd.DataFrame) -> pd.Series:
    """A bar with no volume or no range carries no trading information (our design)."""
    return (bars["volume"] <= 0) | (bars["high"] <= bars["low"])


def illiquid_flags(bars: pd.DataFrame) -> pd.Series:
    """Illiquid at t: >= ILLIQUID_MIN_DEAD_BARS dead bars among the last ILLIQUID_WINDOW_BARS."""
    dead = dead_bars(bars).astype(float)
    count = dead.rolling(ILLIQUID_WINDOW_BARS, min_periods=1).sum()
    return (count >= ILLIQUID_MIN_DEAD_BARS).rename("illiquid")


def print_limits(bars: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The highest high and lowest low plausible at each bar, and the typical range R (the
    bad-print rule, our design): the bar's body (max/min of open and close) widened by
    BAD_PRINT_RANGE_MULTIPLE x R, R = max(median high-low range of the previous
    BAD_PRINT_LOOKBACK_BARS bars, BAD_PRINT_MIN_RANGE_FRACTION x the previous close); the low is
    also kept above BAD_PRINT_MIN_LOW_FRACTION x the body's low. Bars with fewer than
    BAD_PRINT_MIN_PRIOR_BARS previous bars have no range limit (only that floor on the low).
    Causal: only the bar's own open/close and earlier bars are read."""
    ranges = (bars["high"] - bars["low"]).astype(float)
    prior = ranges.shift(1).rolling(BAD_PRINT_LOOKBACK_BARS, min_periods=BAD_PRINT_MIN_PRIOR_BARS)
    floor = BAD_PRINT_MIN_RANGE_FRACTION * bars["close"].astype(float).shift(1)
    typical = np.fmax(prior.median(), floor).where(prior.count() >= BAD_PRINT_MIN_PRIOR_BARS)
    body_high = np.fmax(bars["open"], bars["close"]).astype(float)
    body_low = np.fmin(bars["open"], bars["close"]).astype(float)
    reach = BAD_PRINT_RANGE_MULTIPLE * typical
    high = (body_high + reach).fillna(np.inf)
    low = np.fmax(body_low - reach, body_low * BAD_PRINT_MIN_LOW_FRACTION).fillna(-np.inf)
    return high, low, typical


def guard_bad_prints(bars: pd.DataFrame) -> pd.DataFrame:
    """Replace each implausible high or low (`print_limits`) by the bar's body extreme (max or
    min of open and close) and mark the bar ``bad_print``; open, close and volume are kept (our
    design, docs/analytics.md)."""
    high, low, _ = print_limits(bars)
    bad_high, bad_low = bars["high"] > high, bars["low"] < low
    if not (bad_high.any() or bad_low.any()):
        return bars.assign(bad_print=False)
    body_high = np.fmax(bars["open"], bars["close"]).astype(float)
    body_low = np.fmin(bars["open"], bars["close"]).astype(float)
    return bars.assign(
        high=bars["high"].where(~bad_high, body_high),
        low=bars["low"].where(~bad_low, body_low),
        bad_print=(bad_high | bad_low).to_numpy(),
    )


def prepare_bars(bars: pd.DataFrame, sessions: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Gap-filled, bad-print-guarded bars with ``gap_filled``, ``segment``, ``bad_print`` and
    ``illiquid`` columns (our design)."""
    prepared = guard_bad_prints(fill_gaps(bars, sessions))
    return prepared.assign(illiquid=illiquid_flags(prepared).astype(bool))


def apply_by_segment(
    prepared: pd.DataFrame, func: Callable[[pd.DataFrame], pd.DataFrame]
) -> pd.DataFrame:
    """Run ``func`` on each segment's bars separately (a long gap restarts the recursion)."""
    if len(prepared) == 0 or prepared["segment"].iloc[0] == prepared["segment"].iloc[-1]:
        return func(prepared)
    return pd.concat([func(part) for _, part in prepared.groupby("segment", sort=True)])


def ticker_bars(
    long: pd.DataFrame, splits: pd.DataFrame | None = None
) -> Iterator[tuple[str, pd.DataFrame]]:
    """(ticker, bars frame) per ticker of a long frame, split-adjusted first, sorted by ticker.

    Rows without a ticker are skipped. One sort, then one slice of the sorted arrays per ticker:
    a pandas groupby with a frame per group costs about as much as the Wyckoff engine itself.
    """
    adjusted = long if splits is None else split_adjust(long, splits)
    adjusted = adjusted.loc[adjusted["ticker"].notna(), ["ticker", "date", *BAR_COLUMNS]]
    adjusted = adjusted.astype({c: np.float64 for c in BAR_COLUMNS})
    adjusted = adjusted.assign(date=pd.to_datetime(adjusted["date"]))
    adjusted = adjusted.sort_values(["ticker", "date"], kind="stable")
    if adjusted.empty:
        return
    tickers = adjusted["ticker"].to_numpy()
    dates = adjusted["date"].to_numpy()
    values = adjusted.loc[:, list(BAR_COLUMNS)].to_numpy()
    cuts = np.flatnonzero(tickers[1:] != tickers[:-1]) + 1
    for start, end in zip(np.r_[0, cuts], np.r_[cuts, len(tickers)], strict=True):
        index = pd.DatetimeIndex(dates[start:end], name="date")
        bars = pd.DataFrame(values[start:end], columns=list(BAR_COLUMNS), index=index)
        yield tickers[start], bars


def by_ticker(
    long: pd.DataFrame,
    func: Callable[[pd.DataFrame], pd.DataFrame],
    splits: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Split-adjust a long frame, run ``func`` once per ticker's bars, stack as a long frame.

    ``func`` maps a bars frame to a frame indexed by ``date``; the result has ``ticker, date``
    (datetime64) first, then ``func``'s columns, sorted by ticker and date.
    """
    frames = []
    for ticker, bars in ticker_bars(long, splits):
        result = func(bars).reset_index()
        result.insert(0, "ticker", ticker)
        frames.append(result)
    if not frames:
        return pd.DataFrame(columns=["ticker", "date"])
    return pd.concat(frames, ignore_index=True)
