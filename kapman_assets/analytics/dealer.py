"""Dealer gamma/delta positioning from one (underlying, date) option chain.

Definitions: docs/analytics.md, "Dealer metrics" (dgpi and DEX are our design).

Sign convention (SqueezeMetrics / Perfiliev): dealers are assumed long the calls and short the
puts that customers hold open, so each contract enters with sign +1 (call) or -1 (put):
- GEX_i = sign * gamma * OI * shares_per_contract * S^2 * 0.01, dollars of underlying dealers
  must trade per 1% move (gamma is per $1, as stored in the chain).
- DEX = sum sign * delta * OI * shares_per_contract * S, dollars of dealer delta (stored delta;
  a put's negative delta times -1 makes dealers' short puts a long-delta position).

Contract hygiene (documented, counted in the details): a contract is used when its strike,
gamma, implied volatility (> 0), open interest (>= 0), shares_per_contract (> 0) and type
('call'/'put') are present and it has at least MIN_LIVE_DTE_DAYS to expiry; contracts expiring
on the chain date (or earlier) are counted as expired. DEX additionally skips contracts without
a delta. Missing values are skipped, never filled.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kapman_resources.black_scholes import (
    DAYS_PER_YEAR,
    MIN_LIVE_DTE_DAYS,
    bs_gamma,
    chain_days_to_expiry,
)

GEX_MOVE = 0.01  # GEX is per 1% move of the underlying
FLIP_GRID_LOW = 0.8  # flip search grid spans 0.8*S .. 1.2*S
FLIP_GRID_HIGH = 1.2
FLIP_GRID_POINTS = 61  # >= 60 points; odd so that spot itself is a grid point
WALL_MAX_DTE_DAYS = 90  # walls use expiries <= 90 DTE
DGPI_DISPLAY_SCALE = 0.05  # dgpi_display = 100 * tanh(dgpi / 0.05)  (our design)
DGPI_DISPLAY_MAX = 100.0
LONG_GAMMA = "long_gamma"
SHORT_GAMMA = "short_gamma"
CHAIN_COLUMNS = (
    "date",
    "underlying",
    "expiration",
    "strike",
    "contract_type",
    "open_interest",
    "implied_volatility",
    "delta",
    "gamma",
    "shares_per_contract",
)


def dealer_sign(contract_type: pd.Series) -> np.ndarray:
    """+1 for calls, -1 for puts, 0 otherwise: dealers long calls, short puts (SqueezeMetrics)."""
    kind = contract_type.astype(str).str.lower().to_numpy()
    return np.select([kind == "call", kind == "put"], [1.0, -1.0], 0.0)


def contract_gex(
    sign: np.ndarray, gamma: np.ndarray, open_interest: np.ndarray, shares: np.ndarray, spot: float
) -> np.ndarray:
    """GEX_i = sign * gamma * OI * shares_per_contract * S^2 * 0.01, $ per 1% move
    (docs/analytics.md, "Dealer metrics"; the SqueezeMetrics / Perfiliev signs)."""
    return sign * gamma * open_interest * shares * spot**2 * GEX_MOVE


def net_gex_profile(
    strike: np.ndarray, t: np.ndarray, iv: np.ndarray, weight: np.ndarray, spot_grid: np.ndarray
) -> np.ndarray:
    """Net GEX at each grid spot, BS gamma re-priced at r = q = 0 with IV fixed
    (docs/analytics.md, "Dealer metrics", gamma_flip_level).

    ``weight`` = sign * OI * shares_per_contract per contract; returns one value per grid spot.
    """
    gamma = bs_gamma(spot_grid[None, :], strike[:, None], t[:, None], iv[:, None])
    return spot_grid**2 * GEX_MOVE * (weight @ gamma)


def flip_from_profile(spot_grid: np.ndarray, net_gex: np.ndarray, spot: float) -> float | None:
    """Linear interpolation of the net-GEX sign change nearest spot; None without one
    (docs/analytics.md, "Dealer metrics", gamma_flip_level)."""
    a, b = net_gex[:-1], net_gex[1:]
    crossing = ((a < 0) & (b >= 0)) | ((a > 0) & (b <= 0))
    if not crossing.any():
        return None
    x0, x1 = spot_grid[:-1][crossing], spot_grid[1:][crossing]
    y0, y1 = a[crossing], b[crossing]
    roots = x0 + (x1 - x0) * y0 / (y0 - y1)
    return float(roots[np.argmin(np.abs(roots - spot))])


def flip_grid(spot: float) -> np.ndarray:
    """FLIP_GRID_POINTS evenly spaced spots from 0.8*S to 1.2*S (docs/analytics.md)."""
    return np.linspace(FLIP_GRID_LOW * spot, FLIP_GRID_HIGH * spot, FLIP_GRID_POINTS)


def wall_strike(strike: np.ndarray, exposure: np.ndarray, spot: float) -> float | None:
    """Strike with the max summed exposure over expiries; ties go to the strike nearest spot."""
    if strike.size == 0:
        return None
    totals = pd.Series(exposure).groupby(strike).sum()
    order = np.argsort(np.abs(totals.index.to_numpy() - spot), kind="stable")
    ranked = totals.iloc[order]
    return float(ranked.index[int(np.argmax(ranked.to_numpy()))])


def dgpi(gex_total: float, adv20_dollars: float) -> float | None:
    """DGPI = net GEX per 1% / ADV$20, ADV$20 = mean(close * volume, 20 sessions) (our design)."""
    if not np.isfinite(adv20_dollars) or adv20_dollars <= 0:
        return None
    return float(gex_total / adv20_dollars)


def dgpi_display(value: float | None) -> float | None:
    """Bounded display 100 * tanh(dgpi / 0.05), in -100..100 (our design)."""
    if value is None:
        return None
    return float(DGPI_DISPLAY_MAX * np.tanh(value / DGPI_DISPLAY_SCALE))


def _chain_arrays(chain: pd.DataFrame) -> dict[str, np.ndarray]:
    """Float arrays of the chain columns the metrics use, plus sign and days to expiry."""
    missing = [c for c in CHAIN_COLUMNS if c not in chain.columns]
    if missing:
        raise KeyError(f"option chain is missing columns {missing}")
    numeric = ("strike", "gamma", "implied_volatility", "open_interest", "shares_per_contract")
    arrays = {c: pd.to_numeric(chain[c], errors="coerce").to_numpy(dtype=float) for c in numeric}
    arrays["delta"] = pd.to_numeric(chain["delta"], errors="coerce").to_numpy(dtype=float)
    arrays["sign"] = dealer_sign(chain["contract_type"])
    arrays["dte"] = chain_days_to_expiry(chain)
    return arrays


def _usable_contracts(a: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(usable, expired) masks under the module's documented contract hygiene."""
    finite = np.isfinite(
        a["strike"]
        + a["gamma"]
        + a["implied_volatility"]
        + a["open_interest"]
        + a["shares_per_contract"]
    )
    with np.errstate(invalid="ignore"):
        present = (
            finite
            & (a["strike"] > 0)
            & (a["implied_volatility"] > 0)
            & (a["open_interest"] >= 0)
            & (a["shares_per_contract"] > 0)
            & (a["sign"] != 0)
        )
        expired = ~(a["dte"] >= MIN_LIVE_DTE_DAYS)
    return present & ~expired, expired


