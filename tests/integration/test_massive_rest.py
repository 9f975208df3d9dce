"""The Massive REST client against a real local HTTP server: pagination, auth on every page,
429 with Retry-After, 5xx, timeouts, a repeated cursor, 401, malformed pages, a missing key."""

import datetime as dt
import time

import pytest
from helpers.rest_server import Server, contract

from kapman_resources.massive_rest import MalformedResponse, RestAuthError, RestError
from kapman_resources.providers import MassiveRest

SESSION = dt.date(2026, 12, 1)
KEY = "test-key-123"


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def provider(server, **kw) -> MassiveRest:
    return MassiveRest(key=KEY, base_url=server.url, backoff_seconds=0.01, **kw)


def fetch(server, symbols, **kw):
    return provider(server, **kw).option_chains(symbols, SESSION)


def test_pages_are_followed_and_each_is_authenticated(server):
    server.paged("ABC", [contract(i) for i in range(7)], per_page=3)
    got = fetch(server, ["ABC"])
    chain = got.chains["ABC"]
    assert len(chain) == 7 and got.pages == 3
    assert chain["contract_ticker"].is_unique
    assert all(auth == f"Bearer {KEY}" for _, auth in server.requests)
    assert "limit=250" in server.requests[0][0]
    assert all("cursor=" in path for path, _ in server.requests[1:])
    assert KEY not in "".join(path for path, _ in server.requests)  # never in a URL


def test_absent_greeks_and_quotes_are_null_never_zero(server):
    deep = contract(1)
    del deep["greeks"], deep["implied_volatility"], deep["last_quote"]
    server.paged("ABC", [deep, contract(2)], per_page=5)
    chain = fetch(server, ["ABC"]).chains["ABC"]
    row = chain.iloc[0]
    for col in ("implied_volatility", "delta", "gamma", "theta", "vega", "bid", "ask"):
        assert row[col] is None or row[col] != row[col]  # NULL (None or NaN), not 0
    assert chain.iloc[1]["delta"] == 0.5
    assert int(row["shares_per_contract"]) == 100


def test_429_with_retry_after_then_success(server):
    ok = {"status": "OK", "results": [contract(1)]}
    server.script["ABC"] = [(429, {"status": "ERROR"}, {"Retry-After": "0.2"}), (200, ok, None)]
    started = time.monotonic()
    got = fetch(server, ["ABC"])
    assert len(got.chains["ABC"]) == 1 and not got.failed
    assert time.monotonic() - started >= 0.2  # Retry-After was honoured


def test_5xx_is_retried_then_the_ticker_is_named_failed(server):
    server.script["ABC"] = [(503, {"status": "ERROR"}, None)]
    server.paged("XYZ", [contract(1)], per_page=5)
    got = fetch(server, ["XYZ", "ABC"], attempts=3)
    assert "XYZ" in got.chains
    assert "HTTP 503" in got.failed["ABC"] and "3 times" in got.failed["ABC"]
    assert sum(1 for p, _ in server.requests if "/ABC" in p) == 3


def test_a_timeout_fails_that_ticker_with_a_clear_message(server):
    server.paged("ABC", [contract(1)], per_page=5)
    server.delay = 0.5
    got = fetch(server, ["ABC"], attempts=2, timeout_seconds=0.1)
    assert "timed out" in got.failed["ABC"]


def test_a_repeated_cursor_stops_pagination(server):
    server.paged("ABC", [contract(i) for i in range(4)], per_page=2, loop=True)
    got = fetch(server, ["ABC"])
    assert len(got.chains["ABC"]) == 4  # the looped page is not stored twice
    assert got.repeated_cursor == ["ABC"]
    assert len(server.requests) == 3


def test_a_rejected_key_stops_everything_at_the_first_request(server):
    for symbol in ("AAA", "BBB", "CCC"):
        server.script[symbol] = [(401, {"status": "ERROR", "error": "bad key"}, None)]
    with pytest.raises(RestAuthError, match="MASSIVE_API_KEY was rejected"):
        fetch(server, ["AAA", "BBB", "CCC"])
    assert len(server.requests) == 1


def test_a_missing_key_is_one_sentence_before_any_request(server):
    with pytest.raises(RestAuthError, match="MASSIVE_API_KEY is not set"):
        MassiveRest(key=None, base_url=server.url).option_chains(["ABC"], SESSION)
    assert server.requests == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"details": {"ticker": "O:X", "contract_type": "call", "expiration_date": "2026-12-18",
                      "strike_price": "100"}}, "not a number"),
        ({"details": {"ticker": "O:X", "contract_type": "call", "expiration_date": "soon",
                      "strike_price": 100}}, "expiration_date"),
        ({"details": {"contract_type": "call"}}, "not an O: ticker"),
    ],
)  # fmt: skip
def test_a_malformed_page_fails_the_ticker_naming_the_field(server, bad, message):
    server.paged("ABC", [contract(1), bad], per_page=5)
    server.paged("XYZ", [contract(1)], per_page=5)
    got = fetch(server, ["ABC", "XYZ"])
    assert "ABC" not in got.chains and message in got.failed["ABC"]  # nothing of ABC kept
    assert "XYZ" in got.chains


def test_a_body_that_is_not_json_is_malformed(server):
    server.script["ABC"] = [(200, b"<html>oops</html>", None)]
    got = fetch(server, ["ABC"])
    assert "not JSON" in got.failed["ABC"]
    assert issubclass(MalformedResponse, RestError)


def test_an_empty_chain_is_reported_as_without_options(server):
    server.script["ABC"] = [(200, {"status": "OK", "results": []}, None)]
    got = fetch(server, ["ABC"])
    assert got.empty == ["ABC"] and not got.chains and not got.failed


def test_the_live_snapshot_refuses_a_past_session():
    from kapman_resources.providers.market_rest import SnapshotUnavailable, refuse_past_session

    evening = "2026-12-01 21:30+00:00"  # 16:30 New York
    refuse_past_session(SESSION, now=evening)
    with pytest.raises(SnapshotUnavailable, match="only returns the chain as of now"):
        refuse_past_session(dt.date(2026, 11, 30), now=evening)
    with pytest.raises(SnapshotUnavailable):  # the next morning after the open is too late
        refuse_past_session(SESSION, now="2026-12-02 15:00+00:00")
