"""Universe layer: `universe_features` and `signal_edge` from one pass over the liquid part of the
stored universe, and their checks (docs/domain.md, "Signal edge"; our design).

Every ticker of `ohlcv` that was liquid (close >= $5, ADV$20 >= $10M) on some analysed session
(from the one with MIN_HISTORY_BARS stored sessions before it) gets
the scope's analytics (split-adjusted, its whole stored history, without the indicators JSON):
the directional model's inputs and the Wyckoff marks of each session go to `universe_features`
(rewritten whole), which the monthly refit of `directional_forecasts` trains on. The event study
of those marks (`analytics.signal_edge.edge_tables`) is stored as of the last session of each of
the last EDGE_WEEKS weeks and as of the latest session: walk-forward, each row counts only events
whose horizon ended by its session, and carries its window. Refreshed weekly (Friday evening) and
by `kapman demo`; an idea on session D cites the newest edge measured on or before D.
"""

import datetime as dt
import time

import dagster as dg
import numpy as np
import pandas as pd

from kapman_assets import ohlcv, reference_data
from kapman_assets.analytics import signal_edge as se
from kapman_assets.analytics.indicators import MIN_HISTORY_BARS
from kapman_assets.analytics.series import split_adjust
from kapman_assets.analytics.ticker_analytics import analyze_tickers_chunks
from kapman_assets.check_helpers import examples
from kapman_resources.calendar import nyse_sessions
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = "universe"
UNIVERSE_FEATURES_COVER_THE_LIQUID_UNIVERSE = "universe_features_cover_the_liquid_universe"
SIGNAL_EDGE_WALK_FORWARD = "signal_edge_walk_forward"
EDGE_WEEKS = 26  # weeks of history the edge is stored as of (ideas of older sessions cite none)
ANALYSIS_WORKERS = 2
FEATURE_COLUMNS = (
    "ticker", "date", "sma_50", "sma_200", "rsi_14", "hv_20", "rvol", "adx_14",
    "composite_score", "bc_score", "spring_score", "wyckoff_phase", "events", "signal",
)  # fmt: skip
BAR_COLUMNS = ["ticker", "date", "open", "high", "low", "close", "volume"]


def liquid_tickers(bars: pd.DataFrame, since) -> list[str]:
    """Tickers liquid on at least one stored session from `since` (the first analysed one)."""
    ordered = bars.sort_values(["ticker", "date"], kind="stable")
    flags = se.liquid(ordered["ticker"], ordered["close"].astype(float),
                      ordered["volume"].astype(float)).to_numpy()  # fmt: skip
    flags &= (pd.to_datetime(ordered["date"]) >= pd.Timestamp(since)).to_numpy()
    return sorted(ordered.loc[flags, "ticker"].unique())


def marks(features: pd.DataFrame) -> pd.DataFrame:
    """(ticker, date, kind, name): each Wyckoff event and each signal of a ticker-day."""
    events = features.loc[:, ["ticker", "date", "events"]].explode("events").dropna()
    events = events.rename(columns={"events": "name"}).assign(kind="event")
    signals = features.loc[features["signal"].notna(), ["ticker", "date", "signal"]]
    signals = signals.rename(columns={"signal": "name"}).assign(kind="signal")
    return pd.concat([events, signals], ignore_index=True).loc[
        :, ["ticker", "date", "kind", "name"]
    ]


def edge_dates(sessions: list[dt.date], weeks: int = EDGE_WEEKS) -> list[dt.date]:
    """The last session of each of the last `weeks` weeks, and the latest session."""
    by_week: dict[tuple[int, int], dt.date] = {}
    for day in sessions:
        by_week[day.isocalendar()[:2]] = day  # sessions ascending: the week's last wins
    return sorted(set(list(by_week.values())[-weeks:]) | ({sessions[-1]} if sessions else set()))


