"""Wyckoff event detection (docs/wyckoff.md, "Events"; our design): a causal range state machine.

Detection only; trade interpretation lives in ``signals.py``. Events of an accumulation range:
SC, AR, ST, SPRING, TEST, SOS (and SOW after a failed spring); of a distribution range, the
mirror: BC, AR (the automatic reaction), ST, UPTHRUST, TEST, SOW.

Reporting and lag. Every event is reported on the bar on which the rule is satisfied with the
bars known so far (``WyckoffEvent.bar``) and names the bar it describes (``pivot``). Two rules
confirm a pivot later: the AR's rally high is confirmed by a later close below its low (at most
``AR_CONFIRM_MAX_BARS`` bars later) and a SPRING's low bar by a close back above support (at most
``SPRING_RECOVERY_MAX_BARS`` later). ``PIVOT_LAG_BARS`` is the largest such delay. Because the
event is reported on the confirming bar, never back-dated to its pivot, no output at bar t ever
changes when bars after t are appended: ``CAUSALITY_LAG_BARS = 0``.

Distribution is computed as accumulation on the mirrored bars (H' = -L, L' = -H, C' = -C,
CP' = 1 - CP): a rule on "support" then reads on the distribution range's resistance, "a close
above resistance" on "a close below support", and so on. Two rules are not mirrored
(docs/domain.md, "Wyckoff"): a SOW needs no UPTHRUST (any distribution range with a confirmed
AR), while a SOS needs a SPRING; and a SOW after a failed spring exists, a SOS after a failed
upthrust does not.

Range life cycle (per bar, in this order): a climax of the opposite kind, or of the same kind
after the AR, opens a new range (before the AR a same-kind climax replaces the old one only
with a lower low); reset 250 bars after the climax; reset in markup (phase E) on a close back
at/below resistance; a live spring fails on a close below its low (in accumulation a SOW may
follow and ends the range); reset on C < support - 1.5 ATR without a live spring; before the
AR, abandon once no valid rally high can be confirmed. docs/wyckoff.md has the full rule set.

This module holds the rules, their constants and the life cycle; the machine's records (the
event, the live range, the mirrored bar views) and its per-bar state output are in ``ranges.py``.
"""

from __future__ import annotations

import numpy as np

from kapman_assets.analytics.wyckoff.inputs import Inputs
from kapman_assets.analytics.wyckoff.ranges import (
    ACCUMULATION,
    DISTRIBUTION,
    MirroredBars,
    TradingRange,
    WyckoffEvent,
    emit,
    mirrored_bars,
    state_arrays,
    state_row,
)

RANGE_TYPE_NAMES = {ACCUMULATION: "accumulation", DISTRIBUTION: "distribution"}

