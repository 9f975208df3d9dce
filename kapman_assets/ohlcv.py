"""Market-data layer: daily OHLCV for the whole universe from Massive flat files, and its checks."""

import datetime as dt
import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kapman_assets.check_helpers import EXAMPLES_SHOWN, examples
from kapman_assets.partitions import (
    TRADING_DAYS,
    refuse_open_sessions,
    sessions_in_window,
    window_bounds,
)
from kapman_resources.calendar import last_completed_session, nyse_sessions
from kapman_resources.database import watchlist_symbols
from kapman_resources.flatfiles import BARS_SCHEMA
from kapman_resources.grouped_daily import GroupedDailyEmpty
from kapman_resources.massive_rest import API_KEY_VARIABLE, RestError
from kapman_resources.providers import FlatFilesProvider, MarketRestProvider
from kapman_resources.settings import OHLCV_RETENTION_SESSIONS
from kapman_resources.tickers import resolve_ticker_ids
from kapman_resources.warehouse import PostgresResource

GROUP = "market_data"

OHLCV_PRICES_CONSISTENT = "ohlcv_prices_consistent"
OHLCV_UNIQUE_TICKER_DATE = "ohlcv_unique_ticker_date"
OHLCV_ROW_COUNT_STABLE = "ohlcv_row_count_stable"
OHLCV_WATCHLIST_PRESENT = "ohlcv_watchlist_present"
OHLCV_RETENTION_WINDOW_COMPLETE = "ohlcv_retention_window_complete"

INSERT_LOAD = ("INSERT INTO ohlcv_loads (date, source, etag, location, rows)"
               " VALUES (%s, %s, %s, %s, %s)")  # fmt: skip
DELETE_LOADS = "DELETE FROM ohlcv_loads WHERE date >= %s AND date < %s"
GROUPED_DAILY_RETRIES = 8  # tonight's grouped daily not published yet: retry every 15 min
GROUPED_DAILY_RETRY_SECONDS = 15 * 60
ROW_COUNT_BAND = (0.8, 1.25)  # a session's rows vs the previous session's


def _months(days: list[dt.date]) -> list[list[dt.date]]:
    return [list(group) for _, group in itertools.groupby(days, key=lambda d: (d.year, d.month))]


@dataclass
class MonthRead:
    """One month's bars and where each session came from."""

    days: list[dt.date]
    table: pa.Table
    etags: dict[dt.date, str] = field(default_factory=dict)
    from_rest: list[dt.date] = field(default_factory=list)


def _read_month(
    flat_files: FlatFilesProvider, market_rest: MarketRestProvider, days: list[dt.date]
) -> MonthRead:
    """The month's flat files; a session without one comes from the grouped daily endpoint."""
    etags: dict[dt.date, str] = {}
    missing: list[dt.date] = []
    table = flat_files.read(days, etags=etags, missing=missing)
    if missing and not market_rest.available():
        raise dg.Failure(
            f"no flat file for {', '.join(map(str, missing[:5]))} ({flat_files.where(missing[0])})"
            f" and no {API_KEY_VARIABLE} for the grouped daily endpoint: nothing was loaded"
        )
    parts = [table]
    for day in missing:
        try:
            parts.append(market_rest.grouped_daily(day))
        except GroupedDailyEmpty as exc:
            if day == last_completed_session():  # tonight's bars are not published yet
                raise dg.RetryRequested(max_retries=GROUPED_DAILY_RETRIES,
                                        seconds_to_wait=GROUPED_DAILY_RETRY_SECONDS) from exc  # fmt: skip
            raise dg.Failure(
                f"no flat file for {day}, and the grouped daily endpoint: {exc}"
            ) from None
        except RestError as exc:
            raise dg.Failure(
                f"no flat file for {day}, and the grouped daily endpoint: {exc}"
            ) from None
    return MonthRead(days, pa.concat_tables(parts).cast(BARS_SCHEMA), etags, missing)


