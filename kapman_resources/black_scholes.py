"""Vectorized Black-Scholes-Merton prices, greeks and implied volatility.

Every function broadcasts numpy arrays (or scalars) of spot ``S``, strike ``K``, time ``t`` in
years, volatility ``sigma`` (decimal, 0.25 = 25%), risk-free rate ``r`` and continuous dividend
yield ``q`` (both decimal per year, default 0). Non-positive ``S``, ``K``, ``t`` or ``sigma``
give NaN (no intrinsic-value limit is taken).

Units (the desk convention, as in option-chain snapshots):
- price, delta: per option share; gamma: delta change per $1 move of the underlying;
- theta: price change per calendar day (annual theta / 365), negative for a long option;
- vega: price change per 1 vol point (0.01 of sigma).

Also the chain helper that turns one date's chain into days to expiry (one chain = one date).
It lives in the lower floor because the demo market prices its option chains with it; the
analytics (dealer, volatility) import it from here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtr

DAYS_PER_YEAR = 365.0  # calendar-day year: t = DTE / 365, theta per calendar day
VOL_POINT = 0.01  # vega is quoted per 1 vol point
MIN_LIVE_DTE_DAYS = 1  # contracts expiring on the chain date have expired by the evening run
IV_LOWER = 1e-4  # implied-vol search bracket, decimal
IV_UPPER = 5.0
IV_INITIAL_GUESS = 0.30
IV_PRICE_TOLERANCE = 1e-10  # |model price - target| that counts as solved
IV_VOL_TOLERANCE = 1e-12  # bracket width that counts as solved
IV_MAX_ITERATIONS = 100
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _norm_pdf(x: np.ndarray) -> np.ndarray:
    """Standard normal density."""
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _valid(spot: ArrayLike, strike: ArrayLike, t: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """True where every Black-Scholes input is strictly positive and finite."""
    arrays = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (spot, strike, t, sigma)))
    return np.logical_and.reduce([np.isfinite(a) & (a > 0) for a in arrays])


def d1_d2(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """d1 = (ln(S/K) + (r - q + sigma^2/2) t) / (sigma sqrt t), d2 = d1 - sigma sqrt t (Hull)."""
    spot, strike, t, sigma, r, q = (
        np.asarray(a, dtype=float) for a in (spot, strike, t, sigma, r, q)
    )
    ok = _valid(spot, strike, t, sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        vol_sqrt_t = sigma * np.sqrt(t)
        d1 = (np.log(spot / strike) + (r - q + 0.5 * sigma * sigma) * t) / vol_sqrt_t
        d2 = d1 - vol_sqrt_t
    return np.where(ok, d1, np.nan), np.where(ok, d2, np.nan)


def bs_price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Call S e^{-qt} N(d1) - K e^{-rt} N(d2); put K e^{-rt} N(-d2) - S e^{-qt} N(-d1) (Hull)."""
    d1, d2 = d1_d2(spot, strike, t, sigma, r, q)
    disc_s = np.asarray(spot, dtype=float) * np.exp(-np.asarray(q, dtype=float) * t)
    disc_k = np.asarray(strike, dtype=float) * np.exp(-np.asarray(r, dtype=float) * t)
    call = disc_s * ndtr(d1) - disc_k * ndtr(d2)
    put = disc_k * ndtr(-d2) - disc_s * ndtr(-d1)
    return np.where(is_call, call, put)


