"""Black-Scholes greeks: scipy references, a textbook value, parity identities, finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from kapman_resources.black_scholes import (
    bs_delta,
    bs_gamma,
    bs_price,
    bs_theta,
    bs_vega,
    d1_d2,
    implied_volatility,
)

# (S, K, T years, sigma, r, q)
CASES = [
    (100.0, 100.0, 30 / 365, 0.25, 0.0, 0.0),
    (100.0, 80.0, 0.5, 0.40, 0.05, 0.02),
    (100.0, 130.0, 1.0, 0.20, 0.03, 0.01),
    (42.0, 40.0, 0.5, 0.20, 0.10, 0.0),
    (250.0, 245.0, 7 / 365, 0.65, 0.045, 0.0),
    (10.0, 12.5, 2.0, 0.90, 0.0, 0.03),
]


def reference_price(s: float, k: float, t: float, sigma: float, r: float, q: float, call: bool):
    """Scalar BSM price with scipy.stats.norm (independent of the module under test)."""
    d1 = (math.log(s / k) + (r - q + sigma**2 / 2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    if call:
        return s * math.exp(-q * t) * norm.cdf(d1) - k * math.exp(-r * t) * norm.cdf(d2)
    return k * math.exp(-r * t) * norm.cdf(-d2) - s * math.exp(-q * t) * norm.cdf(-d1)


def columns() -> tuple[np.ndarray, ...]:
    """The CASES as arrays, each case once as a call and once as a put."""
    arr = np.array(CASES * 2)
    is_call = np.r_[np.ones(len(CASES), bool), np.zeros(len(CASES), bool)]
    return (*arr.T, is_call)


def test_price_matches_scipy_reference() -> None:
    s, k, t, sigma, r, q, is_call = columns()
    expected = [reference_price(*row) for row in zip(s, k, t, sigma, r, q, is_call, strict=True)]
    np.testing.assert_allclose(bs_price(s, k, t, sigma, is_call, r, q), expected, rtol=1e-12)


def test_hull_textbook_example() -> None:
    # Hull, Options, Futures and Other Derivatives, worked BSM example: c = 4.76, p = 0.81.
    assert bs_price(42.0, 40.0, 0.5, 0.2, True, 0.1) == pytest.approx(4.76, abs=0.005)
    assert bs_price(42.0, 40.0, 0.5, 0.2, False, 0.1) == pytest.approx(0.81, abs=0.005)


def test_put_call_parity() -> None:
    s, k, t, sigma, r, q, _ = columns()
    call = bs_price(s, k, t, sigma, True, r, q)
    put = bs_price(s, k, t, sigma, False, r, q)
    np.testing.assert_allclose(call - put, s * np.exp(-q * t) - k * np.exp(-r * t), atol=1e-10)


def test_delta_parity() -> None:
    s, k, t, sigma, r, q, _ = columns()
    gap = bs_delta(s, k, t, sigma, True, r, q) - bs_delta(s, k, t, sigma, False, r, q)
    np.testing.assert_allclose(gap, np.exp(-q * t), atol=1e-14)


def test_gamma_and_vega_match_scipy_closed_forms() -> None:
    s, k, t, sigma, r, q, _ = columns()
    for i in range(len(s)):
        d1 = (math.log(s[i] / k[i]) + (r[i] - q[i] + sigma[i] ** 2 / 2) * t[i]) / (
            sigma[i] * math.sqrt(t[i])
        )
        gamma = math.exp(-q[i] * t[i]) * norm.pdf(d1) / (s[i] * sigma[i] * math.sqrt(t[i]))
        vega = s[i] * math.exp(-q[i] * t[i]) * norm.pdf(d1) * math.sqrt(t[i]) / 100
        assert bs_gamma(s[i], k[i], t[i], sigma[i], r[i], q[i]) == pytest.approx(gamma, rel=1e-12)
        assert bs_vega(s[i], k[i], t[i], sigma[i], r[i], q[i]) == pytest.approx(vega, rel=1e-12)


def test_greeks_match_finite_differences_of_price() -> None:
    s, k, t, sigma, r, q, is_call = columns()

    def price(s_=s, t_=t, sigma_=sigma):
        return bs_price(s_, k, t_, sigma_, is_call, r, q)

    h_s = 1e-5 * s
    delta_fd = (price(s_=s + h_s) - price(s_=s - h_s)) / (2 * h_s)
    h_g = 1e-3 * s
    gamma_fd = (price(s_=s + h_g) - 2 * price() + price(s_=s - h_g)) / h_g**2
    h_v = 1e-5
    vega_fd = (price(sigma_=sigma + h_v) - price(sigma_=sigma - h_v)) / (2 * h_v) / 100
    h_t = 1e-6
    theta_fd = -(price(t_=t + h_t) - price(t_=t - h_t)) / (2 * h_t) / 365

    np.testing.assert_allclose(bs_delta(s, k, t, sigma, is_call, r, q), delta_fd, atol=1e-7)
    np.testing.assert_allclose(bs_gamma(s, k, t, sigma, r, q), gamma_fd, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(bs_vega(s, k, t, sigma, r, q), vega_fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        bs_theta(s, k, t, sigma, is_call, r, q), theta_fd, rtol=1e-5, atol=1e-9
    )


def test_units_gamma_per_dollar_theta_per_day_vega_per_point() -> None:
    # ATM 30-day 25% vol, r = q = 0: gamma ~ 0.0551/$, vega ~ 0.114 per point, theta ~ -0.0476/day
    # (values from the scipy closed forms, independently of the module).
    s, k, t, sig = 100.0, 100.0, 30 / 365, 0.25
    d1 = (sig**2 / 2 * t) / (sig * math.sqrt(t))
    assert bs_gamma(s, k, t, sig) == pytest.approx(norm.pdf(d1) / (s * sig * math.sqrt(t)))
    assert bs_vega(s, k, t, sig) == pytest.approx(s * norm.pdf(d1) * math.sqrt(t) * 0.01)
    assert bs_theta(s, k, t, sig, True) == pytest.approx(
        -s * norm.pdf(d1) * sig / (2 * math.sqrt(t)) / 365
    )
    assert -0.06 < bs_theta(s, k, t, sig, False) < -0.04


def test_non_positive_inputs_give_nan() -> None:
    out = bs_gamma(
        np.array([100.0, 0.0, 100.0, 100.0]),
        100.0,
        np.array([0.1, 0.1, 0.0, 0.1]),
        np.array([0.2, 0.2, 0.2, -0.1]),
    )
    assert np.isfinite(out[0]) and np.isnan(out[1:]).all()
    d1, d2 = d1_d2(100.0, 100.0, 0.0, 0.2)
    assert np.isnan(d1) and np.isnan(d2)


def test_broadcasts_over_a_grid() -> None:
    grid = np.linspace(80.0, 120.0, 5)
    strikes = np.array([90.0, 100.0, 110.0])
    out = bs_gamma(grid[None, :], strikes[:, None], 0.1, 0.3)
    assert out.shape == (3, 5)
    assert out[1, 2] == pytest.approx(float(bs_gamma(100.0, 100.0, 0.1, 0.3)))


def test_implied_volatility_recovers_sigma_from_scipy_prices() -> None:
    rng = np.random.default_rng(7)
    n = 400
    s = np.full(n, 100.0)
    k = rng.uniform(60.0, 140.0, n)
    t = rng.uniform(3 / 365, 2.0, n)
    sigma = rng.uniform(0.05, 1.5, n)
    r = rng.uniform(0.0, 0.06, n)
    q = rng.uniform(0.0, 0.03, n)
    is_call = rng.random(n) < 0.5
    price = np.array(
        [reference_price(*row) for row in zip(s, k, t, sigma, r, q, is_call, strict=True)]
    )
    vega = (
        s
        * np.exp(-q * t)
        * norm.pdf((np.log(s / k) + (r - q + sigma**2 / 2) * t) / (sigma * np.sqrt(t)))
        * np.sqrt(t)
    )
    well_posed = vega > 1e-3  # the price pins sigma down to well under 1e-6
    solved = implied_volatility(price, s, k, t, is_call, r, q)
    assert well_posed.sum() > 300
    np.testing.assert_allclose(solved[well_posed], sigma[well_posed], atol=1e-6)


def test_implied_volatility_outside_no_arbitrage_bounds_is_nan() -> None:
    # call S=100 K=90 r=q=0: intrinsic 10, upper bound 100; put K=110: intrinsic 10, bound 110
    price = np.array([9.0, 10.0, 100.0, 120.0, np.nan, -1.0, 12.0])
    is_call = np.array([True, True, True, False, True, True, False])
    strike = np.array([90.0, 90.0, 90.0, 110.0, 90.0, 90.0, 110.0])
    out = implied_volatility(price, 100.0, strike, 0.25, is_call)
    assert np.isnan(out[:6]).all()
    assert np.isfinite(out[6])
    assert reference_price(100.0, 110.0, 0.25, out[6], 0.0, 0.0, False) == pytest.approx(12.0)


def test_implied_volatility_short_dated_deep_otm() -> None:
    # 2 days, 10% OTM, 60% vol: tiny vega where Newton from 0.3 overshoots; bisection must rescue
    price = reference_price(100.0, 110.0, 2 / 365, 0.6, 0.0, 0.0, True)
    assert price > 1e-4
    assert implied_volatility(price, 100.0, 110.0, 2 / 365, True) == pytest.approx(0.6, abs=1e-6)