# Climax (SC; BC mirrors): DOWN gate, L_t <= min L of the prior 60 bars, VP >= 0.95, SPR >= 1.2.
CLIMAX_MIN_VP = 0.95
CLIMAX_MIN_SPR = 1.2
# SC only (our design, issue 9; chosen on bars to 2009, checked on 2010 on, in
# docs/wyckoff_climax_study.md): climactic volume on the 250- OR the 120-bar window (a volume
# boom keeps the 250-bar VP low for years), and SPR >= 1.2 OR a range >= 1.5 ATRs of the bar
# where the decline began (late in a crash ATR14 is inflated by the crash itself). 1.5, not 1.2:
# against a pre-crash baseline every crash bar is wide; 1.5 kept the design hits at fewer false
# alarms. The BC keeps the plain rule: the same gates caught no more design tops and added BC
# false alarms (a rally does not inflate ATR the way a crash does).
SC_MIN_SPR_PRE_DECLINE = 1.5
# AR: the rally high bar A, 3-15 bars after the climax, H_A - L_SC >= 1.5 ATR, confirmed by a
# later close below L_A within AR_CONFIRM_MAX_BARS bars (our bound: it caps the pivot lag).
AR_MIN_BARS = 3
AR_MAX_BARS = 15
AR_MIN_EXTENT_ATR = 1.5
AR_CONFIRM_MAX_BARS = 5
# ST: L within [L_SC - 0.5 ATR, L_SC + 1.0 ATR], RV <= 0.7 RV_SC, SPR < SPR_SC.
ST_BAND_BELOW_ATR = 0.5
ST_BAND_ABOVE_ATR = 1.0
ST_MAX_RV_RATIO = 0.7
# SPRING: after >= 1 ST and >= 5 bars since the range was defined (the AR's confirmation),
# support - 1.5 ATR <= L < support - 0.1 ATR, a close >= support on that bar or within 2 bars.
SPRING_MIN_ST = 1
SPRING_MIN_RANGE_BARS = 5
SPRING_MIN_PENETRATION_ATR = 0.1
SPRING_MAX_PENETRATION_ATR = 1.5
SPRING_RECOVERY_MAX_BARS = 2
# TEST: 1-10 bars after the spring bar, L >= L_spring, L <= support + 0.5 ATR,
# RV < RV_spring, RV <= 1.0, SPR < 1.0.
TEST_MIN_BARS = 1
TEST_MAX_BARS = 10
TEST_MAX_ABOVE_SUPPORT_ATR = 0.5
TEST_MAX_RV = 1.0
TEST_MAX_SPR = 1.0
# SOS: C > resistance, SPR >= 1.2, RV >= 1.5, CP >= 0.6. SOW: C < support, same SPR/RV, CP <= 0.4.
BREAKOUT_MIN_SPR = 1.2
BREAKOUT_MIN_RV = 1.5
SOS_MIN_CP = 0.6
SOW_MAX_CP = 0.4
# Resets: C < support - 1.5 ATR without a (live) spring; 250 bars after the climax.
BREAKDOWN_RESET_ATR = 1.5
RANGE_MAX_BARS = 250

PIVOT_LAG_BARS = max(AR_CONFIRM_MAX_BARS, SPRING_RECOVERY_MAX_BARS)
CAUSALITY_LAG_BARS = 0

CLIMAX_CODE = {ACCUMULATION: "SC", DISTRIBUTION: "BC"}
SPRING_CODE = {ACCUMULATION: "SPRING", DISTRIBUTION: "UPTHRUST"}
BREAKOUT_CODE = {ACCUMULATION: "SOS", DISTRIBUTION: "SOW"}
EVENT_CODES = ("SC", "AR", "ST", "SPRING", "TEST", "SOS", "BC", "SOW", "UPTHRUST")


def climax_candidates(inputs: Inputs) -> tuple[np.ndarray, np.ndarray]:
    """SC and BC rule masks (docs/wyckoff.md, "Events"). BC: UP gate, 60-bar high, VP >= 0.95,
    SPR >= 1.2. SC: DOWN gate, 60-bar low, max(VP, VP_120) >= 0.95 (VP defined: no climax in
    the first 250 bars), and SPR >= 1.2 or SPR_pre >= 1.5."""
    keys = ("vp", "vp_120", "spr", "spr_pre", "down", "up", "low", "high")
    x = {k: np.asarray(inputs[k]) for k in keys}
    with np.errstate(invalid="ignore"):
        bc_climactic = (x["vp"] >= CLIMAX_MIN_VP) & (x["spr"] >= CLIMAX_MIN_SPR)
        sc_volume = (x["vp"] >= CLIMAX_MIN_VP) | ((x["vp_120"] >= CLIMAX_MIN_VP) & (x["vp"] >= 0))
        sc_spread = (x["spr"] >= CLIMAX_MIN_SPR) | (x["spr_pre"] >= SC_MIN_SPR_PRE_DECLINE)
        sc = x["down"] & (x["low"] <= np.asarray(inputs["prior_low_min"]))
        bc = x["up"] & (x["high"] >= np.asarray(inputs["prior_high_max"]))
    return sc & sc_volume & sc_spread, bc & bc_climactic


def _open_range(kind: int, t: int, b: MirroredBars, events: list[WyckoffEvent]) -> TradingRange:
    """A climax opens a range: support = L_SC (accumulation) / resistance = H_BC (distribution)."""
    r = TradingRange(kind, t, b.low[kind][t], b.rv[t], b.spr[t])
    emit(events, r, CLIMAX_CODE[kind], t, t, b)
    return r


