"""Claude's choice and rationale through the real Anthropic SDK over an httpx transport."""

import datetime as dt
import json

import httpx2 as httpx  # the transport layer of the Anthropic SDK (httpx2)
import pandas as pd
import pytest
from helpers.claude import answer, claude_with, message

from kapman_assets import llm_rationale
from kapman_assets.analytics import option_strategies as os_
from kapman_resources.claude import ClaudeResource

SESSION = dt.date(2026, 3, 2)


def candidates():
    rows = []
    for days in (50, 67, 85):
        expiration = SESSION + dt.timedelta(days=days)
        rows.append({"contract_ticker": f"O:XYZ{expiration:%y%m%d}C00100000",
                     "expiration": expiration, "strike": 100.0, "contract_type": "call",
                     "delta": 0.6, "bid": 2.0, "ask": 2.1, "open_interest": 500,
                     "implied_volatility": 0.3, "shares_per_contract": 100})  # fmt: skip
    tradable = os_.tradable_contracts(pd.DataFrame(rows), SESSION)
    found = os_.candidates(os_.LONG_CALL, os_.BULLISH, tradable, spot=101.0)
    return found, os_.rule_choice(found)


FACTS = {"ticker": "XYZ", "signal": "ENTRY_SETUP", "horizon": 20, "p_up": 0.57, "close": 101.0,
         "range_support": 95.0, "atr_14": 2.0, "events": ["SPRING"]}  # fmt: skip


def run(handler, budget=None, **config):
    claude = claude_with(handler, **config)
    found, pick = candidates()
    budget = budget or llm_rationale.Budget(calls=5, tokens=10_000)
    return (*llm_rationale.advise(claude, claude.client(), budget, FACTS, found, pick), found,
            pick, budget)  # fmt: skip


def test_a_valid_answer_is_used_and_the_request_is_cached_and_structured():
    seen = []
    found, pick = candidates()
    other = next(c for c in found if c.id != pick.id)

    def handler(request):
        seen.append(request)
        return message(answer(other.id))

    choice, parts, source, audit, _, _, budget = run(handler)
    assert (choice.id, source, audit["outcome"]) == (other.id, "llm", "accepted")
    assert parts["invalidation_level"] == 95.0 and parts["thesis"].startswith("A spring")
    assert (audit["input_tokens"], audit["output_tokens"], audit["cache_read_tokens"]) == (
        900,
        150,
        700,
    )
    assert budget.used_calls == 1 and budget.used_tokens == 1050
    (request,) = seen
    body = json.loads(request.content)
    credentials = request.headers.get("x-api-key", request.headers.get("authorization", ""))
    assert credentials.endswith("test-key")  # the key from the resource authenticates
    assert body["model"] == "claude-sonnet-4-5"
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["output_config"]["format"]["schema"] == llm_rationale.SCHEMA
    assert {c["id"] for c in json.loads(body["messages"][0]["content"])["candidates"]} == {
        c.id for c in found
    }


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (answer("O:XYZ260501C00105000"), "which is not a candidate"),
        ("{not json", "malformed JSON"),
        (answer(None), "not a candidate"),
        ("[1, 2]", "not a JSON object"),
        (answer("ID", level=120.0), "wrong side"),
        (answer("ID", thesis="x" * 701), "thesis"),
        (answer("ID", level="low"), "not a number"),
    ],
)
def test_a_rejected_answer_keeps_the_rule_choice(text, why):
    found, pick = candidates()
    text = text.replace('"ID"', json.dumps(found[0].id))
    choice, parts, source, audit, *_ = run(lambda request: message(text))
    assert (choice, source) == (pick, "rules")
    assert audit["outcome"].startswith("rejected") and why in audit["outcome"]
    assert audit["response"] == text
    assert parts["invalidation"].startswith("The idea is wrong on a close below")


def test_429_then_success_is_retried_by_the_sdk():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0"},
                                  json={"type": "error", "error": {"type": "rate_limit_error",
                                                                   "message": "slow down"}})  # fmt: skip
        return message(answer(candidates()[0][0].id))

    _, _, source, audit, *_ = run(handler)
    assert len(calls) == 2 and source == "llm" and audit["outcome"] == "accepted"


def test_a_timeout_falls_back_to_the_rules():
    def handler(request):
        raise httpx.ReadTimeout("no answer", request=request)

    choice, _, source, audit, _, pick, _ = run(handler, timeout_seconds=0.5)
    assert (choice, source) == (pick, "rules")
    assert audit["outcome"] == "error: timeout after 0.5 s"


def test_server_errors_refusals_budget_and_no_key():
    _, _, source, audit, *_ = run(lambda r: httpx.Response(400, json={"type": "error", "error": {
        "type": "invalid_request_error", "message": "bad"}}))  # fmt: skip
    assert source == "rules" and audit["outcome"] == "error: HTTP 400 from the Claude API"
    _, _, source, audit, *_ = run(lambda r: message("I can't help with that.", "refusal"))
    assert source == "rules" and audit["outcome"] == "error: refused"

    spent = llm_rationale.Budget(calls=1, tokens=10_000, used_calls=1)
    _, _, source, audit, *_ = run(lambda r: pytest.fail("no call past the budget"), budget=spent)
    assert source == "rules" and audit["outcome"] == "skipped: budget spent"

    found, pick = candidates()
    keyless = ClaudeResource()
    result = llm_rationale.advise(keyless, None, spent, FACTS, found, pick)
    assert result[2:] == ("rules", None)
