"""Out-of-sample evaluation of the directional forecast model; writes docs/forecast_validation.md.

Reproduce: ``.venv/bin/python scripts/forecast_validation.py`` (deterministic, offline; about
90 s on 2 cores). ``--demo-tickers N`` shrinks the demo universe, ``--output PATH`` writes
the report elsewhere.

Two datasets: the demo market (kapman_resources/demo_market, simulated in memory exactly as
`write_demo_market` simulates it, no files and no database) and the vendored real series pooled
(SPY 1993-2021; AAPL, MSFT, IBM, GOOG 2000-2013; tests/fixtures/README.md). For each, the
model's input rows are built from bars as `kapman_assets/forecasts.py` builds them from the
warehouse (`analyze_tickers` for indicators, price metrics and Wyckoff scores; split-adjusted
closes for the 20-session return and the labels; the liquidity rule of `signal_edge.liquid` on
the raw prints; no option chains, so IV - HV is absent and its missing indicator is 1). Then the
asset's walk-forward: on the first session of every month a model is fitted by
`forecast_model.fit_model` with the labels known that day, and it forecasts every row of its
month (`forecast_model.predict`): `p_up` (shrunk as published) and the raw model p. Every
forecast whose 20-session outcome is in the data is scored with `forecast_scoring` (Brier, BSS,
ECE, log loss, Murphy terms, reliability table); confidence intervals come from the library's
circular moving-block resample (`block_bootstrap_indices`) drawn over sessions, so a session's
forecasts move together.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # the package, and the fixture loaders

from helpers.real_data import AAPL_SPLITS, load_bokeh_long, load_spy  # noqa: E402

from kapman_assets import forecasts  # noqa: E402
from kapman_assets.analytics import forecast_model as fm  # noqa: E402
from kapman_assets.analytics.forecast_scoring import (  # noqa: E402
    DEFAULT_ALPHA,
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    N_BINS,
    bin_indices,
    block_bootstrap_indices,
    reliability_table,
    score_forecasts,
)
from kapman_assets.analytics.ticker_analytics import analyze_tickers_chunks  # noqa: E402

OUTPUT = ROOT / "docs" / "forecast_validation.md"
COMMAND = ".venv/bin/python scripts/forecast_validation.py"
HORIZON = fm.DEFAULT_HORIZON
BLOCK_SESSIONS = HORIZON  # bootstrap block length in sessions (>= the horizon)
WORKERS = 2  # processes for the per-ticker analytics (this machine has 2 cores)
KEYS = ["ticker", "date"]
ANALYSED_COLUMNS = [
    "ticker", "date", "sma_50", "sma_200", "rsi_14", "hv_20", "rvol", "adx_14",
    "composite_score", "bc_score", "spring_score", "wyckoff_phase",
]  # fmt: skip
# The forecasts scored: the published p_up, the model before shrinkage, and the climatology the
# month's model was fitted with (the training base rate c: the reference known at the time).
FORECASTS = {
    "p_up": "p_up (published, shrunk)",
    "p_model": "raw model p (no shrinkage)",
    "climatology": "training climatology c",
}
POPULATIONS = {
    "liquid": "liquid ticker-days (close >= $5, ADV$20 >= $10M: the training population)",
    "all": "every forecast row, liquid or not (the asset forecasts every analysed ticker-day)",
}
# The demo window: 730 sessions (the OHLCV retention) from the demo's history start, fixed so
# that a rerun on a later day evaluates the same market.
DEMO_END = dt.date(2025, 11, 28)
# MSFT's 2003-02-18 2-for-1 split is unadjusted in the bokeh file too (scripts/
# wyckoff_event_study.py); AAPL's two splits are in tests/fixtures/README.md.
BOKEH_SPLITS = pd.concat(
    [
        AAPL_SPLITS,
        pd.DataFrame(
            {
                "ticker": ["MSFT"],
                "execution_date": pd.to_datetime(["2003-02-18"]),
                "split_from": [1.0],
                "split_to": [2.0],
            }
        ),
    ],
    ignore_index=True,
)

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Dataset:
    """Raw bars (`ticker, date, open, high, low, close, volume`), their splits, and the trading
    calendar when known (lets the gap rule see sessions without a row)."""

    name: str
    description: str
    long: pd.DataFrame
    splits: pd.DataFrame
    sessions: pd.DatetimeIndex | None = None


@dataclass
class Evaluation:
    """One dataset's walk-forward: its forecasts, the monthly models and their scores."""

    dataset: str
    description: str
    rows: int  # model input rows (ticker-days with bars)
    forecasts: pd.DataFrame  # every forecast, scored or not
    models: list[fm.FittedModel]
    refit_days: int  # first sessions of a month in the data (models attempted)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)  # population -> forecast rows
    reliability: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    by_year: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def scored(self) -> pd.DataFrame:
        return self.forecasts[self.forecasts["outcome"].notna()]


# --- datasets ---------------------------------------------------------------------------------


