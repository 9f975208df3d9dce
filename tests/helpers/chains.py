"""Synthetic option chains for the analytics tests and the benchmark.

A realistic one-date chain (weekly, monthly and quarterly expiries, strikes 0.5*S..1.5*S, a
downward-sloping smile that flattens with maturity, open interest concentrated near the money)
priced with kapman_resources.black_scholes. Use it for INPUTS only: expected values in the
assertions come from hand-worked chains or scipy references.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kapman_resources.black_scholes import (
    DAYS_PER_YEAR,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_theta,
    bs_vega,
)
from kapman_resources.chain_snapshot import CHAIN_COLUMNS as STORED_COLUMNS

# the stored chain's columns, without the snapshot's provenance (not used by the analytics)
CHAIN_COLUMNS = [c for c in STORED_COLUMNS if c not in ("underlying_updated_at", "snapshot_at")]
EXPIRY_DAYS = (2, 7, 9, 14, 21, 28, 35, 49, 63, 91, 119, 182, 273, 364)


def smile_iv(spot: float, strike: np.ndarray, days: np.ndarray) -> np.ndarray:
    """A plausible equity smile: put skew and curvature that flatten as sqrt(T) grows."""
    t = days / DAYS_PER_YEAR
    m = np.clip(np.log(strike / spot) / np.sqrt(np.maximum(t, 1.0 / DAYS_PER_YEAR)), -3.0, 3.0)
    atm = 0.22 + 0.06 * np.exp(-t / 0.15)
    return np.clip(atm - 0.045 * m + 0.012 * m * m, 0.06, 2.0)


def build_chain(
    n_contracts: int = 400,
    spot: float = 100.0,
    date: str = "2024-06-03",
    underlying: str = "TEST",
    seed: int = 0,
    expiry_days: tuple[int, ...] = EXPIRY_DAYS,
) -> pd.DataFrame:
    """A chain of exactly n_contracts rows (calls and puts on every strike of every expiry)."""
    rng = np.random.default_rng(seed)
    per_side = int(np.ceil(n_contracts / (2 * len(expiry_days))))
    step = max(0.5, round(spot / per_side / 0.5) * 0.5)  # listed strikes sit on a 0.5 grid
    strikes = np.round(spot / 0.5) * 0.5 + step * (np.arange(per_side) - per_side // 2)
    days = np.repeat(np.asarray(expiry_days, dtype=float), 2 * per_side)
    strike = np.tile(np.concatenate([strikes, strikes]), len(expiry_days))
    is_call = np.tile(np.r_[np.ones(per_side, bool), np.zeros(per_side, bool)], len(expiry_days))
    days, strike, is_call = days[:n_contracts], strike[:n_contracts], is_call[:n_contracts]

    t = days / DAYS_PER_YEAR
    iv = smile_iv(spot, strike, days)
    price = bs_price(spot, strike, t, iv, is_call)
    half_spread = np.maximum(0.01, 0.02 * price)
    moneyness = np.log(strike / spot)
    oi = np.round(4000 * np.exp(-(moneyness**2) / 0.02) * rng.lognormal(0.0, 0.6, len(strike)))
    as_of = pd.Timestamp(date)
    expiration = as_of + pd.to_timedelta(days, unit="D")
    kind = np.where(is_call, "call", "put")
    ticker = [
        f"O:{underlying}{e:%y%m%d}{k[0].upper()}{int(round(s * 1000)):08d}"
        for e, k, s in zip(expiration, kind, strike, strict=True)
    ]
    frame = pd.DataFrame(
        {
            "date": as_of,
            "underlying": underlying,
            "contract_ticker": ticker,
            "expiration": expiration,
            "strike": strike,
            "contract_type": kind,
            "open_interest": oi,
            "volume": np.round(oi * rng.uniform(0.0, 0.3, len(strike))),
            "implied_volatility": iv,
            "delta": bs_delta(spot, strike, t, iv, is_call),
            "gamma": bs_gamma(spot, strike, t, iv),
            "theta": bs_theta(spot, strike, t, iv, is_call),
            "vega": bs_vega(spot, strike, t, iv),
            "bid": np.maximum(price - half_spread, 0.0),
            "ask": price + half_spread,
            "underlying_price": spot,
            "shares_per_contract": 100.0,
        }
    )
    return frame[CHAIN_COLUMNS]


def hand_chain(rows: list[dict], date: str = "2024-06-03", spot: float = 100.0) -> pd.DataFrame:
    """A small chain from hand-written rows: each gives dte, strike, type and any other columns."""
    as_of = pd.Timestamp(date)
    records = []
    for i, row in enumerate(rows):
        record = {
            "date": as_of,
            "underlying": "HAND",
            "contract_ticker": f"O:HAND{i:04d}",
            "expiration": as_of + pd.Timedelta(days=row["dte"]),
            "strike": float(row["strike"]),
            "contract_type": row["type"],
            "open_interest": np.nan,
            "volume": 0.0,
            "implied_volatility": np.nan,
            "delta": np.nan,
            "gamma": np.nan,
            "theta": np.nan,
            "vega": np.nan,
            "bid": np.nan,
            "ask": np.nan,
            "underlying_price": spot,
            "shares_per_contract": 100.0,
        }
        record.update({k: v for k, v in row.items() if k not in ("dte", "type")})
        records.append(record)
    return pd.DataFrame(records, columns=CHAIN_COLUMNS)
