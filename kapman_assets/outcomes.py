"""Scoring layer: `forecast_outcomes` and `recommendation_outcomes`, partitioned by the session
on which they resolve (docs/domain.md, "Outcomes"), and their check.

A forecast or idea of session D with horizon h resolves on the h-th NYSE session after D, never
earlier. outcome = 1 when the split-adjusted close there is above the entry close (the raw entry
close divided by the splits executed in between). A recommendation's position is marked from
the stored chain of that session (analytics/position_marks.py).
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from kapman_assets import forecasts, ohlcv, recommendations, reference_data
from kapman_assets.analytics import position_marks as pm
from kapman_assets.check_helpers import examples
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window, window_bounds
from kapman_resources.calendar import nyse_sessions
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = "scoring"
OUTCOMES_NOT_BEFORE_HORIZON = "recommendation_outcomes_not_before_horizon"
FORECAST_OUTCOME_COLUMNS = ("date", "forecast_date", "ticker", "horizon_sessions", "p_up",
                            "outcome")  # fmt: skip
OUTCOME_COLUMNS = (
    "date", "recommendation_date", "ticker", "strategy", "signal", "p_up", "horizon_sessions",
    "entry_close", "exit_close", "split_factor", "outcome", "entry_value", "exit_value", "pnl",
    "pnl_pct", "capital_at_risk", "mark_source", "legs_marked",
)  # fmt: skip
MAX_HORIZON = 60  # sessions; the calendar span loaded to resolve horizons


def resolution_dates(days: list[dt.date], horizon: int) -> dict[dt.date, dt.date]:
    """{start session D: resolving session E} for every E in `days` (E = D + horizon sessions)."""
    calendar = nyse_sessions(days[0] - dt.timedelta(days=horizon * 2 + 10), days[-1])
    index = {d: i for i, d in enumerate(calendar)}
    return {calendar[index[e] - horizon]: e for e in days if index[e] >= horizon}


def split_factor(splits: pd.DataFrame, ticker: str, start: dt.date, end: dt.date) -> float:
    """Product of split_to / split_from for the ticker's splits executed in (start, end]."""
    if splits.empty:
        return 1.0
    s = splits[(splits["ticker"] == ticker) & (splits["execution_date"] > start)
               & (splits["execution_date"] <= end)]  # fmt: skip
    return float((s["split_to"].astype(float) / s["split_from"].astype(float)).prod())


def _closes(conn, tickers: list[str], lo: dt.date, hi: dt.date) -> dict:
    bars = load_table(conn, "ohlcv", columns=["ticker", "date", "close"], window=(lo, hi),
                      tickers=tickers)  # fmt: skip
    return {(t, d): float(c) for t, d, c in bars.itertuples(index=False)}


def _scored(starts: pd.DataFrame, ends: dict, closes: dict, splits: pd.DataFrame) -> pd.DataFrame:
    """starts: ticker, date, entry_close -> + resolving date, exit_close, split_factor, outcome;
    rows without a close on the resolving session are dropped (no bar: not scored)."""
    out = starts.assign(resolves=starts["date"].map(ends))
    out["exit_close"] = [
        closes.get((t, e)) for t, e in zip(out["ticker"], out["resolves"], strict=True)
    ]
    out = out.dropna(subset=["resolves", "exit_close"]).copy()
    split_tickers = set(splits["ticker"]) if not splits.empty else set()
    out["split_factor"] = [split_factor(splits, t, d, e) if t in split_tickers else 1.0
                           for t, d, e in zip(out["ticker"], out["date"], out["resolves"],
                                              strict=True)]  # fmt: skip
    out["outcome"] = (out["exit_close"] > out["entry_close"] / out["split_factor"]).astype(int)
    return out


def _mark(idea: pd.Series, mids_today: dict, last_mids: dict, closes: dict) -> dict:
    """The idea's legs marked on its resolving session (mids by contract ticker)."""
    legs = idea["legs"]
    marks = []
    for leg in legs:
        today = mids_today.get(leg["contract_ticker"])
        expiry = dt.date.fromisoformat(leg["expiration"])
        spot = None
        if expiry <= idea["resolves"]:  # the close of the last stored session <= expiration
            at = [d for (t, d) in closes if t == idea["ticker"] and d <= expiry]
            spot = closes[(idea["ticker"], max(at))] if at else None
        marks.append(pm.mark_leg(leg, idea["resolves"], today, last_mids.get(
            leg["contract_ticker"]), spot))  # fmt: skip
    marked = pm.mark_position(legs, marks, float(idea["capital_required"]))
    marked["legs_marked"] = json.dumps([{"contract_ticker": leg["contract_ticker"],
                                         "price": price, "source": source}
                                        for leg, (price, source) in zip(legs, marks, strict=True)])  # fmt: skip
    return marked


def _mids(conn, contracts: list[str], lo: dt.date, hi: dt.date) -> pd.DataFrame:
    rows = conn.execute(
        "SELECT date, contract_ticker, (bid + ask) / 2 FROM options_chains WHERE date >= %s"
        " AND date <= %s AND contract_ticker = ANY(%s) AND bid > 0 AND ask > 0",
        (lo, hi, contracts)).fetchall()  # fmt: skip
    return pd.DataFrame(rows, columns=["date", "contract_ticker", "mid"]).astype({"mid": float})