def _step_before_ar(
    r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]
) -> TradingRange | None:
    """Track the rally high since the climax; confirm the AR or abandon the range."""
    high, low, close = b.high[r.kind], b.low[r.kind], b.close[r.kind]
    if high[t] > r.rally_high:
        r.rally_high, r.rally_bar = high[t], t
    a = r.rally_bar
    if (
        t > a
        and close[t] < low[a]
        and AR_MIN_BARS <= a - r.start <= AR_MAX_BARS
        and t - a <= AR_CONFIRM_MAX_BARS
        and high[a] - r.level >= AR_MIN_EXTENT_ATR * b.atr[a]
    ):
        r.ar_bar, r.ceiling = t, high[a]
        emit(events, r, "AR", t, a, b, extent_atr=(high[a] - r.level) / b.atr[a])
        return r
    if a - r.start > AR_MAX_BARS or t - r.start >= AR_MAX_BARS + AR_CONFIRM_MAX_BARS:
        return None
    return r


def _check_spring(r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]) -> None:
    """SPRING: a shallow break of support (0.1-1.5 ATR) that closes back within 2 bars."""
    low, close = b.low[r.kind], b.close[r.kind]
    if r.pending >= 0 and t - r.pending > SPRING_RECOVERY_MAX_BARS:
        r.pending = -1
    eligible = r.n_st >= SPRING_MIN_ST and t - r.ar_bar >= SPRING_MIN_RANGE_BARS
    penetration = r.level - low[t]
    deeper = r.pending >= 0 and low[t] < low[r.pending]
    if (
        eligible
        and SPRING_MIN_PENETRATION_ATR * b.atr[t] < penetration
        and penetration <= SPRING_MAX_PENETRATION_ATR * b.atr[t]
        and (r.pending < 0 or deeper)
    ):
        r.pending = t
    elif deeper:
        r.pending = -1
    if r.pending >= 0 and close[t] >= r.level:
        p = r.pending
        r.spring, r.spring_confirm, r.pending = p, t, -1
        r.spring_low, r.spring_rv, r.tested, r.spring_failed = low[p], b.rv[p], False, False
        emit(
            events,
            r,
            SPRING_CODE[r.kind],
            t,
            p,
            b,
            penetration_atr=(r.level - low[p]) / b.atr[p],
            recovery_bars=float(t - p),
            recovery_cp=b.cp[r.kind][p],
        )


def _check_st(r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]) -> None:
    """ST: a low near the climax low on lower volume and a narrower spread than the climax."""
    low, atr = b.low[r.kind][t], b.atr[t]
    if (
        r.level - ST_BAND_BELOW_ATR * atr <= low <= r.level + ST_BAND_ABOVE_ATR * atr
        and b.rv[t] <= ST_MAX_RV_RATIO * r.climax_rv
        and b.spr[t] < r.climax_spr
    ):
        r.n_st += 1
        if r.first_st < 0:
            r.first_st = t
        emit(events, r, "ST", t, t, b, rv_ratio=b.rv[t] / r.climax_rv)


def _check_test(r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]) -> None:
    """TEST: 1-10 bars after the spring, a quiet low held above the spring low near support."""
    low = b.low[r.kind][t]
    if (
        not r.tested
        and t > r.spring_confirm
        and TEST_MIN_BARS <= t - r.spring <= TEST_MAX_BARS
        and r.spring_low <= low <= r.level + TEST_MAX_ABOVE_SUPPORT_ATR * b.atr[t]
        and b.rv[t] < r.spring_rv
        and b.rv[t] <= TEST_MAX_RV
        and b.spr[t] < TEST_MAX_SPR
    ):
        r.tested = True
        emit(events, r, "TEST", t, t, b, rv_ratio=b.rv[t] / r.spring_rv)


def _is_breakout(r: TradingRange, t: int, b: MirroredBars) -> bool:
    """SOS (SOW mirrored): C beyond the range, SPR >= 1.2, RV >= 1.5, CP toward the move."""
    min_cp = SOS_MIN_CP if r.kind == ACCUMULATION else 1.0 - SOW_MAX_CP
    return (
        b.close[r.kind][t] > r.ceiling
        and b.spr[t] >= BREAKOUT_MIN_SPR
        and b.rv[t] >= BREAKOUT_MIN_RV
        and b.cp[r.kind][t] >= min_cp
    )


