"""Massive's option-chain snapshot (`/v3/snapshot/options/{underlying}`) as `options_chains` rows.

One row per contract, keyed by its OCC ticker (`O:…`): adjusted contracts after splits and
mergers share (expiration, strike, type) with standard ones and differ by ticker and
`shares_per_contract`. `greeks`, `implied_volatility` and `last_quote` are often absent (deep
in the money, plan limits): their columns are NULL, never 0. Open interest is as of the previous
session's close (OCC publishes it overnight). A contract without its identity (ticker, type,
strike, expiration) or with a string where a number belongs fails the whole underlying's chain
(nothing of it is kept; the caller names it failed).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from kapman_resources.massive_rest import MalformedResponse

CHAIN_COLUMNS = (
    "date",
    "underlying",
    "contract_ticker",
    "expiration",
    "strike",
    "contract_type",
    "open_interest",
    "volume",
    "implied_volatility",
    "delta",
    "gamma",
    "theta",
    "vega",
    "bid",
    "ask",
    "underlying_price",
    "shares_per_contract",
    "underlying_updated_at",
    "snapshot_at",
)
CONTRACT_TYPES = ("call", "put")


NUMBER_FIELDS = (  # (section, key, column); section None = the result itself
    ("details", "strike_price", "strike"),
    (None, "open_interest", "open_interest"),
    ("day", "volume", "volume"),
    (None, "implied_volatility", "implied_volatility"),
    ("greeks", "delta", "delta"),
    ("greeks", "gamma", "gamma"),
    ("greeks", "theta", "theta"),
    ("greeks", "vega", "vega"),
    ("last_quote", "bid", "bid"),
    ("last_quote", "ask", "ask"),
    ("underlying_asset", "price", "underlying_price"),
    ("details", "shares_per_contract", "shares_per_contract"),
    ("underlying_asset", "last_updated", "underlying_updated_at"),
)
_NUMERIC = (int, float, type(None))
INTEGER_LIMITS = {  # plausible bounds of integer fields (beyond them a value is garbage)
    "open_interest": 1e12,
    "shares_per_contract": 1e9,
    "underlying_updated_at": 4e18,  # ns since 1970: before 2096
}


def _sections(results: list, name: str, tickers: list, underlying: str) -> list[dict]:
    """Each result's `name` object ({} when absent)."""
    out = [r.get(name) or {} for r in results]
    for i, value in enumerate(out):
        if type(value) is not dict:
            raise MalformedResponse(f"{underlying} {tickers[i]}: {name} is not an object")
    return out


def _numbers(values: list, field: str, tickers: list, underlying: str) -> np.ndarray:
    """Floats (NaN where absent); a string, a boolean or an infinity names the contract."""
    if not all(type(v) in _NUMERIC for v in values):
        i = next(i for i, v in enumerate(values) if type(v) not in _NUMERIC)
        raise MalformedResponse(
            f"{underlying} {tickers[i]}: {field} is {values[i]!r}, not a number"
        )
    array = np.array(values, dtype=float)
    infinite = np.isinf(array)
    if infinite.any():
        i = int(np.flatnonzero(infinite)[0])
        raise MalformedResponse(f"{underlying} {tickers[i]}: {field} is {values[i]!r}")
    return array


def chain_rows(
    results: list, underlying: str, session: dt.date, snapshot_at: pd.Timestamp
) -> pd.DataFrame:
    """The snapshot's results as `options_chains` rows for `session`; one row per contract.

    Validated a column at a time (fast on 1,000s of contracts); a contract listed twice (a
    repeated page) keeps its first row.
    """
    if any(type(r) is not dict for r in results):
        raise MalformedResponse(f"{underlying}: a result is not an object")
    details = _sections(results, "details", ["?"] * len(results), underlying)
    tickers = [d.get("ticker") for d in details]
    for ticker in tickers:
        if type(ticker) is not str or not ticker.startswith("O:"):
            raise MalformedResponse(f"{underlying}: details.ticker is {ticker!r}, not an O: ticker")
    sections = {name: _sections(results, name, tickers, underlying)
                for name in ("details", "greeks", "last_quote", "day", "underlying_asset")}  # fmt: skip
    kinds = [d.get("contract_type") for d in details]
    for i, kind in enumerate(kinds):
        if kind not in CONTRACT_TYPES:
            raise MalformedResponse(f"{underlying} {tickers[i]}: details.contract_type is {kind!r}")
    raw_dates = [d.get("expiration_date") for d in details]
    try:
        expiration = [dt.date.fromisoformat(v) for v in raw_dates]
    except (ValueError, TypeError):
        bad = next(i for i, v in enumerate(raw_dates) if not _is_iso_date(v))
        raise MalformedResponse(
            f"{underlying} {tickers[bad]}: details.expiration_date is {raw_dates[bad]!r}"
        ) from None
    columns: dict[str, object] = {"contract_ticker": tickers, "contract_type": kinds,
                                  "expiration": expiration}  # fmt: skip
    for section, key, column in NUMBER_FIELDS:
        source = results if section is None else sections[section]
        field = key if section is None else f"{section}.{key}"
        columns[column] = _numbers([r.get(key) for r in source], field, tickers, underlying)
    missing_strike = np.isnan(columns["strike"])
    if missing_strike.any():
        i = int(np.flatnonzero(missing_strike)[0])
        raise MalformedResponse(f"{underlying} {tickers[i]}: details.strike_price is missing")
    for col, limit in INTEGER_LIMITS.items():
        values = columns[col]
        too_big = np.abs(np.nan_to_num(values)) > limit
        if too_big.any():
            i = int(np.flatnonzero(too_big)[0])
            raise MalformedResponse(f"{underlying} {tickers[i]}: {col} is {values[i]!r}")
        columns[col] = pd.array(np.round(values), dtype="Int64")
    columns["underlying_updated_at"] = pd.to_datetime(columns["underlying_updated_at"], unit="ns",
                                                      utc=True)  # fmt: skip
    columns.update(date=session, underlying=underlying, snapshot_at=snapshot_at)
    frame = pd.DataFrame(columns).drop_duplicates(
        "contract_ticker", keep="first", ignore_index=True
    )
    return frame.loc[:, list(CHAIN_COLUMNS)]


def _is_iso_date(value) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True  # (a "20250105" also parses: fromisoformat accepts the basic format)