@dg.multi_asset(
    specs=[
        dg.AssetSpec("forecast_outcomes", group_name=GROUP, kinds={"postgres"},
                     deps=[forecasts.directional_forecasts, ohlcv.ohlcv, reference_data.splits],
                     automation_condition=dg.AutomationCondition.eager()),
        dg.AssetSpec("recommendation_outcomes", group_name=GROUP, kinds={"postgres"},
                     deps=[recommendations.recommendations, ohlcv.ohlcv, "options_chains",
                           reference_data.splits],
                     automation_condition=dg.AutomationCondition.eager()),
    ],
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)  # fmt: skip
def scored_outcomes(context: dg.AssetExecutionContext, warehouse: PostgresResource):
    """Forecasts and ideas whose horizon ends in the window: direction, marks and P&L."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    ends = resolution_dates(days, forecasts.HORIZON)
    fc = ideas = pd.DataFrame(columns=["ticker", "date"])
    closes, splits, mids = (
        {},
        pd.DataFrame(),
        pd.DataFrame(columns=["date", "contract_ticker", "mid"]),
    )
    if ends:
        first, starts = min(ends), (min(ends), max(ends) + dt.timedelta(days=1))
        with warehouse.connect() as conn:
            fc = load_table(conn, "directional_forecasts", window=starts)
            ideas = load_table(conn, "recommendations", window=starts)
            tickers = sorted(set(fc["ticker"]) | set(ideas["ticker"]))
            closes = _closes(conn, tickers, first, hi)
            splits = load_table(conn, "splits", tickers=tickers)
            contracts = sorted({leg["contract_ticker"] for legs in ideas["legs"] for leg in legs})
            mids = _mids(conn, contracts, first, days[-1])
    if not splits.empty:
        splits["execution_date"] = pd.to_datetime(splits["execution_date"]).dt.date
    fc = fc[fc["horizon_sessions"] == forecasts.HORIZON] if not fc.empty else fc
    scored = _scored(fc, ends, closes, splits) if not fc.empty else fc.assign(resolves=None)
    forecast_rows = scored.rename(columns={"date": "forecast_date", "resolves": "date"}) \
        .reindex(columns=list(FORECAST_OUTCOME_COLUMNS))  # fmt: skip
    idea_rows = []
    if not ideas.empty:
        for _, idea in _scored(ideas, ends, closes, splits).iterrows():
            before = mids[(mids["date"] < idea["resolves"]) & (mids["date"] >= idea["date"])]
            last = before.sort_values("date").groupby("contract_ticker")["mid"].last().to_dict()
            today = mids[mids["date"] == idea["resolves"]].set_index("contract_ticker")["mid"]
            marked = _mark(idea, today.to_dict(), last, closes)
            idea_rows.append({**idea.to_dict(), **marked, "recommendation_date": idea["date"],
                              "date": idea["resolves"], "capital_at_risk": idea["capital_required"]})  # fmt: skip
    idea_frame = pd.DataFrame(idea_rows).reindex(columns=list(OUTCOME_COLUMNS))
    with (
        warehouse.write_slice("forecast_outcomes", (lo, hi)) as f_out,
        warehouse.write_slice("recommendation_outcomes", (lo, hi)) as r_out,
    ):
        f_out.write(forecast_rows)
        r_out.write(idea_frame)
    hit = float(forecast_rows["outcome"].mean()) if len(forecast_rows) else None
    yield dg.MaterializeResult(asset_key="forecast_outcomes", metadata={
        **f_out.result.metadata(), "sessions": len(days), "scored": len(forecast_rows),
        "share_up": round(hit, 4) if hit is not None else None})  # fmt: skip
    pnl = pd.to_numeric(idea_frame["pnl"], errors="coerce")
    yield dg.MaterializeResult(asset_key="recommendation_outcomes", metadata={
        **r_out.result.metadata(), "ideas_resolved": len(idea_frame),
        "total_pnl_dollars": round(float(pnl.sum()), 2) if len(pnl) else 0.0,
        "unmarked": int((idea_frame["mark_source"] == "unmarked").sum())})  # fmt: skip


@dg.asset_check(asset="recommendation_outcomes", name=OUTCOMES_NOT_BEFORE_HORIZON,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def recommendation_outcomes_not_before_horizon(
    context, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """Every outcome (ideas and forecasts) is dated exactly its horizon's sessions after its
    start: never earlier."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT date, recommendation_date, ticker, horizon_sessions FROM recommendation_outcomes"
            " WHERE date >= %s AND date < %s UNION ALL SELECT date, forecast_date, ticker,"
            " horizon_sessions FROM forecast_outcomes WHERE date >= %s AND date < %s",
            (lo, hi, lo, hi)).fetchall()  # fmt: skip
    bad = []
    if rows:
        calendar = nyse_sessions(min(r[1] for r in rows), max(r[0] for r in rows))
        index = {d: i for i, d in enumerate(calendar)}
        for end, start, ticker, h in rows:
            if index[end] - index[start] != h:
                bad.append(
                    (end, start, ticker, f"{index[end] - index[start]} sessions, horizon {h}")
                )
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "outcomes": len(rows),
            "early_or_late": len(bad),
            "examples (date start ticker)": examples(bad),
        },  # fmt: skip
    )