def _read_ahead(flat_files, market_rest, months: list[list[dt.date]]) -> Iterator[MonthRead]:
    """Each month's bars, in order; the next month is read while this one is written."""
    with ThreadPoolExecutor(max_workers=1) as ahead:
        upcoming = ahead.submit(_read_month, flat_files, market_rest, months[0])
        for i in range(len(months)):
            month = upcoming.result()
            if i + 1 < len(months):
                upcoming = ahead.submit(_read_month, flat_files, market_rest, months[i + 1])
            yield month


def _loads(read: MonthRead, flat_files: FlatFilesProvider) -> list[tuple]:
    """`ohlcv_loads` rows of a month: source, ETag, where, rows per session."""
    counts = dict(zip(*(c.to_pylist() for c in pc.value_counts(read.table["date"]).flatten()),
                      strict=True))  # fmt: skip
    return [
        (day, "grouped_daily" if day in read.from_rest else "flat_file", read.etags.get(day),
         "grouped daily REST" if day in read.from_rest else flat_files.where(day),
         counts.get(day, 0))
        for day in read.days
    ]  # fmt: skip


def _waiting_for_file(context, days, flat_files, market_rest) -> bool:
    """Tonight's session, no file yet, no REST key: the evening waits for the flat file (an
    older session without a file is an error)."""
    if days != [last_completed_session()] or market_rest.available():
        return False
    if flat_files.etag(days[0]) is not None:
        return False
    context.log.warning(
        f"{days[0]}: no flat file yet at {flat_files.where(days[0])} and no {API_KEY_VARIABLE} for"
        " the grouped daily endpoint; waiting for the file (the ohlcv_final_files sensor loads"
        " it when it appears). Nothing was materialized."
    )
    context.log_event(dg.AssetObservation(asset_key=context.asset_key, partition=str(days[0]),
                                          metadata={"waiting_for": flat_files.where(days[0]),
                                                    "reason": f"no {API_KEY_VARIABLE}"}))  # fmt: skip
    return True


@dg.asset(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    io_manager_key="warehouse_io_manager",  # the written table is what downstream layers load
    kinds={"postgres"},
    output_required=False,  # the evening without a REST key waits for the flat file
)
def ohlcv(
    context: dg.AssetExecutionContext,
    flat_files: FlatFilesProvider,
    market_rest: MarketRestProvider,
    warehouse: PostgresResource,
):
    """Daily bars of every US stock for the partition's sessions: the day-aggregate flat file
    (the source of record), else the grouped daily endpoint (provisional, replaced by the file
    when the ohlcv_final_files sensor sees it).

    The whole slice is replaced in one transaction, written a month at a time while the next
    month is read, with one `ohlcv_loads` row per session (source, ETag, rows) in the same
    transaction. A bad file anywhere fails the run naming the file, row and rule, and no bar is
    written. Ticker symbols are registered on a second connection (the first is busy with the
    open COPY), each month's in its own short transaction: a failed load leaves at most symbols
    without bars, which the next load reuses.
    """
    days = sessions_in_window(context.partition_time_window)
    refuse_open_sessions(days)
    if _waiting_for_file(context, days, flat_files, market_rest):
        return
    context.log.info(f"loading {len(days)} session(s) {days[0]} .. {days[-1]} from"
                     f" {type(flat_files).__name__}")  # fmt: skip
    rows, new_tickers, tickers, loads = 0, [], set(), []
    lo, hi = window_bounds(context)
    with (
        warehouse.connect() as symbols,
        warehouse.write_slice(context.asset_key.path[-1], (lo, hi)) as out,
    ):
        watchlist = set(watchlist_symbols(symbols))
        symbols.commit()  # each month's new symbols then commit on their own (a real transaction)
        for month in _read_ahead(flat_files, market_rest, _months(days)):
            table = month.table
            ids, new = resolve_ticker_ids(symbols, table)
            frame = table.drop_columns(["ticker"]).to_pandas(date_as_object=False)
            frame.insert(0, "ticker_id", ids)
            out.write(frame)
            loads += _loads(month, flat_files)
            new_tickers += new
            tickers.update(np.unique(ids).tolist())
            rows += len(frame)
            rest = f" ({len(month.from_rest)} from grouped daily)" if month.from_rest else ""
            context.log.info(
                f"{month.days[0]:%Y-%m}: {len(frame):,} rows written{rest}; "
                f"{days.index(month.days[-1]) + 1}/{len(days)} sessions"
            )
        out.also(DELETE_LOADS, [(lo, hi)])
        out.also(INSERT_LOAD, loads)
    on_last = table.filter(pa.compute.equal(table["date"], pa.scalar(days[-1], pa.date32())))
    missing = sorted(watchlist - set(on_last["ticker"].to_pylist()))
    provisional = [str(d) for d, source, *_ in loads if source == "grouped_daily"]
    context.log.info(f"{rows:,} rows for {len(days)} session(s), {len(new_tickers)} new tickers")
    yield dg.MaterializeResult(
        metadata={
            **out.result.metadata(),
            "sessions": len(days),
            "first_session": str(days[0]),
            "last_session": str(days[-1]),
            "tickers": len(tickers),
            "new_tickers": len(new_tickers),
            "new_tickers_sample": ", ".join(sorted(new_tickers)[:EXAMPLES_SHOWN]),
            "watchlist_missing_last_session": len(missing),
            "watchlist_missing": ", ".join(missing),
            "provisional_sessions": ", ".join(provisional),
            "source": "grouped daily REST (provisional)"
            if provisional and len(days) == 1
            else "flat files",
        }
    )


