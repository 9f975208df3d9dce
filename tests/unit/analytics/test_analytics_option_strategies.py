"""Strategy choice, the real-strike rules and the structures built on listed contracts."""

import datetime as dt
import math

import pandas as pd
import pytest

from kapman_assets.analytics import option_strategies as os_

SESSION = dt.date(2026, 3, 2)


def contract(kind, strike, delta, days, bid=2.0, ask=2.1, oi=500, iv=0.3, shares=100):
    expiration = SESSION + dt.timedelta(days=days)
    return {
        "contract_ticker": f"O:XYZ{expiration:%y%m%d}{kind[0].upper()}{int(strike * 1000):08d}",
        "expiration": expiration, "strike": strike, "contract_type": kind, "delta": delta,
        "bid": bid, "ask": ask, "open_interest": oi, "implied_volatility": iv,
        "shares_per_contract": shares,
    }  # fmt: skip


def chain(rows):
    return os_.tradable_contracts(pd.DataFrame(rows), SESSION)


@pytest.mark.parametrize(
    ("signal", "iv_hv", "expected"),
    [
        ("STRONG_ENTRY", 3.0, os_.LONG_CALL),
        ("ENTRY_SETUP", -10.0, os_.LONG_CALL),
        ("ENTRY_SETUP", 4.0, os_.DEBIT_VERTICAL),
        ("ENTRY_SETUP", 5.0, os_.DEBIT_VERTICAL),
        ("ENTRY_SETUP", 5.01, os_.CASH_SECURED_PUT),
        ("EXIT_NOW", 3.0, os_.LONG_PUT),
        ("REDUCE", 12.0, os_.DEBIT_VERTICAL),
        ("PREPARE_EXIT", None, None),
        ("PREPARE_EXIT", float("nan"), None),
        (None, 0.0, None),
        ("SOMETHING_ELSE", 0.0, None),
    ],
)
def test_strategy_follows_the_table(signal, iv_hv, expected):
    assert os_.strategy_for(signal, iv_hv) == expected


def test_each_real_strike_rule_removes_its_contract():
    rows = [
        contract("call", 100, 0.6, 60),  # passes
        contract("call", 101, 0.6, 60, shares=10),  # adjusted deliverable
        contract("call", 102, 0.6, 60, bid=0.0),  # one-sided
        contract("call", 103, 0.6, 60, bid=2.0, ask=2.4),  # spread 0.4 > 15% of 2.2
        contract("call", 104, 0.6, 60, oi=99),  # open interest
        contract("call", 105, None, 60),  # no greeks
        contract("call", 106, 0.6, 60, iv=None),  # no IV
        contract("call", 107, 0.6, 0),  # expires today
    ]
    assert chain(rows)["strike"].tolist() == [100]


def test_spread_of_exactly_15_percent_of_mid_is_allowed():
    # bid 1.86, ask 2.14: mid 2.00, spread 0.28 <= 0.30
    assert len(chain([contract("call", 100, 0.6, 60, bid=1.86, ask=2.14)])) == 1


def test_long_call_takes_the_listed_strike_nearest_the_target_delta():
    rows = [
        contract("call", k, d, 60) for k, d in [(95, 0.72), (100, 0.63), (105, 0.52), (110, 0.4)]
    ]
    rows.append(contract("call", 100, 0.60, 30))  # outside 45-90 DTE
    found = os_.candidates(os_.LONG_CALL, os_.BULLISH, chain(rows), spot=101.0)
    assert len(found) == 1
    (leg,) = found[0].legs
    assert (leg.strike, leg.side, leg.contract_type) == (100.0, "buy", "call")
    assert leg.contract_ticker == rows[1]["contract_ticker"]
    assert leg.limit == 2.05
    assert found[0].net_debit == pytest.approx(205.0)
    assert found[0].max_loss == pytest.approx(205.0)
    assert found[0].max_profit is None
    assert found[0].breakeven == pytest.approx(102.05)


def test_no_contract_inside_the_delta_band_gives_no_candidate():
    rows = [contract("call", k, d, 60) for k, d in [(90, 0.85), (120, 0.2)]]
    assert os_.candidates(os_.LONG_CALL, os_.BULLISH, chain(rows), spot=100.0) == []


