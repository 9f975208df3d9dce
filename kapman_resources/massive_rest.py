"""Massive's REST API over httpx: authentication, retries with backoff, and cursor pagination.

Every request carries `Authorization: Bearer <key>` (a `next_url` holds only a cursor, so each
page is authenticated again). 429 and 5xx responses, timeouts and dropped connections are
retried with exponential backoff (`Retry-After` honoured when the server sends it) up to
`RetryPolicy.attempts`; 401/403 fail at once with a message naming `MASSIVE_API_KEY`; any other
4xx fails naming the URL. Pagination stops when `next_url` is absent or repeats a cursor (a
known API bug can loop). The key never appears in a message: URLs are printed without query.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

API_KEY_VARIABLE = "MASSIVE_API_KEY"
MASSIVE_REST_URL = "https://api.massive.com"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class RestError(RuntimeError):
    """A Massive REST call failed; the message names the endpoint and the cause."""


class RestAuthError(RestError):
    """The API key is missing or was rejected: retrying cannot help."""


class MalformedResponse(RestError):
    """A response that is not the JSON shape the endpoint documents."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request, backoff base and cap (seconds), timeout."""

    attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    timeout: float = 30.0
    retry_after_cap: float = 120.0  # the longest Retry-After honoured as given

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before retry `attempt` (1-based): Retry-After plus up to 10 % (so
        concurrent workers do not retry in step), else a jittered 2^n backoff."""
        if retry_after is not None:
            try:
                wait = min(max(float(retry_after), 0.0), self.retry_after_cap)
                return wait * (1 + random.random() / 10)
            except ValueError:
                pass  # an HTTP date: fall back to our own schedule
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)) * (
            0.5 + random.random() / 2
        )


def endpoint(url: str | httpx.URL) -> str:
    """The URL without its query (no key, no cursor), for messages."""
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def require_key(api_key: str | None) -> str:
    """The key, or one sentence naming the variable (before any request is made)."""
    if not api_key:
        raise RestAuthError(
            f"{API_KEY_VARIABLE} is not set: the Massive REST API needs your key"
            " (dashboard.massive.com → API Keys); set it in the environment or .env"
        )
    return api_key


def get_json(
    client: httpx.Client,
    url: str,
    api_key: str,
    params: dict | None = None,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """GET one JSON object, retrying what a retry can fix."""
    headers = {"Authorization": f"Bearer {api_key}"}
    where = endpoint(url)
    last = ""
    for attempt in range(1, policy.attempts + 1):
        retry_after = None
        try:
            response = client.get(url, params=params, headers=headers, timeout=policy.timeout)
        except httpx.TimeoutException:
            last = f"timed out after {policy.timeout:g} s"
        except httpx.TransportError as exc:
            last = f"connection failed ({type(exc).__name__})"
        except httpx.HTTPError as exc:  # redirects, undecodable bodies: not worth a retry
            raise RestError(f"{where}: {type(exc).__name__}: {exc}") from None
        else:
            status = response.status_code
            if status == 401:
                raise RestAuthError(
                    f"{API_KEY_VARIABLE} was rejected by {where} (HTTP 401): check the key"
                )
            if status == 403:  # the key works but the plan does not cover this request
                raise RestError(f"{where} answered HTTP 403: your Massive plan does not include it")
            if status not in RETRYABLE_STATUS:
                if status >= 400:
                    raise RestError(f"{where} answered HTTP {status}: {response.text[:200]}")
                return _json_object(response, where)
            last, retry_after = f"HTTP {status}", response.headers.get("Retry-After")
        if attempt < policy.attempts:
            sleep(policy.delay(attempt, retry_after))
    raise RestError(f"{where} failed {policy.attempts} times; last: {last}")


def _json_object(response: httpx.Response, where: str) -> dict:
    try:
        body = response.json()
    except ValueError as exc:
        raise MalformedResponse(f"{where} returned a body that is not JSON") from exc
    if not isinstance(body, dict):
        raise MalformedResponse(f"{where} returned JSON that is not an object")
    return body


def _cursor(next_url: str) -> str:
    query = parse_qs(urlsplit(next_url).query)
    return (query.get("cursor") or [next_url])[0]


def _origin(client: httpx.Client, url: str) -> str:
    """scheme://host:port of `url` (relative URLs resolve against the client's base URL)."""
    full = client.base_url.join(url) if not urlsplit(url).scheme else httpx.URL(url)
    return f"{full.scheme}://{full.host}:{full.port or ''}"


@dataclass
class Pages:
    """What a paginated call saw besides its results."""

    pages: int = 0
    repeated_cursor: bool = False


def paginate(
    client: httpx.Client,
    url: str,
    api_key: str,
    params: dict | None = None,
    policy: RetryPolicy = RetryPolicy(),
    seen: Pages | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict]:
    """Every page's JSON object, following `next_url` until it ends or repeats a cursor."""
    seen = seen if seen is not None else Pages()
    cursors: set[str] = set()
    origin = None
    while True:
        page = get_json(client, url, api_key, params, policy, sleep)
        origin = origin or _origin(client, url)
        seen.pages += 1
        yield page
        next_url = page.get("next_url")
        if not next_url:
            return
        if not isinstance(next_url, str):
            raise MalformedResponse(f"{endpoint(url)}: next_url is not a string")
        if _origin(client, next_url) != origin:  # the key must not follow another host
            raise MalformedResponse(f"{endpoint(url)}: next_url points at another host")
        cursor = _cursor(next_url)
        if cursor in cursors:
            seen.repeated_cursor = True
            return
        cursors.add(cursor)
        url, params = next_url, None  # the cursor carries the query; the header carries the key