@dg.multi_asset(
    specs=[
        dg.AssetSpec("universe_features", group_name=GROUP, kinds={"postgres"},
                     deps=[ohlcv.ohlcv, reference_data.splits],
                     description="The directional model's inputs and the Wyckoff marks of every"
                     " session of every liquid ticker of the stored universe."),
        dg.AssetSpec("signal_edge", group_name=GROUP, kinds={"postgres"},
                     deps=[ohlcv.ohlcv, reference_data.splits],
                     description="What each Wyckoff event and signal has been worth on the"
                     " liquid universe (walk-forward event study, 5/10/20/40 sessions)."),
    ],
)  # fmt: skip
def universe_analysis(context: dg.AssetExecutionContext, warehouse: PostgresResource):
    """The scope's analytics over the liquid universe, and the event study of their marks."""
    clock = time.perf_counter()
    with warehouse.connect() as conn:
        bars = load_table(conn, "ohlcv", columns=BAR_COLUMNS)
        stored = sorted(set(bars["date"]))
        first = stored[MIN_HISTORY_BARS] if len(stored) > MIN_HISTORY_BARS else None
        tickers = liquid_tickers(bars, first) if first else []
        splits = load_table(conn, "splits", tickers=tickers)
    if not tickers:  # too little history yet: empty tables, said plainly
        yield from _nothing_yet(warehouse, len(stored))
        return
    bars = bars[bars["ticker"].isin(set(tickers))].copy()
    bars["date"] = pd.to_datetime(bars["date"])
    if not splits.empty:
        splits["execution_date"] = pd.to_datetime(splits["execution_date"])
    sessions = nyse_sessions(bars["date"].min().date(), bars["date"].max().date())
    context.log.info(f"{len(tickers):,} liquid tickers of the stored universe: {len(bars):,} bars"
                     f" {sessions[0]} .. {sessions[-1]} loaded in"
                     f" {time.perf_counter() - clock:.1f} s")  # fmt: skip
    clock = time.perf_counter()
    start = pd.Timestamp(first)  # the first session with MIN_HISTORY_BARS stored before it
    parts = []
    for chunk in analyze_tickers_chunks(bars, splits, start, pd.Timestamp(sessions[-1]),
                                        with_json=False, workers=ANALYSIS_WORKERS,
                                        sessions=pd.DatetimeIndex(sessions)):  # fmt: skip
        parts.append(chunk.loc[:, list(FEATURE_COLUMNS)])
        done = sum(p["ticker"].nunique() for p in parts)
        context.log.info(f"{done:,}/{len(tickers):,} tickers analysed"
                         f" ({time.perf_counter() - clock:.1f} s)")  # fmt: skip
    features = pd.concat(parts, ignore_index=True)
    features = features.replace([np.inf, -np.inf], np.nan)
    analysed = time.perf_counter() - clock
    clock = time.perf_counter()
    adjusted = split_adjust(bars, splits) if not splits.empty else bars
    returns = se.forward_returns(adjusted.assign(volume=bars["volume"].astype(float)))
    returns["liquid"] = se.liquid(
        returns["ticker"], _raw(bars, returns, "close"), _raw(bars, returns, "volume")
    )  # the prints, not adjusted
    returns = returns[returns["date"] >= start]  # the base: the sessions events can occur on
    days = edge_dates(sessions)
    edges = se.edge_tables(returns, marks(features), days)
    studied = time.perf_counter() - clock
    features["date"] = features["date"].dt.date
    with (
        warehouse.write_slice("universe_features", None) as written_features,
        warehouse.write_slice("signal_edge", (days[0], days[-1] + dt.timedelta(days=1))) as
        written_edges,
    ):  # fmt: skip
        written_features.write(features)
        written_edges.write(edges)
    context.log.info(f"{len(features):,} ticker-days analysed in {analysed:.1f} s; edge as of"
                     f" {len(days)} sessions in {studied:.1f} s")  # fmt: skip
    latest = edges[edges["date"] == days[-1]]
    yield dg.MaterializeResult(asset_key="universe_features", metadata={
        **written_features.result.metadata(), "liquid_tickers": len(tickers),
        "first_session": str(sessions[0]), "last_session": str(sessions[-1]),
        "analysis_seconds": round(analysed, 1),
    })  # fmt: skip
    yield dg.MaterializeResult(asset_key="signal_edge", metadata={
        **written_edges.result.metadata(), "as_of_sessions": len(days), "latest": str(days[-1]),
        "study_seconds": round(studied, 1),
        "signals_with_edge_20 (excess, n)": ", ".join(
            f"{r.name} {r.excess_return:+.2%} n={r.n}" for r in latest.itertuples()
            if r.kind == "signal" and r.horizon == 20),
    })  # fmt: skip


