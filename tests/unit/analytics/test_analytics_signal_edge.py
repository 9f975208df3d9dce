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


def test_edge_tables_agree_with_edge_table_on_every_as_of_date():
    """The one-pass version against the plain one, with gaps (a skipped session makes a row end
    late), an illiquid stretch and events near the as-of dates."""
    bars = panel(tickers=tuple("ABCDE"), sessions=260, seed=3)
    bars = bars.drop(bars[(bars["ticker"] == "C") & bars["date"].isin(
        bars["date"].drop_duplicates().iloc[[100, 101, 180]])].index)  # fmt: skip
    bars.loc[(bars["ticker"] == "D") & (bars["date"] < bars["date"].iloc[150]), "volume"] = 10.0
    returns = se.forward_returns(bars)
    dates = bars["date"].drop_duplicates().sort_values().to_numpy()
    rng = np.random.default_rng(8)
    picks = returns[returns["liquid"]].sample(160, random_state=2)
    marks = picks.loc[:, ["ticker", "date"]].assign(
        kind=rng.choice(["event", "signal"], len(picks)), name=rng.choice(["SC", "AR"], len(picks))
    )
    as_of = [pd.Timestamp(dates[i]) for i in (60, 99, 120, 183, 230, 259)]
    fast = se.edge_tables(returns, marks, as_of)
    for day in as_of:
        slow = se.edge_table(returns, marks, day).sort_values(["kind", "name", "horizon"])
        mine = fast[fast["date"] == day.date()].sort_values(["kind", "name", "horizon"])
        assert len(mine) == len(slow) > 0
        for column in ("n", "sessions", "base_n"):
            assert mine[column].tolist() == slow[column].tolist(), (day, column)
        for column in (
            "mean_return",
            "median_return",
            "hit_rate",
            "base_mean_return",
            "excess_return",
            "excess_hit_rate",
            "excess_ci_lo",
            "excess_ci_hi",
        ):
            assert mine[column].to_numpy() == pytest.approx(slow[column].to_numpy(), nan_ok=True,
                                                            abs=1e-12), (day, column)  # fmt: skip
        assert mine["window_end"].tolist() == [pd.Timestamp(d).date() for d in slow["window_end"]]
        assert mine["window_start"].tolist() == [pd.Timestamp(d).date()
                                                 for d in slow["window_start"]]  # fmt: skip
