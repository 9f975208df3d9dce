"""Options layer: option-chain snapshots of the analytical scope, the per-ticker options summary
(dealer and volatility metrics), and their checks."""

import datetime as dt
import math

import dagster as dg
import numpy as np
import pandas as pd

from kapman_assets import ohlcv
from kapman_assets.analytics.dealer import dealer_metrics
from kapman_assets.analytics.volatility import volatility_metrics
from kapman_assets.check_helpers import examples
from kapman_assets.partitions import (
    TRADING_DAYS,
    refuse_open_sessions,
    sessions_in_window,
    window_bounds,
)
from kapman_resources.calendar import nyse_sessions
from kapman_resources.database import watchlist_symbols
from kapman_resources.massive_rest import API_KEY_VARIABLE, RestError
from kapman_resources.providers import MarketRestProvider
from kapman_resources.settings import load_settings
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = "options"

OPTIONS_CHAINS_SCOPE_COVERED = "options_chains_scope_covered"
OPTIONS_CHAINS_CONTRACTS_VALID = "options_chains_contracts_valid"
OPTIONS_CHAINS_UNDERLYING_FRESH = "options_chains_underlying_fresh"
OPTIONS_SUMMARY_LEVELS_LISTED = "options_daily_summary_levels_listed"

ADV_SESSIONS = 20  # ADV$20 = mean(close x volume) over the 20 sessions ending on the chain date
STALE_UNDERLYING_HOURS = 20  # an underlying price older than this at snapshot time is stale
FLIP_BAND = 0.20  # the gamma flip lies within +-20% of spot, or is NULL
PROGRESS_EVERY = 25  # log a line every N tickers
INSERT_FETCH = ("INSERT INTO options_chain_fetches (date, underlying, status, contracts, message)"
                " VALUES (%s, %s, %s, %s, %s)")  # fmt: skip
DELETE_FETCHES = "DELETE FROM options_chain_fetches WHERE date >= %s AND date < %s"


def _scope(warehouse: PostgresResource) -> tuple[list[str], list[str]]:
    """(scope tickers known to `tickers`, scope tickers that are not)."""
    with warehouse.connect() as conn:
        scope = watchlist_symbols(conn)
        known = {r[0] for r in conn.execute(
            "SELECT symbol FROM tickers WHERE symbol = ANY(%s)", (scope,))}  # fmt: skip
    return [s for s in scope if s in known], [s for s in scope if s not in known]