def demo_dataset(n_tickers: int | None = None, end: dt.date = DEMO_END) -> Dataset:
    """The demo market's raw prints and splits, simulated in memory as `write_demo_market` does
    (same symbols, parameters, seed and calendar; a ticker's path does not depend on n_tickers)."""
    from kapman_resources.calendar import nyse_sessions
    from kapman_resources.database import load_watchlist
    from kapman_resources.demo_market.simulation import simulate_market
    from kapman_resources.demo_market.universe import (
        split_schedule,
        synthetic_symbols,
        ticker_specs,
    )
    from kapman_resources.demo_market.writer import DEMO_START
    from kapman_resources.settings import DEFAULT_DEMO_SEED, DEFAULT_DEMO_TICKERS

    n_tickers = DEFAULT_DEMO_TICKERS if n_tickers is None else n_tickers
    seed = DEFAULT_DEMO_SEED
    watch = load_watchlist()
    sessions = pd.DatetimeIndex(nyse_sessions(DEMO_START, end))
    symbols = sorted(watch + synthetic_symbols(max(0, n_tickers - len(watch)), seed, watch))
    specs = ticker_specs(symbols, watch, seed, DEMO_START)
    schedule = split_schedule(specs, DEMO_START)
    bars = simulate_market(specs, schedule, seed, len(sessions))
    t, j = np.nonzero(bars["present"])
    long = pd.DataFrame({"ticker": np.asarray(symbols)[j], "date": sessions[t]})
    for column in ("open", "high", "low", "close", "volume"):
        long[column] = bars[column][t, j].astype(float)
    long = long.sort_values(KEYS, kind="stable", ignore_index=True)
    inside = schedule[(schedule["at"] > 0) & (schedule["at"] < len(sessions))]  # as simulated
    splits = pd.DataFrame({
        "ticker": inside["ticker"].to_numpy(),
        "execution_date": sessions[inside["at"].to_numpy()],
        "split_from": inside["split_from"].astype(float).to_numpy(),
        "split_to": inside["split_to"].astype(float).to_numpy(),
    })  # fmt: skip
    return Dataset(
        name="demo market",
        description=(
            f"kapman_resources/demo_market (seed {seed}): {long['ticker'].nunique():,} tickers "
            f"(the {len(watch)} watchlist symbols and synthetic ones, illiquid and penny stocks "
            f"included), {len(sessions)} NYSE sessions {sessions[0].date()} .. "
            f"{sessions[-1].date()}, {len(splits)} splits inside the window, raw prints "
            "split-adjusted with `series.split_adjust`"
        ),
        long=long,
        splits=splits,
        sessions=sessions,
    )


def real_dataset() -> Dataset:
    """SPY 1993-2021 and the four bokeh stocks 2000-2013, pooled as one universe."""
    spy = load_spy().reset_index().assign(ticker="SPY")
    long = pd.concat([spy.loc[:, ["ticker", *spy.columns[:-1]]], load_bokeh_long()],
                     ignore_index=True)  # fmt: skip
    long = long.sort_values(KEYS, kind="stable", ignore_index=True)
    return Dataset(
        name="real series (pooled)",
        description=(
            "SPY 1993-01-29 .. 2021-08-19 (pandas-ta test file: dividend-adjusted prints, no "
            "splits) and AAPL, MSFT, IBM 2000-03-01 .. 2013-03-01, GOOG 2004-08-19 .. "
            "2013-03-01 (bokeh sample data: raw prints, split-adjusted for AAPL's 2000-06-21 "
            "and 2005-02-28 and MSFT's 2003-02-18 2-for-1 splits), pooled as one 5-ticker "
            "universe; each series on its own dates"
        ),
        long=long,
        splits=BOKEH_SPLITS.copy(),
    )


# --- the model's input rows, as kapman_assets/forecasts.py builds them ---------------------------


def model_rows(
    dataset: Dataset, horizon: int = HORIZON, workers: int = WORKERS, progress: Progress = _quiet
) -> pd.DataFrame:
    """One row per ticker-day with bars: the model's FEATURES, `liquid`, `outcome`,
    `label_date`, built by the asset's own `forecasts.model_frame` from the analysed rows and
    the bars (IV - HV is absent: no chains). The horizon is the asset's (`forecasts.HORIZON`)."""
    if horizon != forecasts.HORIZON:
        raise ValueError(f"the asset's inputs are built for a {forecasts.HORIZON}-session horizon")
    clock = time.perf_counter()
    tickers = dataset.long["ticker"].nunique()
    parts, done = [], 0
    chunks = analyze_tickers_chunks(
        dataset.long, dataset.splits, with_json=False, workers=workers, sessions=dataset.sessions
    )
    for i, chunk in enumerate(chunks):
        parts.append(chunk.loc[:, ANALYSED_COLUMNS])
        done += chunk["ticker"].nunique()
        if i % 6 == 5 or done == tickers:
            progress(f"  analytics {done:,}/{tickers:,} tickers"
                     f" ({time.perf_counter() - clock:.0f} s)")  # fmt: skip
    analysed = pd.concat(parts, ignore_index=True).assign(iv_hv_diff=np.nan)  # no chains
    rows = forecasts.model_frame(analysed, dataset.long, dataset.splits)
    rows = rows.dropna(subset=["outcome", "label_date", "close"], how="all")  # gap-filled days
    return rows.sort_values(KEYS, kind="stable", ignore_index=True)


