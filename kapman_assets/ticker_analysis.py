"""Analytical layer: `ticker_metrics` and `wyckoff_snapshots` from one pass per scope ticker,
and their checks.

History: every run reads each scope ticker's whole stored history (split-adjusted from `splits`)
up to the window's end and computes it once (`analyze_tickers`); only the window is written. The
Wyckoff state machine depends on where its series starts (a range opened 300 sessions ago still
shapes tonight's phase), so a fixed-length warm-up made a one-session rerun disagree with the
backfill that wrote the same row; from the first stored session both see the same bars and write
the same row (until daily retention moves that first session: docs/analytics.md measures the
drift, a few rows). A session is analysed once WARMUP_SESSIONS bars are stored before it.
`iv_hv_diff` = IV30 from that session's options summary minus HV20, NULL where no
chain was stored (chains exist for the last 90 sessions). Illiquid tickers are flagged and their
oscillators NULL, never TA-Lib's 0.0. A portfolio change needs no download: the next run reads
the new ticker's stored bars.
"""

import datetime as dt
import time

import dagster as dg
import numpy as np
import pandas as pd
from psycopg import sql

from kapman_assets import ohlcv, options, reference_data
from kapman_assets.analytics.indicators import MIN_HISTORY_BARS
from kapman_assets.analytics.price_metrics import iv_hv_diff
from kapman_assets.analytics.ticker_analytics import analyze_tickers_chunks
from kapman_assets.check_helpers import examples
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window, window_bounds
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import watchlist_symbols
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = "analytics"

TICKER_METRICS_COVERAGE = "ticker_metrics_coverage"
TICKER_METRICS_VALUES_VALID = "ticker_metrics_values_valid"
WYCKOFF_SNAPSHOTS_SCORES_BOUNDED = "wyckoff_snapshots_scores_bounded"
WYCKOFF_SNAPSHOTS_EVENTS_CONSISTENT = "wyckoff_snapshots_events_consistent"

WARMUP_SESSIONS = MIN_HISTORY_BARS  # stored sessions before the first session analysed (>= 260)
MIN_JSON_VALUES = 84  # values in technical_indicators_json on a liquid, warmed-up row
ANALYSIS_WORKERS = 2  # processes for the per-ticker pass (this machine has 2 cores)
METRIC_COLUMNS = (
    "ticker", "date", "close", "rsi_14", "macd_line", "macd_signal", "macd_histogram", "stoch_k",
    "stoch_d", "mfi_14", "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "adx_14", "atr_14",
    "bbands_upper", "bbands_middle", "bbands_lower", "bbands_width", "obv", "vwap", "rvol", "vsi",
    "hv_20", "hv_60", "iv_hv_diff", "illiquid", "gap_filled", "technical_indicators_json",
    "options_date",
)  # fmt: skip
WYCKOFF_COLUMNS = (
    "ticker", "date", "wyckoff_phase", "phase_confidence", "range_type", "range_support",
    "range_resistance", "events", "primary_event", "events_json", "bc_score", "spring_score",
    "composite_score", "signal",
)  # fmt: skip
RANGE_LOOKBACK_DAYS = 400  # calendar days back for a range's earlier events (> 250 sessions)
BOUNDED_0_100 = ("rsi_14", "mfi_14", "stoch_k", "stoch_d", "adx_14")


