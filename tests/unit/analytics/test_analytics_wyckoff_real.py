"""The Wyckoff engine on real data: SPY 1993-2021 and the bokeh stocks (tests/fixtures)."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers.real_data import AAPL_SPLITS, SPY_CLIMAX_MONTHS, load_bokeh_long, load_spy

from kapman_assets.analytics import series
from kapman_assets.analytics.wyckoff import (
    OUTPUT_COLUMNS,
    analyze_wyckoff,
    analyze_wyckoff_long,
)
from kapman_assets.analytics.wyckoff.events import EVENT_CODES

WINDOW_SESSIONS = 5  # docs/domain.md, "Wyckoff": the SC fires within 5 sessions of each low
TEST_NOT_CLIMAX_LOWS = ("2009-03-06",)  # a classic test, not a climax: no SC
CAUSALITY_CUTS = ("2008-10-13", "2011-08-10", "2015-08-26", "2018-12-20", "2020-03-19")


@pytest.fixture(scope="module")
def spy() -> pd.DataFrame:
    return load_spy()


@pytest.fixture(scope="module")
def spy_out(spy) -> pd.DataFrame:
    return analyze_wyckoff(spy)


def sc_positions(out: pd.DataFrame) -> np.ndarray:
    """Row positions of the SC events."""
    return np.flatnonzero(out["events"].map(lambda codes: "SC" in codes).to_numpy())


def sessions_to_nearest_sc(out: pd.DataFrame, day: pd.Timestamp) -> int:
    """Sessions between ``day`` and the nearest SC (either side)."""
    position = out.index.get_loc(day)
    return int(np.abs(sc_positions(out) - position).min())


def test_sc_near_the_2008_and_2020_lows(spy_out):
    assert sessions_to_nearest_sc(spy_out, pd.Timestamp("2008-10-10")) <= WINDOW_SESSIONS
    assert sessions_to_nearest_sc(spy_out, pd.Timestamp("2020-03-23")) <= WINDOW_SESSIONS


def test_no_sc_near_the_2009_test_low(spy_out):
    for day in TEST_NOT_CLIMAX_LOWS:
        assert sessions_to_nearest_sc(spy_out, pd.Timestamp(day)) > WINDOW_SESSIONS


@pytest.mark.parametrize("month", SPY_CLIMAX_MONTHS)
def test_sc_near_every_domain_climax_low(spy, spy_out, month):
    low_day = spy.loc[month, "low"].idxmin()
    assert sessions_to_nearest_sc(spy_out, low_day) <= WINDOW_SESSIONS


def test_spy_outputs_are_well_formed(spy_out):
    assert tuple(spy_out.columns) == OUTPUT_COLUMNS
    assert set(spy_out["wyckoff_phase"].dropna()) <= set("ABCDE")
    assert spy_out["phase_confidence"].between(0, 1).all()
    assert spy_out["composite_score"].between(-100, 100).all()
    assert set(spy_out["range_type"].dropna()) == {"accumulation", "distribution"}
    has_events = spy_out["events"].map(len) > 0
    assert (spy_out["events_json"].notna() == has_events).all()
    for codes, primary, blob in spy_out.loc[
        has_events, ["events", "primary_event", "events_json"]
    ].itertuples(index=False):
        records = json.loads(blob)
        assert [r["event"] for r in records] == codes and primary in codes
        assert set(codes) <= set(EVENT_CODES)
        assert all(r["date"] >= r["bar_date"] >= r["range_start"] for r in records)
    in_range = spy_out["range_type"].notna()
    assert (spy_out["wyckoff_phase"].notna() == in_range).all()
    both = spy_out[["range_support", "range_resistance"]].dropna()
    assert len(both) > 0 and (both["range_support"] < both["range_resistance"]).all()


@pytest.mark.parametrize("cut", CAUSALITY_CUTS)
def test_appending_future_bars_changes_no_past_output_on_spy(spy, spy_out, cut):
    end = spy.index.get_loc(pd.Timestamp(cut)) + 1
    part = analyze_wyckoff(spy.iloc[:end])
    pd.testing.assert_frame_equal(part, spy_out.iloc[:end], check_exact=True)


def test_long_frame_wrapper_matches_per_ticker_runs():
    long = load_bokeh_long()
    out = analyze_wyckoff_long(long, AAPL_SPLITS)
    assert list(out.columns) == ["ticker", "date", *OUTPUT_COLUMNS]
    adjusted = series.split_adjust(long, AAPL_SPLITS)
    for ticker in ("AAPL", "IBM"):
        bars = series.long_to_bars(adjusted.loc[adjusted["ticker"] == ticker])
        expected = analyze_wyckoff(bars).reset_index()
        got = out.loc[out["ticker"] == ticker].drop(columns="ticker").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)


def test_long_frame_wrapper_on_an_empty_frame():
    empty = load_bokeh_long().iloc[:0]
    assert list(analyze_wyckoff_long(empty).columns) == ["ticker", "date", *OUTPUT_COLUMNS]
    assert len(analyze_wyckoff_long(empty)) == 0


def test_split_adjustment_matters_for_the_climax_rule():
    # after AAPL's 2005-02-28 split the raw volume doubles, so VP saturates and a later wide
    # bar passes as a climax; the split-adjusted series has no SC there
    long = load_bokeh_long()
    adjusted = series.split_adjust(long, AAPL_SPLITS)
    after_split = slice("2005-02-28", "2005-04-30")
    raw_out = analyze_wyckoff(series.long_to_bars(long.loc[long["ticker"] == "AAPL"]))
    adj_out = analyze_wyckoff(series.long_to_bars(adjusted.loc[adjusted["ticker"] == "AAPL"]))
    assert raw_out.loc[after_split, "events"].map(lambda codes: "SC" in codes).any()
    assert not adj_out.loc[after_split, "events"].map(lambda codes: "SC" in codes).any()
