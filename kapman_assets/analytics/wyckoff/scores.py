"""BC score 0-28, Spring score 0-12 and the composite score (docs/wyckoff.md, "Scores").

BC score = 7 components x 0-4 points on the latest BC candidate within ``BC_LOOKBACK_BARS``
bars (0 when there is none). A *BC candidate* (our design) is a bar with the UP gate open and
H_t >= max H of the 60 prior bars: the price half of the BC rule; its volume and spread are
graded by the score instead of gated, so a climactic top that misses VP >= 0.95 still scores.
Components, at the candidate bar c unless stated (points for x in [edge_i, edge_i+1)):
  rv         RV: <1.5 0 | 1.5 1 | 2 2 | 2.5 3 | >=3.5 4
  spread     SPR: <1 0 | 1 1 | 1.3 2 | 1.7 3 | >=2.2 4
  extension  (C - SMA20) / ATR: <1 0 | 1 1 | 2 2 | 3 3 | >=4 4
  runup      z = Ret20 / (HV20 * sqrt(20/252)): <.5 0 | .5 1 | 1 2 | 1.5 3 | >=2 4
  rsi        RSI14: <65 0 | 65 1 | 70 2 | 75 3 | >=80 4, +1 on a bearish RSI or MFI divergence
             (RSI_c or MFI_c below its own max over bars c-60..c-5 while price makes a 60-bar
             high), capped at 4
  rejection  CP of the candidate bar: >=.8 0 | .6 1 | .4 2 | .2 3 | <.2 4
  confirmation, at bar t >= c: none 0 | reaction (H_c - min L(c..t]) >= 1 ATR_c 1 | >= 2 ATR_c 2 |
             an UPTHRUST reported in [c, t] 3 | a SOW reported in [c, t] 4 (the highest applies)
Spring score = 3 components x 0-4 on the latest SPRING reported within ``SPRING_LOOKBACK_BARS``
bars, while it is live (0 once it failed or its range reset):
  depth      penetration (support - L_spring) / ATR: <=0.5 4 | <=1 3 | <=1.5 2 | <=2 1 | >2 0
  recovery   close back >= support on the spring bar with CP >= 0.7 4 | same bar, CP < 0.7 3 |
             next bar 2 | two bars later 1 | none 0
  supply     RV of the spring bar: <=0.8 3 | <=1.5 2 | <=2.5 1 | >2.5 0, +1 once a TEST (lower
             volume by rule) has been reported: RV <= 0.8 with a TEST = 4, RV > 2.5 without = 0
composite_score = 100 * (spring_score / 12 - bc_score / 28), in -100..+100 (our design): +100 is
a perfect spring with no climax risk, -100 a perfect buying climax with no spring.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import talib
from numpy.lib.stride_tricks import sliding_window_view

from kapman_assets.analytics.price_metrics import TRADING_DAYS_PER_YEAR
from kapman_assets.analytics.wyckoff.inputs import RET_PERIOD, Inputs
from kapman_assets.analytics.wyckoff.ranges import WyckoffEvent

COMPONENT_MAX_POINTS = 4
BC_LOOKBACK_BARS = 20
BC_RV_EDGES = (1.5, 2.0, 2.5, 3.5)
BC_SPREAD_EDGES = (1.0, 1.3, 1.7, 2.2)
BC_EXTENSION_EDGES = (1.0, 2.0, 3.0, 4.0)
BC_RUNUP_EDGES = (0.5, 1.0, 1.5, 2.0)
BC_RSI_EDGES = (65.0, 70.0, 75.0, 80.0)
BC_REJECTION_CP_EDGES = (0.2, 0.4, 0.6, 0.8)
DIVERGENCE_BONUS = 1
DIVERGENCE_LOOKBACK_BARS = 60
DIVERGENCE_MIN_GAP_BARS = 5
CONFIRM_REACTION_ATR = (1.0, 2.0)
CONFIRM_UPTHRUST_POINTS = 3
CONFIRM_SOW_POINTS = 4
BC_COMPONENTS = ("rv", "spread", "extension", "runup", "rsi", "rejection", "confirmation")
BC_SCORE_MAX = COMPONENT_MAX_POINTS * len(BC_COMPONENTS)

SPRING_LOOKBACK_BARS = 20
SPRING_DEPTH_EDGES = (0.5, 1.0, 1.5, 2.0)
SPRING_RECOVERY_STRONG_CP = 0.7
SPRING_RECOVERY_POINTS = {0: 3, 1: 2, 2: 1}  # bars from the spring bar to the close back inside
SPRING_SUPPLY_RV_EDGES = (0.8, 1.5, 2.5)
SPRING_TEST_BONUS = 1
SPRING_COMPONENTS = ("depth", "recovery", "supply")
SPRING_SCORE_MAX = COMPONENT_MAX_POINTS * len(SPRING_COMPONENTS)

COMPOSITE_SCALE = 100.0


def rising_points(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Points = number of edges <= value (left-closed buckets); NaN scores 0."""
    values = np.asarray(values, dtype=float)
    points = np.searchsorted(np.asarray(edges), values, side="right")
    return np.where(np.isnan(values), 0, points).astype(np.int64)