def eager_with_optional(*optional: dg.AssetsDefinition) -> dg.AutomationCondition:
    """Dagster's `eager()`, except that a missing `optional` parent does not block (a session
    without a stored chain still gets its metrics, with iv_hv_diff NULL); its update still
    triggers a rerun."""
    present = ~dg.AutomationCondition.any_deps_missing().ignore(
        dg.AssetSelection.assets(*optional))  # fmt: skip
    return (
        dg.AutomationCondition.in_latest_time_window()
        & (dg.AutomationCondition.newly_missing()
           | dg.AutomationCondition.any_deps_updated()).since_last_handled()
        & present
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("eager (options summary optional)")  # fmt: skip


def _load_inputs(warehouse: PostgresResource, lo: dt.date, hi: dt.date):
    """Scope bars from the first stored session to the window's end, their splits, the
    window's IV30."""
    with warehouse.connect() as conn:
        scope = watchlist_symbols(conn)
        bars = load_table(conn, "ohlcv", columns=["ticker", "date", "open", "high", "low",
                          "close", "volume"], window=(dt.date.min, hi), tickers=scope)  # fmt: skip
        splits = load_table(conn, "splits", tickers=scope)
        iv = load_table(conn, "options_daily_summary", columns=["ticker", "date", "iv_30"],
                        window=(lo, hi), tickers=scope)  # fmt: skip
    first = bars["date"].min() if not bars.empty else lo
    return scope, first, bars, splits, iv


def _finish(chunk: pd.DataFrame, closes: pd.Series, iv30: pd.Series) -> pd.DataFrame:
    """The analysed rows as table rows: the session's raw close, IV-HV where a chain was
    stored (and that chain's date), local dates, no infinities."""
    keys = pd.MultiIndex.from_frame(chunk[["ticker", "date"]])
    chunk["close"] = closes.reindex(keys).to_numpy()  # the raw print of that session
    iv = iv30.reindex(keys).to_numpy(dtype=float)
    chunk["iv_hv_diff"] = iv_hv_diff(iv, chunk["hv_20"].to_numpy(dtype=float))
    chunk["date"] = chunk["date"].dt.date
    chunk["options_date"] = np.where(np.isfinite(iv), chunk["date"], None)
    return _json_ready(chunk)


def _json_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Infinities become NaN (NULL in the table)."""
    numeric = frame.select_dtypes(include="number").columns
    frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame


@dg.multi_asset(
    specs=[
        dg.AssetSpec("ticker_metrics", group_name=GROUP, kinds={"postgres"},
                     deps=[ohlcv.ohlcv, reference_data.splits, options.options_daily_summary],
                     automation_condition=eager_with_optional(options.options_daily_summary)),
        dg.AssetSpec("wyckoff_snapshots", group_name=GROUP, kinds={"postgres"},
                     deps=[ohlcv.ohlcv, reference_data.splits],
                     automation_condition=dg.AutomationCondition.eager()),
    ],
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)  # fmt: skip
def ticker_analysis(context: dg.AssetExecutionContext, warehouse: PostgresResource):
    """Indicators, price metrics and the Wyckoff state of every scope ticker, one pass each."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    clock = time.perf_counter()
    scope, first, bars, splits, iv = _load_inputs(warehouse, lo, hi)
    context.log.info(f"{len(scope)} scope tickers: {len(bars):,} bars from {first}"
                     f" (the whole stored history) for {days[0]} .. {days[-1]}"
                     f" loaded in {time.perf_counter() - clock:.1f} s")  # fmt: skip
    clock = time.perf_counter()
    calendar = pd.DatetimeIndex(nyse_sessions(first, days[-1]))
    bars["date"] = pd.to_datetime(bars["date"])
    if not splits.empty:
        splits["execution_date"] = pd.to_datetime(splits["execution_date"])
    closes = bars.set_index(["ticker", "date"])["close"]
    iv["date"] = pd.to_datetime(iv["date"])
    iv30_by_key = iv.set_index(["ticker", "date"])["iv_30"]
    chunks = analyze_tickers_chunks(
        bars, splits, pd.Timestamp(lo), pd.Timestamp(days[-1]), workers=ANALYSIS_WORKERS,
        sessions=calendar, as_json_text=True,
    ) if not bars.empty else iter(())  # fmt: skip
    tickers, signals, rows, with_chain = set(), [], 0, set()
    with (
        warehouse.write_slice("ticker_metrics", (lo, hi)) as metrics,
        warehouse.write_slice("wyckoff_snapshots", (lo, hi)) as wyckoff,
    ):
        for chunk in chunks:  # each group of tickers is written while the next is computed
            chunk = _finish(chunk, closes, iv30_by_key)
            metrics.write(chunk.loc[:, list(METRIC_COLUMNS)])
            wyckoff.write(chunk.loc[:, list(WYCKOFF_COLUMNS)])
            tickers.update(chunk["ticker"].unique())
            with_chain.update(chunk.loc[chunk["options_date"].notna(), "date"])
            last = chunk.loc[chunk["date"] == days[-1], ["ticker", "signal"]].dropna()
            signals += list(last.itertuples(index=False, name=None))
            rows += len(chunk)
            context.log.info(f"{len(tickers)}/{len(scope)} tickers written"
                             f" ({time.perf_counter() - clock:.1f} s)")  # fmt: skip
    outputs = {"ticker_metrics": metrics.result, "wyckoff_snapshots": wyckoff.result}
    context.log.info(f"{rows:,} ticker-days analysed and written in"
                     f" {time.perf_counter() - clock:.1f} s; {len(signals)} signal(s) on {days[-1]}")  # fmt: skip
    missing = sorted(set(scope) - tickers)
    for table, written in outputs.items():
        meta = {**written.metadata(), "sessions": len(days), "scope_tickers": len(scope),
                "tickers_without_bars": ", ".join(missing)}  # fmt: skip
        if table == "ticker_metrics":  # iv_hv_diff needs that session's stored chain
            meta["sessions_with_a_chain"] = len(with_chain)
            meta["sessions_without_a_chain (iv_hv_diff NULL)"] = len(days) - len(with_chain)
        if table == "wyckoff_snapshots":
            meta["signals_last_session"] = ", ".join(f"{t} {s}" for t, s in signals)
        yield dg.MaterializeResult(asset_key=table, metadata=meta)


@dg.asset_check(asset="ticker_metrics", name=TICKER_METRICS_COVERAGE, partitions_def=TRADING_DAYS)
def ticker_metrics_coverage(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Every scope ticker with a bar on the window's last session has a metrics row there."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        scope = watchlist_symbols(conn)
        last = conn.execute("SELECT max(date) FROM ticker_metrics WHERE date >= %s AND date < %s",
                            (lo, hi)).fetchone()[0]  # fmt: skip
        traded = {r[0] for r in conn.execute(
            "SELECT k.symbol FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id WHERE o.date = %s"
            " AND k.symbol = ANY(%s)", (last, scope))}  # fmt: skip
        rows = {r[0] for r in conn.execute(
            "SELECT ticker FROM ticker_metrics WHERE date = %s", (last,))}  # fmt: skip
    missing = sorted(traded - rows)
    return dg.AssetCheckResult(
        passed=last is not None and not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "session": str(last),
            "scope_tickers": len(scope),
            "with_bars": len(traded),
            "missing": ", ".join(missing),
            "without_bars (named)": ", ".join(sorted(set(scope) - traded)),
        },  # fmt: skip
    )


@dg.asset_check(asset="ticker_metrics", name=TICKER_METRICS_VALUES_VALID,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def ticker_metrics_values_valid(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """RSI, MFI, STOCH, ADX inside 0-100; no NaN or infinity published; >= 84 JSON values on
    warmed-up liquid rows."""
    lo, hi = window_bounds(context)
    ident = [sql.Identifier(c) for c in BOUNDED_0_100]
    bounded = sql.SQL(" OR ").join(
        sql.SQL("NOT ({c} IS NULL OR {c} BETWEEN 0 AND 100)").format(c=c) for c in ident
    )
    floats = [c for c in METRIC_COLUMNS if c not in ("ticker", "date", "illiquid", "gap_filled",
              "technical_indicators_json", "options_date")]  # fmt: skip
    non_finite = sql.SQL(" OR ").join(
        sql.SQL("{} IN ('NaN', 'Infinity', '-Infinity')").format(sql.Identifier(c)) for c in floats
    )
    with warehouse.connect() as conn:
        out_of_range = conn.execute(
            sql.SQL("SELECT date, ticker, {} FROM ticker_metrics WHERE date >= %s AND date < %s"
                    " AND ({}) ORDER BY 1, 2 LIMIT 100").format(sql.SQL(", ").join(ident), bounded),
            (lo, hi)).fetchall()  # fmt: skip
        not_finite = conn.execute(
            sql.SQL("SELECT date, ticker FROM ticker_metrics WHERE date >= %s AND date < %s"
                    " AND ({}) ORDER BY 1, 2 LIMIT 100").format(non_finite), (lo, hi)).fetchall()  # fmt: skip
        thin_json = conn.execute(
            "SELECT date, ticker, (SELECT count(*) FROM jsonb_each(technical_indicators_json) e"
            " WHERE jsonb_typeof(e.value) = 'number') AS n FROM ticker_metrics"
            " WHERE date >= %s AND date < %s AND NOT illiquid AND sma_200 IS NOT NULL"
            " AND (SELECT count(*) FROM jsonb_each(technical_indicators_json) e"
            " WHERE jsonb_typeof(e.value) = 'number') < %s ORDER BY 1, 2 LIMIT 100",
            (lo, hi, MIN_JSON_VALUES)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not out_of_range and not not_finite and not thin_json,
        metadata={
            "out_of_0_100": len(out_of_range),
            "examples (date ticker rsi mfi stoch_k stoch_d adx)": examples(out_of_range),
            "non_finite_rows": len(not_finite),
            "non_finite_examples": examples(not_finite),
            f"json_rows_under_{MIN_JSON_VALUES}_values": len(thin_json),
            "json_examples (date ticker values)": examples(thin_json),
        },
    )


@dg.asset_check(asset="wyckoff_snapshots", name=WYCKOFF_SNAPSHOTS_SCORES_BOUNDED,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def wyckoff_snapshots_scores_bounded(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """BC 0-28, Spring 0-12, composite -100..100, confidence 0-1, phase A-E or NULL."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT date, ticker, bc_score, spring_score, composite_score, phase_confidence,"
            " wyckoff_phase FROM wyckoff_snapshots WHERE date >= %s AND date < %s AND ("
            " bc_score NOT BETWEEN 0 AND 28 OR spring_score NOT BETWEEN 0 AND 12"
            " OR composite_score NOT BETWEEN -100 AND 100 OR composite_score = 'NaN'"
            " OR phase_confidence NOT BETWEEN 0 AND 1 OR phase_confidence = 'NaN')"
            " ORDER BY 1, 2 LIMIT 100", (lo, hi)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "out_of_bounds": len(bad),
            "examples (date ticker bc spring composite confidence phase)": examples(bad),
        },
    )


@dg.asset_check(asset="wyckoff_snapshots", name=WYCKOFF_SNAPSHOTS_EVENTS_CONSISTENT,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def wyckoff_snapshots_events_consistent(
    context, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """Phases and events agree: a phase needs a range; a TEST follows a SPRING (an UPTHRUST in
    distribution) and an AR or ST follows a climax (SC or BC) of the same kind of range within
    RANGE_LOOKBACK_DAYS. A row whose lookback reaches before the ticker's first stored row (its
    range may have opened in the warm-up) is counted as unverifiable, not failed."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT w.date, w.ticker, w.wyckoff_phase, w.range_type, w.events,"
            " (SELECT array_agg(e) FROM wyckoff_snapshots p, unnest(p.events) e"
            "   WHERE p.ticker = w.ticker AND p.date < w.date AND p.date >= w.date - %s"
            "   AND p.range_type IS NOT DISTINCT FROM w.range_type) AS earlier,"
            " w.date - %s < (SELECT min(f.date) FROM wyckoff_snapshots f"
            "   WHERE f.ticker = w.ticker) AS history_short"
            " FROM wyckoff_snapshots w WHERE w.date >= %s AND w.date < %s"
            " AND (w.wyckoff_phase IS NOT NULL OR cardinality(w.events) > 0)",
            (RANGE_LOOKBACK_DAYS, RANGE_LOOKBACK_DAYS, lo, hi),
        ).fetchall()
    bad, unverifiable = [], 0
    for day, ticker, phase, range_type, events, earlier, history_short in rows:
        seen = set(earlier or []) | set(events or [])
        if phase is not None and range_type is None:
            bad.append((day, ticker, f"phase {phase} without a range"))
        needs = []
        if "TEST" in (events or []) and not {"SPRING", "UPTHRUST"} & seen:
            needs.append("TEST without a SPRING (UPTHRUST) in the range")
        if {"AR", "ST"} & set(events or []) and not {"SC", "BC"} & seen:
            needs.append("AR/ST without a climax in the range")
        if needs and history_short:  # the range may have opened before the stored rows
            unverifiable += 1
        else:
            bad += [(day, ticker, rule) for rule in needs]
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "rows_checked": len(rows),
            "inconsistent": len(bad),
            "examples (date ticker rule)": examples(bad),
            "unverifiable (range opened before the stored rows)": unverifiable,
        },
    )