def bs_delta(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Call e^{-qt} N(d1); put e^{-qt} (N(d1) - 1) (Hull)."""
    d1, _ = d1_d2(spot, strike, t, sigma, r, q)
    disc_q = np.exp(-np.asarray(q, dtype=float) * t)
    return disc_q * (ndtr(d1) - np.where(is_call, 0.0, 1.0))


def bs_gamma(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Gamma per $1 = e^{-qt} phi(d1) / (S sigma sqrt t), same for calls and puts (Hull)."""
    d1, _ = d1_d2(spot, strike, t, sigma, r, q)
    disc_q = np.exp(-np.asarray(q, dtype=float) * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        return disc_q * _norm_pdf(d1) / (np.asarray(spot, dtype=float) * sigma * np.sqrt(t))


def bs_vega(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Vega per vol point = S e^{-qt} phi(d1) sqrt t * 0.01, same for calls and puts (Hull)."""
    d1, _ = d1_d2(spot, strike, t, sigma, r, q)
    disc_s = np.asarray(spot, dtype=float) * np.exp(-np.asarray(q, dtype=float) * t)
    return disc_s * _norm_pdf(d1) * np.sqrt(np.asarray(t, dtype=float)) * VOL_POINT


def bs_theta(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Theta per calendar day = -dV/dt / 365 with the BSM closed form (Hull)."""
    d1, d2 = d1_d2(spot, strike, t, sigma, r, q)
    r, q, t = (np.asarray(a, dtype=float) for a in (r, q, t))
    disc_s = np.asarray(spot, dtype=float) * np.exp(-q * t)
    disc_k = np.asarray(strike, dtype=float) * np.exp(-r * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = -disc_s * _norm_pdf(d1) * sigma / (2.0 * np.sqrt(t))
    call = decay - r * disc_k * ndtr(d2) + q * disc_s * ndtr(d1)
    put = decay + r * disc_k * ndtr(-d2) - q * disc_s * ndtr(-d1)
    return np.where(is_call, call, put) / DAYS_PER_YEAR


def implied_volatility(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    is_call: ArrayLike,
    r: ArrayLike = 0.0,
    q: ArrayLike = 0.0,
) -> np.ndarray:
    """Sigma with bs_price(sigma) = price: vectorized Newton, bisection when a step leaves the bracket.

    NaN where the price is outside the no-arbitrage bounds (intrinsic < price < S e^{-qt} for a
    call, K e^{-rt} for a put) or the solution is outside [IV_LOWER, IV_UPPER].
    """
    price, spot, strike, t, is_call, r, q = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (price, spot, strike, t, is_call, r, q))
    )
    is_call = is_call.astype(bool)
    disc_s = spot * np.exp(-q * t)
    disc_k = strike * np.exp(-r * t)
    lower_bound = np.maximum(np.where(is_call, disc_s - disc_k, disc_k - disc_s), 0.0)
    upper_bound = np.where(is_call, disc_s, disc_k)
    with np.errstate(invalid="ignore"):
        solvable = (
            _valid(spot, strike, t, np.ones_like(t))
            & np.isfinite(price)
            & (price > lower_bound)
            & (price < upper_bound)
        )
    lo = np.full(price.shape, IV_LOWER)
    hi = np.full(price.shape, IV_UPPER)
    sigma = np.full(price.shape, IV_INITIAL_GUESS)
    done = ~solvable
    solved = np.zeros(price.shape, dtype=bool)
    for _ in range(IV_MAX_ITERATIONS):
        diff = bs_price(spot, strike, t, sigma, is_call, r, q) - price
        converged = (np.abs(diff) <= IV_PRICE_TOLERANCE) | (hi - lo <= IV_VOL_TOLERANCE)
        solved |= converged & ~done
        done |= converged
        if done.all():
            break
        hi = np.where(diff > 0, sigma, hi)  # the price increases with sigma
        lo = np.where(diff < 0, sigma, lo)
        vega_raw = bs_vega(spot, strike, t, sigma, r, q) / VOL_POINT
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = sigma - diff / vega_raw
        inside = np.isfinite(newton) & (newton > lo) & (newton < hi)
        sigma = np.where(done, sigma, np.where(inside, newton, 0.5 * (lo + hi)))
    inside_bracket = (sigma > IV_LOWER * (1 + 1e-9)) & (sigma < IV_UPPER * (1 - 1e-9))
    return np.where(solved & inside_bracket, sigma, np.nan)


def chain_days_to_expiry(chain: pd.DataFrame) -> np.ndarray:
    """Calendar days from the chain's single date to each expiration (one chain = one date)."""
    if chain.empty:
        raise ValueError("empty option chain: one chain of one (underlying, date) is required")
    dates = pd.to_datetime(chain["date"]).dt.normalize()
    if dates.nunique(dropna=False) != 1:
        raise ValueError(
            f"one chain = one date: got {dates.nunique(dropna=False)} dates "
            f"({dates.min().date()} .. {dates.max().date()}); split the chain by date first"
        )
    if chain["underlying"].nunique(dropna=False) != 1:
        raise ValueError(
            f"one chain = one underlying: got {sorted(map(str, chain['underlying'].unique()))}"
        )
    expirations = pd.to_datetime(chain["expiration"]).dt.normalize()
    return (expirations - dates).dt.days.to_numpy(dtype=float)
