"""Massive's REST endpoints as a provider: the live API, and the demo market behind a transport.

`MarketRestProvider.option_chains` fetches the snapshot of every underlying with bounded
concurrency; each underlying's chain is parsed whole or reported failed (a failure
mid-pagination keeps nothing of that underlying). A missing or rejected key stops everything at
the first request, before a storm of failures. The live snapshot only knows "now": a session
other than the latest closed one (before the next open) is refused, so nothing is ever stamped
with a past date. The demo serves any session of its market (its "now" is the session asked for).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import dagster as dg
import httpx
import pandas as pd
import pyarrow as pa

from kapman_resources.calendar import NEW_YORK, snapshot_window
from kapman_resources.chain_snapshot import chain_rows
from kapman_resources.grouped_daily import grouped_daily_bars
from kapman_resources.massive_rest import (
    MASSIVE_REST_URL,
    Pages,
    RestAuthError,
    RestError,
    RetryPolicy,
    get_json,
    paginate,
    require_key,
)
from kapman_resources.providers.flat_files import DemoFlatFiles

SNAPSHOT_PAGE_LIMIT = 250
GROUPED_DAILY_PATH = "/v2/aggs/grouped/locale/us/market/stocks"
DEFAULT_CONCURRENCY = 8
DEMO_KEY = "demo"  # the demo transport wants a bearer key like the real API; any will do
Progress = Callable[[int, int], None]


class SnapshotUnavailable(RestError):
    """The live snapshot cannot represent that session."""


def refuse_past_session(session: dt.date, now: pd.Timestamp | None = None) -> None:
    """The live snapshot is "now": only between `session`'s close and the next open."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    start, end = snapshot_window(session)
    if not start <= now < end:
        raise SnapshotUnavailable(
            f"cannot snapshot option chains for {session}: the live endpoint only returns the"
            f" chain as of now ({now.tz_convert(NEW_YORK):%Y-%m-%d %H:%M} New York), which is the"
            f" state of {session} only from {start.tz_convert(NEW_YORK):%Y-%m-%d %H:%M} to"
            f" {end.tz_convert(NEW_YORK):%Y-%m-%d %H:%M}; past chains exist only where they were"
            " stored on their evening"
        )


@dataclass
class ChainsFetched:
    """One session's snapshots: chains by underlying, and what went wrong where."""

    session: dt.date
    chains: dict[str, pd.DataFrame] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # underlying -> one-line reason
    empty: list[str] = field(default_factory=list)  # no listed options
    pages: int = 0
    repeated_cursor: list[str] = field(default_factory=list)

    @property
    def contracts(self) -> int:
        return sum(len(c) for c in self.chains.values())


