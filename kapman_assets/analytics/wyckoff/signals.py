"""Wyckoff trade signals, interpretation only (docs/wyckoff.md, "Signals"; the product design).

Detection (``events.py``) and scoring (``scores.py``) never read this module. Rules:
  STRONG_ENTRY  a SOS in a range that had a SPRING ("SPRING + SOS confirmed")
  ENTRY_SETUP   Spring score >= 9 and BC score < 12
  EXIT_NOW      BC score >= 24
  PREPARE_EXIT  BC score >= 20
  REDUCE        a SOW
Activity (our design): event signals (STRONG_ENTRY, REDUCE) stay active for
``SIGNAL_HOLD_BARS`` bars counting the event's bar; score signals hold while their condition
holds, i.e. as long as the score's candidate/spring is inside its 20-bar window.
Precedence (our design, risk first): EXIT_NOW > REDUCE > PREPARE_EXIT > STRONG_ENTRY >
ENTRY_SETUP; one signal per ticker-day, None when no rule holds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

STRONG_ENTRY = "STRONG_ENTRY"
ENTRY_SETUP = "ENTRY_SETUP"
EXIT_NOW = "EXIT_NOW"
PREPARE_EXIT = "PREPARE_EXIT"
REDUCE = "REDUCE"
SIGNAL_PRECEDENCE = (EXIT_NOW, REDUCE, PREPARE_EXIT, STRONG_ENTRY, ENTRY_SETUP)

EXIT_NOW_MIN_BC = 24
PREPARE_EXIT_MIN_BC = 20
ENTRY_SETUP_MIN_SPRING = 9
ENTRY_SETUP_MAX_BC = 12  # exclusive: BC < 12
SIGNAL_HOLD_BARS = 5


def signal_rules(
    spring_score: ArrayLike, bc_score: ArrayLike, sos_after_spring: ArrayLike, sow: ArrayLike
) -> dict[str, ArrayLike]:
    """The one statement of the five rules (module doc): signal -> condition, scalar or per bar.

    ``sos_after_spring`` / ``sow`` say whether a STRONG_ENTRY / REDUCE event is active.
    """
    return {
        EXIT_NOW: bc_score >= EXIT_NOW_MIN_BC,
        REDUCE: sow,
        PREPARE_EXIT: bc_score >= PREPARE_EXIT_MIN_BC,
        STRONG_ENTRY: sos_after_spring,
        ENTRY_SETUP: (spring_score >= ENTRY_SETUP_MIN_SPRING) & (bc_score < ENTRY_SETUP_MAX_BC),
    }


def interpret_signal(
    spring_score: float, bc_score: float, sos_after_spring: bool, sow: bool
) -> str | None:
    """The signal of one ticker-day from its scores and active event flags (precedence order)."""
    rules = signal_rules(spring_score, bc_score, sos_after_spring, sow)
    return next((name for name in SIGNAL_PRECEDENCE if rules[name]), None)


def held(event_bars: np.ndarray, n: int) -> np.ndarray:
    """True on each event bar and the SIGNAL_HOLD_BARS - 1 bars after it."""
    active = np.zeros(n + SIGNAL_HOLD_BARS, dtype=bool)
    for offset in range(SIGNAL_HOLD_BARS):
        active[np.asarray(event_bars, dtype=np.int64) + offset] = True
    return active[:n]


def wyckoff_signals(
    spring_score: np.ndarray,
    bc_score: np.ndarray,
    sos_after_spring_bars: np.ndarray,
    sow_bars: np.ndarray,
) -> np.ndarray:
    """Signal per bar (object array, None where no rule holds): ``signal_rules`` on arrays, with
    each event signal held for SIGNAL_HOLD_BARS bars."""
    n = len(bc_score)
    rules = signal_rules(
        np.asarray(spring_score),
        np.asarray(bc_score),
        held(sos_after_spring_bars, n),
        held(sow_bars, n),
    )
    signal = np.full(n, None, dtype=object)
    for name in reversed(SIGNAL_PRECEDENCE):
        signal[rules[name]] = name
    return signal
