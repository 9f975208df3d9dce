"""Scoring layer: `forecast_calibration`, per week (ending Friday) and over all time, for every
scored forecast and for the recommended subset (docs/domain.md, "Forecast evaluation").

For session E: the week containing E (forecasts resolved Saturday..Friday, up to E) and, on
the window's last session, all time up to E; Brier, BSS, the Murphy decomposition, ECE, log
loss, the reliability table and a bootstrap CI of the Brier score that resamples whole
sessions in circular moving blocks of the horizon (20 sessions): a session's forecasts share the
market's move, so blocks of rows understated the uncertainty (18.6 times too narrow on the demo). A weekly row is computed on the week's last session, or on
the window's last session for the week in progress.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from kapman_assets import forecasts, outcomes
from kapman_assets.analytics.forecast_scoring import (
    reliability_table,
    score_forecasts,
    session_block_brier_ci,
)
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window, window_bounds
from kapman_resources.calendar import nyse_sessions
from kapman_resources.warehouse import PostgresResource

GROUP = outcomes.GROUP
FORECAST_CALIBRATION_IDENTITY = "forecast_calibration_murphy_identity"
CALIBRATION_COLUMNS = (
    "date", "period", "subset", "n", "base_rate", "brier", "brier_skill", "reliability",
    "resolution", "uncertainty", "within_bin_variance", "within_bin_covariance", "ece",
    "log_loss", "brier_ci_low", "brier_ci_high", "reliability_json",
)  # fmt: skip
MIN_ROWS = 2


def week_end(day: dt.date) -> dt.date:
    """The Friday closing the Saturday..Friday week of `day`."""
    return day + dt.timedelta(days=(4 - day.weekday()) % 7)


def report_days(days: list[dt.date]) -> list[dt.date]:
    """Sessions that close a week (the last session on or before its Friday), and the last."""
    calendar = nyse_sessions(days[0], days[-1] + dt.timedelta(days=7))
    last_of_week = {}
    for d in calendar:
        last_of_week[week_end(d)] = d
    closing = {d for d in days if last_of_week[week_end(d)] == d}
    return sorted(closing | {days[-1]})


def _row(scored: pd.DataFrame, day: dt.date, period: str, subset: str) -> dict | None:
    if len(scored) < MIN_ROWS:
        return None
    frame = scored.sort_values("date", kind="stable")
    s = score_forecasts(frame)
    ci = session_block_brier_ci(frame["date"], frame["p_up"], frame["outcome"], forecasts.HORIZON)
    table = reliability_table(frame["p_up"].to_numpy(), frame["outcome"].to_numpy())
    return {
        "date": day, "period": period, "subset": subset, "n": int(s["n"]),
        "base_rate": s["base_rate"], "brier": s["brier"], "brier_skill": s["brier_skill_score"],
        "reliability": s["reliability"], "resolution": s["resolution"],
        "uncertainty": s["uncertainty"], "within_bin_variance": s["within_bin_variance"],
        "within_bin_covariance": s["within_bin_covariance"], "ece": s["ece"],
        "log_loss": s["log_loss"], "brier_ci_low": ci[0], "brier_ci_high": ci[1], "reliability_json": table.to_json(orient="records"),
    }  # fmt: skip


@dg.asset(
    group_name=GROUP,
    kinds={"postgres"},
    deps=["forecast_outcomes", "recommendation_outcomes"],
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=dg.AutomationCondition.eager(),
)
def forecast_calibration(context: dg.AssetExecutionContext, warehouse: PostgresResource):
    """Weekly and all-time scores of the forecasts and of the recommended subset."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    with warehouse.connect() as conn:
        subsets = {
            name: pd.DataFrame(conn.execute(query, (hi,)).fetchall(),
                               columns=["date", "p_up", "outcome"]).astype({"p_up": float})
            for name, query in {
                "forecasts": "SELECT date, p_up, outcome FROM forecast_outcomes WHERE date < %s",
                "recommended": "SELECT date, p_up, outcome FROM recommendation_outcomes"
                               " WHERE date < %s",
            }.items()
        }  # fmt: skip
    rows = []
    for day in report_days(days):
        monday = week_end(day) - dt.timedelta(days=6)
        for subset, scored in subsets.items():
            week = scored[(scored["date"] >= monday) & (scored["date"] <= day)]
            rows.append(_row(week, day, f"week:{week_end(day)}", subset))
            if day == days[-1]:
                rows.append(_row(scored[scored["date"] <= day], day, "all", subset))
    frame = pd.DataFrame([r for r in rows if r is not None], columns=list(CALIBRATION_COLUMNS))
    with warehouse.write_slice("forecast_calibration", (lo, hi)) as out:
        out.write(frame)
    overall = frame[(frame["period"] == "all") & (frame["subset"] == "forecasts")]
    meta = {**out.result.metadata(), "reports": len(frame)}
    if not overall.empty:
        top = overall.iloc[0]
        meta.update({"all_time_n": int(top["n"]), "all_time_brier": round(float(top["brier"]), 4),
                     "all_time_bss": round(float(top["brier_skill"]), 4),
                     "all_time_ece": round(float(top["ece"]), 4)})  # fmt: skip
    return dg.MaterializeResult(metadata=meta)


@dg.asset_check(asset=forecast_calibration, name=FORECAST_CALIBRATION_IDENTITY,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def forecast_calibration_murphy_identity(
    context, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """Brier = REL - RES + UNC + WBV - 2 WBC on every stored row (to 1e-9), and the reliability
    table's counts add up to n."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        rows = conn.execute(
            "SELECT date, period, subset, n, brier, reliability - resolution + uncertainty"
            " + within_bin_variance - 2 * within_bin_covariance, reliability_json"
            " FROM forecast_calibration WHERE date >= %s AND date < %s", (lo, hi)).fetchall()  # fmt: skip
    bad = [(d, p, s) for d, p, s, n, brier, terms, table in rows
           if abs(brier - terms) > 1e-9 or sum(b["n"] for b in (
               table if isinstance(table, list) else json.loads(table))) != n]  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "rows": len(rows),
            "broken": len(bad),
            "examples": ", ".join(map(str, bad[:5])),
        },  # fmt: skip
    )
