"""Hand-crafted bar series for the Wyckoff tests (no code under test is used to build them).

A bar is written as (low, high, close, volume); open is the previous close. Quiet bars have a
range of exactly 1.0 around the close and closes that move by at most 0.5, so their true range
is exactly 1.0 and ATR14 stays 1.0 until a wider bar enters it.

``accumulation()`` is a complete schematic (bar positions in ``MARKS``):
  0-299    flat at 100, volume 1e6, with 13 volume spikes (2.0e6 ... 3.2e6) at bars 120-240 that
           set the climax percentile: a 2.05e6 bar then ranks 0.952, a 1.95e6 bar 0.948
  300-359  decline 0.25 a bar to 85 (DOWN gate open: C < SMA50, 10% below the 60-bar max close)
  360      SC: L 82, H 85.2, volume 2.05e6 (RV 2.05, VP 0.952, SPR 3.2)
  361-365  rally to the AR high bar (H 88.3 at 365, 5 bars after the SC, 6.3 above L_SC)
  366      close 86.6 < L_A = 87.3: AR confirmed, resistance 88.3
  367-371  drift down, 372 ST (L 82.4, volume 0.9e6), 373-385 range between 83.6 and 86.5
  386      SPRING: L 81.4 (0.6 below support 82), close 83.4 (CP 0.77), volume 0.7e6
  387-388  quiet, 389 TEST (L 82.3, volume 0.5e6, spread 0.8), 390-394 rally inside the range
  395      SOS: L 87.2, H 89.4, close 89.2 > 88.3 (CP 0.91), volume 2.5e6
  396-419  markup 0.5 a bar: closes above resistance + height (94.6) from bar 406
``distribution()`` is its mirror image around 200 (H' = 200 - L, L' = 200 - H, C' = 200 - C).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASE_VOLUME = 1_000_000.0
SPIKE_BARS = tuple(range(120, 241, 10))  # 13 bars
SPIKE_VOLUMES = tuple(2_000_000.0 + 100_000.0 * k for k in range(len(SPIKE_BARS)))
MIRROR_AXIS = 200.0

Row = tuple[float, float, float, float]  # low, high, close, volume

MARKS = {
    "sc": 360,
    "ar_high": 365,
    "ar": 366,
    "st": 372,
    "spring": 386,
    "test": 389,
    "sos": 395,
    "end": 420,
}
SUPPORT = 82.0
RESISTANCE = 88.3
SC_VOLUME = 2_050_000.0  # VP 238/250 = 0.952 against the spikes
SC_VOLUME_BELOW_VP = 1_950_000.0  # VP 237/250 = 0.948
SOS_ROW = (87.2, 89.4, 89.2, 2_500_000.0)  # CP 2.0 / 2.2 = 0.91
SOS_WEAK_CLOSE = 88.5  # still > 88.3, CP 1.3 / 2.2 = 0.59 < 0.6


def quiet(close: float, volume: float = BASE_VOLUME) -> Row:
    """A bar of range 1.0 centred on its close."""
    return (close - 0.5, close + 0.5, close, volume)


def bars_frame(rows: list[Row], start: str = "2010-01-04") -> pd.DataFrame:
    """Rows (low, high, close, volume) as a bars frame; open = previous close."""
    low, high, close, volume = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    open_ = np.concatenate([[close[0]], close[:-1]])
    index = pd.bdate_range(start, periods=len(rows), name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def baseline(n: int = 300, price: float = 100.0) -> list[Row]:
    """Flat quiet bars with the volume spikes of the module doc."""
    rows = [quiet(price) for _ in range(n)]
    for bar, volume in zip(SPIKE_BARS, SPIKE_VOLUMES, strict=True):
        rows[bar] = quiet(price, volume)
    return rows


def accumulation_rows(sc_volume: float = SC_VOLUME) -> list[Row]:
    """The accumulation schematic of the module doc (420 bars)."""
    rows = baseline()
    rows += [quiet(100.0 - 0.25 * k) for k in range(1, 61)]  # 300-359, close 85.0 at 359
    rows.append((82.0, 85.2, 83.0, sc_volume))  # 360 SC
    rows += [quiet(c) for c in (83.4, 83.9, 84.4, 84.9)]  # 361-364 (steps <= 0.5)
    rows.append((87.0, 88.3, 87.8, BASE_VOLUME))  # 365 rally high A: H 88.3, L_A 87.0
    rows.append((86.4, 87.9, 86.6, BASE_VOLUME))  # 366 close < L_A: AR confirmed
    rows += [quiet(c, 800_000.0) for c in (86.2, 85.8, 85.4, 85.0, 84.6)]  # 367-371
    rows.append((82.4, 84.6, 83.6, 900_000.0))  # 372 ST
    rows += [quiet(c, 800_000.0) for c in (84.1, 84.6, 85.1, 85.6, 86.0, 85.6, 85.2)]  # 373-379
    rows += [quiet(c, 800_000.0) for c in (84.8, 84.4, 84.8, 85.2, 84.8, 84.4)]  # 380-385
    rows.append((81.4, 84.0, 83.4, 700_000.0))  # 386 SPRING
    rows += [quiet(c, 900_000.0) for c in (83.6, 83.3)]  # 387-388
    rows.append((82.3, 83.1, 82.9, 500_000.0))  # 389 TEST
    rows += [quiet(c, 900_000.0) for c in (83.4, 83.9, 84.4, 84.9, 85.4)]  # 390-394
    rows.append(SOS_ROW)  # 395 SOS
    rows += [quiet(SOS_ROW[2] + 0.5 * k) for k in range(1, 25)]  # 396-419 markup
    return rows


def accumulation(**overrides: Row) -> pd.DataFrame:
    """The accumulation schematic, with rows replaced by bar position (``b386=(...)``)."""
    rows = accumulation_rows()
    for key, row in overrides.items():
        rows[int(key.lstrip("b"))] = row
    return bars_frame(rows)


def mirror(bars: pd.DataFrame, axis: float = MIRROR_AXIS) -> pd.DataFrame:
    """Reflect prices around ``axis``: H' = axis - L, L' = axis - H, C' = axis - C, O' likewise."""
    return pd.DataFrame(
        {
            "open": axis - bars["open"],
            "high": axis - bars["low"],
            "low": axis - bars["high"],
            "close": axis - bars["close"],
            "volume": bars["volume"],
        },
        index=bars.index,
    )


def distribution(**overrides: Row) -> pd.DataFrame:
    """The mirror image of ``accumulation(**overrides)`` (overrides in accumulation prices)."""
    return mirror(accumulation(**overrides))


# --- BC-score fixture: every bar has a range of 2.0 and moves <= 1.0, so ATR14 is exactly 2.0 ---
BC_PATTERN = (1.0, 0.5, -1.0, 1.0, -0.5, 0.5)  # close changes of the 40-bar run-up
BC_CANDIDATE = 340  # 300 flat bars + 40 run-up bars
BC_CANDIDATE_ROW = (110.3, 114.1, 111.5, 2_200_000.0)  # prior close 110.5


def wide(close: float, volume: float = BASE_VOLUME) -> Row:
    """A bar of range 2.0 centred on its close."""
    return (close - 1.0, close + 1.0, close, volume)


def bc_rows() -> list[Row]:
    """Flat 100 for 300 bars, a 40-bar run-up, the candidate, a 2-step reaction, 25 quiet bars.

    Reaction after the candidate (H_c = 114.1, ATR_c = 2.0): bar 341 low 111.7 (2.4 = 1.2 ATR
    below H_c), bar 342 low 109.5 (4.6 = 2.3 ATR below H_c).
    """
    rows = [wide(100.0) for _ in range(300)]
    close = 100.0
    for k in range(40):
        close += BC_PATTERN[k % len(BC_PATTERN)]
        rows.append(wide(close))
    rows.append(BC_CANDIDATE_ROW)
    rows.append(wide(112.7))  # 341: low 111.7
    rows.append(wide(110.5))  # 342: low 109.5
    rows += [wide(110.5) for _ in range(25)]
    return rows


# --- independent reference implementations (plain Python, no TA-Lib) -------------------------
def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TR_t = max(H - L, |H - C_{t-1}|, |L - C_{t-1}|); NaN at t = 0."""
    out = [np.nan]
    for t in range(1, len(close)):
        out.append(max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1])))
    return np.array(out)


