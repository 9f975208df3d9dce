"""The universe event study: forward returns, liquidity, walk-forward and excess over base."""

import numpy as np
import pandas as pd
import pytest

from kapman_assets.analytics import signal_edge as se


def panel(tickers=("A", "B"), sessions=120, seed=1, close=50.0, volume=1e6):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2025-01-01", periods=sessions)
    frames = []
    for t in tickers:
        path = close * np.exp(np.cumsum(rng.normal(0, 0.01, sessions)))
        frames.append(pd.DataFrame({"ticker": t, "date": dates, "close": path, "volume": volume}))
    return pd.concat(frames, ignore_index=True)


def test_forward_returns_and_liquidity():
    bars = panel(sessions=30)
    bars.loc[bars["ticker"] == "B", "close"] = 4.0  # below $5: never liquid
    out = se.forward_returns(bars, horizons=(5,))
    a = out[out["ticker"] == "A"].reset_index(drop=True)
    closes = bars[bars["ticker"] == "A"]["close"].to_numpy()
    assert a["ret_5"].iloc[0] == pytest.approx(closes[5] / closes[0] - 1)
    assert a["ret_5"].iloc[-5:].isna().all()
    assert not a["liquid"].iloc[:19].any()  # ADV20 needs 20 sessions
    assert a["liquid"].iloc[19:].all()  # ~$50M a day
    assert not out[out["ticker"] == "B"]["liquid"].any()


def test_edge_is_the_event_mean_minus_the_same_tickers_base_walk_forward():
    bars = panel(tickers=("A", "B", "C"), sessions=200)
    returns = se.forward_returns(bars, horizons=(10,))
    dates = bars["date"].drop_duplicates().sort_values().to_numpy()
    marks = pd.DataFrame({
        "ticker": ["A", "A", "B", "B", "A"],
        "date": dates[[30, 60, 90, 120, 185]],  # the last one's horizon ends after as_of
        "kind": "signal", "name": "ENTRY_SETUP",
    })  # fmt: skip
    as_of = pd.Timestamp(dates[190])
    table = se.edge_table(returns, marks, as_of, horizons=(10,))
    (row,) = table.to_dict("records")
    ev = returns.merge(marks.iloc[:4], on=["ticker", "date"])
    assert row["n"] == 4
    assert row["mean_return"] == pytest.approx(ev["ret_10"].mean())
    base = returns[returns["ticker"].isin(["A", "B"]) & returns["liquid"]
                   & (returns["end_10"] <= as_of)]  # fmt: skip
    assert row["base_n"] == len(base)  # C never had the signal: not in the base
    assert row["excess_return"] == pytest.approx(ev["ret_10"].mean() - base["ret_10"].mean())
    assert row["hit_rate"] == pytest.approx((ev["ret_10"] > 0).mean())
    assert row["window_end"] <= as_of


def test_ci_brackets_a_real_edge():
    bars = panel(tickers=tuple("ABCDEF"), sessions=400, seed=2)
    returns = se.forward_returns(bars, horizons=(5,))
    returns = returns[returns["liquid"] & returns["ret_5"].notna()]
    winners = returns[returns["ret_5"] > 0.03].iloc[::3]  # events that did go up
    marks = winners.loc[:, ["ticker", "date"]].assign(kind="event", name="SPRING")
    table = se.edge_table(se.forward_returns(bars, horizons=(5,)), marks,
                          bars["date"].max(), horizons=(5,))  # fmt: skip
    (row,) = table.to_dict("records")
    assert row["excess_ci_lo"] > 0
    assert row["excess_ci_lo"] <= row["excess_return"] <= row["excess_ci_hi"]


def test_few_events_have_no_ci_and_no_liquid_bars_no_rows():
    bars = panel(sessions=80)
    returns = se.forward_returns(bars, horizons=(5,))
    marks = pd.DataFrame({"ticker": ["A"], "date": [bars["date"].iloc[40]], "kind": "event",
                          "name": "SC"})  # fmt: skip
    (row,) = se.edge_table(returns, marks, bars["date"].max(), horizons=(5,)).to_dict("records")
    assert np.isnan(row["excess_ci_lo"])
    illiquid = se.forward_returns(bars.assign(volume=1.0), horizons=(5,))
    assert se.edge_table(illiquid, marks, bars["date"].max(), horizons=(5,)).empty
