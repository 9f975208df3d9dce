"""Reference documents: the `/v3/reference/tickers` and `/v3/reference/splits` responses."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from kapman_resources.demo_market.watchlist_specs import ADRS, WATCH_ACQUISITIONS, WATCH_SPLITS
from kapman_resources.flatfiles import REFERENCE_SPLITS_KEY, REFERENCE_TICKERS_KEY

NASDAQ_SHARE = 0.6  # of stocks; the rest list on NYSE


def reference_documents(
    specs: pd.DataFrame,
    splits: pd.DataFrame,
    sessions: list[dt.date],
    start: dt.date,
    end: dt.date,
) -> dict[str, dict]:
    """`/v3/reference/tickers` and `/v3/reference/splits` responses as of `end`, by file key."""
    n = len(sessions)
    stamp = f"{end.isoformat()}T00:00:00Z"
    results = []
    for symbol, row in specs.iterrows():
        if row["first"] >= n:
            continue  # not listed yet
        active = bool(row["last"] >= n - 1)
        kind = "ETF" if row["etf"] else "ADRC" if symbol in ADRS else "CS"
        nasdaq = row["exchange_u"] < NASDAQ_SHARE
        item = {
            "ticker": symbol,
            "name": f"{symbol} Demo ETF" if row["etf"] else f"{symbol.title()} Demo Corp.",
            "market": "stocks",
            "locale": "us",
            "primary_exchange": "ARCX" if row["etf"] else "XNAS" if nasdaq else "XNYS",
            "type": kind,
            "active": active,
            "currency_name": "usd",
            "last_updated_utc": stamp,
        }
        if not active:
            last_day = _last_trading_day(symbol, int(row["last"]), sessions)
            item["delisted_utc"] = f"{(last_day + dt.timedelta(days=1)).isoformat()}T05:00:00Z"
        results.append(item)
    listed = {r["ticker"] for r in results}
    split_rows = []
    for row in splits.sort_values(["ticker", "at"]).itertuples(index=False):
        if row.at >= n or row.ticker not in listed:
            continue
        day = sessions[row.at] if row.at >= 0 else _watch_split_day(row.ticker, start)
        split_rows.append({
            "id": f"demo-{row.ticker}-{day.isoformat()}",
            "execution_date": day.isoformat(),
            "split_from": int(row.split_from),
            "split_to": int(row.split_to),
            "ticker": row.ticker,
        })  # fmt: skip
    tickers_doc = {"results": results, "status": "OK", "request_id": "demo", "count": len(results)}
    splits_doc = {
        "results": split_rows, "status": "OK", "request_id": "demo", "count": len(split_rows)
    }  # fmt: skip
    return {REFERENCE_TICKERS_KEY: tickers_doc, REFERENCE_SPLITS_KEY: splits_doc}


def _last_trading_day(symbol: str, last: int, sessions: list[dt.date]) -> dt.date:
    """The last session a delisted ticker traded (a real date when before the window)."""
    return sessions[last] if last >= 0 else WATCH_ACQUISITIONS[symbol]


def _watch_split_day(symbol: str, start: dt.date) -> dt.date:
    """Execution date of a watchlist split that predates the window."""
    return next(d for s, d, _, _ in WATCH_SPLITS if s == symbol and d < start)