# --- walk-forward ---------------------------------------------------------------------------


def largest_term(model: fm.FittedModel, rows: pd.DataFrame) -> np.ndarray:
    """Per row, the feature whose term coefficient x standardized value moves the raw model's
    log-odds most (a diagnostic of extreme forecasts)."""
    x = rows.loc[:, list(model.features)].to_numpy(float)
    terms = (
        (x - np.asarray(model.means)) / np.asarray(model.scales) * np.asarray(model.coefficients)
    )
    return np.asarray(model.features)[np.argmax(np.abs(terms), axis=1)]


def walk_forward(
    rows: pd.DataFrame, horizon: int = HORIZON, progress: Progress = _quiet
) -> tuple[pd.DataFrame, list[fm.FittedModel], int]:
    """The asset's walk-forward over the whole dataset: the model of each month's first session
    (fitted on the liquid rows with labels known that day) forecasts every row of its month.

    Returns the forecasts (ticker, date, liquid, outcome, label_date, model_fit_date,
    training_end, shrink_weight, climatology, p_up, p_model), the models and the refit days.
    """
    training = rows.loc[rows["liquid"].fillna(False).astype(bool),
                        ["ticker", "date", "label_date", "outcome", *fm.FEATURES]]  # fmt: skip
    training = training.dropna(subset=["outcome", *fm.FEATURES])  # fit_model drops them anyway
    dates = pd.to_datetime(rows["date"])
    fits = fm.refit_dates([d.date() for d in dates.drop_duplicates()])
    month_fit = {pd.Period(f, "M"): f for f in fits}
    fit_of = dates.dt.to_period("M").map(month_fit)
    out, models, clock = [], [], time.perf_counter()
    for i, (fit, month) in enumerate(rows.groupby(fit_of, sort=True)):
        model = fm.fit_model(training, fit, horizon)
        month = month.dropna(subset=list(fm.FEATURES))
        if i % 12 == 11 or i == len(fits) - 1:
            progress(f"  refit {i + 1}/{len(fits)} ({fit}; {time.perf_counter() - clock:.0f} s)")
        if model is None or month.empty:
            continue
        raw = fm.FittedModel(**{**model.as_record(), "shrink_weight": 1.0})
        models.append(model)
        out.append(month.loc[:, [*KEYS, "liquid", "outcome", "label_date"]].assign(
            model_fit_date=fit, training_end=dt.date.fromisoformat(model.training_end),
            shrink_weight=model.shrink_weight, climatology=model.climatology,
            p_up=fm.predict(model, month), p_model=fm.predict(raw, month),
            largest_term=largest_term(model, month),
        ))  # fmt: skip
    columns = [*KEYS, "liquid", "outcome", "label_date", "model_fit_date", "training_end",
               "shrink_weight", "climatology", "p_up", "p_model", "largest_term"]  # fmt: skip
    if not out:
        return pd.DataFrame(columns=columns), models, len(fits)
    forecasts = pd.concat(out, ignore_index=True)
    return forecasts.sort_values(KEYS, kind="stable", ignore_index=True), models, len(fits)


# --- scoring ----------------------------------------------------------------------------------


def resample_weights(
    n_sessions: int,
    block: int = BLOCK_SESSIONS,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
) -> np.ndarray:
    """(n_boot, n_sessions) counts of each session in each circular moving-block resample of the
    sessions (`block_bootstrap_indices`, block = min(block, n_sessions))."""
    idx = block_bootstrap_indices(n_sessions, min(block, n_sessions), n_boot, seed)
    flat = (np.arange(n_boot)[:, np.newaxis] * n_sessions + idx).ravel()
    return np.bincount(flat, minlength=n_boot * n_sessions).reshape(n_boot, n_sessions)