@dg.asset(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    kinds={"postgres"},
    output_required=False,  # without a REST key there is no snapshot to take
)  # an ingestion asset like ohlcv: tonight's snapshot does not wait for tonight's bars
def options_chains(
    context: dg.AssetExecutionContext, market_rest: MarketRestProvider, warehouse: PostgresResource
):
    """Every contract of every scope ticker's option chain, snapshotted on the session's evening.

    A ticker's chain is written whole or not at all; failed tickers are named in the metadata
    and in `options_chain_fetches`, and the run fails (writing nothing) only when more than
    KAPMAN_CHAIN_FAILURE_THRESHOLD of the scope failed on a session.
    """
    days = sessions_in_window(context.partition_time_window)
    refuse_open_sessions(days)
    if not market_rest.available():
        context.log.warning(f"no {API_KEY_VARIABLE}: no option-chain snapshot taken for"
                            f" {days[0]} .. {days[-1]}; nothing was materialized")  # fmt: skip
        context.log_event(dg.AssetObservation(asset_key=context.asset_key, partition=str(days[-1]),
                                              metadata={"reason": f"no {API_KEY_VARIABLE}"}))  # fmt: skip
        return
    try:
        market_rest.refuse_unavailable(days)
    except RestError as exc:
        raise dg.Failure(str(exc)) from None
    threshold = load_settings().chain_failure_threshold
    scope, unknown = _scope(warehouse)
    if unknown:
        context.log.warning(f"not in tickers, no chain fetched: {', '.join(unknown)}")
    context.log.info(f"snapshotting {len(scope)} chain(s) for {len(days)} session(s)"
                     f" {days[0]} .. {days[-1]} from {type(market_rest).__name__}")  # fmt: skip
    failed: dict[str, str] = {}
    empty: set[str] = set()
    repeated: set[str] = set()
    contracts = pages = 0
    lo, hi = window_bounds(context)
    with warehouse.write_slice("options_chains", (lo, hi)) as out:
        fetches = []
        for day in days:

            def progress(i: int, n: int, day: dt.date = day) -> None:
                if i % PROGRESS_EVERY == 0 or i == n:
                    context.log.info(f"{day}: {i}/{n} chains")

            try:
                got = market_rest.option_chains(scope, day, progress if len(days) == 1 else None)
            except RestError as exc:  # a key problem: nothing else would succeed either
                raise dg.Failure(str(exc)) from None
            if scope and len(got.failed) / len(scope) > threshold:
                raise dg.Failure(
                    f"{day}: {len(got.failed)} of {len(scope)} chains failed (threshold"
                    f" {threshold:.0%}); nothing was written. First: "
                    + "; ".join(f"{t}: {m}" for t, m in list(got.failed.items())[:3]),
                    metadata={"failed_tickers": ", ".join(sorted(got.failed))},
                )
            for chain in got.chains.values():
                out.write(chain)
            fetches += [(day, t, "ok", len(c), None) for t, c in got.chains.items()]
            fetches += [(day, t, "empty", 0, "no listed options") for t in got.empty]
            fetches += [(day, t, "failed", 0, m[:500]) for t, m in got.failed.items()]
            fetches += [(day, t, "unknown", 0, "not in tickers") for t in unknown]
            failed.update({f"{t} {day}": m for t, m in got.failed.items()})
            empty.update(got.empty)
            repeated.update(got.repeated_cursor)
            contracts += got.contracts
            pages += got.pages
            if len(days) > 1:
                context.log.info(f"{day}: {len(got.chains)} chains, {got.contracts:,} contracts")
        out.also(DELETE_FETCHES, [(lo, hi)])
        out.also(INSERT_FETCH, fetches)
    yield dg.MaterializeResult(
        metadata={
            **out.result.metadata(),
            "sessions": len(days),
            "scope_tickers": len(scope),
            "contracts": contracts,
            "pages": pages,
            "chains_failed (ticker-sessions)": len(failed),
            "failed": "; ".join(f"{k}: {v}" for k, v in sorted(failed.items())[:10]),
            "tickers_without_options": ", ".join(sorted(empty)),
            "tickers_not_in_tickers": ", ".join(unknown),
            "repeated_cursor_stopped": ", ".join(sorted(repeated)),
            "source": type(market_rest).__name__,
        }
    )


@dg.asset_check(asset=options_chains, name=OPTIONS_CHAINS_SCOPE_COVERED,
                partitions_def=TRADING_DAYS)  # fmt: skip
def options_chains_scope_covered(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Every scope ticker has a chain on each session, or is named with the reason."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        scope = watchlist_symbols(conn)
        rows = conn.execute(
            "SELECT date, underlying, status, message FROM options_chain_fetches"
            " WHERE date >= %s AND date < %s AND status <> 'ok' ORDER BY date, underlying",
            (lo, hi)).fetchall()  # fmt: skip
        fetched = {(r[0], r[1]) for r in conn.execute(
            "SELECT date, underlying FROM options_chain_fetches WHERE date >= %s AND date < %s",
            (lo, hi))}  # fmt: skip
    days = sorted({d for d, _ in fetched})
    never = [(d, s) for d in days for s in scope if (d, s) not in fetched]
    failed = [r for r in rows if r[2] == "failed"]
    return dg.AssetCheckResult(
        passed=not failed and not never,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sessions": len(days),
            "scope_tickers": len(scope),
            "failed": len(failed),
            "failed_examples (date ticker status reason)": examples(failed),
            "without_options": ", ".join(sorted({r[1] for r in rows if r[2] == "empty"})),
            "not_in_tickers": ", ".join(sorted({r[1] for r in rows if r[2] == "unknown"})),
            "added_to_scope_since": ", ".join(sorted({s for _, s in never})),
        },
    )


