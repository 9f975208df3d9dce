"""Per-bar inputs of the Wyckoff rules (docs/wyckoff.md, "Inputs"), causal (bar t uses bars <= t).

``atr``  ATR14 of bar t-1 (TA-Lib ATR shifted one bar), price units.
``rv``   V_t / mean(V[t-50..t-1]), a ratio (NaN until 50 prior bars, or when that mean is 0).
``vp``   percentile rank of V_t among the 250 prior volumes, 0..1, ties counted half
         (scipy ``percentileofscore(kind="mean") / 100``; NaN until 250 prior bars).
``vp_120`` the same rank among the 120 prior volumes (NaN until 120 prior bars): after a secular
         boom in volume the 250-bar window still holds the boom, a half-year window forgets it.
``spr``  (H - L) / ATR, in ATRs.            ``cp``  (C - L) / (H - L), 0..1 (0.5 when H = L).
``down`` C[t-1] < SMA50[t-1] and (max C[t-60..t-1] - L_t) / max C[t-60..t-1] >= 10%.
``up``   C[t-1] > SMA50[t-1] and (H_t - min C[t-60..t-1]) / min C[t-60..t-1] >= 10%.
         Neither gate is scaled by volatility (a vol-scaled gate never opens in a crash).
``prior_low_min`` / ``prior_high_max``  min L / max H of the 60 prior bars (climax extremes).
``atr_pre_decline`` the ATR (as above) of the bar with the highest close of the 60 prior bars
         (the latest such bar), i.e. before the decline the DOWN gate measures began; ``spr_pre``
         = (H - L) / atr_pre_decline (a late-crash ATR14 is inflated by the crash itself).
BC-score inputs: ``sma_20``, ``sma_50``, ``rsi_14``, ``mfi_14`` (TA-Lib), ``hv_20`` =
std(ln C_t/C_{t-1}, 20, ddof=1) * sqrt(252) (decimal; ``price_metrics.historical_volatility``,
the price metric's HV) and ``ret_20`` = ln(C_t / C_{t-20}).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import talib
from numpy.lib.stride_tricks import sliding_window_view

from kapman_assets.analytics.price_metrics import historical_volatility
from kapman_assets.analytics.series import BAR_COLUMNS

ATR_PERIOD = 14
RV_BASELINE_BARS = 50
VP_WINDOW_BARS = 250
# (our design, issue 9) a half-year volume window: after a secular volume boom the 250-bar VP
# stays below the climax gate for years; 120 bars was chosen over 60 on the design period
# (bars to 2009) of scripts/wyckoff_climax_study.py (same hits, fewer false alarms)
VP_SHORT_WINDOW_BARS = 120
TREND_SMA_PERIOD = 50
TREND_LOOKBACK_BARS = 60
TREND_MIN_MOVE = 0.10
CLIMAX_LOOKBACK_BARS = 60
SMA_SHORT_PERIOD = 20
RSI_PERIOD = 14
MFI_PERIOD = 14
HV_PERIOD = 20
RET_PERIOD = 20
FLAT_BAR_CP = 0.5  # CP of a bar with H = L

Inputs = Mapping[str, np.ndarray]  # column -> per-bar values (a dict, or the DataFrame itself)


def shift_one(values: np.ndarray) -> np.ndarray:
    """values[t-1] at t (NaN at t = 0)."""
    out = np.empty_like(values, dtype=float)
    out[:1] = np.nan
    out[1:] = values[:-1]
    return out


def prior_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """ATR = ATR14(t-1): TA-Lib's Wilder ATR shifted one bar (docs/wyckoff.md, "Inputs")."""
    return shift_one(talib.ATR(high, low, close, timeperiod=ATR_PERIOD))


def relative_volume(volume: np.ndarray) -> np.ndarray:
    """RV = V_t / mean(V[t-50..t-1]), NaN without a baseline (docs/wyckoff.md, "Inputs")."""
    baseline = shift_one(talib.SMA(volume, timeperiod=RV_BASELINE_BARS))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(baseline > 0, volume / baseline, np.nan)


def volume_percentile(volume: np.ndarray, window: int = VP_WINDOW_BARS) -> np.ndarray:
    """VP = rank of V_t among the ``window`` prior volumes, ties half (docs/wyckoff.md, "Inputs")."""
    out = np.full(len(volume), np.nan)
    if len(volume) <= window:
        return out
    prior = sliding_window_view(volume[:-1], window)
    current = volume[window:, None]
    below = (prior < current).sum(axis=1)
    equal = (prior == current).sum(axis=1)
    out[window:] = (below + 0.5 * equal) / window
    return out


