"""Wyckoff engine (docs/wyckoff.md; our design): events, phases, scores and signals per day.

``analyze_wyckoff(bars)`` runs one ticker's whole series once and returns, per bar (causal:
appending later bars never changes an earlier row, see ``events.CAUSALITY_LAG_BARS``):
  wyckoff_phase     'A'..'E' or None                 phase_confidence  0..1 (0 outside a range)
  events            list of event codes reported that day (``events.EVENT_CODES``)
  primary_event     the most significant of them by ``EVENT_PRIORITY`` (None if none)
  events_json       JSON list, one object per event of the day with its evidence, or None
  bc_score          0..28 (int)      spring_score 0..12 (int)      composite_score -100..+100
  signal            STRONG_ENTRY / ENTRY_SETUP / EXIT_NOW / PREPARE_EXIT / REDUCE or None
  range_support, range_resistance  price units, NaN while undefined
  range_type        'accumulation' / 'distribution' / None
Bars must be split-adjusted and gap-free (``series.prepare_bars``); volume as given.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from kapman_assets.analytics import series
from kapman_assets.analytics.wyckoff.events import RANGE_TYPE_NAMES, detect_events
from kapman_assets.analytics.wyckoff.inputs import compute_inputs
from kapman_assets.analytics.wyckoff.phases import phase_confidence, wyckoff_phases
from kapman_assets.analytics.wyckoff.ranges import WyckoffEvent
from kapman_assets.analytics.wyckoff.scores import bc_score, composite_score, spring_score
from kapman_assets.analytics.wyckoff.signals import wyckoff_signals

EVENT_PRIORITY = ("SC", "BC", "SPRING", "UPTHRUST", "SOS", "SOW", "TEST", "AR", "ST")
EVIDENCE_INPUTS = ("rv", "spr", "cp", "vp", "atr")
JSON_DECIMALS = 6
OUTPUT_COLUMNS = (
    "wyckoff_phase",
    "phase_confidence",
    "events",
    "primary_event",
    "events_json",
    "bc_score",
    "spring_score",
    "composite_score",
    "signal",
    "range_support",
    "range_resistance",
    "range_type",
)

__all__ = [
    "EVENT_PRIORITY",
    "OUTPUT_COLUMNS",
    "analyze_wyckoff",
    "analyze_wyckoff_long",
    "wyckoff_columns",
]


def _number(value: float) -> float | None:
    """A JSON-safe float (None for NaN/inf)."""
    value = float(value)
    return round(value, JSON_DECIMALS) if math.isfinite(value) else None


def event_evidence(event: WyckoffEvent, day: dict[int, str]) -> dict:
    """The event's JSON object: code, dates, range levels, RV/SPR/CP/VP/ATR of its pivot bar."""
    record = {
        "event": event.code,
        "date": day[event.bar],
        "bar_date": day[event.pivot],
        "range_type": RANGE_TYPE_NAMES[event.range_kind],
        "range_start": day[event.range_start],
        "support": _number(event.support),
        "resistance": _number(event.resistance),
    }
    record |= {name: _number(event.evidence[name]) for name in EVIDENCE_INPUTS}
    return record | {name: _number(value) for name, value in event.details.items()}


def _daily_events(
    events: list[WyckoffEvent], dates: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per bar: event codes (list), primary event and events_json (None without events)."""
    n = len(dates)
    bars = sorted({p for e in events for p in (e.bar, e.pivot, e.range_start)})
    iso = np.datetime_as_string(dates.values[bars], unit="D").tolist()
    day = dict(zip(bars, iso, strict=True))
    codes = np.empty(n, dtype=object)
    for t in range(n):
        codes[t] = []
    evidence: dict[int, list[dict]] = {}
    for event in events:
        codes[event.bar].append(event.code)
        evidence.setdefault(event.bar, []).append(event_evidence(event, day))
    primary = np.full(n, None, dtype=object)
    as_json = np.full(n, None, dtype=object)
    for t, records in evidence.items():
        primary[t] = min(codes[t], key=EVENT_PRIORITY.index)
        as_json[t] = json.dumps(records)
    return codes, primary, as_json


def _signal_event_bars(events: list[WyckoffEvent]) -> tuple[list[int], list[int]]:
    """Report bars of SOS events in a range with an earlier SPRING, and of SOW events."""
    spring_ranges: set[int] = set()
    sos, sow = [], []
    for event in events:
        if event.code == "SPRING":
            spring_ranges.add(event.range_start)
        elif event.code == "SOS" and event.range_start in spring_ranges:
            sos.append(event.bar)
        elif event.code == "SOW":
            sow.append(event.bar)
    return sos, sow


def analyze_wyckoff(bars: pd.DataFrame) -> pd.DataFrame:
    """Wyckoff outputs (``OUTPUT_COLUMNS``) per bar of one ticker, indexed like ``bars``."""
    return pd.DataFrame(wyckoff_columns(bars), index=bars.index, copy=False)


def wyckoff_columns(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """``analyze_wyckoff`` as one array per output column (no DataFrame built)."""
    inputs = compute_inputs(bars)
    events, state = detect_events(inputs)
    phase = wyckoff_phases(state)
    bc = bc_score(inputs, events)
    spring = spring_score(inputs, events, state)
    sos_bars, sow_bars = _signal_event_bars(events)
    codes, primary, as_json = _daily_events(events, bars.index)
    range_type = np.full(len(bars), None, dtype=object)
    for kind, name in RANGE_TYPE_NAMES.items():
        range_type[state["range_kind"] == kind] = name
    return {
        "wyckoff_phase": phase,
        "phase_confidence": phase_confidence(state, events, phase),
        "events": codes,
        "primary_event": primary,
        "events_json": as_json,
        "bc_score": bc,
        "spring_score": spring,
        "composite_score": composite_score(spring, bc),
        "signal": wyckoff_signals(spring, bc, np.array(sos_bars), np.array(sow_bars)),
        "range_support": state["range_support"],
        "range_resistance": state["range_resistance"],
        "range_type": range_type,
    }


def analyze_wyckoff_long(long: pd.DataFrame, splits: pd.DataFrame | None = None) -> pd.DataFrame:
    """``analyze_wyckoff`` once per ticker of a long frame (``ticker, date, OHLCV``; split-adjusted
    first when ``splits`` is given); returns ``ticker, date`` (datetime64) + ``OUTPUT_COLUMNS``,
    sorted by ticker and date. Stacks plain arrays (``wyckoff_columns``): a frame per ticker and a
    concat of its object columns would cost as much again as the engine."""
    tickers, dates = [], []
    parts: dict[str, list[np.ndarray]] = {name: [] for name in OUTPUT_COLUMNS}
    for ticker, bars in series.ticker_bars(long, splits):
        tickers.append(np.full(len(bars), ticker, dtype=object))
        dates.append(bars.index.to_numpy())
        for name, column in wyckoff_columns(bars).items():
            parts[name].append(column)
    if not tickers:  # keep the input's ticker and date dtypes
        none = long.iloc[:0]
        keys = {
            "ticker": none["ticker"].to_numpy(),
            "date": pd.to_datetime(none["date"]).to_numpy(),
        }
        return pd.DataFrame(keys | {name: np.empty(0, dtype=object) for name in OUTPUT_COLUMNS})
    columns = {"ticker": np.concatenate(tickers), "date": np.concatenate(dates)}
    return pd.DataFrame(columns | {name: np.concatenate(arrays) for name, arrays in parts.items()})