class MarketRestProvider(dg.ConfigurableResource, ABC):
    """Where option-chain snapshots (and same-evening bars) come from."""

    concurrency: int = DEFAULT_CONCURRENCY
    attempts: int = RetryPolicy.attempts
    timeout_seconds: float = RetryPolicy.timeout
    backoff_seconds: float = RetryPolicy.backoff_base

    @abstractmethod
    def api_key(self) -> str:
        """The bearer key (RestAuthError naming the variable when there is none)."""

    @abstractmethod
    def client(self, session: dt.date) -> AbstractContextManager[httpx.Client]:
        """An httpx client whose "now" is `session` (a context manager)."""

    def refuse_unavailable(self, sessions: list[dt.date]) -> None:
        """Raise SnapshotUnavailable for a session this provider cannot snapshot."""

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.attempts, self.backoff_seconds, RetryPolicy.backoff_cap,
                           self.timeout_seconds)  # fmt: skip

    def available(self) -> bool:
        """Whether this provider can answer at all (a key is configured)."""
        try:
            self.api_key()
        except RestAuthError:
            return False
        return True

    def grouped_daily(self, session: dt.date) -> pa.Table:
        """Every US stock's bar of `session` (raw prints, `adjusted=false`), validated like a
        flat file; GroupedDailyEmpty while the endpoint has none."""
        path = f"{GROUPED_DAILY_PATH}/{session}"
        with self.client(session) as http:
            body = get_json(http, path, self.api_key(), {"adjusted": "false"}, self.policy)
        return grouped_daily_bars(body, session, f"grouped daily {session}")

    def snapshot_time(self, session: dt.date) -> pd.Timestamp:
        """When the snapshot of `session` is taken (now, for the live API)."""
        return pd.Timestamp.now(tz="UTC")

    def option_chain(self, http: httpx.Client, underlying: str, session: dt.date,
                     pages: Pages | None = None) -> pd.DataFrame:  # fmt: skip
        """One underlying's whole chain, every page, as options_chains rows."""
        results: list[dict] = []
        taken = self.snapshot_time(session)
        for page in paginate(http, f"/v3/snapshot/options/{underlying}", self.api_key(),
                             {"limit": SNAPSHOT_PAGE_LIMIT}, self.policy, pages):  # fmt: skip
            batch = page.get("results") or []
            if not isinstance(batch, list):
                raise RestError(f"{underlying}: results is not a list")
            results += batch
        return chain_rows(results, underlying, session, taken)

    def option_chains(
        self, underlyings: list[str], session: dt.date, progress: Progress | None = None
    ) -> ChainsFetched:
        """Every underlying's chain for `session`; failures are collected, not raised, except a
        key problem (which no other underlying would survive)."""
        self.api_key()  # one sentence naming the variable, before any request
        out = ChainsFetched(session)
        with self.client(session) as http:

            def one(symbol: str) -> tuple[str, pd.DataFrame, Pages]:
                pages = Pages()
                return symbol, self.option_chain(http, symbol, session, pages), pages

            todo = list(underlyings)
            done = 0
            if todo:  # the first one alone: a bad key fails once, not once per ticker
                done += self._collect(out, lambda: one(todo[0]), todo[0])
                if progress:
                    progress(done, len(todo))
            pool = ThreadPoolExecutor(max_workers=max(1, self.concurrency))
            try:
                futures = {pool.submit(one, s): s for s in todo[1:]}
                for future in as_completed(futures):
                    done += self._collect(out, future.result, futures[future])
                    if progress:
                        progress(done, len(todo))
            finally:  # a rejected key: the queued tickers are not fetched
                pool.shutdown(wait=True, cancel_futures=True)
        out.chains = dict(sorted(out.chains.items()))
        return out

    @staticmethod
    def _collect(out: ChainsFetched, result: Callable, symbol: str) -> int:
        try:
            _, chain, pages = result()
        except RestAuthError:
            raise
        except Exception as exc:  # noqa: BLE001 - one ticker's failure, whatever it is, is named
            out.failed[symbol] = str(exc) if isinstance(exc, RestError) else (
                f"{symbol}: {type(exc).__name__}: {exc}")  # fmt: skip
            return 1
        out.pages += pages.pages
        if pages.repeated_cursor:
            out.repeated_cursor.append(symbol)
        if chain.empty:
            out.empty.append(symbol)
        else:
            out.chains[symbol] = chain
        return 1


class MassiveRest(MarketRestProvider):
    """The live Massive REST API (`MASSIVE_API_KEY`)."""

    key: str | None = None
    base_url: str = MASSIVE_REST_URL

    def api_key(self) -> str:
        return require_key(self.key)

    def refuse_unavailable(self, sessions: list[dt.date]) -> None:
        for session in sessions:
            refuse_past_session(session)

    @contextmanager
    def client(self, session: dt.date) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.base_url, follow_redirects=True) as http:
            yield http


class DemoMassiveRest(MarketRestProvider):
    """The demo market behind the same client code (an httpx transport; no network)."""

    flat_files: DemoFlatFiles
    seed: int = 7

    def api_key(self) -> str:
        return DEMO_KEY

    def snapshot_time(self, session: dt.date) -> pd.Timestamp:
        return pd.Timestamp(f"{session} 16:15", tz=NEW_YORK).tz_convert("UTC")

    @contextmanager
    def client(self, session: dt.date) -> Iterator[httpx.Client]:
        from kapman_resources.demo_market.rest_api import DEMO_REST_URL, DemoMassiveTransport

        transport = DemoMassiveTransport(self.flat_files.written, self.flat_files.directory,
                                         session, self.seed,
                                         dt.date.fromisoformat(self.flat_files.start))  # fmt: skip
        with httpx.Client(base_url=DEMO_REST_URL, transport=transport) as http:
            yield http