def spread_ratio(high: np.ndarray, low: np.ndarray, atr: np.ndarray) -> np.ndarray:
    """SPR = (H - L) / ATR (docs/wyckoff.md, "Inputs")."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(atr > 0, (high - low) / atr, np.nan)


def pre_decline_atr(close: np.ndarray, atr: np.ndarray) -> np.ndarray:
    """ATR of the latest bar with the highest close of the 60 prior bars (the peak the DOWN gate
    measures the decline from; our design, issue 9). NaN until 60 prior bars exist."""
    out = np.full(len(close), np.nan)
    window = TREND_LOOKBACK_BARS
    if len(close) <= window:
        return out
    prior = sliding_window_view(close[:-1], window)  # row k: bars k .. k+window-1, for t = k+window
    latest_max = window - 1 - np.argmax(prior[:, ::-1], axis=1)
    peak = np.arange(len(prior)) + latest_max
    out[window:] = atr[peak]
    return out


def close_position(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """CP = (C - L) / (H - L), 0.5 if H = L (docs/wyckoff.md, "Inputs")."""
    span = high - low
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(span > 0, (close - low) / span, FLAT_BAR_CP)


def rolling_prior(values: np.ndarray, window: int, how: str) -> np.ndarray:
    """max or min of values[t-window..t-1] (NaN until window prior bars exist)."""
    func = talib.MAX if how == "max" else talib.MIN
    return shift_one(func(values, timeperiod=window))


def down_gate(close: np.ndarray, low: np.ndarray, sma50: np.ndarray) -> np.ndarray:
    """DOWN: C[t-1] < SMA50[t-1] and (max C[t-60..t-1] - L_t) / max C >= 10%
    (docs/wyckoff.md, "Inputs")."""
    peak = rolling_prior(close, TREND_LOOKBACK_BARS, "max")
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = (peak - low) / peak
    return (shift_one(close) < shift_one(sma50)) & (drop >= TREND_MIN_MOVE)


def up_gate(close: np.ndarray, high: np.ndarray, sma50: np.ndarray) -> np.ndarray:
    """UP: C[t-1] > SMA50[t-1] and (H_t - min C[t-60..t-1]) / min C >= 10%
    (docs/wyckoff.md, "Inputs")."""
    trough = rolling_prior(close, TREND_LOOKBACK_BARS, "min")
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = (high - trough) / trough
    return (shift_one(close) > shift_one(sma50)) & (rise >= TREND_MIN_MOVE)


def log_return_n(close: np.ndarray) -> np.ndarray:
    """Ret20 = ln(C_t / C_{t-20}) (TA-Lib ROCR, our choice of a log return to match HV20)."""
    return np.log(talib.ROCR(close, timeperiod=RET_PERIOD))


def check_bars(bars: pd.DataFrame) -> None:
    """Reject frames the rules cannot read: unsorted index or NaN OHLCV (gap rule is upstream)."""
    if not (bars.index.is_monotonic_increasing and bars.index.is_unique):
        raise ValueError("bars: the date index must be sorted and unique")
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValueError(f"bars: missing columns {missing}")
    if np.isnan(bars.loc[:, list(BAR_COLUMNS)].to_numpy(dtype=float)).any():
        raise ValueError("bars: NaN in OHLCV; fill or drop gaps first (series.prepare_bars)")


def wyckoff_inputs(bars: pd.DataFrame) -> pd.DataFrame:
    """Every per-bar input of the Wyckoff rules, aligned to ``bars.index`` (see module doc)."""
    return pd.DataFrame(compute_inputs(bars), index=bars.index)


def compute_inputs(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """``wyckoff_inputs`` as a dict of numpy arrays (the engine's fast internal form)."""
    check_bars(bars)
    values = bars.loc[:, ["high", "low", "close", "volume"]].to_numpy(dtype=float)
    high, low, close, volume = (np.ascontiguousarray(values[:, i]) for i in range(4))
    atr = prior_atr(high, low, close)
    atr_pre = pre_decline_atr(close, atr)
    sma50 = talib.SMA(close, timeperiod=TREND_SMA_PERIOD)
    columns = {
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "atr": atr,
        "rv": relative_volume(volume),
        "vp": volume_percentile(volume),
        "vp_120": volume_percentile(volume, VP_SHORT_WINDOW_BARS),
        "spr": spread_ratio(high, low, atr),
        "atr_pre_decline": atr_pre,
        "spr_pre": spread_ratio(high, low, atr_pre),
        "cp": close_position(high, low, close),
        "down": down_gate(close, low, sma50),
        "up": up_gate(close, high, sma50),
        "prior_low_min": rolling_prior(low, CLIMAX_LOOKBACK_BARS, "min"),
        "prior_high_max": rolling_prior(high, CLIMAX_LOOKBACK_BARS, "max"),
        "sma_20": talib.SMA(close, timeperiod=SMA_SHORT_PERIOD),
        "sma_50": sma50,
        "rsi_14": talib.RSI(close, timeperiod=RSI_PERIOD),
        "mfi_14": talib.MFI(high, low, close, volume, timeperiod=MFI_PERIOD),
        "hv_20": historical_volatility(pd.Series(close), HV_PERIOD).to_numpy(),
        "ret_20": log_return_n(close),
    }
    return columns