@dg.asset_check(asset=options_chains, name=OPTIONS_CHAINS_CONTRACTS_VALID,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def options_chains_contracts_valid(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """Strikes > 0, expirations on or after the session, IV and greeks finite where present,
    and one row per contract (the primary key enforces it; this proves it held)."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT date, contract_ticker, strike, expiration, implied_volatility, delta, gamma"
            " FROM options_chains WHERE date >= %s AND date < %s AND (strike <= 0"
            " OR expiration < date OR implied_volatility IN ('NaN', 'Infinity', '-Infinity')"
            " OR implied_volatility < 0 OR delta IN ('NaN', 'Infinity', '-Infinity')"
            " OR gamma IN ('NaN', 'Infinity', '-Infinity') OR theta IN ('NaN', 'Infinity',"
            " '-Infinity') OR vega IN ('NaN', 'Infinity', '-Infinity')) ORDER BY 1, 2 LIMIT 100",
            (lo, hi)).fetchall()  # fmt: skip
        dupes = conn.execute(
            "SELECT date, contract_ticker, count(*) FROM options_chains WHERE date >= %s"
            " AND date < %s GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 100", (lo, hi)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad and not dupes,
        metadata={
            "bad_contracts": len(bad),
            "examples (date ticker strike expiration iv delta gamma)": examples(bad),
            "duplicate_contracts": len(dupes),
            "duplicate_examples": examples(dupes),
        },
    )


@dg.asset_check(asset=options_chains, name=OPTIONS_CHAINS_UNDERLYING_FRESH,
                partitions_def=TRADING_DAYS)  # fmt: skip
def options_chains_underlying_fresh(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """The underlying's price was updated within STALE_UNDERLYING_HOURS of the snapshot."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        stale = conn.execute(
            "SELECT date, underlying, max(underlying_updated_at), max(snapshot_at)"
            " FROM options_chains WHERE date >= %s AND date < %s AND (underlying_updated_at IS NULL"
            " OR underlying_updated_at < snapshot_at - make_interval(hours => %s))"
            " GROUP BY 1, 2 ORDER BY 1, 2",
            (lo, hi, STALE_UNDERLYING_HOURS)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "stale_underlyings": len(stale),
            "examples (date ticker updated snapshot)": examples(stale),
            "rule": f"underlying last_updated within {STALE_UNDERLYING_HOURS} h of the snapshot",
        },
    )


