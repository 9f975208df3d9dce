"""The demo's option chains: listed expirations, strike increments, OCC symbols, the IV surface,
and the snapshot JSON shape the real parser reads."""

import datetime as dt

import numpy as np
import pandas as pd

from kapman_resources.black_scholes import DAYS_PER_YEAR
from kapman_resources.calendar import is_session
from kapman_resources.chain_snapshot import chain_rows
from kapman_resources.demo_market.option_chains import (
    chain_frame,
    listed_expirations,
    occ_ticker,
    snapshot_results,
    strike_step,
    surface_iv,
)

SESSION = dt.date(2026, 12, 1)


def chain(drawdown=0.0, spot=187.3, seed=0):
    return chain_frame("NVDA", SESSION, spot, 0.35, drawdown, np.random.default_rng(seed))


def test_expirations_are_weeklies_monthlies_quarterlies_and_leaps_on_sessions():
    days = listed_expirations(SESSION)
    assert days[0] == dt.date(2026, 12, 4)  # the next Friday
    assert dt.date(2026, 12, 18) in days  # December monthly (third Friday)
    assert dt.date(2027, 6, 17) in days  # June 18 2027 is Juneteenth: the Thursday before
    assert dt.date(2028, 1, 21) in days  # January LEAPS two years out
    assert all(is_session(d) and d > SESSION for d in days)
    assert list(days) == sorted(days)


def test_strikes_sit_on_listed_increments_and_tickers_follow_occ():
    frame = chain()
    step = strike_step(187.3)
    assert step == 5.0
    assert np.allclose(frame["strike"] % step, 0)
    assert occ_ticker("NVDA", dt.date(2026, 12, 18), "call", 187.5) == "O:NVDA261218C00187500"
    assert frame["ticker"].is_unique


def test_iv_has_put_skew_and_rises_in_a_selloff():
    calm, stressed = chain(0.0), chain(0.25)
    assert stressed["implied_volatility"].median() > calm["implied_volatility"].median() + 0.1
    t = np.array([30 / DAYS_PER_YEAR] * 2)
    low, high = surface_iv(100.0, np.array([90.0, 110.0]), t, 0.3, 0.0)
    assert low > high  # puts (lower strikes) richer


def test_spreads_widen_away_from_the_money_and_oi_favours_round_strikes():
    frame = chain().dropna(subset=["bid"])
    frame = frame[frame["expiration"] == frame["expiration"].iloc[0]]
    mid = (frame["bid"] + frame["ask"]) / 2
    rel = (frame["ask"] - frame["bid"]) / mid
    far = np.abs(np.log(frame["strike"] / 187.3))
    assert np.corrcoef(far, rel)[0, 1] > 0


def test_the_json_shape_parses_and_absent_fields_stay_null():
    frame = chain()
    results = snapshot_results(frame, "NVDA", 187.3, 1764622800000000000)
    rows = chain_rows(results, "NVDA", SESSION, pd.Timestamp("2026-12-01 21:15", tz="UTC"))
    assert len(rows) == len(frame)
    no_greeks = frame["delta"].isna().to_numpy()
    assert no_greeks.any() and rows["delta"].isna().to_numpy().tolist() == no_greeks.tolist()
    assert (rows.loc[~rows["ask"].isna(), "ask"] > 0).all()
    assert set(rows["shares_per_contract"]) == {100}
