"""Volatility metrics on hand-worked chains: every expected value is computed here by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers.chains import build_chain, hand_chain

from kapman_assets.analytics.volatility import volatility_metrics

SPOT = 100.0


def atm_call(dte: int, iv: float) -> dict:
    """One call sitting exactly at delta 0.50 with the given IV."""
    return dict(
        dte=dte, strike=100, type="call", delta=0.5, implied_volatility=iv, open_interest=100
    )


def test_average_iv_filter_boundaries() -> None:
    rows = [
        dict(dte=7, strike=80, type="put", implied_volatility=0.30, open_interest=100),  # K/S 0.8
        dict(dte=90, strike=120, type="call", implied_volatility=0.20, open_interest=300),  # 1.2
        dict(dte=30, strike=100, type="call", implied_volatility=0.25, open_interest=600),
        dict(dte=30, strike=79, type="put", implied_volatility=0.90, open_interest=1000),  # 0.79
        dict(dte=30, strike=121, type="call", implied_volatility=0.90, open_interest=1000),
        dict(dte=6, strike=100, type="call", implied_volatility=0.90, open_interest=1000),
        dict(dte=91, strike=100, type="call", implied_volatility=0.90, open_interest=1000),
        dict(dte=30, strike=100, type="put", implied_volatility=np.nan, open_interest=5000),
        dict(dte=30, strike=100, type="put", implied_volatility=0.90, open_interest=np.nan),
    ]
    out = volatility_metrics(hand_chain(rows), SPOT)
    assert out["average_iv"] == pytest.approx((0.30 * 100 + 0.20 * 300 + 0.25 * 600) / 1000)
    assert out["average_iv"] == pytest.approx(0.24)
    assert out["volatility_details"]["contracts_skipped_missing_iv"] == 1
    assert out["volatility_details"]["contracts_skipped_missing_oi"] == 1


def test_atm_iv_interpolates_in_delta_and_averages_calls_and_puts() -> None:
    rows = [
        dict(dte=30, strike=95, type="call", delta=0.60, implied_volatility=0.22),
        dict(dte=30, strike=105, type="call", delta=0.40, implied_volatility=0.20),
        dict(dte=30, strike=102, type="put", delta=-0.55, implied_volatility=0.24),
        dict(dte=30, strike=98, type="put", delta=-0.45, implied_volatility=0.20),
        dict(dte=30, strike=90, type="put", delta=-0.20, implied_volatility=0.90),  # not nearest
    ]
    out = volatility_metrics(hand_chain(rows), SPOT)
    call_side = 0.20 + (0.50 - 0.40) / (0.60 - 0.40) * (0.22 - 0.20)  # 0.21
    put_side = 0.20 + (0.50 - 0.45) / (0.55 - 0.45) * (0.24 - 0.20)  # 0.22
    assert out["volatility_details"]["atm_iv_by_expiry"]["30"] == pytest.approx(
        (call_side + put_side) / 2
    )
    assert out["iv_30"] == pytest.approx(0.215)  # an expiry at 30 days is used as is


def test_atm_iv_needs_contracts_on_both_sides_of_delta_050() -> None:
    rows = [
        dict(dte=30, strike=90, type="call", delta=0.70, implied_volatility=0.30),
        dict(dte=30, strike=95, type="call", delta=0.60, implied_volatility=0.25),
        dict(dte=60, strike=100, type="call", delta=0.50, implied_volatility=0.20),
    ]
    out = volatility_metrics(hand_chain(rows), SPOT)
    assert out["volatility_details"]["atm_iv_by_expiry"] == {"60": pytest.approx(0.20)}


def test_iv30_iv90_interpolate_total_variance() -> None:
    rows = [atm_call(20, 0.30), atm_call(45, 0.20), atm_call(120, 0.25)]
    out = volatility_metrics(hand_chain(rows), SPOT)
    # IV30: w = (30-20)/(45-20) = 0.4; sigma^2 T = 0.6*0.09*20/365 + 0.4*0.04*45/365 = 1.8/365
    iv30 = math.sqrt((0.6 * 0.09 * 20 + 0.4 * 0.04 * 45) / 30)
    assert iv30 == pytest.approx(math.sqrt(0.06))
    assert out["iv_30"] == pytest.approx(iv30, rel=1e-12)
    assert abs(out["iv_30"] - 0.26) > 0.01  # not linear in vol (0.6*0.30 + 0.4*0.20)
    # IV90: w = (90-45)/(120-45) = 0.6; 0.4*0.04*45 + 0.6*0.0625*120 = 5.22 (x 1/365)
    iv90 = math.sqrt((0.4 * 0.04 * 45 + 0.6 * 0.0625 * 120) / 90)
    assert out["iv_90"] == pytest.approx(iv90, rel=1e-12)
    assert out["iv_term_structure"] == pytest.approx(iv30 / iv90, rel=1e-12)
    assert out["iv_term_structure"] > 1  # backwardation: short-dated vol above long-dated


def test_no_extrapolation_outside_listed_expiries() -> None:
    out = volatility_metrics(hand_chain([atm_call(40, 0.30), atm_call(60, 0.25)]), SPOT)
    assert out["iv_30"] is None and out["iv_90"] is None and out["iv_term_structure"] is None
    out = volatility_metrics(hand_chain([atm_call(10, 0.30), atm_call(90, 0.25)]), SPOT)
    assert out["iv_90"] == pytest.approx(0.25)  # an expiry exactly at 90 days counts


def wings(dte: int, put_iv: tuple[float, float], call_iv: tuple[float, float]) -> list[dict]:
    """Puts at delta -0.20/-0.30 and calls at +0.20/+0.30 with the given IVs."""
    return [
        dict(dte=dte, strike=90, type="put", delta=-0.20, implied_volatility=put_iv[0]),
        dict(dte=dte, strike=95, type="put", delta=-0.30, implied_volatility=put_iv[1]),
        dict(dte=dte, strike=110, type="call", delta=0.20, implied_volatility=call_iv[0]),
        dict(dte=dte, strike=105, type="call", delta=0.30, implied_volatility=call_iv[1]),
    ]


def test_skew_sign_puts_richer_is_positive() -> None:
    out = volatility_metrics(hand_chain(wings(30, (0.30, 0.26), (0.21, 0.23))), SPOT)
    # put at |delta| 0.25: midway 0.30..0.26 = 0.28; call at 0.25: midway 0.21..0.23 = 0.22
    assert out["iv_skew_25d"] == pytest.approx(0.28 - 0.22)
    assert out["volatility_details"]["iv_put_25d_30"] == pytest.approx(0.28)
    flipped = volatility_metrics(hand_chain(wings(30, (0.21, 0.23), (0.30, 0.26))), SPOT)
    assert flipped["iv_skew_25d"] == pytest.approx(-0.06)


def test_skew_interpolates_each_wing_in_total_variance() -> None:
    rows = wings(14, (0.32, 0.28), (0.20, 0.24)) + wings(60, (0.27, 0.25), (0.19, 0.21))
    out = volatility_metrics(hand_chain(rows), SPOT)
    w = (30 - 14) / (60 - 14)
    put30 = math.sqrt(((1 - w) * 0.30**2 * 14 + w * 0.26**2 * 60) / 30)
    call30 = math.sqrt(((1 - w) * 0.22**2 * 14 + w * 0.20**2 * 60) / 30)
    assert out["iv_skew_25d"] == pytest.approx(put30 - call30, rel=1e-12)


def test_put_call_ratio_oi_over_90_dte() -> None:
    rows = [
        dict(dte=30, strike=95, type="put", open_interest=300),
        dict(dte=90, strike=90, type="put", open_interest=300),
        dict(dte=91, strike=90, type="put", open_interest=10_000),  # beyond 90 DTE
        dict(dte=0, strike=90, type="put", open_interest=5_000),  # expired on the chain date
        dict(dte=30, strike=105, type="call", open_interest=300),
        dict(dte=60, strike=110, type="call", open_interest=100),
        dict(dte=120, strike=110, type="call", open_interest=9_999),  # beyond 90 DTE
        dict(dte=30, strike=110, type="call", open_interest=np.nan),  # no OI: skipped
    ]
    out = volatility_metrics(hand_chain(rows), SPOT)
    assert out["put_call_ratio_oi"] == pytest.approx(600 / 400)
    assert out["volatility_details"]["contracts_skipped_expired"] == 1
    no_calls = volatility_metrics(hand_chain(rows[:2]), SPOT)
    assert no_calls["put_call_ratio_oi"] is None


def test_later_date_contracts_are_rejected() -> None:
    rows = [atm_call(20, 0.30), atm_call(45, 0.20)]
    chain = pd.concat([hand_chain(rows), hand_chain(rows, date="2024-06-05")], ignore_index=True)
    with pytest.raises(ValueError, match="one chain = one date"):
        volatility_metrics(chain, SPOT)
    with pytest.raises(KeyError, match="delta"):
        volatility_metrics(hand_chain(rows).drop(columns="delta"), SPOT)


def test_factory_chain_has_put_skew_and_backwardation() -> None:
    # the factory's smile slopes down in strike and its ATM level falls with maturity
    chain = build_chain(2000, spot=100.0, seed=1)
    out = volatility_metrics(chain, 100.0)
    assert out["iv_skew_25d"] > 0
    assert out["iv_term_structure"] > 1
    iv = chain["implied_volatility"]
    assert iv.min() < out["average_iv"] < iv.max()
    assert out["underlying"] == "TEST" and out["date"] == pd.Timestamp("2024-06-03")
    json.dumps(out["volatility_details"], allow_nan=False)


def test_empty_chain_and_bad_spot_are_rejected() -> None:
    rows = [atm_call(20, 0.30), atm_call(45, 0.20)]
    with pytest.raises(ValueError, match="empty option chain"):
        volatility_metrics(hand_chain(rows).iloc[0:0], SPOT)
    with pytest.raises(ValueError, match="spot"):
        volatility_metrics(hand_chain(rows), float("nan"))