def sessions_to_finalize(
    flat_files: FlatFilesProvider, warehouse: PostgresResource, days: list[dt.date]
) -> list[tuple[dt.date, str]]:
    """(session, ETag) of each session whose flat file exists but is not what `ohlcv` holds:
    loaded from the grouped daily endpoint, never loaded, or republished (another ETag)."""
    with warehouse.connect() as conn:
        loads = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT date, source, etag FROM ohlcv_loads WHERE date = ANY(%s)", (days,))}  # fmt: skip
    due = []
    for day in days:
        etag = flat_files.etag(day)
        if etag is not None and loads.get(day) != ("flat_file", etag):
            due.append((day, etag))
    return due


@dg.asset_check(
    asset=ohlcv, name=OHLCV_PRICES_CONSISTENT, partitions_def=TRADING_DAYS, blocking=True
)
def ohlcv_prices_consistent(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Every stored price is positive and low <= open, close <= high."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT k.symbol, o.date, o.open, o.high, o.low, o.close FROM ohlcv o"
            " JOIN tickers k ON k.id = o.ticker_id"
            " WHERE o.date >= %s AND o.date < %s AND NOT (o.low > 0 AND o.low <= LEAST(o.open, o.close)"
            " AND o.high >= GREATEST(o.open, o.close)) ORDER BY o.date, k.symbol",
            (lo, hi),
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={"bad_rows": len(rows), "examples (symbol date o h l c)": examples(rows)},
    )


