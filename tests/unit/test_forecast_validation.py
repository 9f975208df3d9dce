"""scripts/forecast_validation.py on a short slice of the vendored real series (SPY and MSFT,
1999-2004): walk-forward discipline, no look-ahead, scores equal to the library's on the
returned forecasts, and a report that carries the figures it computed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.real_data import load_bokeh_long, load_spy

from kapman_assets.analytics import forecast_model as fm
from kapman_assets.analytics.forecast_scoring import (
    block_bootstrap_indices,
    brier_score,
    brier_skill_score,
    expected_calibration_error,
    log_loss,
    reliability_table,
)

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "forecast_validation.py"
START, END = "1999-01-01", "2004-12-31"
CUT = pd.Timestamp("2002-06-14")  # the truncated rerun ends here
N_BOOT = 200


def _load_script():
    spec = importlib.util.spec_from_file_location("forecast_validation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fv = _load_script()


def _dataset(end: str | pd.Timestamp = END) -> fv.Dataset:
    spy = load_spy().loc[START:end].reset_index().assign(ticker="SPY")
    msft = load_bokeh_long().query("ticker == 'MSFT'")
    msft = msft[(msft["date"] >= START) & (msft["date"] <= pd.Timestamp(end))]
    long = pd.concat([spy.loc[:, list(msft.columns)], msft], ignore_index=True)
    splits = fv.BOKEH_SPLITS[fv.BOKEH_SPLITS["ticker"] == "MSFT"]  # 2003-02-18, inside
    return fv.Dataset("slice", "SPY and MSFT 1999-2004", long, splits.reset_index(drop=True))


@pytest.fixture(scope="module")
def result() -> fv.Evaluation:
    return fv.evaluate(_dataset(), workers=1, n_boot=N_BOOT)


@pytest.fixture(scope="module")
def truncated() -> fv.Evaluation:
    return fv.evaluate(_dataset(CUT), workers=1, n_boot=N_BOOT)


def test_every_forecast_comes_from_the_model_of_its_month_start(result):
    f = result.forecasts
    assert len(f) > 500 and f["outcome"].notna().sum() > 500
    dates = pd.to_datetime(_dataset().long["date"]).drop_duplicates().sort_values()
    month_start = dates.groupby(dates.dt.to_period("M")).min()
    fit = pd.to_datetime(f["model_fit_date"])
    assert (fit <= f["date"]).all()
    assert (fit.to_numpy() == month_start.loc[f["date"].dt.to_period("M")].to_numpy()).all()
    assert (pd.to_datetime(f["training_end"]) < fit).all()
    models = {m.fit_date: m for m in result.models}
    assert {str(d.date()) for d in fit.unique()} == set(models)
    for model in result.models:
        assert model.training_end < model.fit_date and model.rows >= fm.MIN_TRAINING_ROWS
    assert f["p_up"].between(0, 1).all() and f["p_model"].between(0, 1).all()
    # p_up is the raw model p shrunk toward the model's climatology by its weight
    shrunk = f["climatology"] + f["shrink_weight"] * (f["p_model"] - f["climatology"])
    np.testing.assert_allclose(f["p_up"], shrunk, atol=1e-12)


def test_forecasts_do_not_change_when_later_bars_are_removed(result, truncated):
    keys = ["ticker", "date"]
    early = result.forecasts[result.forecasts["date"] <= CUT].set_index(keys)
    cut = truncated.forecasts.set_index(keys)
    assert len(early) > 100
    assert early.index.equals(cut.index)
    for col in ("p_up", "p_model", "climatology", "shrink_weight"):
        np.testing.assert_allclose(cut[col], early[col], rtol=0, atol=1e-12)
    # the outcomes the full run knows and the cut one does not are the last 20 sessions' only
    unknown = early["outcome"].notna() & cut["outcome"].isna()
    assert unknown.any()
    last = pd.DatetimeIndex(sorted(truncated.forecasts["date"].unique()))[-fv.HORIZON]
    assert (early.index[unknown].get_level_values("date") >= last).all()


def test_scores_are_the_library_metrics_of_the_returned_forecasts(result):
    scored = result.scored
    for population, scores in result.scores.items():
        part = scored[scored["liquid"].astype(bool)] if population == "liquid" else scored
        y = part["outcome"].to_numpy()
        brier_c = np.mean((part["climatology"].to_numpy() - y) ** 2)
        for col in ("p_up", "p_model", "climatology"):
            p, row = part[col].to_numpy(), scores.loc[col]
            assert row["n"] == len(part) and row["sessions"] == part["date"].nunique()
            assert row["brier"] == pytest.approx(brier_score(p, y), abs=1e-12)
            assert row["brier_skill_score"] == pytest.approx(brier_skill_score(p, y), abs=1e-12)
            assert row["brier_climatology"] == pytest.approx(y.mean() * (1 - y.mean()), abs=1e-12)
            assert row["ece"] == pytest.approx(expected_calibration_error(p, y), abs=1e-12)
            assert row["log_loss"] == pytest.approx(log_loss(p, y), abs=1e-12)
            assert row["skill_vs_c"] == pytest.approx(1 - brier_score(p, y) / brier_c, abs=1e-12)
            murphy = (row["reliability"] - row["resolution"] + row["uncertainty"]
                      + row["within_bin_variance"] - 2 * row["within_bin_covariance"])  # fmt: skip
            assert murphy == pytest.approx(row["brier"], abs=1e-12)
            assert row["bss_ci_lo"] <= row["bss_ci_hi"]
            table = result.reliability[population].get(col)
            if table is not None:
                expected = reliability_table(p, y)
                pd.testing.assert_frame_equal(table.loc[:, list(expected.columns)], expected)
                assert ((table["ci_lo"] <= table["ci_hi"]) | table["ci_lo"].isna()).all()


def test_session_resamples_score_the_rows_they_draw(result):
    scored = result.scored.sort_values("date", kind="stable")
    sessions = np.sort(scored["date"].unique())
    n_boot, block, seed = 4, fv.BLOCK_SESSIONS, 11
    weights = fv.resample_weights(len(sessions), block, n_boot, seed)
    assert (weights.sum(axis=1) == len(sessions)).all()
    stats = fv.resample_statistics(scored, weights)
    by_session = {d: rows for d, rows in scored.groupby("date")}
    for b, draw in enumerate(block_bootstrap_indices(len(sessions), block, n_boot, seed)):
        rows = pd.concat([by_session[sessions[i]] for i in draw])
        y = rows["outcome"].to_numpy()
        for col in ("p_up", "p_model"):
            p = rows[col].to_numpy()
            assert stats[col]["brier"][b] == pytest.approx(brier_score(p, y), abs=1e-12)
            assert stats[col]["bss"][b] == pytest.approx(brier_skill_score(p, y), abs=1e-12)
            table = reliability_table(p, y)
            freq = stats[col]["frequency"][b]
            np.testing.assert_allclose(freq[table["bin"]], table["observed_frequency"], atol=1e-12)
            assert np.isnan(np.delete(freq, table["bin"])).all()


def test_the_report_carries_the_figures_it_computed(result):
    text = fv.render([result], command="COMMAND")
    assert "COMMAND" in text and "## slice" in text
    for population, scores in result.scores.items():
        row = scores.loc["p_up"]
        for figure in (f"{int(row['n']):,}", f"{row['brier']:.4f}", f"{row['ece']:.4f}",
                       f"{row['brier_skill_score']:+.4f} [{row['bss_ci_lo']:+.4f}, "
                       f"{row['bss_ci_hi']:+.4f}]", f"{row['log_loss']:.4f}",
                       f"{row['brier_climatology']:.4f}"):  # fmt: skip
            assert figure in text, figure
        table = result.reliability[population]["p_up"]
        for r in table.itertuples():
            assert f"| {r.n:,} | {r.mean_forecast:.4f} | {r.observed_frequency:.4f} |" in text
    liquid = result.scores["liquid"].loc["p_up"]
    beaten = "**the published p_up does not beat climatology**" in text
    assert beaten == (liquid["brier_skill_score"] <= 0)
