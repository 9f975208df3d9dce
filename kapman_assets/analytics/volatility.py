"""Implied-volatility metrics from one (underlying, date) option chain.

Definitions: docs/analytics.md, "Volatility metrics".

All volatilities are decimals (0.25 = 25%) of the chain's stored implied_volatility; time is
calendar days / 365. Documented rules (our design where the domain reference leaves a choice):
- Contracts expiring on the chain date (DTE < MIN_LIVE_DTE_DAYS) are skipped everywhere.
  A contract enters an IV metric only with a finite IV > 0, a delta-based one only with a
  finite delta, an OI-based one only with a finite OI >= 0; skipped contracts are counted.
- IV at a target |delta| per expiry: calls use delta, puts use |delta|; on each side the IV is
  linearly interpolated in delta between the nearest contract at or below the target and the
  nearest at or above it. No extrapolation in delta: an expiry whose contracts do not straddle
  the target has no value on that side.
- ATM IV per expiry = mean of the call-side and put-side IVs at |delta| = 0.50 (the one side
  that exists when only one does).
- Constant maturity (IV30, IV90, the 30-day 25-delta wings): linear interpolation of total
  variance sigma^2 T between the two expiries bracketing the target; an expiry at the target is
  used as is. No extrapolation: a target outside the listed expiries gives None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kapman_resources.black_scholes import (
    DAYS_PER_YEAR,
    MIN_LIVE_DTE_DAYS,
    chain_days_to_expiry,
)

AVG_IV_MONEYNESS_LOW = 0.8  # average_iv: 0.8 <= K/S <= 1.2
AVG_IV_MONEYNESS_HIGH = 1.2
AVG_IV_MIN_DTE_DAYS = 7  # average_iv: 7 <= DTE <= 90
AVG_IV_MAX_DTE_DAYS = 90
ATM_ABS_DELTA = 0.50
SKEW_ABS_DELTA = 0.25
IV_SHORT_DAYS = 30  # iv_30 and the 25-delta skew horizon
IV_LONG_DAYS = 90  # iv_90
PCR_MAX_DTE_DAYS = 90  # put_call_ratio_oi over expiries <= 90 DTE
CHAIN_COLUMNS = (
    "date",
    "underlying",
    "expiration",
    "strike",
    "contract_type",
    "open_interest",
    "implied_volatility",
    "delta",
)


def average_iv(iv: np.ndarray, oi: np.ndarray, moneyness: np.ndarray, dte: np.ndarray) -> float:
    """OI-weighted IV over 0.8 <= K/S <= 1.2 and 7 <= DTE <= 90, decimal (docs/analytics.md)."""
    with np.errstate(invalid="ignore"):
        keep = (
            np.isfinite(iv)
            & (iv > 0)
            & np.isfinite(oi)
            & (oi >= 0)
            & (moneyness >= AVG_IV_MONEYNESS_LOW)
            & (moneyness <= AVG_IV_MONEYNESS_HIGH)
            & (dte >= AVG_IV_MIN_DTE_DAYS)
            & (dte <= AVG_IV_MAX_DTE_DAYS)
        )
    weight = oi[keep]
    if weight.sum() <= 0:
        return np.nan
    return float(np.sum(weight * iv[keep]) / weight.sum())


def iv_at_abs_delta(
    dte: np.ndarray, abs_delta: np.ndarray, iv: np.ndarray, target: float
) -> pd.Series:
    """Per expiry (index: DTE), IV linear in |delta| between the contracts around target (our rule)."""
    frame = pd.DataFrame({"dte": dte, "x": abs_delta, "iv": iv}).dropna()
    below = frame[frame["x"] <= target]
    above = frame[frame["x"] >= target]
    lo = below.loc[below.groupby("dte")["x"].idxmax()].set_index("dte")
    hi = above.loc[above.groupby("dte")["x"].idxmin()].set_index("dte")
    pair = lo.join(hi, lsuffix="_lo", rsuffix="_hi", how="inner")
    span = (pair["x_hi"] - pair["x_lo"]).to_numpy()
    offset = (target - pair["x_lo"]).to_numpy()
    weight = np.divide(offset, span, out=np.zeros_like(span), where=span > 0)
    return pair["iv_lo"] + weight * (pair["iv_hi"] - pair["iv_lo"])


def atm_iv_by_expiry(
    dte: np.ndarray, is_call: np.ndarray, delta: np.ndarray, iv: np.ndarray
) -> pd.Series:
    """ATM IV per expiry = mean of call and put IV at |delta| = 0.50, decimal (our rule)."""
    call_side = iv_at_abs_delta(dte[is_call], delta[is_call], iv[is_call], ATM_ABS_DELTA)
    put_side = iv_at_abs_delta(dte[~is_call], -delta[~is_call], iv[~is_call], ATM_ABS_DELTA)
    return pd.concat([call_side, put_side], axis=1).mean(axis=1).sort_index()


def constant_maturity_iv(days: np.ndarray, iv: np.ndarray, target_days: float) -> float:
    """IV at target_days from linear interpolation of total variance sigma^2 T
    (docs/analytics.md, "Volatility metrics", iv_30 / iv_90).

    ``days``/``iv`` hold one IV per expiry. Returns NaN outside the listed expiries.
    """
    days, iv = np.asarray(days, dtype=float), np.asarray(iv, dtype=float)
    keep = np.isfinite(iv) & (iv > 0) & np.isfinite(days) & (days > 0)
    if not keep.any():
        return np.nan
    order = np.argsort(days[keep])
    t = days[keep][order] / DAYS_PER_YEAR
    total_variance = iv[keep][order] ** 2 * t
    target_t = target_days / DAYS_PER_YEAR
    return float(
        np.sqrt(np.interp(target_t, t, total_variance, left=np.nan, right=np.nan) / target_t)
    )


def put_call_ratio_oi(is_put: np.ndarray, is_call: np.ndarray, oi: np.ndarray) -> float:
    """Sum OI puts / sum OI calls over the contracts given (docs/analytics.md); NaN without
    call OI."""
    call_oi = oi[is_call].sum()
    return float(oi[is_put].sum() / call_oi) if call_oi > 0 else np.nan


def _none_if_nan(value: float) -> float | None:
    """None for NaN so the row and the details stay JSON- and NULL-friendly."""
    return None if value is None or not np.isfinite(value) else float(value)


def volatility_metrics(chain: pd.DataFrame, spot: float) -> dict[str, Any]:
    """One row of IV metrics for one (underlying, date) chain at spot S (docs/analytics.md,
    "Volatility metrics").

    Keys: underlying, date; average_iv, iv_30, iv_90 (decimal vols); iv_skew_25d = IV(put
    delta -0.25) - IV(call delta +0.25) at 30 days (decimal vol, positive = puts richer);
    iv_term_structure = iv_30 / iv_90 (ratio, > 1 backwardation); put_call_ratio_oi (ratio,
    expiries <= 90 DTE); ``volatility_details``: JSON-able ATM IV per expiry (keyed by DTE),
    the 30-day wing IVs and contract counts. Values that cannot be computed are None.
    """
    missing = [c for c in CHAIN_COLUMNS if c not in chain.columns]
    if missing:
        raise KeyError(f"option chain is missing columns {missing}")
    if not (np.isfinite(spot) and spot > 0):
        raise ValueError(f"spot must be a positive number, got {spot!r}")
    dte = chain_days_to_expiry(chain)
    kind = chain["contract_type"].astype(str).str.lower().to_numpy()
    strike, oi, iv, delta = (
        pd.to_numeric(chain[c], errors="coerce").to_numpy(dtype=float)
        for c in ("strike", "open_interest", "implied_volatility", "delta")
    )
    with np.errstate(invalid="ignore"):
        live = (dte >= MIN_LIVE_DTE_DAYS) & np.isin(kind, ("call", "put"))
        has_iv = live & np.isfinite(iv) & (iv > 0)
        has_oi = live & np.isfinite(oi) & (oi >= 0)
    on_delta = has_iv & np.isfinite(delta)
    is_call = kind == "call"

    atm = atm_iv_by_expiry(dte[on_delta], is_call[on_delta], delta[on_delta], iv[on_delta])
    iv_30 = constant_maturity_iv(atm.index.to_numpy(), atm.to_numpy(), IV_SHORT_DAYS)
    iv_90 = constant_maturity_iv(atm.index.to_numpy(), atm.to_numpy(), IV_LONG_DAYS)
    wings = {}
    for side, mask, sign in (("put", ~is_call, -1.0), ("call", is_call, 1.0)):
        pick = on_delta & mask
        per_expiry = iv_at_abs_delta(dte[pick], sign * delta[pick], iv[pick], SKEW_ABS_DELTA)
        wings[side] = constant_maturity_iv(
            per_expiry.index.to_numpy(), per_expiry.to_numpy(), IV_SHORT_DAYS
        )
    near = has_oi & (dte <= PCR_MAX_DTE_DAYS)
    details = {
        "atm_iv_by_expiry": {str(int(d)): float(v) for d, v in atm.dropna().items()},
        "iv_put_25d_30": _none_if_nan(wings["put"]),
        "iv_call_25d_30": _none_if_nan(wings["call"]),
        "contracts_total": int(len(chain)),
        "contracts_skipped_expired": int((~live).sum()),
        "contracts_skipped_missing_iv": int((live & ~has_iv).sum()),
        "contracts_skipped_missing_delta": int((has_iv & ~on_delta).sum()),
        "contracts_skipped_missing_oi": int((live & ~has_oi).sum()),
    }
    return {
        "underlying": str(chain["underlying"].iloc[0]),
        "date": pd.Timestamp(chain["date"].iloc[0]).normalize(),
        "average_iv": _none_if_nan(average_iv(iv[live], oi[live], strike[live] / spot, dte[live])),
        "iv_30": _none_if_nan(iv_30),
        "iv_90": _none_if_nan(iv_90),
        "iv_skew_25d": _none_if_nan(wings["put"] - wings["call"]),
        "iv_term_structure": _none_if_nan(iv_30 / iv_90),
        "put_call_ratio_oi": _none_if_nan(put_call_ratio_oi(near & ~is_call, near & is_call, oi)),
        "volatility_details": details,
    }
