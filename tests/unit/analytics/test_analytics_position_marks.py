"""Marks and P&L of recommended positions at their horizon."""

import datetime as dt

import pytest

from kapman_assets.analytics import position_marks as pm

DAY = dt.date(2026, 4, 1)
CALL = {"side": "buy", "quantity": 1, "contract_type": "call", "strike": 100.0,
        "expiration": "2026-05-15", "limit": 2.05}  # fmt: skip
SHORT_CALL = {**CALL, "side": "sell", "strike": 110.0, "limit": 0.55}
CSP = {"side": "sell", "quantity": 1, "contract_type": "put", "strike": 90.0,
       "expiration": "2026-03-20", "limit": 1.10}  # fmt: skip


def test_leg_sources_in_order_of_preference():
    assert pm.mark_leg(CALL, DAY, 3.1, 2.9, None) == (3.1, "mid")
    assert pm.mark_leg(CALL, DAY, None, 2.9, None) == (2.9, "stale")
    assert pm.mark_leg(CALL, DAY, None, None, None) == (None, "unmarked")
    assert pm.mark_leg(CSP, DAY, 0.2, 0.3, 85.0) == (5.0, "intrinsic")  # expired 2026-03-20
    assert pm.mark_leg(CSP, DAY, None, None, 95.0) == (0.0, "intrinsic")


def test_vertical_pnl_and_share_of_capital():
    debit = (2.05 - 0.55) * 100
    out = pm.mark_position([CALL, SHORT_CALL], [(6.0, "mid"), (1.0, "mid")], debit)
    assert out["entry_value"] == pytest.approx(150.0)
    assert out["exit_value"] == pytest.approx(500.0)
    assert out["pnl"] == pytest.approx(350.0)
    assert out["pnl_pct"] == pytest.approx(350.0 / 150.0)
    assert out["mark_source"] == "mid"


def test_cash_secured_put_kept_its_credit_and_mixed_or_unmarked_sources():
    capital = 90 * 100 - 110.0
    out = pm.mark_position([CSP], [(0.0, "intrinsic")], capital)
    assert out["pnl"] == pytest.approx(110.0)  # the credit
    assert out["pnl_pct"] == pytest.approx(110.0 / capital)
    mixed = pm.mark_position([CALL, SHORT_CALL], [(6.0, "mid"), (1.0, "stale")], 150.0)
    assert mixed["mark_source"] == "mixed"
    unmarked = pm.mark_position([CALL], [(None, "unmarked")], 205.0)
    assert unmarked["pnl"] is None and unmarked["mark_source"] == "unmarked"