def wilder_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Wilder's ATR: the mean of TR[1..n] at bar n, then (prev * (n - 1) + TR) / n."""
    tr = true_range(high, low, close)
    out = np.full(len(close), np.nan)
    out[n] = sum(tr[1 : n + 1]) / n
    for t in range(n + 1, len(close)):
        out[t] = (out[t - 1] * (n - 1) + tr[t]) / n
    return out


def wilder_rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    """Wilder's RSI: average gain / loss seeded by the mean of the first n changes."""
    change = np.diff(close)
    gain = [max(x, 0.0) for x in change]
    loss = [max(-x, 0.0) for x in change]
    out = np.full(len(close), np.nan)
    avg_gain, avg_loss = sum(gain[:n]) / n, sum(loss[:n]) / n
    for t in range(n, len(close)):
        if t > n:
            avg_gain = (avg_gain * (n - 1) + gain[t - 1]) / n
            avg_loss = (avg_loss * (n - 1) + loss[t - 1]) / n
        total = avg_gain + avg_loss
        out[t] = 100.0 * avg_gain / total if total > 0 else 0.0
    return out


def money_flow_index(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray, n: int = 14
) -> np.ndarray:
    """MFI: 100 * positive / (positive + negative) money flow of the last n typical-price moves."""
    typical = (high + low + close) / 3.0
    flow = typical * volume
    out = np.full(len(close), np.nan)
    for t in range(n, len(close)):
        positive = sum(flow[k] for k in range(t - n + 1, t + 1) if typical[k] > typical[k - 1])
        negative = sum(flow[k] for k in range(t - n + 1, t + 1) if typical[k] < typical[k - 1])
        out[t] = 100.0 * positive / (positive + negative) if positive + negative > 0 else 0.0
    return out


def prior_mean(values: np.ndarray, n: int) -> np.ndarray:
    """mean(values[t-n..t-1]) per bar (NaN before n prior values)."""
    out = np.full(len(values), np.nan)
    for t in range(n, len(values)):
        out[t] = sum(values[t - n : t]) / n
    return out
