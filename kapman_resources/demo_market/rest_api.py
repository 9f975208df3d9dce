"""The demo market behind Massive's REST endpoints: an httpx transport, so the real client code
(authentication, pagination, parsing) runs offline (our design).

For one session (the demo's "now"), it answers
- `GET /v3/snapshot/options/{underlying}?limit=N` with that session's synthesized chain, N
  results per page and a `next_url` carrying only a cursor, like the real API;
- `GET /v2/aggs/grouped/locale/us/market/stocks/{date}` with the day file of that date as the
  grouped-daily JSON (`T, v, o, c, h, l, t, n`; `t` = 00:00 New York in ms);
and 401 without a bearer key, 404 for any other path. Prices come from the demo's own flat
files (spot = the session's close; HV20 and the 60-session drawdown drive the IV surface).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Callable

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa

from kapman_resources.calendar import NEW_YORK, nyse_sessions
from kapman_resources.demo_market.option_chains import chain_frame, snapshot_results
from kapman_resources.demo_market.streams import symbol_owner
from kapman_resources.flatfiles import FlatFileMissing, parse_day_aggs

DEMO_REST_URL = "https://demo.massive.invalid"
SNAPSHOT_PREFIX = "/v3/snapshot/options/"
GROUPED_PREFIX = "/v2/aggs/grouped/locale/us/market/stocks/"
PAGE_LIMIT_MAX = 250
HV_SESSIONS = 20
DRAWDOWN_SESSIONS = 60
Fetch = Callable[[dt.date], bytes]  # a session's day file (raw gzip bytes)


_DAY_CACHE: dict[tuple[str, dt.date], pa.Table] = {}  # parsed day files of recent sessions
_DAY_CACHE_SIZE = 160
_DAY_CACHE_LOCK = threading.Lock()


def _day_table(fetch: Fetch, source: str, day: dt.date) -> pa.Table:
    """A parsed day file; `source` (the mirror's directory) keys the cache."""
    key = (source, day)
    with _DAY_CACHE_LOCK:
        if key in _DAY_CACHE:
            return _DAY_CACHE[key]
    table = parse_day_aggs(fetch(day), day, f"demo day file {day}")
    with _DAY_CACHE_LOCK:
        if len(_DAY_CACHE) >= _DAY_CACHE_SIZE:
            _DAY_CACHE.pop(next(iter(_DAY_CACHE)))
        _DAY_CACHE[key] = table
    return table


def _closes(fetch: Fetch, source: str, days: list[dt.date]) -> pd.DataFrame:
    """Close by ticker (columns) and session (rows) over `days`."""
    frames = {d: _day_table(fetch, source, d).select(["ticker", "close"]).to_pandas() for d in days}
    return pd.DataFrame({d: f.set_index("ticker")["close"] for d, f in frames.items()}).T


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset={offset}".encode()).decode()


def _offset(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split("=", 1)[1])


class DemoMassiveTransport(httpx.BaseTransport):
    """Massive's snapshot and grouped-daily endpoints over the demo market, as of `session`."""

    def __init__(
        self, fetch: Fetch, source: str, session: dt.date, seed: int, start: dt.date
    ) -> None:
        self.fetch, self.source, self.session, self.seed = fetch, source, session, seed
        self._chains: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        lookback = max(start, session - dt.timedelta(days=DRAWDOWN_SESSIONS * 2))
        self._history = nyse_sessions(lookback, session)[-DRAWDOWN_SESSIONS:]  # the market's own
        self._market: pd.DataFrame | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _json(401, {"status": "ERROR", "error": "API Key was not provided"})
        path = request.url.path
        if path.startswith(SNAPSHOT_PREFIX):
            return self._snapshot(path[len(SNAPSHOT_PREFIX) :], request.url.params)
        if path.startswith(GROUPED_PREFIX):
            return self._grouped(path[len(GROUPED_PREFIX) :])
        return _json(404, {"status": "NOT_FOUND", "error": f"no route {path}"})

    def _market_state(self) -> pd.DataFrame:
        """Spot, HV20 and drawdown per ticker on the session (computed once per transport)."""
        with self._lock:
            if self._market is None:
                closes = _closes(self.fetch, self.source, self._history)
                returns = np.log(closes).diff().iloc[-HV_SESSIONS:]
                returns = returns.where(returns.abs() < 0.4)  # a split day is not volatility
                self._market = pd.DataFrame({
                    "spot": closes.iloc[-1],
                    "hv20": returns.std(ddof=1) * np.sqrt(252),
                    "drawdown": 1 - closes.iloc[-1] / closes.max(),
                }).dropna(subset=["spot"])  # fmt: skip
            return self._market

    def _chain(self, underlying: str) -> list[dict]:
        with self._lock:
            cached = self._chains.get(underlying)
        if cached is not None:
            return cached
        market = self._market_state()
        if underlying not in market.index:
            results: list[dict] = []  # no bar that session: nothing listed
        else:
            row = market.loc[underlying]
            rng = np.random.default_rng(
                [self.seed, symbol_owner(underlying), self.session.toordinal()]
            )
            hv = float(row.hv20) if np.isfinite(row.hv20) else 0.3
            chain = chain_frame(
                underlying, self.session, float(row.spot), hv, float(row.drawdown), rng
            )
            updated = pd.Timestamp(f"{self.session} 16:00", tz=NEW_YORK).value
            results = snapshot_results(chain, underlying, float(row.spot), updated)
        with self._lock:
            self._chains[underlying] = results
        return results

    def _snapshot(self, underlying: str, params: httpx.QueryParams) -> httpx.Response:
        limit = min(int(params.get("limit", 10)), PAGE_LIMIT_MAX)
        offset = _offset(params["cursor"]) if "cursor" in params else 0
        results = self._chain(underlying)
        body = {"status": "OK", "request_id": f"demo-{underlying}-{offset}",
                "results": results[offset: offset + limit]}  # fmt: skip
        if offset + limit < len(results):
            body["next_url"] = (f"{DEMO_REST_URL}{SNAPSHOT_PREFIX}{underlying}"
                                f"?cursor={_cursor(offset + limit)}")  # fmt: skip
        return _json(200, body)

    def _grouped(self, date: str) -> httpx.Response:
        day = dt.date.fromisoformat(date)
        if day > self.session:
            return _json(200, {"status": "OK", "queryCount": 0, "resultsCount": 0, "results": []})
        try:
            table = _day_table(self.fetch, self.source, day)
        except FlatFileMissing:
            return _json(200, {"status": "OK", "queryCount": 0, "resultsCount": 0, "results": []})
        t_ms = pd.Timestamp(day).tz_localize(NEW_YORK).value // 1_000_000
        frame = table.to_pandas()
        results = [
            {"T": r.ticker, "v": r.volume, "o": r.open, "c": r.close, "h": r.high, "l": r.low,
             "t": t_ms, "n": int(r.transactions)}
            for r in frame.itertuples(index=False)
        ]  # fmt: skip
        return _json(200, {"status": "OK", "adjusted": False, "queryCount": len(results),
                           "resultsCount": len(results), "results": results})  # fmt: skip


def _json(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"})  # fmt: skip