def _nothing_yet(warehouse: PostgresResource, sessions: int):
    """Both tables emptied and materialized with the reason (no liquid ticker analysed yet)."""
    reason = (f"no ticker of ohlcv was liquid on a session with {MIN_HISTORY_BARS} stored"
              f" sessions before it ({sessions} stored): nothing to analyse yet")  # fmt: skip
    with (
        warehouse.write_slice("universe_features", None) as features,
        warehouse.write_slice("signal_edge", None) as edges,
    ):  # fmt: skip
        pass
    for key, written in (("universe_features", features), ("signal_edge", edges)):
        yield dg.MaterializeResult(asset_key=key, metadata={**written.result.metadata(),
                                                            "nothing_yet": reason})  # fmt: skip


def _raw(bars: pd.DataFrame, returns: pd.DataFrame, column: str) -> pd.Series:
    """The raw print of `column` aligned to `returns`' (ticker, date) rows."""
    raw = bars.set_index(["ticker", "date"])[column].astype(float)
    keys = pd.MultiIndex.from_frame(returns[["ticker", "date"]])
    return pd.Series(raw.reindex(keys).to_numpy(), index=returns.index)


@dg.asset_check(asset="universe_features", name=UNIVERSE_FEATURES_COVER_THE_LIQUID_UNIVERSE,
                blocking=True)  # fmt: skip
def universe_features_cover_the_liquid_universe(warehouse: PostgresResource):
    """Every ticker liquid on the latest stored session has that session's row (once more than
    MIN_HISTORY_BARS sessions are stored: before that nothing is analysed)."""
    with warehouse.connect() as conn:
        last, stored = conn.execute("SELECT max(date), count(*) FROM ohlcv_loads").fetchone()
        if not last or stored <= MIN_HISTORY_BARS:
            return dg.AssetCheckResult(passed=True, metadata={
                "sessions_stored": stored, "nothing_yet": f"<= {MIN_HISTORY_BARS} sessions"})  # fmt: skip
        window = nyse_sessions(last - dt.timedelta(days=60), last)[-se.ADV_WINDOW :]
        bars = load_table(conn, "ohlcv", columns=BAR_COLUMNS, window=(window[0], window[-1]
                          + dt.timedelta(days=1)))  # fmt: skip
        have = {r[0] for r in conn.execute(
            "SELECT ticker FROM universe_features WHERE date = %s", (last,))}  # fmt: skip
    bars = bars.sort_values(["ticker", "date"], kind="stable")
    flags = se.liquid(bars["ticker"], bars["close"].astype(float), bars["volume"].astype(float))
    liquid_now = set(bars.loc[flags.to_numpy() & (bars["date"] == last).to_numpy(), "ticker"])
    missing = sorted(liquid_now - have)
    return dg.AssetCheckResult(passed=not missing, metadata={
        "session": str(last), "liquid_tickers": len(liquid_now), "with_a_row": len(have),
        "missing": ", ".join(missing[:20]),
    })  # fmt: skip


@dg.asset_check(asset="signal_edge", name=SIGNAL_EDGE_WALK_FORWARD, blocking=True)
def signal_edge_walk_forward(warehouse: PostgresResource):
    """No row counts an event whose horizon ended after its session; counts and rates coherent
    (0 < n <= base_n, hit rates in [0, 1], the CI around nothing impossible). An empty table
    (too little history yet) passes and says so."""
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT date, kind, name, horizon FROM signal_edge WHERE window_end > date"
            " OR n <= 0 OR n > base_n OR hit_rate NOT BETWEEN 0 AND 1"
            " OR base_hit_rate NOT BETWEEN 0 AND 1 OR excess_ci_lo > excess_ci_hi"
            " OR window_start > window_end ORDER BY 1, 2, 3, 4 LIMIT 100").fetchall()  # fmt: skip
        n = conn.execute("SELECT count(*), max(date) FROM signal_edge").fetchone()
    return dg.AssetCheckResult(passed=not bad, metadata={
        "rows": n[0], "latest": str(n[1]), "invalid": len(bad),
        "examples (date kind name horizon)": examples(bad),
    })  # fmt: skip