def _interval(stats: np.ndarray, alpha: float = DEFAULT_ALPHA) -> tuple:
    """Percentile interval along axis 0, NaN resamples ignored (as `moving_block_bootstrap_ci`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: empty bins
        lo, hi = np.nanquantile(np.asarray(stats, dtype=float), [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


def resample_statistics(scored: pd.DataFrame, weights: np.ndarray) -> dict[str, dict]:
    """Per forecast column and session resample: Brier, BSS (against the resample's own base
    rate, as `brier_skill_score`), skill vs c = 1 - Brier(p) / Brier(c), and the observed
    frequency per bin (n_boot x N_BINS, NaN where the bin is empty).

    `weights[b, s]` counts how often resample b draws the s-th scored session (in date order);
    each figure is computed from per-session sums, i.e. it is the metric of the resample's rows.
    """
    sessions, s = np.unique(scored["date"].to_numpy(), return_inverse=True)
    n_sessions = sessions.size
    if weights.shape[1] != n_sessions:
        raise ValueError("weights must have one column per scored session")
    y = scored["outcome"].to_numpy(float)
    w = weights.astype(float)
    n_b = w @ np.bincount(s, minlength=n_sessions)
    ybar = (w @ np.bincount(s, weights=y, minlength=n_sessions)) / n_b
    unc = ybar * (1.0 - ybar)
    brier = {col: w @ np.bincount(s, weights=(scored[col].to_numpy(float) - y) ** 2,
                                  minlength=n_sessions) / n_b for col in FORECASTS}  # fmt: skip
    out = {}
    for col in FORECASTS:
        cell = s * N_BINS + bin_indices(scored[col].to_numpy(float))
        counts = np.bincount(cell, minlength=n_sessions * N_BINS).reshape(n_sessions, N_BINS)
        ups = np.bincount(cell, weights=y, minlength=n_sessions * N_BINS)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[col] = {
                "brier": brier[col],
                "bss": np.where(unc > 0, 1.0 - brier[col] / unc, np.nan),
                "skill_vs_c": np.where(brier["climatology"] > 0,
                                       1.0 - brier[col] / brier["climatology"], np.nan),
                "frequency": (w @ ups.reshape(n_sessions, N_BINS)) / (w @ counts),
            }  # fmt: skip
    return out


def score_population(
    scored: pd.DataFrame,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    row_block: bool = True,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Per forecast column: `score_forecasts` (point figures) with the session-bootstrap CIs,
    Brier(c) and skill vs c; and the reliability table with a CI on each bin's frequency."""
    scored = scored.sort_values("date", kind="stable")
    sessions = scored["date"].nunique()
    weights = resample_weights(sessions, BLOCK_SESSIONS, n_boot, seed)
    stats = resample_statistics(scored, weights)
    brier_c = float(np.mean((scored["climatology"] - scored["outcome"]) ** 2))
    rows, tables = {}, {}
    for col in FORECASTS:
        frame = scored.loc[:, ["date", "outcome", col]].rename(columns={col: "p_up"})
        # p_up also gets the library's own row-block Brier CI, as `forecast_calibration` runs
        # it (block = the horizon in rows, rows in date order), for comparison
        block = min(HORIZON, len(frame)) if col == "p_up" and row_block else None
        point = score_forecasts(frame, block_length=block)
        ci = {k: _interval(v) for k, v in stats[col].items() if k != "frequency"}
        rows[col] = {
            **point.to_dict(), "sessions": sessions, "brier_climatology": point["uncertainty"],
            "brier_training_climatology": brier_c,
            "skill_vs_c": 1.0 - point["brier"] / brier_c if brier_c > 0 else float("nan"),
            "row_block_brier_ci_lo": point.get("brier_ci_lo", np.nan),
            "row_block_brier_ci_hi": point.get("brier_ci_hi", np.nan),
            "brier_ci_lo": ci["brier"][0], "brier_ci_hi": ci["brier"][1],
            "bss_ci_lo": ci["bss"][0], "bss_ci_hi": ci["bss"][1],
            "skill_vs_c_ci_lo": ci["skill_vs_c"][0], "skill_vs_c_ci_hi": ci["skill_vs_c"][1],
        }  # fmt: skip
        table = reliability_table(frame["p_up"].to_numpy(), frame["outcome"].to_numpy())
        lo, hi = _interval(stats[col]["frequency"])  # per bin
        tables[col] = table.assign(ci_lo=lo[table["bin"]], ci_hi=hi[table["bin"]])
    return pd.DataFrame.from_dict(rows, orient="index"), tables


def scores_by_year(scored: pd.DataFrame) -> pd.DataFrame:
    """p_up per calendar year of the forecast date: n, base rate, Brier, BSS, skill vs c."""
    out = []
    for year, part in scored.groupby(pd.to_datetime(scored["date"]).dt.year, sort=True):
        s = score_forecasts(part.loc[:, ["outcome", "p_up"]])
        brier_c = float(np.mean((part["climatology"] - part["outcome"]) ** 2))
        vs_c = 1.0 - s["brier"] / brier_c if brier_c > 0 else np.nan
        out.append({"year": int(year), "n": int(s["n"]), "base_rate": s["base_rate"],
                    "brier": s["brier"], "bss": s["brier_skill_score"],
                    "skill_vs_c": vs_c})  # fmt: skip
    return pd.DataFrame(out)


def evaluate(
    dataset: Dataset,
    horizon: int = HORIZON,
    workers: int = WORKERS,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    progress: Progress = _quiet,
) -> Evaluation:
    """Input rows, walk-forward forecasts and their scores for one dataset."""
    rows = model_rows(dataset, horizon, workers, progress)
    progress(f"  {len(rows):,} ticker-days; walk-forward with monthly refits")
    # one BLAS thread: these small fits gain nothing from two, and under load the spinning
    # threads made the walk-forward 4x slower; one thread also fixes the summation order
    with threadpool_limits(limits=1):
        forecasts, models, refits = walk_forward(rows, horizon, progress)
    result = Evaluation(dataset.name, dataset.description, len(rows), forecasts, models, refits)
    scored = result.scored.assign(date=lambda f: pd.to_datetime(f["date"]))
    n_liquid = int(scored["liquid"].astype(bool).sum())
    for population in POPULATIONS:
        part = scored[scored["liquid"].astype(bool)] if population == "liquid" else scored
        if population == "all" and len(part) == n_liquid:
            continue  # every forecast was on a liquid ticker-day: the same rows again
        if part["outcome"].nunique() < 2:
            continue  # nothing to score
        progress(f"  scoring {population}: {len(part):,} forecasts")
        result.scores[population], result.reliability[population] = score_population(
            part, n_boot, seed, row_block=population == "liquid"
        )
        result.by_year[population] = scores_by_year(part)
    return result


