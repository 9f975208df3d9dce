"""The records of the Wyckoff range state machine (``events.py``), and its per-bar state output.

A live range is kept in the *mirrored frame* of its kind: accumulation reads the bars as they
are, distribution reads H' = -L, L' = -H, C' = -C, CP' = 1 - CP, so one set of rules serves
both (docs/wyckoff.md, "Events"). ``TradingRange.level`` is the support of that frame (L_SC, or
-H_BC) and ``ceiling`` its resistance (H_A of the AR, or -L_A); ``range_levels`` turns them back
into real prices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kapman_assets.analytics.wyckoff.inputs import Inputs

ACCUMULATION, DISTRIBUTION = 1, -1

STATE_COLUMNS = (
    "range_kind",  # +1 accumulation, -1 distribution, 0 none
    "range_start",  # bar of the climax that opened the range (-1: none)
    "range_support",
    "range_resistance",
    "first_st_bar",  # -1 until the first ST
    "phase_c_bar",  # report bar of the live SPRING/UPTHRUST (-1: none or failed)
    "phase_d_bar",  # bar of the first SOS (accumulation) / SOW (distribution), -1 before
    "markup",  # past resistance + height after phase D (phase E)
    "last_event_bar",  # bar of the range's latest event
)
NO_RANGE_STATE = (0, -1, np.nan, np.nan, -1, -1, -1, False, -1)  # one row, STATE_COLUMNS order


@dataclass(frozen=True, slots=True)
class WyckoffEvent:
    """One detected event: reported at ``bar``, describing ``pivot`` (bar positions)."""

    code: str
    bar: int
    pivot: int
    range_kind: int
    range_start: int
    support: float
    resistance: float
    details: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, float] = field(default_factory=dict)  # EVIDENCE_INPUTS at the pivot


@dataclass(slots=True)
class TradingRange:
    """A live trading range, in the mirrored frame of its kind (``level`` = support')."""

    kind: int
    start: int  # the climax bar
    level: float
    climax_rv: float
    climax_spr: float
    rally_bar: int = -1  # bar A of the highest high' since the climax, before the AR
    rally_high: float = -np.inf
    ar_bar: int = -1  # the AR's confirmation bar
    ceiling: float = np.nan
    n_st: int = 0
    first_st: int = -1
    pending: int = -1  # a spring candidate waiting for its close back inside
    spring: int = -1  # bar of the live spring's low (-1: none or failed)
    spring_confirm: int = -1  # its report bar
    spring_low: float = np.nan
    spring_rv: float = np.nan
    spring_failed: bool = False
    tested: bool = False
    breakout: int = -1  # bar of the first SOS / SOW (phase D)
    markup: bool = False  # phase E
    last_event: int = -1


@dataclass(slots=True)
class MirroredBars:
    """Plain-list views of the inputs (fast scalar access), mirrored for distribution."""

    high: dict[int, list[float]]
    low: dict[int, list[float]]
    close: dict[int, list[float]]
    cp: dict[int, list[float]]
    atr: list[float]
    rv: list[float]
    spr: list[float]
    vp: list[float]


def mirrored_bars(inputs: Inputs) -> MirroredBars:
    """Accumulation reads the bars, distribution the mirror H' = -L, L' = -H, C' = -C."""
    high, low, close, cp = (np.asarray(inputs[c]) for c in ("high", "low", "close", "cp"))
    return MirroredBars(
        high={ACCUMULATION: high.tolist(), DISTRIBUTION: (-low).tolist()},
        low={ACCUMULATION: low.tolist(), DISTRIBUTION: (-high).tolist()},
        close={ACCUMULATION: close.tolist(), DISTRIBUTION: (-close).tolist()},
        cp={ACCUMULATION: cp.tolist(), DISTRIBUTION: (1.0 - cp).tolist()},
        atr=np.asarray(inputs["atr"]).tolist(),
        rv=np.asarray(inputs["rv"]).tolist(),
        spr=np.asarray(inputs["spr"]).tolist(),
        vp=np.asarray(inputs["vp"]).tolist(),
    )


def range_levels(r: TradingRange) -> tuple[float, float]:
    """(support, resistance) of the range in real prices."""
    if r.kind == ACCUMULATION:
        return r.level, r.ceiling
    return -r.ceiling, -r.level


def emit(
    events: list[WyckoffEvent],
    r: TradingRange,
    code: str,
    t: int,
    pivot: int,
    b: MirroredBars,
    **details: float,
) -> None:
    """Record an event of range r reported at bar t, with the inputs of its pivot bar."""
    support, resistance = range_levels(r)
    evidence = {
        "rv": b.rv[pivot],
        "spr": b.spr[pivot],
        "cp": b.cp[ACCUMULATION][pivot],
        "vp": b.vp[pivot],
        "atr": b.atr[pivot],
    }
    events.append(
        WyckoffEvent(code, t, pivot, r.kind, r.start, support, resistance, details, evidence)
    )
    r.last_event = t


def state_row(r: TradingRange | None) -> tuple:
    """The range's state at the current bar, in ``STATE_COLUMNS`` order."""
    if r is None:
        return NO_RANGE_STATE
    support, resistance = range_levels(r)
    return (
        r.kind,
        r.start,
        support,
        resistance,
        r.first_st,
        r.spring_confirm,
        r.breakout,
        r.markup,
        r.last_event,
    )


def state_arrays(rows: list[tuple], n: int) -> dict[str, np.ndarray]:
    """Per-bar state rows as one array per column (ints, floats for the levels, bool markup)."""
    table = np.array(rows, dtype=float).reshape(n, len(STATE_COLUMNS))
    state = {name: table[:, i] for i, name in enumerate(STATE_COLUMNS)}
    for name in STATE_COLUMNS:
        if name == "markup":
            state[name] = state[name].astype(bool)
        elif name not in ("range_support", "range_resistance"):
            state[name] = state[name].astype(np.int64)
    return state
