"""Marking a recommended position at its horizon (docs/domain.md, "Outcomes"; our design).

Each leg at its mid in the stored chain of the horizon session (bid and ask both > 0); at
intrinsic value when the leg expired on or before that session (against the underlying's close
on its expiration session); otherwise at the last stored mid before it, flagged `stale`; with
none of these the position is `unmarked` and has no P&L. Values are dollars per one-lot
position: sum over legs of sign (buy +1, sell -1) x quantity x 100 x price.
"""

from __future__ import annotations

import datetime as dt

SHARES = 100
SOURCES = ("mid", "intrinsic", "stale", "mixed", "unmarked")


def intrinsic(contract_type: str, strike: float, spot: float) -> float:
    """max(0, S - K) for a call, max(0, K - S) for a put."""
    return max(0.0, spot - strike) if contract_type == "call" else max(0.0, strike - spot)


def mark_leg(leg: dict, session: dt.date, mid_today: float | None, last_mid: float | None,
             spot_at_expiry: float | None) -> tuple[float | None, str]:  # fmt: skip
    """(price, source) of one leg on `session`."""
    if dt.date.fromisoformat(leg["expiration"]) <= session and spot_at_expiry is not None:
        return intrinsic(leg["contract_type"], leg["strike"], spot_at_expiry), "intrinsic"
    if mid_today is not None:
        return mid_today, "mid"
    if last_mid is not None:
        return last_mid, "stale"
    return None, "unmarked"


def position_value(legs: list[dict], prices: list[float]) -> float:
    """Sum of sign x quantity x 100 x price over the legs."""
    return sum((1 if leg["side"] == "buy" else -1) * leg["quantity"] * SHARES * price
               for leg, price in zip(legs, prices, strict=True))  # fmt: skip


def mark_position(legs: list[dict], marks: list[tuple[float | None, str]],
                  capital_at_risk: float) -> dict:  # fmt: skip
    """Entry and exit values, P&L and P&L as a share of the capital at risk, and the source."""
    entry = position_value(legs, [leg["limit"] for leg in legs])
    sources = {source for _, source in marks}
    if "unmarked" in sources:
        return {"entry_value": entry, "exit_value": None, "pnl": None, "pnl_pct": None,
                "mark_source": "unmarked"}  # fmt: skip
    exit_value = position_value(legs, [price for price, _ in marks])
    pnl = exit_value - entry
    return {
        "entry_value": entry, "exit_value": exit_value, "pnl": pnl,
        "pnl_pct": pnl / capital_at_risk if capital_at_risk > 0 else None,
        "mark_source": sources.pop() if len(sources) == 1 else "mixed",
    }  # fmt: skip
