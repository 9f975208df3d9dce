"""The `ohlcv` check for bad prints: highs and lows no trade happened at (docs/analytics.md,
"Series hygiene"; the rule is `analytics.series.print_limits`). The stored prints stay as
sold; the analytics use the bar's body instead, and this check says where that happened."""

import datetime as dt

import dagster as dg
import pandas as pd

from kapman_assets import ohlcv
from kapman_assets.analytics import series
from kapman_assets.check_helpers import examples
from kapman_assets.partitions import TRADING_DAYS, window_bounds
from kapman_resources.calendar import nyse_sessions
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = ohlcv.GROUP
OHLCV_NO_BAD_PRINTS = "ohlcv_no_bad_prints"
BAD_PRINT_CONTEXT_SESSIONS = 25  # sessions read before the window: the typical range's lookback
BAD_PRINT_SCREEN = 0.05  # a wick under 5% of the body cannot be a bad print (the limit is >= 12%)


@dg.asset_check(asset=ohlcv.ohlcv, name=OHLCV_NO_BAD_PRINTS, partitions_def=TRADING_DAYS)
def ohlcv_no_bad_prints(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """No high or low implausible against its bar's open/close and the ticker's typical range
    (the bad-print rule of `analytics.series`, on split-adjusted bars); warns with examples.
    The analytics replace such prints before any indicator; the stored prints stay as sold."""
    lo, hi = window_bounds(context)
    first = nyse_sessions(lo - dt.timedelta(days=BAD_PRINT_CONTEXT_SESSIONS * 2), lo)
    first = (
        first[-BAD_PRINT_CONTEXT_SESSIONS - 1] if len(first) > BAD_PRINT_CONTEXT_SESSIONS else lo
    )
    with warehouse.connect() as conn:
        suspects = [r[0] for r in conn.execute(
            "SELECT DISTINCT k.symbol FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
            " WHERE o.date >= %s AND o.date < %s AND (o.high > GREATEST(o.open, o.close) * %s"
            " OR o.low < LEAST(o.open, o.close) * %s)",
            (lo, hi, 1 + BAD_PRINT_SCREEN, 1 - BAD_PRINT_SCREEN))]  # fmt: skip
        bars = load_table(conn, "ohlcv", columns=["ticker", "date", "open", "high", "low",
                          "close", "volume"], window=(first, hi), tickers=suspects)  # fmt: skip
        splits = load_table(conn, "splits", tickers=suspects)
    found = []
    if suspects:
        splits["execution_date"] = pd.to_datetime(splits["execution_date"])
        for ticker, one in series.ticker_bars(bars.assign(date=pd.to_datetime(bars["date"])),
                                              splits if not splits.empty else None):  # fmt: skip
            guarded = series.guard_bad_prints(one)
            raw = bars[bars["ticker"] == ticker]
            raw = raw.set_index(pd.to_datetime(raw["date"]))
            for day in guarded.index[guarded["bad_print"] & (guarded.index >= pd.Timestamp(lo))]:
                row = raw.loc[day]
                found.append((ticker, day.date(), row["open"], row["high"], row["low"],
                              row["close"]))  # fmt: skip
    found.sort(key=lambda r: (r[1], r[0]))
    return dg.AssetCheckResult(
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "bad_prints": len(found),
            "tickers_screened": len(suspects),
            "examples (symbol date o h l c)": examples(found),
            "rule": "a high (low) more than 12 typical ranges beyond the bar's body, or a low"
            " under a fifth of it; the analytics use the body instead",
        },
    )
