"""Demo option chains in the shape of Massive's snapshot results, priced from the demo bars
(our design).

For an underlying at spot S on session D, with HV20 and the drawdown from its 60-session high:
- Listed expirations: the next WEEKLIES Fridays, the monthly (third Friday) of the next MONTHLIES
  months, the quarterlies (Mar/Jun/Sep/Dec) within a year and January LEAPS of the next two
  years; an expiration on a holiday moves to the session before (as Good Friday does).
- Strikes on the exchange's increments (STRIKE_STEPS by price), centred on the money, spanning
  STRIKE_SPAN_SIGMAS standard deviations of the move to expiry (at least MIN_SPAN), at most
  MAX_STRIKES_PER_SIDE each side.
- IV surface: ATM = max(IV_FLOOR, HV20 x IV_OVER_HV) + STRESS_IV x drawdown (rises in selloffs),
  a put skew and smile in log-moneyness / sqrt(T) that flatten with maturity, and a term
  structure that inverts under stress (short expiries rise more).
- Open interest concentrates at round strikes (multiples of 5 and 10) near the money; bid/ask
  spreads widen away from the money and with lower prices; greeks and prices are
  Black-Scholes at r = q = 0.
- Some contracts carry no greeks and IV (deep in the money) and some no quote, as real
  snapshots do; a contract is never quoted at a zero ask.
Deterministic: every draw comes from a stream keyed by (seed, underlying, session).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

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
from kapman_resources.calendar import is_session

WEEKLIES = 4
MONTHLIES = 4
LEAPS_YEARS = 2
QUARTER_MONTHS = (3, 6, 9, 12)
STRIKE_STEPS = ((5.0, 0.5), (25.0, 1.0), (100.0, 2.5), (250.0, 5.0), (float("inf"), 10.0))
STRIKE_SPAN_SIGMAS = 2.0
MIN_SPAN = 0.10  # strikes reach at least +-10% of spot
MAX_STRIKES_PER_SIDE = 8
IV_FLOOR = 0.15
IV_OVER_HV = 1.1  # implied runs a little above realized
STRESS_IV = 0.8  # +8 vol points per 10% drawdown
TERM_DECAY_YEARS = 0.25  # how fast the stress lift fades along the term structure
SKEW_SLOPE = 0.08
SMILE_CURVE = 0.02
DEEP_ITM_NO_GREEKS = 0.95  # |delta| above this: greeks and IV absent
NO_QUOTE_SHARE = 0.03  # share of contracts without a last quote
OCC_STRIKE_SCALE = 1000


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _on_a_session(day: dt.date) -> dt.date:
    while not is_session(day):
        day -= dt.timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def listed_expirations(session: dt.date) -> tuple[dt.date, ...]:
    """Weekly, monthly, quarterly and LEAPS expirations listed on `session`, ascending."""
    friday = session + dt.timedelta(days=(4 - session.weekday()) % 7 or 7)
    days = {friday + dt.timedelta(weeks=i) for i in range(WEEKLIES)}
    year, month = session.year, session.month
    for i in range(1, 13):
        y, m = year + (month + i - 1) // 12, (month + i - 1) % 12 + 1
        if i <= MONTHLIES or m in QUARTER_MONTHS:
            days.add(_third_friday(y, m))
    days.update(_third_friday(year + k, 1) for k in range(1, LEAPS_YEARS + 1))
    return tuple(sorted({_on_a_session(d) for d in days if d > session}))


def strike_step(spot: float) -> float:
    """The listing increment for an underlying at this price."""
    return next(step for limit, step in STRIKE_STEPS if spot < limit)


def _strikes(spot: float, sigma: float, t: float) -> np.ndarray:
    step = strike_step(spot)
    span = max(MIN_SPAN, STRIKE_SPAN_SIGMAS * sigma * np.sqrt(t)) * spot
    per_side = int(min(MAX_STRIKES_PER_SIDE, max(2, np.ceil(span / step))))
    atm = np.round(spot / step) * step
    strikes = atm + step * np.arange(-per_side, per_side + 1)
    return strikes[strikes > 0]


def atm_iv(hv20: float, drawdown: float) -> float:
    """Short-dated ATM implied vol from realized vol and the drawdown (selloffs lift it)."""
    return max(IV_FLOOR, IV_OVER_HV * hv20) + STRESS_IV * max(drawdown, 0.0)


def surface_iv(spot: float, strike: np.ndarray, t: np.ndarray, calm: float, lift: float):
    """Skewed smile that flattens with maturity; the stress `lift` is full at the short end
    and a third of it for long expiries (the term structure inverts in a selloff)."""
    m = np.log(strike / spot) / np.sqrt(np.maximum(t, 1 / DAYS_PER_YEAR))
    term = calm + lift * (1 + 2 * np.exp(-t / TERM_DECAY_YEARS)) / 3
    return np.clip(term - SKEW_SLOPE * m + SMILE_CURVE * m * m, 0.05, 3.0)


def occ_ticker(underlying: str, expiration: dt.date, kind: str, strike: float) -> str:
    """The OCC option symbol Massive uses: O:<root><yymmdd><C|P><strike x 1000, 8 digits>."""
    return (
        f"O:{underlying}{expiration:%y%m%d}{kind[0].upper()}{round(strike * OCC_STRIKE_SCALE):08d}"
    )


def chain_frame(
    underlying: str,
    session: dt.date,
    spot: float,
    hv20: float,
    drawdown: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Every listed contract with its price, greeks, quote and OI (NaN where absent)."""
    base = atm_iv(hv20, drawdown)
    calm = atm_iv(hv20, 0.0)
    expirations, strikes, calls = [], [], []
    for expiration in listed_expirations(session):
        listed = _strikes(spot, base, (expiration - session).days / DAYS_PER_YEAR)
        for is_call_side in (True, False):
            expirations += [expiration] * len(listed)
            strikes.append(listed)
            calls.append(np.full(len(listed), is_call_side))
    strike, is_call = np.concatenate(strikes), np.concatenate(calls)
    t = np.array([(e - session).days for e in expirations], dtype=float) / DAYS_PER_YEAR
    kind = np.where(is_call, "call", "put")
    iv = surface_iv(spot, strike, t, calm, base - calm)
    price = bs_price(spot, strike, t, iv, is_call)
    delta = bs_delta(spot, strike, t, iv, is_call)
    moneyness = np.abs(np.log(strike / spot))
    round_bonus = 1 + 1.5 * (strike % 10 == 0) + 0.7 * (strike % 5 == 0)
    oi = np.round(
        3000 * round_bonus * np.exp(-moneyness / 0.06) * np.exp(-t) * rng.lognormal(0, 0.5, len(t))
    )
    volume = np.round(oi * rng.uniform(0, 0.25, len(t)))
    half = np.maximum(0.01, price * (0.01 + 0.25 * moneyness) + 0.02 / max(spot / 50, 0.2)) / 2
    bid = np.round(np.maximum(price - half, 0.0), 2)
    ask = np.round(np.maximum(price + half, bid + 0.01), 2)
    no_quote = rng.random(len(t)) < NO_QUOTE_SHARE
    bid[no_quote] = ask[no_quote] = np.nan
    deep = np.abs(delta) > DEEP_ITM_NO_GREEKS
    greeks = {
        "implied_volatility": iv,
        "delta": delta,
        "gamma": bs_gamma(spot, strike, t, iv),
        "theta": bs_theta(spot, strike, t, iv, is_call),
        "vega": bs_vega(spot, strike, t, iv),
    }
    tickers = [occ_ticker(underlying, e, k, s)
               for e, k, s in zip(expirations, kind, strike.tolist(), strict=True)]  # fmt: skip
    return pd.DataFrame({
        "expiration": expirations, "strike": strike, "contract_type": kind,
        "open_interest": oi, "volume": volume, "bid": bid, "ask": ask,
        **{name: np.where(deep, np.nan, values) for name, values in greeks.items()},
        "ticker": tickers,
    })  # fmt: skip


