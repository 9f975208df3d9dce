"""Ideas layer: `directional_forecasts` (p_up of every analysed ticker-day) and the models behind
them in `forecast_models`, with their checks (docs/domain.md, "Directional forecast").

Training rows are the liquid ticker-days (close >= $5, ADV$20 >= $10M) of the stored universe
(`universe_features`, with IV - HV where the scope's tables have it), labelled from
split-adjusted closes of `ohlcv`. The model for session D is the one fitted on the first session
of D's month with the labels known that day. It is fitted once, when a run first needs it, and
upserted into `forecast_models` in the same transaction as that run's forecasts; later runs
reuse the stored model (config `refit` fits again), so a rerun of any window gives the same
p_up and tonight's run does not read the universe. Forecasts are made for the scope's rows
(`ticker_metrics` joined to `wyckoff_snapshots`).
"""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
from psycopg import sql

from kapman_assets import ohlcv, reference_data
from kapman_assets.analytics import forecast_model as fm
from kapman_assets.analytics.series import split_adjust
from kapman_assets.analytics.signal_edge import ADV_WINDOW, liquid
from kapman_assets.check_helpers import examples
from kapman_assets.partitions import TRADING_DAYS, sessions_in_window, window_bounds
from kapman_resources.calendar import nyse_sessions
from kapman_resources.warehouse import PostgresResource, load_table

GROUP = "ideas"
HORIZON = fm.DEFAULT_HORIZON
RETURN_SESSIONS = 20
DIRECTIONAL_FORECASTS_P_UP_VALID = "directional_forecasts_p_up_valid"
DIRECTIONAL_FORECASTS_MODEL_CURRENT = "directional_forecasts_model_current"
MODEL_VERSION = 2  # 2: trained on the liquid universe, 0/1 indicators not standardized
FORECAST_COLUMNS = ("date", "ticker", "horizon_sessions", "p_up", "p_model", "model_fit_date",
                    "model_fitted_at", "entry_close", "signal")  # fmt: skip
MODEL_COLUMNS = (
    "fit_date", "horizon_sessions", "features", "means", "scales", "coefficients", "intercept",
    "training_start", "training_end", "training_rows", "climatology", "brier_in_sample",
    "brier_out_of_sample", "brier_climatology_out_of_sample", "shrink_weight", "model_version",
    "fitted_at",
)  # fmt: skip
UPSERT_MODEL = sql.SQL(
    "INSERT INTO forecast_models ({cols}) VALUES ({values})"
    " ON CONFLICT (fit_date, horizon_sessions) DO UPDATE SET {updates}"
).format(
    cols=sql.SQL(", ").join(map(sql.Identifier, MODEL_COLUMNS)),
    values=sql.SQL(", ").join(sql.Placeholder() * len(MODEL_COLUMNS)),
    updates=sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in MODEL_COLUMNS[2:]
    ),
)
METRIC_INPUTS = ["ticker", "date", "close", "sma_50", "sma_200", "rsi_14", "hv_20", "rvol",
                 "adx_14", "iv_hv_diff"]  # fmt: skip
WYCKOFF_INPUTS = ["ticker", "date", "composite_score", "bc_score", "spring_score",
                  "wyckoff_phase", "signal"]  # fmt: skip
UNIVERSE_INPUTS = [
    c for c in METRIC_INPUTS + WYCKOFF_INPUTS if c not in ("close", "iv_hv_diff", "date", "ticker")
] + ["ticker", "date"]


def month_start(day: dt.date) -> dt.date:
    """The first NYSE session of the month of `day` (the refit day of its model)."""
    return nyse_sessions(day.replace(day=1), day)[0]