def falling_points(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Points = number of edges >= value (right-closed buckets, smaller is better); NaN scores 0."""
    values = np.asarray(values, dtype=float)
    points = len(edges) - np.searchsorted(np.asarray(edges), values, side="left")
    return np.where(np.isnan(values), 0, points).astype(np.int64)


def rejection_points(cp: np.ndarray) -> np.ndarray:
    """Rejection: CP >= .8 0, >= .6 1, >= .4 2, >= .2 3, < .2 4 (left-closed; docs/wyckoff.md)."""
    return COMPONENT_MAX_POINTS - rising_points(cp, BC_REJECTION_CP_EDGES)


def _col(inputs: Inputs, name: str) -> np.ndarray:
    """One input column as a numpy array."""
    return np.asarray(inputs[name], dtype=float)


def bc_candidates(inputs: Inputs) -> np.ndarray:
    """BC candidate (our design): UP gate and H_t >= max H of the 60 prior bars."""
    with np.errstate(invalid="ignore"):
        new_high = _col(inputs, "high") >= _col(inputs, "prior_high_max")
    return np.asarray(inputs["up"], dtype=bool) & new_high


def runup_z(inputs: Inputs) -> np.ndarray:
    """z = Ret20 / (HV20 * sqrt(20/252)) (docs/wyckoff.md, "Scores", runup)."""
    scale = _col(inputs, "hv_20") * np.sqrt(RET_PERIOD / TRADING_DAYS_PER_YEAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _col(inputs, "ret_20") / scale


def bearish_divergence(inputs: Inputs) -> np.ndarray:
    """RSI14 or MFI14 below its own max over bars t-60..t-5 (our design; scored on a new high)."""
    window = DIVERGENCE_LOOKBACK_BARS - DIVERGENCE_MIN_GAP_BARS + 1
    out = np.zeros(len(inputs["close"]), dtype=bool)
    for column in ("rsi_14", "mfi_14"):
        values = _col(inputs, column)
        earlier_peak = np.full(len(values), np.nan)
        if len(values) > DIVERGENCE_MIN_GAP_BARS:  # a just-listed ticker has fewer bars
            earlier_peak[DIVERGENCE_MIN_GAP_BARS:] = talib.MAX(values, timeperiod=window)[
                : len(values) - DIVERGENCE_MIN_GAP_BARS
            ]
        with np.errstate(invalid="ignore"):
            out |= values < earlier_peak
    return out


def bar_points(inputs: Inputs) -> dict[str, np.ndarray]:
    """The six BC components that depend on the candidate bar alone, for every bar."""
    with np.errstate(divide="ignore", invalid="ignore"):
        extension = (_col(inputs, "close") - _col(inputs, "sma_20")) / _col(inputs, "atr")
    rsi = rising_points(_col(inputs, "rsi_14"), BC_RSI_EDGES)
    rsi = np.minimum(rsi + DIVERGENCE_BONUS * bearish_divergence(inputs), COMPONENT_MAX_POINTS)
    return {
        "rv": rising_points(_col(inputs, "rv"), BC_RV_EDGES),
        "spread": rising_points(_col(inputs, "spr"), BC_SPREAD_EDGES),
        "extension": rising_points(extension, BC_EXTENSION_EDGES),
        "runup": rising_points(runup_z(inputs), BC_RUNUP_EDGES),
        "rsi": rsi,
        "rejection": rejection_points(_col(inputs, "cp")),
    }


def latest_bar(mask: np.ndarray) -> np.ndarray:
    """Position of the latest True at or before t (-1 before the first)."""
    positions = np.where(mask, np.arange(len(mask)), -1)
    return np.maximum.accumulate(positions) if len(mask) else positions


def event_mask(events: list[WyckoffEvent], code: str, n: int) -> np.ndarray:
    """True on the report bars of events with this code."""
    mask = np.zeros(n, dtype=bool)
    mask[[e.bar for e in events if e.code == code]] = True
    return mask


def reaction_depth_atr(inputs: Inputs, candidate: np.ndarray) -> np.ndarray:
    """(H_c - min L over bars c+1..t) / ATR_c for the candidate c of each bar (NaN at t = c)."""
    low = _col(inputs, "low")
    n = len(low)
    if n == 0:
        return np.empty(0)
    padded = np.concatenate([np.full(BC_LOOKBACK_BARS, np.inf), low])
    lows = sliding_window_view(padded, BC_LOOKBACK_BARS + 1)[:n]  # row t: L[t-20..t]
    age = np.arange(n) - candidate
    lag = np.arange(BC_LOOKBACK_BARS, -1, -1)  # column j holds L[t - lag_j]
    after_c = (lag[None, :] < age[:, None]) & (candidate[:, None] >= 0)
    min_after = np.where(after_c, lows, np.inf).min(axis=1)
    c = np.maximum(candidate, 0)
    with np.errstate(invalid="ignore"):
        depth = (_col(inputs, "high")[c] - min_after) / _col(inputs, "atr")[c]
    return np.where(np.isfinite(min_after), depth, np.nan)


def confirmation_points(
    inputs: Inputs, events: list[WyckoffEvent], candidate: np.ndarray
) -> np.ndarray:
    """Post-climax confirmation at t: reaction >= 1 / 2 ATR, UPTHRUST, SOW since the candidate."""
    n = len(candidate)
    points = rising_points(reaction_depth_atr(inputs, candidate), CONFIRM_REACTION_ATR)
    upthrust_seen = latest_bar(event_mask(events, "UPTHRUST", n)) >= candidate
    sow_seen = latest_bar(event_mask(events, "SOW", n)) >= candidate
    points = np.where(upthrust_seen, CONFIRM_UPTHRUST_POINTS, points)
    return np.where(sow_seen, CONFIRM_SOW_POINTS, points)


def bc_score_components(inputs: Inputs, events: list[WyckoffEvent]) -> dict[str, np.ndarray]:
    """Per bar: the 7 BC components (``BC_COMPONENTS``) of the latest candidate within 20 bars
    (all 0 if none), plus ``bc_candidate_bar`` (its position, -1 if none)."""
    n = len(inputs["close"])
    candidate = latest_bar(bc_candidates(inputs))
    active = (candidate >= 0) & (np.arange(n) - candidate <= BC_LOOKBACK_BARS)
    candidate = np.where(active, candidate, -1)
    at = np.maximum(candidate, 0)
    points = {name: values[at] for name, values in bar_points(inputs).items()}
    points["confirmation"] = confirmation_points(inputs, events, candidate)
    components = {name: np.where(active, points[name], 0) for name in BC_COMPONENTS}
    return components | {"bc_candidate_bar": candidate}


def bc_score(inputs: Inputs, events: list[WyckoffEvent]) -> np.ndarray:
    """BC score 0-28 per bar (docs/wyckoff.md, "Scores")."""
    components = bc_score_components(inputs, events)
    return np.sum([components[name] for name in BC_COMPONENTS], axis=0)


def spring_depth_points(penetration_atr: np.ndarray) -> np.ndarray:
    """Depth: 0.1-0.5 ATR 4 ... > 2 ATR 0 (shallow is best; docs/wyckoff.md, "Scores")."""
    return falling_points(penetration_atr, SPRING_DEPTH_EDGES)


def spring_recovery_points(recovery_bars: np.ndarray, recovery_cp: np.ndarray) -> np.ndarray:
    """Recovery: same bar with CP >= 0.7 4, same bar 3, next bar 2, 2 bars later 1, none 0."""
    bars = np.asarray(recovery_bars, dtype=float)
    strong = (bars == 0) & (np.asarray(recovery_cp, dtype=float) >= SPRING_RECOVERY_STRONG_CP)
    points = np.select(
        [bars == delay for delay in SPRING_RECOVERY_POINTS],
        list(SPRING_RECOVERY_POINTS.values()),
        default=0,
    )
    return np.where(strong, COMPONENT_MAX_POINTS, points).astype(np.int64)


def spring_supply_points(rv: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Supply: RV level (<=0.8 3 ... >2.5 0) + 1 with a TEST (docs/wyckoff.md, "Scores")."""
    level = falling_points(rv, SPRING_SUPPLY_RV_EDGES)
    return level + SPRING_TEST_BONUS * np.asarray(tested, dtype=np.int64)


def spring_score_components(
    inputs: Inputs, events: list[WyckoffEvent], state: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per bar: the 3 Spring components (``SPRING_COMPONENTS``) of the latest SPRING reported
    within 20 bars while it is live (not failed, its range not reset: ``state["phase_c_bar"]``
    still names it), 0 otherwise; plus ``spring_bar`` (its report position, -1 if none)."""
    n = len(inputs["close"])
    springs = [e for e in events if e.code == "SPRING"]
    latest = latest_bar(event_mask(events, "SPRING", n))
    slot = np.full(n + 1, len(springs))  # report bar -> row of the table; -1 -> the NaN row
    slot[[e.bar for e in springs]] = np.arange(len(springs))
    rows = [
        (
            e.details["penetration_atr"],
            e.details["recovery_bars"],
            e.details["recovery_cp"],
            e.evidence["rv"],
            first_test_bar(events, e),
        )
        for e in springs
    ]
    table = np.array([*rows, (np.nan, np.nan, np.nan, np.nan, np.inf)], dtype=float)[slot[latest]]
    live = np.asarray(state["phase_c_bar"]) == latest
    active = (latest >= 0) & live & (np.arange(n) - latest <= SPRING_LOOKBACK_BARS)
    points = {
        "depth": spring_depth_points(table[:, 0]),
        "recovery": spring_recovery_points(table[:, 1], table[:, 2]),
        "supply": spring_supply_points(table[:, 3], np.arange(n) >= table[:, 4]),
    }
    components = {name: np.where(active, points[name], 0) for name in SPRING_COMPONENTS}
    return components | {"spring_bar": np.where(active, latest, -1)}


def first_test_bar(events: list[WyckoffEvent], spring: WyckoffEvent) -> float:
    """Report bar of the TEST of this spring (same range, later), inf if none."""
    tests = [
        e.bar
        for e in events
        if e.code == "TEST" and e.range_start == spring.range_start and e.bar > spring.bar
    ]
    return float(min(tests)) if tests else np.inf


def spring_score(
    inputs: Inputs, events: list[WyckoffEvent], state: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Spring score 0-12 per bar (docs/wyckoff.md, "Scores")."""
    components = spring_score_components(inputs, events, state)
    return np.sum([components[name] for name in SPRING_COMPONENTS], axis=0)


def composite_score(spring: np.ndarray, bc: np.ndarray) -> np.ndarray:
    """100 * (spring / 12 - bc / 28), -100..+100 (our design)."""
    spring = np.asarray(spring, dtype=float)
    bc = np.asarray(bc, dtype=float)
    return COMPOSITE_SCALE * (spring / SPRING_SCORE_MAX - bc / BC_SCORE_MAX)