def snapshot_results(
    chain: pd.DataFrame, underlying: str, spot: float, updated_ns: int
) -> list[dict]:
    """The chain as `/v3/snapshot/options/{underlying}` results (absent fields left out)."""
    out = []
    underlying_asset = {"ticker": underlying, "price": spot, "last_updated": updated_ns,
                        "timeframe": "DELAYED"}  # fmt: skip
    columns = ("ticker", "contract_type", "expiration", "strike", "volume", "open_interest",
               "implied_volatility", "delta", "gamma", "theta", "vega", "bid", "ask")  # fmt: skip
    lists = [chain[c].tolist() for c in columns]
    for ticker, kind, exp, strike, vol, oi, iv, delta, gamma, theta, vega, bid, ask in zip(
        *lists, strict=True
    ):
        result = {
            "details": {"ticker": ticker, "contract_type": kind, "exercise_style": "american",
                        "expiration_date": exp.isoformat(), "shares_per_contract": 100,
                        "strike_price": strike},
            "day": {"volume": vol},
            "open_interest": int(oi),
            "underlying_asset": underlying_asset,
        }  # fmt: skip
        if iv == iv:  # NaN: deep in the money, no greeks (as real snapshots)
            result["implied_volatility"] = iv
            result["greeks"] = {"delta": delta, "gamma": gamma, "theta": theta, "vega": vega}
        if bid == bid:
            result["last_quote"] = {"bid": bid, "ask": ask, "midpoint": round((bid + ask) / 2, 4),
                                    "timeframe": "DELAYED", "last_updated": updated_ns}  # fmt: skip
        out.append(result)
    return out