def dealer_metrics(chain: pd.DataFrame, spot: float, adv20_dollars: float) -> dict[str, Any]:
    """All dealer metrics of one (underlying, date) chain at spot S (docs/analytics.md,
    "Dealer metrics"; dgpi and dex are our design).

    Returns one row as a dict: underlying, date, gex_total and gex_gross ($ per 1% move),
    dealer_position ('long_gamma' if gex_total > 0 else 'short_gamma'), gamma_flip_level,
    call_wall_primary, put_wall_primary (strikes, $), dex ($ of dealer delta), dgpi (fraction of
    ADV$20 per 1% move), dgpi_display (-100..100) and ``dealer_details``, a JSON-able dict with
    the max-OI walls, contract counts and the net GEX profile on the flip grid. Values that cannot
    be computed (no usable contracts, no sign change, no strike on a side) are None.
    """
    if not (np.isfinite(spot) and spot > 0):
        raise ValueError(f"spot must be a positive number, got {spot!r}")
    arrays = _chain_arrays(chain)
    usable, expired = _usable_contracts(arrays)
    sign, strike, gamma, oi, shares, iv, delta, days = (
        arrays[c][usable]
        for c in (
            "sign",
            "strike",
            "gamma",
            "open_interest",
            "shares_per_contract",
            "implied_volatility",
            "delta",
            "dte",
        )
    )
    any_used = bool(usable.any())

    gex = contract_gex(sign, gamma, oi, shares, spot)
    has_delta = np.isfinite(delta)
    dex = float(np.sum((sign * delta * oi * shares)[has_delta]) * spot)
    grid = flip_grid(spot)
    profile = net_gex_profile(strike, days / DAYS_PER_YEAR, iv, sign * oi * shares, grid)

    near = days <= WALL_MAX_DTE_DAYS
    calls_up = near & (sign > 0) & (strike >= spot)
    puts_down = near & (sign < 0) & (strike <= spot)
    gex_total = float(gex.sum()) if any_used else None
    ratio = dgpi(gex_total, adv20_dollars) if any_used else None
    details = {
        "call_wall_oi": wall_strike(strike[calls_up], oi[calls_up], spot),
        "put_wall_oi": wall_strike(strike[puts_down], oi[puts_down], spot),
        "contracts_total": int(len(chain)),
        "contracts_used": int(usable.sum()),
        "contracts_skipped_expired": int(expired.sum()),
        "contracts_skipped_missing": int((~usable & ~expired).sum()),
        "dex_contracts_skipped_missing_delta": int((~has_delta).sum()),
        "flip_grid_spot": [float(x) for x in grid],
        "flip_grid_net_gex": [float(x) for x in profile],
    }
    return {
        "underlying": str(chain["underlying"].iloc[0]),
        "date": pd.Timestamp(chain["date"].iloc[0]).normalize(),
        "gex_total": gex_total,
        "gex_gross": float(np.abs(gex).sum()) if any_used else None,
        "dealer_position": (
            None if gex_total is None else LONG_GAMMA if gex_total > 0 else SHORT_GAMMA
        ),
        "gamma_flip_level": flip_from_profile(grid, profile, spot) if any_used else None,
        "call_wall_primary": wall_strike(strike[calls_up], gex[calls_up], spot),
        "put_wall_primary": wall_strike(strike[puts_down], -gex[puts_down], spot),
        "dex": dex if any_used else None,
        "dgpi": ratio,
        "dgpi_display": dgpi_display(ratio),
        "dealer_details": details,
    }