def _is_failed_spring_sow(r: TradingRange, t: int, b: MirroredBars) -> bool:
    """SOW after a failed spring (accumulation): C < support, SPR >= 1.2, RV >= 1.5, CP <= 0.4."""
    return (
        b.close[ACCUMULATION][t] < r.level
        and b.spr[t] >= BREAKOUT_MIN_SPR
        and b.rv[t] >= BREAKOUT_MIN_RV
        and b.cp[ACCUMULATION][t] <= SOW_MAX_CP
    )


def _step_after_ar(
    r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]
) -> TradingRange | None:
    """One bar of a defined range: resets, ST, SPRING, TEST, SOS/SOW, markup."""
    close = b.close[r.kind][t]
    if r.markup and close <= r.ceiling:
        return None
    if r.spring >= 0 and close < r.spring_low:
        r.spring, r.spring_confirm, r.spring_failed = -1, -1, True
    if r.kind == ACCUMULATION and r.spring_failed and _is_failed_spring_sow(r, t, b):
        emit(events, r, "SOW", t, t, b)
        return None
    if r.spring < 0 and close < r.level - BREAKDOWN_RESET_ATR * b.atr[t]:
        return None
    if r.spring < 0 and r.breakout < 0:
        _check_spring(r, t, b, events)
        if r.spring < 0:
            _check_st(r, t, b, events)
    elif r.spring >= 0:
        _check_test(r, t, b, events)
    may_break_out = r.kind == DISTRIBUTION or r.breakout >= 0 or 0 <= r.spring_confirm < t
    if may_break_out and not r.markup and _is_breakout(r, t, b):
        if r.breakout < 0:
            r.breakout = t
        emit(events, r, BREAKOUT_CODE[r.kind], t, t, b)
    if r.breakout >= 0 and close > r.ceiling + (r.ceiling - r.level):
        r.markup = True
    return r


def _climax_replaces(r: TradingRange, kind: int, t: int, b: MirroredBars) -> bool:
    """A climax at t opens a new range unless it is a same-kind bar, before the AR, whose low
    does not undercut the climax (docs/domain.md: until the AR a lower low replaces the SC; our
    design: after the AR, and for the opposite kind, a fresh climax always starts a new range)."""
    return kind != r.kind or r.ar_bar >= 0 or b.low[kind][t] < r.level


def _step(
    r: TradingRange, t: int, b: MirroredBars, events: list[WyckoffEvent]
) -> TradingRange | None:
    """Advance a live range by bar t; None when a reset rule ends it."""
    if t - r.start >= RANGE_MAX_BARS:
        return None
    if r.ar_bar < 0:
        if b.close[r.kind][t] < r.level - BREAKDOWN_RESET_ATR * b.atr[t]:
            return None
        return _step_before_ar(r, t, b, events)
    return _step_after_ar(r, t, b, events)


def detect_events(
    inputs: Inputs, climax: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[list[WyckoffEvent], dict[str, np.ndarray]]:
    """Run the range state machine over the inputs (``wyckoff_inputs``), bar by bar, causally.

    ``climax`` replaces the (SC, BC) masks of ``climax_candidates`` (for studies that compare
    climax rules on the same machine, e.g. scripts/wyckoff_climax_study.py); None = the rules.
    Returns the events in report order and the per-bar state, ``ranges.STATE_COLUMNS`` -> array
    (bar positions as ints, -1 for none; support/resistance in price units, NaN when undefined).
    """
    n = len(inputs["close"])
    sc, bc = climax_candidates(inputs) if climax is None else climax
    climax = np.where(sc, ACCUMULATION, np.where(bc, DISTRIBUTION, 0)).tolist()
    b = mirrored_bars(inputs)
    events: list[WyckoffEvent] = []
    rows: list[tuple] = []
    r: TradingRange | None = None
    for t in range(n):
        kind = climax[t]
        if r is not None and kind and _climax_replaces(r, kind, t, b):
            r = None
        if r is not None:
            r = _step(r, t, b, events)
        if r is None and kind:
            r = _open_range(kind, t, b, events)
        rows.append(state_row(r))
    return events, state_arrays(rows, n)
