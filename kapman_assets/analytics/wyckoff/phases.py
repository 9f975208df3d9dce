"""Wyckoff phases A-E and phase_confidence (docs/wyckoff.md, "Phases"; our design), causal.

Accumulation (distribution mirrors with BC / UPTHRUST / SOW):
  A  from the SC; also while the first ST is younger than ``PHASE_B_MIN_BARS`` bars
  B  ``PHASE_B_MIN_BARS`` bars after the first ST, until a SPRING ("B >= 10 bars, else stay A",
     read causally: the label turns B once the post-ST stretch has lasted 10 bars)
  C  from the SPRING's report until the first SOS. The TEST (or 10 bars without one) closes the
     spring's test window; docs/domain.md names no phase for the wait between it and the SOS, and C
     (the spring is the latest structural event) is the label kept. A failed spring (a close
     below its low) takes the label back to A/B.
  D  from the first SOS (distribution: the first SOW) until C > resistance + range height
  E  beyond that, while C > resistance (the range resets when it closes back inside)
None outside a range. Ranges open, reset and carry their milestones in ``events.py``.

phase_confidence (0..1; 0 outside a range) = the weighted quality of the events the phase
expects, decayed by 0.5 ** (bars since the range's latest event / 20):
  sum_k w_k * q_k / sum_k w_k over k in ``PHASE_EXPECTS[phase]``, with weights ``EVENT_WEIGHTS``
  (climax .25, AR .15, ST .15, spring .20, TEST .10, breakout .15) and event quality in 0..1:
  climax and breakout (SC/BC, SOS/SOW): (min(1, RV/3) + min(1, SPR/2)) / 2;
  AR: min(1, extent / 3 ATR); ST: max over the range's STs of 1 - RV_ST/RV_climax;
  spring (SPRING/UPTHRUST): its Spring score at report / 12 (the UPTHRUST scored on the mirror);
  TEST: 1 - RV_TEST/RV_spring. An expected event not yet seen has quality 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from kapman_assets.analytics.wyckoff.ranges import WyckoffEvent
from kapman_assets.analytics.wyckoff.scores import (
    SPRING_SCORE_MAX,
    spring_depth_points,
    spring_recovery_points,
    spring_supply_points,
)

State = Mapping[str, np.ndarray]  # the per-bar state of ``events.detect_events``

PHASE_B_MIN_BARS = 10
CONFIDENCE_HALF_LIFE_BARS = 20
QUALITY_FULL_RV = 3.0
QUALITY_FULL_SPR = 2.0
QUALITY_FULL_AR_ATR = 3.0

EVENT_GROUP = {
    "SC": "climax",
    "BC": "climax",
    "AR": "AR",
    "ST": "ST",
    "SPRING": "spring",
    "UPTHRUST": "spring",
    "TEST": "TEST",
    "SOS": "breakout",
    "SOW": "breakout",
}
EVENT_WEIGHTS = {
    "climax": 0.25,
    "AR": 0.15,
    "ST": 0.15,
    "spring": 0.20,
    "TEST": 0.10,
    "breakout": 0.15,
}
PHASE_EXPECTS = {
    "A": ("climax", "AR"),
    "B": ("climax", "AR", "ST"),
    "C": ("climax", "AR", "ST", "spring", "TEST"),
    "D": tuple(EVENT_WEIGHTS),
    "E": tuple(EVENT_WEIGHTS),
}


def wyckoff_phases(state: State) -> np.ndarray:
    """Phase label per bar ('A'..'E' or None) from the state frame of ``detect_events``."""
    n = len(state["range_kind"])
    t = np.arange(n)
    first_st = np.asarray(state["first_st_bar"])
    phase = np.full(n, None, dtype=object)
    in_range = np.asarray(state["range_kind"]) != 0
    phase[in_range] = "A"
    phase[in_range & (first_st >= 0) & (t - first_st >= PHASE_B_MIN_BARS)] = "B"
    phase[in_range & (np.asarray(state["phase_c_bar"]) >= 0)] = "C"
    phase[in_range & (np.asarray(state["phase_d_bar"]) >= 0)] = "D"
    phase[in_range & np.asarray(state["markup"])] = "E"
    return phase


def _climactic_quality(rv: float, spr: float) -> float:
    """(min(1, RV/3) + min(1, SPR/2)) / 2 (our design)."""
    return 0.5 * (min(1.0, rv / QUALITY_FULL_RV) + min(1.0, spr / QUALITY_FULL_SPR))


def event_quality(event: WyckoffEvent) -> float:
    """Quality 0..1 of one event (see module doc)."""
    rv, spr = event.evidence["rv"], event.evidence["spr"]
    group = EVENT_GROUP[event.code]
    if group in ("climax", "breakout"):
        quality = _climactic_quality(rv, spr)
    elif group == "AR":
        quality = event.details["extent_atr"] / QUALITY_FULL_AR_ATR
    elif group in ("ST", "TEST"):
        quality = 1.0 - event.details["rv_ratio"]
    else:
        points = (
            spring_depth_points(np.array([event.details["penetration_atr"]]))
            + spring_recovery_points(
                np.array([event.details["recovery_bars"]]), np.array([event.details["recovery_cp"]])
            )
            + spring_supply_points(np.array([rv]), np.array([False]))
        )
        quality = float(points[0]) / SPRING_SCORE_MAX
    return float(np.clip(np.nan_to_num(quality), 0.0, 1.0))


def _quality_steps(state: State, events: list[WyckoffEvent]) -> dict[str, np.ndarray]:
    """Per group, the quality of the range's latest (ST: best) event at or before each bar."""
    n = len(state["range_kind"])
    start = np.asarray(state["range_start"])
    opens = np.flatnonzero((start >= 0) & (start != np.r_[-2, start[:-1]]))
    steps = {}
    best_st: dict[int, float] = {}
    values = {group: {} for group in EVENT_WEIGHTS}
    for event in events:
        if start[event.bar] != event.range_start:
            continue  # the range ended on this bar (e.g. SOW after a failed spring)
        quality = event_quality(event)
        group = EVENT_GROUP[event.code]
        if group == "ST":
            quality = best_st[event.range_start] = max(best_st.get(event.range_start, 0), quality)
        values[group][event.bar] = quality
    for group, at_bar in values.items():
        marker = np.full(n, -1)
        level = np.zeros(n)
        marker[opens] = opens
        bars = np.fromiter(at_bar, dtype=np.int64, count=len(at_bar))
        marker[bars] = bars
        level[bars] = np.fromiter(at_bar.values(), dtype=float, count=len(at_bar))
        latest = np.maximum.accumulate(marker) if n else marker
        steps[group] = np.where(latest >= 0, level[np.maximum(latest, 0)], 0.0)
    return steps


def phase_confidence(state: State, events: list[WyckoffEvent], phase: np.ndarray) -> np.ndarray:
    """Weighted expected-event quality x 0.5 ** (bars since last event / 20), 0..1 (our design)."""
    n = len(state["range_kind"])
    steps = _quality_steps(state, events)
    confidence = np.zeros(n)
    for label, groups in PHASE_EXPECTS.items():
        mask = phase == label
        weighted = sum(EVENT_WEIGHTS[g] * steps[g][mask] for g in groups)
        confidence[mask] = weighted / sum(EVENT_WEIGHTS[g] for g in groups)
    age = np.arange(n) - np.asarray(state["last_event_bar"])
    decay = np.where(age >= 0, 0.5 ** (age / CONFIDENCE_HALF_LIFE_BARS), 0.0)
    return confidence * decay