@dg.asset_check(
    asset=ohlcv, name=OHLCV_UNIQUE_TICKER_DATE, partitions_def=TRADING_DAYS, blocking=True
)
def ohlcv_unique_ticker_date(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """No (ticker, date) appears twice (the primary key enforces it; this proves it held)."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT k.symbol, o.date, count(*) FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
            " WHERE o.date >= %s AND o.date < %s GROUP BY k.symbol, o.date HAVING count(*) > 1"
            " ORDER BY o.date, k.symbol",
            (lo, hi),
        ).fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        metadata={"duplicates": len(rows), "examples (symbol date count)": examples(rows)},
    )


@dg.asset_check(asset=ohlcv, name=OHLCV_ROW_COUNT_STABLE, partitions_def=TRADING_DAYS)
def ohlcv_row_count_stable(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Each session's row count is within ROW_COUNT_BAND of the previous stored session's."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        counts = conn.execute(
            "SELECT date, count(*) FROM ohlcv WHERE date >= "
            " COALESCE((SELECT max(date) FROM ohlcv WHERE date < %s), %s) AND date < %s"
            " GROUP BY date ORDER BY date",
            (lo, lo, hi),
        ).fetchall()
    out_of_band = []
    for (_, prev), (day, n) in zip(counts, counts[1:], strict=False):
        ratio = n / prev
        if not ROW_COUNT_BAND[0] <= ratio <= ROW_COUNT_BAND[1] and day >= lo:
            out_of_band.append((day, prev, n, f"x{ratio:.2f}"))
    empty = [d for d in sessions_in_window(context.partition_time_window)
             if d not in {c[0] for c in counts}]  # fmt: skip
    return dg.AssetCheckResult(
        passed=not out_of_band and not empty,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sessions_checked": len(counts),
            "sessions_out_of_band": len(out_of_band),
            "band": f"{ROW_COUNT_BAND[0]}..{ROW_COUNT_BAND[1]} x previous session",
            "examples (date previous rows ratio)": examples(out_of_band),
            "sessions_without_rows": ", ".join(map(str, empty[:EXAMPLES_SHOWN])),
        },
    )


@dg.asset_check(asset=ohlcv, name=OHLCV_WATCHLIST_PRESENT, partitions_def=TRADING_DAYS)
def ohlcv_watchlist_present(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Every watchlist ticker has a bar on the window's last session, or is reported by name."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        watch = watchlist_symbols(conn)
        last = conn.execute(
            "SELECT max(date) FROM ohlcv WHERE date >= %s AND date < %s", (lo, hi)
        ).fetchone()[0]
        present = {r[0] for r in conn.execute(
            "SELECT k.symbol FROM ohlcv o JOIN tickers k ON k.id = o.ticker_id"
            " WHERE o.date = %s AND k.symbol = ANY(%s)", (last, watch))}  # fmt: skip
    missing = sorted(set(watch) - present)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "session": str(last),
            "watchlist_size": len(watch),
            "missing_count": len(missing),
            "missing": ", ".join(missing),
        },
    )


@dg.asset_check(
    asset=ohlcv,
    name=OHLCV_RETENTION_WINDOW_COMPLETE,
    additional_deps=[dg.AssetKey("retention_log")],  # retention.py imports this module
    partitions_def=TRADING_DAYS,
)
def ohlcv_retention_window_complete(warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Stored sessions are exactly the NYSE sessions of the retention window: no gap, none older.

    Whatever partition it runs for, it inspects the whole stored table.
    """
    with warehouse.connect() as conn:
        stored = [r[0] for r in conn.execute("SELECT DISTINCT date FROM ohlcv ORDER BY date")]
    if not stored:
        return dg.AssetCheckResult(passed=False, metadata={"problem": "ohlcv is empty"})
    expected = nyse_sessions(stored[0], stored[-1])
    gaps = sorted(set(expected) - set(stored))
    window = nyse_sessions(dt.date(2000, 1, 1), stored[-1])[-OHLCV_RETENTION_SESSIONS:]
    older = [d for d in stored if d < window[0]]
    return dg.AssetCheckResult(
        passed=not gaps and not older,
        metadata={
            "sessions_stored": len(stored),
            "retention_sessions": OHLCV_RETENTION_SESSIONS,
            "first_stored": str(stored[0]),
            "last_stored": str(stored[-1]),
            "window_start": str(window[0]),
            "missing_sessions": ", ".join(map(str, gaps[:EXAMPLES_SHOWN])),
            "missing_count": len(gaps),
            "sessions_older_than_window": len(older),
        },
    )


OHLCV_CHECKS = [
    ohlcv_prices_consistent,
    ohlcv_unique_ticker_date,
    ohlcv_row_count_stable,
    ohlcv_watchlist_present,
    ohlcv_retention_window_complete,
]
# the checks that stop downstream work when they fail (their decorators say blocking=True)
OHLCV_BLOCKING_CHECKS = [c for c in OHLCV_CHECKS if all(s.blocking for s in c.check_specs)]
