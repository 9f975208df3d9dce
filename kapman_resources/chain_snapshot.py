"""Massive's option-chain snapshot (`/v3/snapshot/options/{underlying}`) as `options_chains` rows.

One row per contract, keyed by its OCC ticker (`O:…`): adjusted contracts after splits and
mergers share (expiration, strike, type) with standard ones and differ by ticker and
`shares_per_contract`. `greeks`, `implied_volatility` and `last_quote` are often absent (deep
in the money, plan limits): their columns are NULL, never 0. Open interest is as of the previous
session's close (OCC publishes it overnight). A contract without its identity (ticker, type,
strike, expiration) or with a string where a number belongs makes the whole page malformed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

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
_INF = float("inf")


def _number(value, field: str, where: str, required: bool = False) -> float | None:
    kind = type(value)
    if kind is float or kind is int:  # the common case, checked first
        if value == value and value not in (_INF, -_INF):
            return float(value)
        raise MalformedResponse(f"{where}: {field} is {value!r}")
    if value is None:
        if required:
            raise MalformedResponse(f"{where}: {field} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResponse(f"{where}: {field} is {value!r}, not a number")
    value = float(value)
    if not math.isfinite(value):
        raise MalformedResponse(f"{where}: {field} is {value!r}")
    return value


def _section(result: dict, name: str, where: str) -> dict:
    value = result.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{where}: {name} is not an object")
    return value


def _nanoseconds(value, field: str, where: str) -> int | None:
    ns = _number(value, field, where)
    return None if ns is None else int(ns)


def _contract(result: dict, underlying: str) -> dict:
    if not isinstance(result, dict):
        raise MalformedResponse(f"{underlying}: a result is not an object")
    details = _section(result, "details", underlying)
    ticker = details.get("ticker")
    if not isinstance(ticker, str) or not ticker.startswith("O:"):
        raise MalformedResponse(f"{underlying}: details.ticker is {ticker!r}, not an O: ticker")
    where = f"{underlying} {ticker}"
    kind = details.get("contract_type")
    if kind not in CONTRACT_TYPES:
        raise MalformedResponse(f"{where}: details.contract_type is {kind!r}")
    try:
        expiration = dt.date.fromisoformat(str(details.get("expiration_date")))
    except ValueError as exc:
        raise MalformedResponse(
            f"{where}: details.expiration_date is {details.get('expiration_date')!r}"
        ) from exc
    greeks = _section(result, "greeks", where)
    quote = _section(result, "last_quote", where)
    day = _section(result, "day", where)
    spot = _section(result, "underlying_asset", where)
    shares = _number(details.get("shares_per_contract"), "details.shares_per_contract", where)
    oi = _number(result.get("open_interest"), "open_interest", where)
    return {
        "contract_ticker": ticker,
        "expiration": expiration,
        "strike": _number(details.get("strike_price"), "details.strike_price", where, True),
        "contract_type": kind,
        "open_interest": None if oi is None else int(oi),
        "volume": _number(day.get("volume"), "day.volume", where),
        "implied_volatility": _number(
            result.get("implied_volatility"), "implied_volatility", where
        ),
        **{
            g: _number(greeks.get(g), f"greeks.{g}", where)
            for g in ("delta", "gamma", "theta", "vega")
        },  # noqa: E501
        "bid": _number(quote.get("bid"), "last_quote.bid", where),
        "ask": _number(quote.get("ask"), "last_quote.ask", where),
        "underlying_price": _number(spot.get("price"), "underlying_asset.price", where),
        "shares_per_contract": None if shares is None else int(shares),
        "underlying_updated_at": _nanoseconds(
            spot.get("last_updated"), "underlying_asset.last_updated", where
        ),
    }


def chain_rows(
    results: Iterable[dict], underlying: str, session: dt.date, snapshot_at: pd.Timestamp
) -> pd.DataFrame:
    """The snapshot's results as `options_chains` rows for `session`; one row per contract.

    A contract listed twice (a repeated page) keeps its first row.
    """
    rows = [_contract(r, underlying) for r in results]
    frame = pd.DataFrame(rows, columns=[c for c in CHAIN_COLUMNS if c not in (
        "date", "underlying", "snapshot_at")])  # fmt: skip
    frame = frame.drop_duplicates("contract_ticker", keep="first", ignore_index=True)
    frame.insert(0, "date", session)
    frame.insert(1, "underlying", underlying)
    frame["snapshot_at"] = snapshot_at
    for col in ("open_interest", "shares_per_contract"):
        frame[col] = frame[col].astype("Int64")
    frame["underlying_updated_at"] = pd.to_datetime(
        frame["underlying_updated_at"].astype("Int64"), unit="ns", utc=True
    )
    return frame.loc[:, list(CHAIN_COLUMNS)]