def _adjusted(bars: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """Split-adjusted close, the 20-session return, the liquidity flag, the labels."""
    bars = bars.assign(date=pd.to_datetime(bars["date"]))
    adj = split_adjust(bars, splits) if not splits.empty else bars.copy()
    adj = adj.assign(raw_close=bars["close"].astype(float), raw_volume=bars["volume"].astype(float))
    adj = adj.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    g = adj.groupby("ticker", sort=False)
    adj["return_20"] = adj["close"] / g["close"].shift(RETURN_SESSIONS) - 1.0
    adj["liquid"] = liquid(adj["ticker"], adj["raw_close"], adj["raw_volume"])  # the prints
    labels = fm.forward_labels(adj.loc[:, ["ticker", "date", "close"]], HORIZON)
    return adj.merge(labels, on=["ticker", "date"], how="left")


def model_frame(rows: pd.DataFrame, bars: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """Analysed ticker-days (the scope's tables or `universe_features`) with the model's
    features, computed on split-adjusted closes like the SMAs they are compared with, the label
    and the liquidity flag; `entry_close` is the session's raw print."""
    rows = rows.assign(date=pd.to_datetime(rows["date"]))
    adjusted = _adjusted(bars, splits).loc[
        :, ["ticker", "date", "close", "raw_close", "return_20", "liquid", "outcome", "label_date"]
    ]
    rows = rows.drop(columns=[c for c in ("close",) if c in rows]).merge(
        adjusted.rename(columns={"raw_close": "entry_close"}), on=["ticker", "date"], how="left"
    )
    for column in ("iv_hv_diff", "signal"):
        if column not in rows:
            rows[column] = None
    feature_rows = fm.features(rows)  # replaces the inputs of the same name (RSI, HV, IV-HV...)
    return pd.concat([rows.drop(columns=[c for c in fm.FEATURES if c in rows]), feature_rows],
                     axis=1)  # fmt: skip


def _bars(conn, first: dt.date, hi: dt.date, tickers) -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = load_table(conn, "ohlcv", columns=["ticker", "date", "open", "high", "low", "close",
                      "volume"], window=(first, hi), tickers=tickers)  # fmt: skip
    return bars, load_table(conn, "splits", tickers=tickers)


def _scope_inputs(warehouse: PostgresResource, first: dt.date, hi: dt.date) -> pd.DataFrame:
    """The scope's stored analytical rows from `first`, ready for the model."""
    with warehouse.connect() as conn:
        metrics = load_table(conn, "ticker_metrics", columns=METRIC_INPUTS, window=(first, hi))
        wyckoff = load_table(conn, "wyckoff_snapshots", columns=WYCKOFF_INPUTS, window=(first, hi))
        bars, splits = _bars(conn, first, hi, sorted(metrics["ticker"].unique()))
    return model_frame(metrics.merge(wyckoff, on=["ticker", "date"], how="inner"), bars, splits)


def _training_inputs(warehouse: PostgresResource, first: dt.date, hi: dt.date) -> pd.DataFrame:
    """The liquid universe's rows (`universe_features`) from `first`, with IV - HV where the
    scope's tables have it (a chain was stored), ready for the model."""
    with warehouse.connect() as conn:
        rows = load_table(conn, "universe_features", columns=UNIVERSE_INPUTS, window=(first, hi))
        iv = load_table(conn, "ticker_metrics", columns=["ticker", "date", "iv_hv_diff"],
                        window=(first, hi))  # fmt: skip
        bars, splits = _bars(conn, first, hi, sorted(rows["ticker"].unique()))
    return model_frame(rows.merge(iv, on=["ticker", "date"], how="left"), bars, splits)


def stored_models(warehouse: PostgresResource, fit_dates: list[dt.date]) -> dict:
    """{fit day: (model, fitted_at)} of the models of this code's MODEL_VERSION already fitted
    on these days (a month's model is fitted once)."""
    with warehouse.connect() as conn:
        found = conn.execute(
            sql.SQL("SELECT {} FROM forecast_models WHERE fit_date = ANY(%s)"
                    " AND horizon_sessions = %s AND model_version = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, MODEL_COLUMNS))),
            (fit_dates, HORIZON, MODEL_VERSION)).fetchall()  # fmt: skip
    models = {}
    for row in found:
        r = dict(zip(MODEL_COLUMNS, row, strict=True))
        models[r["fit_date"]] = r["fitted_at"], fm.FittedModel(
            fit_date=str(r["fit_date"]), horizon=r["horizon_sessions"],
            features=tuple(r["features"]), means=tuple(r["means"]), scales=tuple(r["scales"]),
            coefficients=tuple(r["coefficients"]), intercept=r["intercept"],
            training_start=str(r["training_start"]), training_end=str(r["training_end"]),
            rows=r["training_rows"], climatology=r["climatology"],
            brier_in_sample=r["brier_in_sample"], brier_out_of_sample=r["brier_out_of_sample"],
            brier_climatology_out_of_sample=r["brier_climatology_out_of_sample"],
            shrink_weight=r["shrink_weight"],
        )  # fmt: skip
    return {d: (m, at) for d, (at, m) in models.items() if m.features == fm.FEATURES}


def _model_row(model: fm.FittedModel, fitted_at: dt.datetime) -> tuple:
    record = model.as_record()
    return (
        record["fit_date"], record["horizon"], list(record["features"]), list(record["means"]),
        list(record["scales"]), list(record["coefficients"]), record["intercept"],
        record["training_start"], record["training_end"], record["rows"], record["climatology"],
        record["brier_in_sample"], record["brier_out_of_sample"],
        record["brier_climatology_out_of_sample"], record["shrink_weight"], MODEL_VERSION,
        fitted_at,
    )  # fmt: skip


def fit_models(training: pd.DataFrame, fit_dates: list[dt.date]) -> dict:
    """The model of each refit day from the liquid training rows (None: too little history)."""
    training = training[training["liquid"].eq(True)]
    return {fit: fm.fit_model(training, fit, HORIZON) for fit in fit_dates}


def forecasts_for_window(
    frame: pd.DataFrame, days: list[dt.date], models: dict, fitted_at: dict | None = None
) -> pd.DataFrame:
    """The window's forecast rows, each session by the model of its month's first session
    (`fitted_at`: which fit of that model, by refit day)."""
    window = frame[frame["date"].dt.date.isin(set(days))].copy()
    fit_of = {d: month_start(d) for d in set(window["date"].dt.date)}
    window["model_fit_date"] = window["date"].dt.date.map(fit_of)
    out = []
    for fit, rows in window.groupby("model_fit_date", sort=True):
        model = models.get(fit)
        rows = rows.dropna(subset=list(fm.FEATURES))
        if model is None or rows.empty:
            continue
        raw = fm.FittedModel(**{**model.as_record(), "shrink_weight": 1.0})
        out.append(rows.assign(p_up=fm.predict(model, rows), p_model=fm.predict(raw, rows),
                               model_fitted_at=(fitted_at or {}).get(fit)))  # fmt: skip
    if not out:
        return pd.DataFrame(columns=list(FORECAST_COLUMNS))
    result = pd.concat(out, ignore_index=True)
    result = result.assign(date=result["date"].dt.date, horizon_sessions=HORIZON)
    result["signal"] = result["signal"].where(result["signal"].notna(), None)
    return result.loc[:, list(FORECAST_COLUMNS)]


def sessions_before(day: dt.date, count: int) -> dt.date:
    """The NYSE session `count` sessions before `day` (day itself when count is 0)."""
    return nyse_sessions(day - dt.timedelta(days=count * 2 + 10), day)[-count - 1]


class ForecastConfig(dg.Config):
    refit: bool = False  # refit the months' models even where one is stored (after a data fix)


@dg.asset(
    group_name=GROUP,
    kinds={"postgres", "scikit-learn"},
    deps=[
        "ticker_metrics",
        "wyckoff_snapshots",
        "universe_features",
        ohlcv.ohlcv,
        reference_data.splits,
    ],  # fmt: skip
    partitions_def=TRADING_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    automation_condition=dg.AutomationCondition.eager(),
)
def directional_forecasts(
    context: dg.AssetExecutionContext, config: ForecastConfig, warehouse: PostgresResource
):
    """p_up over the next HORIZON sessions for every analysed ticker-day (walk-forward)."""
    lo, hi = window_bounds(context)
    days = sessions_in_window(context.partition_time_window)
    refits = sorted({month_start(d) for d in days})
    stored = {} if config.refit else stored_models(warehouse, refits)
    models = {d: m for d, (m, _) in stored.items()}
    fitted_at = {d: at for d, (_, at) in stored.items()}
    reused = len(models)
    missing = [d for d in refits if d not in models]
    training_rows = 0
    if missing:  # training rows: liquid universe sessions whose label is known on the refit day
        back = fm.TRAINING_SESSIONS + HORIZON + RETURN_SESSIONS + ADV_WINDOW
        training = _training_inputs(warehouse, sessions_before(missing[0], back),
                                    missing[-1] + dt.timedelta(days=1))  # fmt: skip
        training_rows = len(training)
        if training.empty:
            context.log.warning("no training rows: universe_features is empty; materialize the"
                                " `universe` job first (no model, no forecast)")  # fmt: skip
        models.update(fit_models(training, missing))
        now = dt.datetime.now(dt.UTC)
        fitted_at.update({d: now for d in missing if models[d] is not None})
    # return_20 shifts 20 stored rows: read twice that, so a ticker with gaps gets it too
    frame = _scope_inputs(warehouse, sessions_before(days[0], 2 * RETURN_SESSIONS + 10), hi)
    rows = forecasts_for_window(frame, days, models, fitted_at)
    fitted = [models[d] for d in missing if models[d] is not None]
    with warehouse.write_slice("directional_forecasts", (lo, hi)) as out:
        out.also(UPSERT_MODEL, [_model_row(m, fitted_at[dt.date.fromisoformat(m.fit_date)])
                                for m in fitted])  # fmt: skip
        out.write(rows)
    unfit = [str(d) for d, m in models.items() if m is None]
    present = [m for m in models.values() if m is not None]
    latest = max(present, key=lambda m: m.fit_date) if present else None
    context.log.info(f"{len(rows):,} forecasts for {len(days)} session(s); {len(fitted)} model(s)"
                     f" fitted, {reused} stored reused"
                     f"{'; too little history for ' + ', '.join(unfit) if unfit else ''}")  # fmt: skip
    meta = {**out.result.metadata(), "sessions": len(days), "models_fitted": len(fitted),
            "models_reused": reused, "training_rows_read": training_rows,
            "refit_days_without_a_model (< 200 labelled rows)": ", ".join(unfit)}  # fmt: skip
    if latest is not None:
        meta.update({
            "latest_model": latest.fit_date, "training_rows": latest.rows,
            "brier_out_of_sample": round(latest.brier_out_of_sample, 4),
            "brier_climatology_out_of_sample": round(latest.brier_climatology_out_of_sample, 4),
            "beats_climatology": latest.beats_climatology,
            "shrink_weight": round(latest.shrink_weight, 3),
        })  # fmt: skip
    if not rows.empty:
        meta["mean_p_up"] = float(np.round(rows["p_up"].mean(), 4))
    return dg.MaterializeResult(metadata=meta)


@dg.asset_check(asset=directional_forecasts, name=DIRECTIONAL_FORECASTS_P_UP_VALID,
                partitions_def=TRADING_DAYS, blocking=True)  # fmt: skip
def directional_forecasts_p_up_valid(context, warehouse: PostgresResource) -> dg.AssetCheckResult:
    """p_up inside [0, 1] and finite; each forecast's model exists and was fitted on or before
    its session with labels that ended before the fit."""
    lo, hi = window_bounds(context)
    with warehouse.connect() as conn:
        bad = conn.execute(
            "SELECT f.date, f.ticker, f.p_up, f.model_fit_date FROM directional_forecasts f"
            " LEFT JOIN forecast_models m ON m.fit_date = f.model_fit_date"
            "  AND m.horizon_sessions = f.horizon_sessions"
            " WHERE f.date >= %s AND f.date < %s AND (f.p_up = 'NaN' OR f.p_up NOT BETWEEN 0 AND 1"
            "  OR m.fit_date IS NULL OR m.fit_date > f.date OR m.training_end >= m.fit_date)"
            " ORDER BY 1, 2 LIMIT 100", (lo, hi)).fetchall()  # fmt: skip
        n = conn.execute("SELECT count(*) FROM directional_forecasts WHERE date >= %s"
                         " AND date < %s", (lo, hi)).fetchone()[0]  # fmt: skip
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={
            "forecasts": n,
            "invalid": len(bad),
            "examples (date ticker p_up model)": examples(bad),
        },  # fmt: skip
    )


@dg.asset_check(asset=directional_forecasts, name=DIRECTIONAL_FORECASTS_MODEL_CURRENT,
                partitions_def=TRADING_DAYS)  # fmt: skip
def directional_forecasts_model_current(context, warehouse: PostgresResource):
    """Every forecast of the window's months was made by the stored fit of its month's model
    (a month's model refitted by a later run, with `refit` or after a model-version change,
    leaves the month's other sessions on the earlier fit until they are rerun): warns and names
    the sessions to rerun."""
    lo, hi = window_bounds(context)
    first, last = lo.replace(day=1), hi - dt.timedelta(days=1)
    end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)  # after the last month
    with warehouse.connect() as conn:
        stale = conn.execute(
            "SELECT f.date, count(*) FROM directional_forecasts f JOIN forecast_models m"
            " ON m.fit_date = f.model_fit_date AND m.horizon_sessions = f.horizon_sessions"
            " WHERE f.date >= %s AND f.date < %s"
            " AND f.model_fitted_at IS DISTINCT FROM m.fitted_at GROUP BY f.date ORDER BY 1",
            (first, end)).fetchall()  # fmt: skip
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sessions_on_an_earlier_fit": len(stale),
            "rerun (ideas job) sessions": ", ".join(str(d) for d, _ in stale[:30]),
            "months_checked_from": str(first),
        },
    )