def finite(value):
    """JSON-ready: NaN and infinities become None, recursively."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def summary_row(chain: pd.DataFrame, spot: float, adv20: float) -> dict:
    """One options_daily_summary row from a chain at spot S (docs/analytics.md)."""
    dealer = dealer_metrics(chain, spot, adv20)
    vol = volatility_metrics(chain, spot)
    row = {k: v for k, v in {**dealer, **vol}.items()
           if k not in ("underlying", "date", "dealer_details", "volatility_details")}  # fmt: skip
    return finite({
        **row,
        "underlying_price": spot,
        "contracts": len(chain),
        "adv20_dollars": adv20 if math.isfinite(adv20) else None,
        "dealer_details_json": dealer["dealer_details"],
        "volatility_details_json": vol["volatility_details"],
    })  # fmt: skip


def _adv20(warehouse: PostgresResource, tickers: list[str], lo: dt.date, hi: dt.date) -> pd.Series:
    """ADV$20 by (ticker, date) for the sessions in [lo, hi)."""
    first = nyse_sessions(lo - dt.timedelta(days=ADV_SESSIONS * 2), lo)[-ADV_SESSIONS:][0]
    with warehouse.connect() as conn:
        bars = load_table(conn, "ohlcv", columns=["ticker", "date", "close", "volume"],
                          window=(first, hi), tickers=tickers)  # fmt: skip
    if bars.empty:
        return pd.Series(dtype=float)
    bars = bars.sort_values(["ticker", "date"])
    dollars = bars["close"] * bars["volume"]
    adv = dollars.groupby(bars["ticker"]).transform(
        lambda s: s.rolling(ADV_SESSIONS, min_periods=ADV_SESSIONS).mean()
    )
    return pd.Series(adv.to_numpy(), index=pd.MultiIndex.from_frame(bars[["ticker", "date"]]))


@dg.asset(
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=GROUP,
    deps=[options_chains, ohlcv.ohlcv],
    kinds={"postgres"},
    automation_condition=dg.AutomationCondition.eager(),
)
def options_daily_summary(
    context: dg.AssetExecutionContext, warehouse: PostgresResource
) -> dg.MaterializeResult:
    """Dealer (GEX, flip, walls, DGPI) and volatility (IV30/90, skew, term, PCR) metrics per
    ticker-session, from that session's stored chain and ADV$20 from ohlcv."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    with warehouse.connect() as conn:
        tickers = [r[0] for r in conn.execute(
            "SELECT DISTINCT underlying FROM options_chains WHERE date >= %s AND date < %s",
            (lo, hi))]  # fmt: skip
    adv = _adv20(warehouse, tickers, lo, hi)
    rows = 0
    with warehouse.write_slice("options_daily_summary", (lo, hi)) as out:
        for day in days:
            with warehouse.connect() as conn:
                chains = load_table(conn, "options_chains", window=(day, day + dt.timedelta(1)))
            records = []
            for ticker, chain in chains.groupby("underlying", sort=True):
                spot = pd.to_numeric(chain["underlying_price"], errors="coerce").dropna()
                if spot.empty or not spot.iloc[0] > 0:
                    continue
                adv20 = float(adv.get((ticker, day), float("nan")))
                records.append({"ticker": ticker, "date": day, "chain_date": day,
                                **summary_row(chain, float(spot.iloc[0]), adv20)})  # fmt: skip
            if records:
                out.write(pd.DataFrame.from_records(records))
                rows += len(records)
    context.log.info(f"{rows} ticker-session summaries for {len(days)} session(s)")
    return dg.MaterializeResult(metadata={**out.result.metadata(), "sessions": len(days)})


@dg.asset_check(asset=options_daily_summary, name=OPTIONS_SUMMARY_LEVELS_LISTED,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def options_daily_summary_levels_listed(
    context, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """Call and put walls are listed strikes of that chain; the flip lies within +-20% or NULL."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        walls = conn.execute(
            "SELECT s.date, s.ticker, s.call_wall_primary, s.put_wall_primary"
            " FROM options_daily_summary s WHERE s.date >= %s AND s.date < %s AND ("
            " (s.call_wall_primary IS NOT NULL AND NOT EXISTS (SELECT 1 FROM options_chains c"
            "   WHERE c.date = s.date AND c.underlying = s.ticker AND c.strike = s.call_wall_primary))"
            " OR (s.put_wall_primary IS NOT NULL AND NOT EXISTS (SELECT 1 FROM options_chains c"
            "   WHERE c.date = s.date AND c.underlying = s.ticker AND c.strike = s.put_wall_primary)))"
            " ORDER BY 1, 2", (lo, hi)).fetchall()  # fmt: skip
        flips = conn.execute(
            "SELECT date, ticker, gamma_flip_level, underlying_price FROM options_daily_summary"
            " WHERE date >= %s AND date < %s AND gamma_flip_level IS NOT NULL"
            " AND abs(gamma_flip_level / underlying_price - 1) > %s ORDER BY 1, 2",
            (lo, hi, FLIP_BAND + 1e-9)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not walls and not flips,
        metadata={
            "walls_not_listed": len(walls),
            "wall_examples (date ticker call_wall put_wall)": examples(walls),
            "flips_outside_band": len(flips),
            "flip_examples (date ticker flip spot)": examples(flips),
        },
    )
