"""The rule-based rationale of a trade idea, written from the same facts an LLM would get
(our design): thesis, Wyckoff evidence, dealer context, risks and the invalidation level."""

from __future__ import annotations

import math

from .option_strategies import BULLISH, Candidate

STRATEGY_NAMES = {
    "long_call": "long call",
    "long_put": "long put",
    "cash_secured_put": "cash-secured put",
    "debit_vertical": "debit vertical",
}


def _num(value, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def invalidation_level(direction: str, facts: dict) -> float | None:
    """Bullish: the range support (a close below it undoes the accumulation); bearish: the
    range resistance. Without a range: the breakeven's side of the entry close +- 2 ATR."""
    level = facts.get("range_support") if direction == BULLISH else facts.get("range_resistance")
    if level is not None and math.isfinite(level):
        return float(level)
    close, atr = facts.get("close"), facts.get("atr_14")
    if close is None or atr is None or not math.isfinite(atr):
        return None
    return float(close - 2 * atr) if direction == BULLISH else float(close + 2 * atr)


def rule_rationale(candidate: Candidate, facts: dict) -> dict:
    """The five parts of a rationale as short sentences, every number taken from `facts`."""
    bullish = candidate.direction == BULLISH
    legs = "; ".join(f"{leg.side} {leg.quantity} {leg.contract_ticker} at {leg.limit:.2f}"
                     for leg in candidate.legs)  # fmt: skip
    events = ", ".join(facts.get("events") or []) or "none on this session"
    edge = facts.get("edge") or {}
    ci = (f", 95% CI {edge['ci_lo'] * 100:+.1f}% to {edge['ci_hi'] * 100:+.1f}%"
          if edge.get("ci_lo") is not None and edge.get("ci_hi") is not None else "")  # fmt: skip
    edge_text = (
        f"over {edge['horizon']} sessions this signal has been followed by"
        f" {edge['excess_return'] * 100:+.1f}% excess return on the liquid universe"
        f" (n = {edge['n']:.0f}{ci})"
        if edge.get("n") else "its measured edge is not yet known"
    )  # fmt: skip
    level = invalidation_level(candidate.direction, facts)
    gex = facts.get("dealer_position")
    dealer = (
        f"Dealers are {gex.replace('_', ' ')} (gamma flip {_num(facts.get('gamma_flip_level'))},"
        f" call wall {_num(facts.get('call_wall_primary'))}, put wall"
        f" {_num(facts.get('put_wall_primary'))})."
        if gex else "No dealer positioning is available for this session."
    )  # fmt: skip
    max_profit = "unlimited" if candidate.max_profit is None else f"${candidate.max_profit:,.0f}"
    return {
        "thesis": (
            f"{facts.get('signal')} on {facts.get('ticker')}: a {'bullish' if bullish else 'bearish'}"
            f" {STRATEGY_NAMES[candidate.strategy]} expiring {candidate.expiration}"
            f" ({candidate.dte} days): {legs}. The model puts the chance of a higher close in"
            f" {facts.get('horizon')} sessions at {_num(facts.get('p_up', float('nan')) * 100, 0)}%;"
            f" {edge_text}."
        ),
        "wyckoff_evidence": (
            f"Phase {facts.get('wyckoff_phase') or 'none'} of a {facts.get('range_type') or 'no'}"
            f" range (support {_num(facts.get('range_support'))}, resistance"
            f" {_num(facts.get('range_resistance'))}); events: {events}; BC score"
            f" {_num(facts.get('bc_score'), 0)}/28, Spring score {_num(facts.get('spring_score'), 0)}/12."
        ),
        "dealer_context": dealer,
        "risks": (
            f"Maximum loss ${candidate.max_loss:,.0f}, maximum profit {max_profit}, breakeven"
            f" {candidate.breakeven:.2f}; IV - HV is {_num(facts.get('iv_hv_diff'), 1)} points."
        ),
        "invalidation": (
            f"The idea is wrong on a close {'below' if bullish else 'above'} {_num(level)}."
            if level is not None
            else "No invalidation level is available."
        ),  # fmt: skip
        "invalidation_level": level,
    }


def rationale_text(parts: dict) -> str:
    """The stored rationale: the five parts in order."""
    keys = ("thesis", "wyckoff_evidence", "dealer_context", "risks", "invalidation")
    return "\n".join(parts[k] for k in keys if parts.get(k))