def test_long_put_structure():
    rows = [contract("put", 100, -0.58, 50, bid=3.0, ask=3.2)]
    (found,) = os_.candidates(os_.LONG_PUT, os_.BEARISH, chain(rows), spot=98.0)
    assert found.net_debit == pytest.approx(310.0)
    assert found.max_profit == pytest.approx((100 - 3.1) * 100)
    assert found.breakeven == pytest.approx(96.9)


def test_cash_secured_put_stays_at_or_below_support_and_the_put_wall():
    rows = [contract("put", k, d, 45, bid=1.0, ask=1.1)
            for k, d in [(95, -0.29), (90, -0.25), (85, -0.21)]]  # fmt: skip
    found = os_.candidates(os_.CASH_SECURED_PUT, os_.BULLISH, chain(rows), spot=100.0,
                           support=92.0, put_wall=95.0)  # fmt: skip
    (csp,) = found
    (leg,) = csp.legs
    assert (leg.strike, leg.side) == (90.0, "sell")
    credit = 1.05 * 100
    assert csp.net_debit == pytest.approx(-credit)
    assert csp.capital_required == pytest.approx(90 * 100 - credit)
    assert csp.max_profit == pytest.approx(credit)
    assert csp.breakeven == pytest.approx(88.95)


def test_bull_call_vertical_width_within_one_to_one_and_a_half_expected_moves():
    spot, iv, days = 100.0, 0.30, 60
    move = spot * iv * math.sqrt(days / 365)  # 12.16
    strikes = [(100, 0.60, 6.0), (105, 0.47, 4.0), (110, 0.36, 2.6), (112.5, 0.31, 2.0),
               (115, 0.26, 1.5), (120, 0.18, 0.8)]  # fmt: skip
    rows = [contract("call", k, d, days, bid=m - 0.05, ask=m + 0.05, iv=iv) for k, d, m in strikes]
    (vertical,) = os_.candidates(os_.DEBIT_VERTICAL, os_.BULLISH, chain(rows), spot=spot)
    buy, sell = vertical.legs
    assert (buy.strike, buy.side, sell.side) == (100.0, "buy", "sell")
    width = sell.strike - buy.strike
    assert 1.0 * move <= width <= 1.5 * move
    assert sell.strike == 115.0  # nearest 1.25 moves (15.2) among deltas 0.25-0.35
    assert vertical.net_debit == pytest.approx((6.0 - 1.5) * 100)
    assert vertical.max_profit == pytest.approx(width * 100 - 450)
    assert vertical.breakeven == pytest.approx(104.5)


def test_bear_put_vertical_short_leg_below():
    spot, iv, days = 100.0, 0.30, 60
    strikes = [(100, -0.60, 6.0), (90, -0.33, 2.2), (85, -0.27, 1.4)]  # 10 < 1 move of 12.2
    rows = [contract("put", k, d, days, bid=m - 0.05, ask=m + 0.05, iv=iv) for k, d, m in strikes]
    (vertical,) = os_.candidates(os_.DEBIT_VERTICAL, os_.BEARISH, chain(rows), spot=spot)
    buy, sell = vertical.legs
    assert (buy.strike, sell.strike) == (100.0, 85.0)
    assert vertical.breakeven == pytest.approx(100 - 4.6)
    assert vertical.max_profit == pytest.approx(15 * 100 - 460)


def test_rule_choice_prefers_delta_then_the_middle_of_the_window():
    rows = [contract("call", 100, 0.61, 50), contract("call", 100, 0.60, 88),
            contract("call", 101, 0.60, 67)]  # fmt: skip
    found = os_.candidates(os_.LONG_CALL, os_.BULLISH, chain(rows), spot=100.0)
    assert len(found) == 3
    assert os_.rule_choice(found).dte == 67
    assert os_.rule_choice([]) is None


def test_unknown_strategy_and_incomplete_chain_are_refused():
    empty = chain([contract("call", 100, 0.6, 60)]).iloc[:0]
    assert os_.candidates(os_.LONG_CALL, os_.BULLISH, empty, spot=1.0) == []
    with pytest.raises(ValueError, match="unknown strategy"):
        os_.candidates("iron_condor", os_.BULLISH, empty, spot=1.0)
    with pytest.raises(ValueError, match="open_interest"):
        os_.tradable_contracts(
            pd.DataFrame([contract("call", 1, 0.5, 9)]).drop(columns="open_interest"), SESSION
        )