# --- the report -------------------------------------------------------------------------------

EXTREME = 0.05  # raw forecasts below this or above 1 - this are reported with their largest term


def _f(value: float, digits: int = 4) -> str:
    return "-" if pd.isna(value) else f"{value:.{digits}f}"


def _s(value: float, digits: int = 4) -> str:
    return "-" if pd.isna(value) else f"{value:+.{digits}f}"


def _ci(lo: float, hi: float, digits: int = 4) -> str:
    return "-" if pd.isna(lo) else f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _population_title(population: str) -> str:
    return "liquid ticker-days" if population == "liquid" else "every forecast row"


def summary_table(results: list[Evaluation]) -> list[str]:
    lines = [
        "| dataset | scored forecasts | n | sessions | Brier | climatology Brier ȳ(1−ȳ) | "
        "BSS [95% CI] | ECE | log loss | Brier of c | raw model p: Brier, BSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for population, scores in result.scores.items():
            r, raw = scores.loc["p_up"], scores.loc["p_model"]
            lines.append(
                f"| {result.dataset} | p_up, {_population_title(population)} | {int(r['n']):,} | "
                f"{int(r['sessions']):,} | {_f(r['brier'])} | {_f(r['brier_climatology'])} | "
                f"**{_s(r['brier_skill_score'])}** {_ci(r['bss_ci_lo'], r['bss_ci_hi'])} | "
                f"{_f(r['ece'])} | {_f(r['log_loss'])} | {_f(r['brier_training_climatology'])} | "
                f"{_f(raw['brier'])}, {_s(raw['brier_skill_score'])} |"
            )
    return lines


def score_table(scores: pd.DataFrame) -> list[str]:
    lines = [
        "| forecast | n | sessions | base rate ȳ | Brier [95% CI] | climatology Brier ȳ(1−ȳ) "
        "| BSS [95% CI] | Brier of c | skill vs c [95% CI] | ECE | log loss |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for col, r in scores.iterrows():
        vs_c = f"{_s(r['skill_vs_c'])} {_ci(r['skill_vs_c_ci_lo'], r['skill_vs_c_ci_hi'])}"
        if col == "climatology":
            vs_c = "0 (itself)"
        lines.append(
            f"| {FORECASTS[col]} | {int(r['n']):,} | {int(r['sessions']):,} | "
            f"{_f(r['base_rate'])} | {_f(r['brier'])} [{_f(r['brier_ci_lo'])}, "
            f"{_f(r['brier_ci_hi'])}] | {_f(r['brier_climatology'])} | {_s(r['brier_skill_score'])}"
            f" {_ci(r['bss_ci_lo'], r['bss_ci_hi'])} | {_f(r['brier_training_climatology'])} | "
            f"{vs_c} | {_f(r['ece'])} | {_f(r['log_loss'])} |"
        )
    return lines


def murphy_table(scores: pd.DataFrame) -> list[str]:
    lines = [
        "| forecast | Brier | REL | RES | UNC | WBV | WBC | REL − RES + UNC + WBV − 2·WBC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col, r in scores.iterrows():
        total = (r["reliability"] - r["resolution"] + r["uncertainty"] + r["within_bin_variance"]
                 - 2 * r["within_bin_covariance"])  # fmt: skip
        cells = [r[k] for k in ("brier", "reliability", "resolution", "uncertainty",
                                "within_bin_variance", "within_bin_covariance")]  # fmt: skip
        lines.append(f"| {FORECASTS[col]} | " + " | ".join(_f(v, 6) for v in cells)
                     + f" | {_f(total, 6)} |")  # fmt: skip
    return lines


def reliability_lines(table: pd.DataFrame) -> list[str]:
    lines = [
        "| bin | n | mean p | observed frequency | 95% CI | observed − mean p |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {'[' if r.bin == 0 else '('}{r.bin_lower:.1f}, {r.bin_upper:.1f}] | {r.n:,} | "
            f"{r.mean_forecast:.4f} | {r.observed_frequency:.4f} | [{_f(r.ci_lo)}, {_f(r.ci_hi)}]"
            f" | {r.observed_frequency - r.mean_forecast:+.4f} |"
        )
    return lines


def year_table(table: pd.DataFrame) -> list[str]:
    lines = ["| year | n | base rate | Brier | BSS | skill vs c |", "|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.year} | {r.n:,} | {_f(r.base_rate)} | {_f(r.brier)} | {_s(r.bss)} | "
                     f"{_s(r.skill_vs_c)} |")  # fmt: skip
    return lines


def extreme_forecasts(forecasts: pd.DataFrame) -> tuple[int, pd.Series]:
    """Raw forecasts outside [EXTREME, 1 - EXTREME]: their count and their largest terms."""
    extreme = forecasts[(forecasts["p_model"] < EXTREME) | (forecasts["p_model"] > 1 - EXTREME)]
    return len(extreme), extreme["largest_term"].value_counts()


def model_summary(result: Evaluation) -> list[str]:
    models = result.models
    if not models:
        return [f"No month had {fm.MIN_TRAINING_ROWS} labelled liquid rows: no model, no forecast."]
    weights = np.array([m.shrink_weight for m in models])
    beat = sum(m.beats_climatology for m in models)
    rows = np.array([m.rows for m in models])
    clim = np.array([m.climatology for m in models])
    f = result.forecasts
    n_extreme, terms = extreme_forecasts(f)
    published = int(((f["p_up"] < EXTREME) | (f["p_up"] > 1 - EXTREME)).sum())
    lines = [
        f"- {len(models)} monthly models ({models[0].fit_date} .. {models[-1].fit_date}) out of "
        f"{result.refit_days} month starts in the data; the others had fewer than "
        f"{fm.MIN_TRAINING_ROWS} labelled liquid rows with complete features (SMA200 needs 200 "
        "bars) and forecast nothing.",
        f"- Training rows per model: median {int(np.median(rows)):,} (min {rows.min():,}, max "
        f"{rows.max():,}); training climatology c from {clim.min():.3f} to {clim.max():.3f}.",
        f"- {beat} of {len(models)} models beat climatology on their own held-out validation "
        f"(last {fm.VALIDATION_SHARE:.0%} of the training sessions) and were published unshrunk;"
        f" {len(models) - beat} were shrunk toward c. Shrink weight w: mean {weights.mean():.3f},"
        f" median {np.median(weights):.3f}; {int((weights == 0).sum())} models with w = 0 "
        "(forecast = c exactly).",
        f"- Spread of the forecasts (standard deviation over all forecast rows): raw model p "
        f"{f['p_model'].std():.4f}, published p_up {f['p_up'].std():.4f}.",
        f"- {len(f):,} forecasts, {int(f['outcome'].notna().sum()):,} with a known outcome "
        f"(the rest are within {HORIZON} sessions of the data's end).",
    ]
    if n_extreme:
        top = ", ".join(f"{name} {count:,}" for name, count in terms.head(4).items())
        lines.append(
            f"- {n_extreme:,} raw forecasts ({n_extreme / len(f):.1%}) are below {EXTREME} or "
            f"above {1 - EXTREME:.2f} ({published:,} published p_up, after shrinkage). The "
            f"feature whose term moves their log-odds most (count of those forecasts): {top}."
        )
        if str(terms.index[0]).startswith("phase_"):
            lines[-1] += (
                " A one-hot phase that was rare in a model's training window has a tiny standard"
                " deviation there, so a row in that phase gets a standardized value of tens of"
                " units and saturates the logistic."
            )
    return lines


def reading(result: Evaluation) -> list[str]:
    """Plain statements from the figures (liquid population first; no claims beyond them)."""
    population = "liquid" if "liquid" in result.scores else next(iter(result.scores), None)
    if population is None:
        return ["- Too few scored forecasts to say anything."]
    s = result.scores[population]
    up, raw = s.loc["p_up"], s.loc["p_model"]
    notes = []
    bss, lo, hi = up["brier_skill_score"], up["bss_ci_lo"], up["bss_ci_hi"]
    if bss <= 0:
        verdict = (
            f"**the published p_up does not beat climatology**: BSS {bss:+.4f} (95% CI "
            f"[{lo:+.4f}, {hi:+.4f}]{', entirely below 0' if hi < 0 else ''})"
        )
    elif lo > 0:
        verdict = (
            f"the published p_up beats climatology: BSS {bss:+.4f}, 95% CI [{lo:+.4f}, "
            f"{hi:+.4f}] excludes 0"
        )
    else:
        verdict = (
            f"the published p_up has a positive BSS point estimate ({bss:+.4f}) but its 95% CI "
            f"[{lo:+.4f}, {hi:+.4f}] includes 0: skill over climatology is not established"
        )
    notes.append(f"- On the {_population_title(population)}, {verdict}.")
    vs_c, vlo, vhi = up["skill_vs_c"], up["skill_vs_c_ci_lo"], up["skill_vs_c_ci_hi"]
    gap = up["brier_training_climatology"] - up["brier_climatology"]
    notes.append(
        f"- Against the climatology known when each forecast was made (the training base rate c,"
        f" Brier {up['brier_training_climatology']:.4f}) the skill of p_up is {vs_c:+.4f} "
        f"(95% CI [{vlo:+.4f}, {vhi:+.4f}]): p_up is "
        + ("worse than" if vhi < 0 else "better than" if vlo > 0 else "not distinguishable from")
        + " simply forecasting c. BSS measures against the sample's own base rate ȳ, which no "
        "forecaster knew in advance; c itself scores "
        f"BSS {s.loc['climatology', 'brier_skill_score']:+.4f} because the base rate drifts "
        f"(c's Brier exceeds ȳ(1−ȳ) by {gap:.4f})."
    )
    weights = np.array([m.shrink_weight for m in result.models])
    shrunk = int((weights < 1).sum())
    effect = ("shrinkage made the forecasts worse than the raw model" if raw["brier"] < up["brier"]
              else "shrinkage improved on the raw model" if raw["brier"] > up["brier"]
              else "shrinkage changed nothing")  # fmt: skip
    notes.append(
        f"- The raw model p scores Brier {raw['brier']:.4f} (BSS {raw['brier_skill_score']:+.4f},"
        f" 95% CI [{raw['bss_ci_lo']:+.4f}, {raw['bss_ci_hi']:+.4f}]) against p_up's "
        f"{up['brier']:.4f}: {effect}. {shrunk} of {len(weights)} monthly models did not beat "
        "climatology on their own validation and were shrunk toward it (c + w·(p − c), mean w "
        f"{weights.mean():.3f}), so the published p_up sits close to c by design: where the "
        "model has no skill, shrinkage pulls it toward climatology, which limits the damage "
        "but cannot add skill."
    )
    notes.append(
        f"- Calibration and resolution: ECE {up['ece']:.4f} for p_up, {raw['ece']:.4f} for the "
        f"raw model. Resolution RES {up['resolution']:.6f} against reliability REL "
        f"{up['reliability']:.6f} (Murphy terms of p_up): the bins' observed frequencies "
        f"spread by {np.sqrt(up['resolution']):.4f} around ȳ (root mean square), less than "
        f"the miscalibration {np.sqrt(up['reliability']):.4f}"
        if up["resolution"] < up["reliability"] else
        f"- Calibration and resolution: ECE {up['ece']:.4f} for p_up, {raw['ece']:.4f} for the "
        f"raw model. Resolution RES {up['resolution']:.6f} exceeds reliability REL "
        f"{up['reliability']:.6f} (Murphy terms of p_up)"
    )  # fmt: skip
    notes[-1] += "."
    row_lo, row_hi = up["row_block_brier_ci_lo"], up["row_block_brier_ci_hi"]
    if not pd.isna(row_lo) and up["sessions"] < up["n"]:
        ratio = (up["brier_ci_hi"] - up["brier_ci_lo"]) / max(row_hi - row_lo, 1e-12)
        per_session = up["n"] / up["sessions"]
        per = f"{per_session:,.{0 if per_session >= 10 else 1}f}"
        notes.append(
            f"- The session-block interval of p_up's Brier, [{up['brier_ci_lo']:.4f}, "
            f"{up['brier_ci_hi']:.4f}], is {ratio:.1f} times as wide as the row-block interval "
            f"`score_forecasts(..., block_length={HORIZON})` gives on the same rows, "
            f"[{row_lo:.4f}, {row_hi:.4f}] (the interval `forecast_calibration` stores): with "
            f"{per} forecasts per session, a block of {HORIZON} rows covers "
            f"{HORIZON / per_session:.2g} sessions rather than the {HORIZON} sessions over which "
            "outcomes overlap, and splits a session's forecasts, which share the market's move."
        )
    return notes


def render(results: list[Evaluation], command: str = COMMAND) -> str:
    lines = [
        "# Directional forecast: out-of-sample validation",
        "",
        "Generated by `scripts/forecast_validation.py` (deterministic; about a minute and a half "
        "on 2 cores; rerun it after any change to the model, its features or the analytics). The "
        "model: [domain.md › Directional forecast](domain.md#directional-forecast) and "
        "`kapman_assets/analytics/forecast_model.py`; the scores: "
        "[forecast_scoring.md](forecast_scoring.md).",
        "",
        "## Summary",
        "",
        "Published p_up, every out-of-sample forecast with a known outcome; c = the training "
        "climatology of the month's model.",
        "",
        *summary_table(results),
        "",
        "## How it was computed",
        "",
        f"- **Target**: y = 1 if the split-adjusted close {HORIZON} sessions later is above the "
        "close of the forecast day (`forecast_model.forward_labels`; sessions = the ticker's "
        "rows).",
        "- **Inputs**: built from bars the way `directional_forecasts` builds them from the "
        "warehouse: `analyze_tickers` (indicators, price metrics, Wyckoff scores and phase, "
        "over each ticker's whole split-adjusted series), the 20-session return of the "
        "split-adjusted close, liquidity (close >= $5 and ADV$20 >= $10M on the raw prints, "
        "`signal_edge.liquid`), then `forecast_model.features`. No option chains exist here, so "
        "IV − HV is absent on every row (its missing indicator is 1, its value 0). The close in "
        "close/SMA50 and close/SMA200 is the split-adjusted close, like the SMAs it is compared "
        "with.",
        f"- **Walk-forward**: on the first session of each month F, `fit_model` fits the L2 "
        f"logistic regression (C = {fm.L2_C}) on the liquid rows whose label was known on F "
        f"(t + {HORIZON} sessions <= F), the last {fm.TRAINING_SESSIONS} such sessions (fewer at "
        f"the start of the data), at least {fm.MIN_TRAINING_ROWS} rows; its shrink weight comes "
        f"from its own held-out last {fm.VALIDATION_SHARE:.0%} of those sessions (after an "
        f"embargo of {HORIZON} sessions). That model forecasts every row of F's month with "
        "complete features, liquid or not, as the asset does: `p_up` (after shrinkage) and the "
        "raw model p (shrink weight 1).",
        "- **Out of sample** means: every forecast for session D comes from a model fitted on the "
        "first session F of D's month with no row whose outcome was unknown on F, so neither the "
        f"forecast's own outcome (known at D + {HORIZON} sessions > F) nor any later price "
        "entered its model. The features are causal (a value at t uses bars <= t). The split "
        "adjustment uses splits that happened later, as a stored history does, but it only "
        "rescales prices.",
        f"- **Scored**: every forecast whose outcome is in the data, in two populations: "
        f"{POPULATIONS['liquid']}, and {POPULATIONS['all']} (shown only where it differs). "
        "Three forecasts: the published `p_up`, the raw model p, and the training climatology c "
        "of the month's model (the base-rate forecast known at the time).",
        "- **Scores** (`forecast_scoring.score_forecasts`, `reliability_table`): Brier; the "
        "climatology Brier ȳ(1−ȳ) and BSS = 1 − Brier/ȳ(1−ȳ) against the scored sample's own "
        "base rate ȳ; the Brier of c and the skill against it, 1 − Brier/Brier(c); ECE and the "
        "reliability table over 10 equal-width bins; log loss; the Murphy decomposition "
        "REL − RES + UNC + WBV − 2·WBC.",
        f"- **95% CIs**: percentile intervals over {DEFAULT_N_BOOT:,} circular moving-block "
        f"resamples of the scored sessions (`forecast_scoring.block_bootstrap_indices`, block = "
        f"{BLOCK_SESSIONS} sessions = the horizon, seed {DEFAULT_SEED}): all forecasts of a "
        "session move together, since same-day forecasts share the market's move, and blocks "
        f"span the overlap of consecutive {HORIZON}-session outcomes. Each resample's figure is "
        "the metric of the rows it draws; a reliability bin's interval ignores resamples that "
        "leave the bin empty.",
        "",
    ]
    for result in results:
        lines += [f"## {result.dataset}", "", f"Data: {result.description}.", ""]
        if not result.scores:
            lines += ["No scored forecasts.", ""]
            continue
        lines += model_summary(result)
        if "all" not in result.scores:
            lines.append("- Every scored forecast was on a liquid ticker-day.")
        lines.append("")
        for population, scores in result.scores.items():
            lines += [f"### Scores: {POPULATIONS[population]}", "", *score_table(scores), ""]
            lines += ["Murphy decomposition:", "", *murphy_table(scores), ""]
        for population, tables in result.reliability.items():
            for col in ("p_up", "p_model"):
                lines += [f"### Reliability: {FORECASTS[col]}, {_population_title(population)}",
                          "", *reliability_lines(tables[col]), ""]  # fmt: skip
        for population, table in result.by_year.items():
            lines += [f"### p_up by year of the forecast, {_population_title(population)}", "",
                      *year_table(table), ""]  # fmt: skip
            break  # the first population (liquid) is enough
        lines += ["### Reading", "", *reading(result), ""]
    lines += ["## Reproduce", "", "```", command, "```", ""]
    return "\n".join(lines)


def headline(result: Evaluation) -> str:
    lines = [f"{result.dataset}:"]
    for population, scores in result.scores.items():
        r = scores.loc["p_up"]
        lines.append(
            f"  {population:6s} p_up  n={int(r['n']):,} Brier={r['brier']:.4f} "
            f"clim={r['brier_climatology']:.4f} BSS={r['brier_skill_score']:+.4f} "
            f"[{r['bss_ci_lo']:+.4f}, {r['bss_ci_hi']:+.4f}] ECE={r['ece']:.4f} "
            f"| raw p Brier={scores.loc['p_model', 'brier']:.4f} "
            f"BSS={scores.loc['p_model', 'brier_skill_score']:+.4f} "
            f"| c Brier={r['brier_training_climatology']:.4f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--demo-tickers", type=int, default=None,
                        help="demo universe size (default: the demo's 2,000)")  # fmt: skip
    parser.add_argument("--output", type=Path, default=OUTPUT, help="report path")
    args = parser.parse_args(argv)
    began = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {message}", flush=True)

    results = []
    for build in (lambda: demo_dataset(args.demo_tickers), real_dataset):
        dataset = build()
        progress(f"{dataset.name}: {len(dataset.long):,} bars of "
                 f"{dataset.long['ticker'].nunique():,} tickers")  # fmt: skip
        results.append(evaluate(dataset, progress=progress))
        print(headline(results[-1]), flush=True)
    seconds = time.perf_counter() - began
    command = COMMAND + ("" if args.demo_tickers is None else
                         f" --demo-tickers {args.demo_tickers}")  # fmt: skip
    args.output.write_text(render(results, command))
    progress(f"wrote {args.output} (total {seconds:.0f} s)")


if __name__ == "__main__":
    main()
