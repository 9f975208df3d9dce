"""Dealer metrics on hand-worked chains; references computed here with plain Python and scipy."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers.chains import build_chain, hand_chain
from scipy.optimize import brentq
from scipy.stats import norm

from kapman_assets.analytics.dealer import FLIP_GRID_POINTS, dealer_metrics

SPOT = 100.0
ADV20 = 1e8


def reference_net_gex(spot: float, contracts: list[dict]) -> float:
    """Net GEX at `spot`: sum of +-gamma(BS, r=q=0, scipy) * OI * 100 * spot^2 * 0.01."""
    total = 0.0
    for c in contracts:
        t, sigma = c["dte"] / 365, c["implied_volatility"]
        d1 = (math.log(spot / c["strike"]) + sigma**2 / 2 * t) / (sigma * math.sqrt(t))
        gamma = norm.pdf(d1) / (spot * sigma * math.sqrt(t))
        sign = 1.0 if c["type"] == "call" else -1.0
        total += sign * gamma * c["open_interest"] * 100 * spot**2 * 0.01
    return total


def reference_flip(spot: float, contracts: list[dict]) -> float | None:
    """The documented rule, by hand: scan 0.8S..1.2S, interpolate the crossing nearest spot."""
    step = 0.4 * spot / (FLIP_GRID_POINTS - 1)
    grid = [0.8 * spot + i * step for i in range(FLIP_GRID_POINTS)]
    values = [reference_net_gex(x, contracts) for x in grid]
    roots = []
    for i in range(len(grid) - 1):
        x0, x1, y0, y1 = grid[i], grid[i + 1], values[i], values[i + 1]
        if (y0 < 0 <= y1) or (y0 > 0 >= y1):
            roots.append(x0 + (x1 - x0) * y0 / (y0 - y1))
    return min(roots, key=lambda x: abs(x - spot)) if roots else None


def test_gex_totals_dex_and_dgpi_by_hand() -> None:
    chain = hand_chain(
        [
            dict(
                dte=30,
                strike=100,
                type="call",
                gamma=0.05,
                open_interest=1000,
                implied_volatility=0.2,
                delta=0.5,
            ),
            dict(
                dte=30,
                strike=95,
                type="put",
                gamma=0.04,
                open_interest=2000,
                implied_volatility=0.2,
                delta=-0.4,
            ),
        ]
    )
    out = dealer_metrics(chain, SPOT, ADV20)
    call_gex = 0.05 * 1000 * 100 * 100**2 * 0.01  # 500,000 $ per 1%
    put_gex = -0.04 * 2000 * 100 * 100**2 * 0.01  # -800,000
    assert out["gex_total"] == pytest.approx(call_gex + put_gex)  # -300,000
    assert out["gex_gross"] == pytest.approx(1_300_000)
    assert out["dealer_position"] == "short_gamma"
    # dealers long the call (+0.5 delta) and short the put (-(-0.4) delta): both long delta
    assert out["dex"] == pytest.approx(0.5 * 1000 * 100 * 100 + 0.4 * 2000 * 100 * 100)
    assert out["dgpi"] == pytest.approx(-300_000 / 1e8)
    assert out["dgpi_display"] == pytest.approx(100 * math.tanh(-0.003 / 0.05))


def test_long_gamma_when_net_positive_and_shares_per_contract_used() -> None:
    chain = hand_chain(
        [
            dict(
                dte=10,
                strike=100,
                type="call",
                gamma=0.03,
                open_interest=500,
                implied_volatility=0.3,
                shares_per_contract=10.0,
            ),
            dict(
                dte=10,
                strike=100,
                type="put",
                gamma=0.03,
                open_interest=100,
                implied_volatility=0.3,
            ),
        ]
    )
    out = dealer_metrics(chain, 50.0, ADV20)
    expected = 0.03 * 500 * 10 * 50**2 * 0.01 - 0.03 * 100 * 100 * 50**2 * 0.01
    assert out["gex_total"] == pytest.approx(expected)  # 375 - 750 < 0
    assert out["dealer_position"] == "short_gamma"
    chain.loc[1, "open_interest"] = 10.0
    assert dealer_metrics(chain, 50.0, ADV20)["dealer_position"] == "long_gamma"


REGIMES = [  # put-dominated below spot, call-dominated above
    dict(dte=30, strike=90, type="put", open_interest=3000, implied_volatility=0.25, gamma=0.01),
    dict(dte=30, strike=110, type="call", open_interest=1000, implied_volatility=0.25, gamma=0.01),
]


def test_flip_found_between_two_regimes() -> None:
    out = dealer_metrics(hand_chain(REGIMES), SPOT, ADV20)
    expected = reference_flip(SPOT, REGIMES)
    assert FLIP_GRID_POINTS >= 60
    assert expected is not None and 90 < expected < 110
    assert out["gamma_flip_level"] == pytest.approx(expected, rel=1e-10)
    # and the grid interpolation is close to the exact root of the continuous profile
    exact = brentq(lambda x: reference_net_gex(x, REGIMES), 95.0, 110.0)
    assert out["gamma_flip_level"] == pytest.approx(exact, abs=0.05)
    # below the flip net GEX is negative, above positive (profile stored in the details)
    details = out["dealer_details"]
    grid = np.array(details["flip_grid_spot"])
    profile = np.array(details["flip_grid_net_gex"])
    assert len(grid) == FLIP_GRID_POINTS
    assert grid[0] == pytest.approx(80.0) and grid[-1] == pytest.approx(120.0)
    assert profile[grid < exact - 1].max() < 0 < profile[grid > exact + 1].min()


def test_flip_picks_the_crossing_nearest_spot() -> None:
    contracts = [
        dict(
            dte=30, strike=85, type="call", open_interest=2000, implied_volatility=0.25, gamma=0.0
        ),
        dict(
            dte=30, strike=100, type="put", open_interest=1000, implied_volatility=0.25, gamma=0.0
        ),
        dict(
            dte=30, strike=115, type="call", open_interest=2000, implied_volatility=0.25, gamma=0.0
        ),
    ]
    spot = 101.0
    low = brentq(lambda x: reference_net_gex(x, contracts), 86.0, 100.0)
    high = brentq(lambda x: reference_net_gex(x, contracts), 100.0, 114.0)
    assert abs(high - spot) + 1.0 < abs(spot - low)  # the upper crossing is clearly nearer
    out = dealer_metrics(hand_chain(contracts), spot, ADV20)
    assert out["gamma_flip_level"] == pytest.approx(reference_flip(spot, contracts), rel=1e-10)
    assert out["gamma_flip_level"] == pytest.approx(high, abs=0.05)


@pytest.mark.parametrize("kind", ["call", "put"])
def test_flip_none_when_net_gex_has_one_sign(kind: str) -> None:
    contracts = [
        dict(dte=dte, strike=k, type=kind, open_interest=500, implied_volatility=0.3, gamma=0.02)
        for dte, k in ((7, 95), (30, 100), (60, 110))
    ]
    out = dealer_metrics(hand_chain(contracts), SPOT, ADV20)
    assert out["gamma_flip_level"] is None
    assert out["dealer_position"] == ("long_gamma" if kind == "call" else "short_gamma")


def test_flip_none_when_the_sign_change_lies_outside_20_percent() -> None:
    contracts = [
        dict(
            dte=30, strike=100, type="call", open_interest=10000, implied_volatility=0.25, gamma=0.0
        ),
        dict(dte=30, strike=70, type="put", open_interest=90, implied_volatility=0.25, gamma=0.0),
    ]
    root = brentq(lambda x: reference_net_gex(x, contracts), 70.0, 79.9)
    assert 75 < root < 80  # a real flip, just below the 0.8*S edge
    assert all(reference_net_gex(x, contracts) > 0 for x in np.linspace(80, 120, 401))
    assert dealer_metrics(hand_chain(contracts), SPOT, ADV20)["gamma_flip_level"] is None


WALL_CHAIN = [
    # calls: (strike, dte, gamma, OI) -> gamma*OI is proportional to GEX
    dict(dte=30, strike=95, type="call", gamma=0.08, open_interest=5000),  # below spot: out
    dict(dte=30, strike=100, type="call", gamma=0.06, open_interest=1000),  # at spot: 60
    dict(dte=30, strike=105, type="call", gamma=0.03, open_interest=1200),  # 36
    dict(dte=60, strike=105, type="call", gamma=0.02, open_interest=1500),  # +30 = 66 at 105
    dict(dte=120, strike=110, type="call", gamma=0.05, open_interest=4000),  # > 90 DTE: out
    dict(dte=90, strike=110, type="call", gamma=0.005, open_interest=3000),  # 15; OI 3000
    # puts
    dict(dte=30, strike=105, type="put", gamma=0.07, open_interest=5000),  # above spot: out
    dict(dte=30, strike=100, type="put", gamma=0.05, open_interest=1000),  # at spot: 50
    dict(dte=30, strike=95, type="put", gamma=0.04, open_interest=1000),  # 40
    dict(dte=91, strike=95, type="put", gamma=0.03, open_interest=3000),  # > 90 DTE: out
    dict(dte=45, strike=90, type="put", gamma=0.01, open_interest=2500),  # 25; OI 2500
]


def test_walls_respect_90_dte_and_side_of_spot() -> None:
    rows = [dict(row, implied_volatility=0.3) for row in WALL_CHAIN]
    out = dealer_metrics(hand_chain(rows), SPOT, ADV20)
    # call GEX (gamma*OI) at or above spot, <= 90 DTE: 100 -> 60, 105 -> 66, 110 -> 15
    assert out["call_wall_primary"] == 105.0
    # put |GEX| at or below spot, <= 90 DTE: 100 -> 50, 95 -> 40, 90 -> 25
    assert out["put_wall_primary"] == 100.0
    # max OI: calls 100 -> 1000, 105 -> 2700, 110 -> 3000 (90 DTE counts, 120 does not)
    assert out["dealer_details"]["call_wall_oi"] == 110.0
    # puts 100 -> 1000, 95 -> 1000 (the 91-DTE 3000 is out), 90 -> 2500
    assert out["dealer_details"]["put_wall_oi"] == 90.0
    # a strike exactly at spot qualifies: without the 105 calls, 100 (60) beats 110 (15)
    at_spot = dealer_metrics(hand_chain([r for r in rows if r["strike"] != 105]), SPOT, ADV20)
    assert at_spot["call_wall_primary"] == 100.0


def test_walls_none_without_strikes_on_that_side() -> None:
    rows = [dict(row, implied_volatility=0.3) for row in WALL_CHAIN if row["type"] == "call"]
    out = dealer_metrics(hand_chain(rows), SPOT, ADV20)
    assert out["put_wall_primary"] is None and out["dealer_details"]["put_wall_oi"] is None


def test_missing_and_expired_contracts_are_skipped_and_counted() -> None:
    good = dict(
        dte=30,
        strike=100,
        type="call",
        gamma=0.05,
        open_interest=1000,
        implied_volatility=0.2,
        delta=0.5,
    )
    chain = hand_chain(
        [
            good,
            dict(good, type="put", gamma=0.02, delta=np.nan),  # used; no delta for DEX
            dict(good, gamma=np.nan),
            dict(good, open_interest=np.nan),
            dict(good, implied_volatility=np.nan),
            dict(good, dte=0),  # expires on the chain date
        ]
    )
    out = dealer_metrics(chain, SPOT, ADV20)
    assert out["gex_total"] == pytest.approx((0.05 - 0.02) * 1000 * 100 * 100**2 * 0.01)
    assert out["dex"] == pytest.approx(0.5 * 1000 * 100 * 100)
    details = out["dealer_details"]
    assert details["contracts_total"] == 6
    assert details["contracts_used"] == 2
    assert details["contracts_skipped_missing"] == 3
    assert details["contracts_skipped_expired"] == 1
    assert details["dex_contracts_skipped_missing_delta"] == 1


def test_all_contracts_unusable_gives_none() -> None:
    chain = hand_chain([dict(dte=30, strike=100, type="call", open_interest=10)])  # no gamma/IV
    out = dealer_metrics(chain, SPOT, ADV20)
    assert out["gex_total"] is None and out["dealer_position"] is None
    assert out["gamma_flip_level"] is None and out["dgpi"] is None
    assert out["dealer_details"]["contracts_skipped_missing"] == 1


@pytest.mark.parametrize("adv", [0.0, -5.0, float("nan")])
def test_dgpi_none_without_dollar_volume(adv: float) -> None:
    out = dealer_metrics(hand_chain(REGIMES), SPOT, adv)
    assert out["dgpi"] is None and out["dgpi_display"] is None
    assert out["gex_total"] is not None


def test_later_date_contracts_are_rejected() -> None:
    chain = hand_chain(REGIMES)
    later = hand_chain(REGIMES, date="2024-06-04")
    with pytest.raises(ValueError, match="one chain = one date"):
        dealer_metrics(pd.concat([chain, later], ignore_index=True), SPOT, ADV20)


def test_mixed_underlyings_and_missing_columns_are_rejected() -> None:
    chain = hand_chain(REGIMES)
    chain.loc[1, "underlying"] = "OTHER"
    with pytest.raises(ValueError, match="one underlying"):
        dealer_metrics(chain, SPOT, ADV20)
    with pytest.raises(KeyError, match="gamma"):
        dealer_metrics(hand_chain(REGIMES).drop(columns="gamma"), SPOT, ADV20)
    with pytest.raises(ValueError, match="spot"):
        dealer_metrics(hand_chain(REGIMES), 0.0, ADV20)


def test_factory_chain_flip_and_totals_match_a_scalar_reference() -> None:
    chain = build_chain(56, spot=250.0, seed=3, expiry_days=(7, 21, 45, 90))
    out = dealer_metrics(chain, 250.0, 2e9)
    contracts = [
        dict(
            dte=(r.expiration - r.date).days,
            strike=r.strike,
            type=r.contract_type,
            open_interest=r.open_interest,
            implied_volatility=r.implied_volatility,
        )
        for r in chain.itertuples()
    ]
    gex = [
        (1 if r.contract_type == "call" else -1) * r.gamma * r.open_interest * 100 * 250.0**2 * 0.01
        for r in chain.itertuples()
    ]
    assert out["gex_total"] == pytest.approx(sum(gex), rel=1e-9)
    assert out["gex_gross"] == pytest.approx(sum(abs(g) for g in gex), rel=1e-9)
    expected = reference_flip(250.0, contracts)
    assert expected is not None
    assert out["gamma_flip_level"] == pytest.approx(expected, rel=1e-9)
    json.dumps(out["dealer_details"], allow_nan=False)
