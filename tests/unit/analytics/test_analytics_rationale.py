"""The rule-based rationale cites the facts it is given and names the invalidation level."""

from kapman_assets.analytics import option_strategies as os_
from kapman_assets.analytics.rationale import invalidation_level, rationale_text, rule_rationale

LEG = os_.Leg("O:XYZ260417C00100000", "buy", 1, "call", "2026-04-17", 100.0, 2.05, 2.0, 2.1,
              0.6, 0.3, 500)  # fmt: skip
CALL = os_.Candidate("O:XYZ260417C00100000", os_.LONG_CALL, os_.BULLISH, "2026-04-17", 46,
                     (LEG,), 205.0, 205.0, None, 102.05, 205.0, 0.6, 0.0)  # fmt: skip
FACTS = {"ticker": "XYZ", "signal": "ENTRY_SETUP", "horizon": 20, "p_up": 0.57,
         "wyckoff_phase": "C", "range_type": "accumulation", "range_support": 95.5,
         "range_resistance": 112.0, "events": ["SPRING"], "bc_score": 4.0, "spring_score": 10.0,
         "dealer_position": "long_gamma", "gamma_flip_level": 98.0, "call_wall_primary": 110.0,
         "put_wall_primary": 95.0, "iv_hv_diff": 1.5, "close": 101.0, "atr_14": 2.5}  # fmt: skip


def test_every_part_cites_its_facts():
    parts = rule_rationale(CALL, FACTS)
    assert "ENTRY_SETUP on XYZ" in parts["thesis"] and "57%" in parts["thesis"]
    assert "O:XYZ260417C00100000 at 2.05" in parts["thesis"]
    assert "its measured edge is not yet known" in parts["thesis"]
    assert "SPRING" in parts["wyckoff_evidence"] and "95.50" in parts["wyckoff_evidence"]
    assert "long gamma" in parts["dealer_context"] and "110.00" in parts["dealer_context"]
    assert "unlimited" in parts["risks"] and "$205" in parts["risks"]
    assert parts["invalidation"] == "The idea is wrong on a close below 95.50."
    assert rationale_text(parts).count("\n") == 4


def test_edge_and_missing_dealer_data_are_said_plainly():
    facts = {**FACTS, "dealer_position": None,
             "edge": {"horizon": 20, "excess_return": -0.012, "n": 31}}  # fmt: skip
    parts = rule_rationale(CALL, facts)
    assert "-1.2% excess return on the liquid universe (n = 31)" in parts["thesis"]
    with_ci = {**facts, "edge": {**facts["edge"], "ci_lo": -0.03, "ci_hi": 0.004}}
    assert "(n = 31, 95% CI -3.0% to +0.4%)" in rule_rationale(CALL, with_ci)["thesis"]
    assert parts["dealer_context"] == "No dealer positioning is available for this session."


def test_invalidation_falls_back_to_two_atr_without_a_range():
    facts = {**FACTS, "range_support": None, "range_resistance": None}
    assert invalidation_level(os_.BULLISH, facts) == 96.0
    assert invalidation_level(os_.BEARISH, facts) == 106.0
    assert invalidation_level(os_.BEARISH, {**facts, "atr_14": None}) is None
