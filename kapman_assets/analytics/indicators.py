"""TA-Lib technical indicators per ticker-day: named columns and ``technical_indicators_json``.

TA-Lib is the implementation (docs/domain.md, "Technical indicators"). Each ticker's whole series
is prepared once (``series.prepare_bars``: gap rule, illiquid flags), every TA-Lib function runs
once over it (vectorized; separately per segment when a long gap restarted the series), and only
then are the rows sliced to the requested ``start..end`` dates.

Results depend on where the input starts: TA-Lib's EMA/RSI/ADX/ATR/MACD recursions and the
cumulative OBV/AD start from the first bar. Callers must pass at least ``MIN_HISTORY_BARS``
bars of history before the first output date (SMA200 alone needs 200) and keep that start fixed
between runs.

Named columns (docs/analytics.md, "Named indicators"): ``rsi_14``;
``macd_line, macd_signal, macd_histogram`` (12/26/9);
``stoch_k, stoch_d`` (fastk 14, slowk 3, slowd 3, SMA smoothing); ``mfi_14``;
``sma_20, sma_50, sma_200``; ``ema_12, ema_26``; ``adx_14``; ``atr_14``;
``bbands_upper, bbands_middle, bbands_lower`` (20 bars, 2 population standard deviations);
``bbands_width = (upper - lower) / middle`` (a ratio; NaN when middle is 0); ``obv`` (shares);
``vwap``: flat files carry no VWAP, so it is a 20-bar rolling
sum(typical price * volume) / sum(volume) with typical price = (high + low + close) / 3
(price units; NaN when the window's volume is 0). Prices in the input's (split-adjusted) units.

Illiquid bars (``series.illiquid_flags``) publish NaN for ``ILLIQUID_MASKED_COLUMNS`` and None
for the outputs of ``ILLIQUID_MASKED_FUNCTIONS`` in the JSON.

``technical_indicators_json`` (one dict per row, JSON-ready: float or None, never NaN/inf):
every function of ``JSON_FUNCTIONS`` (TA-Lib's Overlap Studies, Momentum, Volume, Volatility,
Cycle and Statistic groups minus ``EXCLUDED_FUNCTIONS``), called with TA-Lib's own default
parameters on the bars' open/high/low/close/volume as TA-Lib's abstract API maps them. Keys are
the function name for a single-output function (``"RSI"`` = RSI(14), ``"SMA"`` = SMA(30)) and
``"FUNCTION.output"`` for a multi-output one (``"MACD.macdsignal"``, ``"BBANDS.upperband"``),
output names as TA-Lib reports them. ``FRACTAL`` flags (0/100) appear on the confirming bar,
two bars after the fractal: causal with that lag. The set needs TA-Lib (python) >= 0.8.2.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import talib
from talib import abstract

from kapman_assets.analytics import series

JSON_COLUMN = "technical_indicators_json"
MIN_HISTORY_BARS = 260  # bars callers pass before the first output date (SMA200 + recursion)
RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
STOCH_FASTK, STOCH_SLOWK, STOCH_SLOWD = 14, 3, 3
MFI_PERIOD = 14
SMA_PERIODS = (20, 50, 200)
EMA_PERIODS = (12, 26)
ADX_PERIOD = 14
ATR_PERIOD = 14
BBANDS_PERIOD = 20
BBANDS_STDDEV = 2.0
VWAP_WINDOW = 20
MATYPE_SMA = 0  # TA-Lib MA_Type.SMA

JSON_GROUPS = (
    "Overlap Studies",
    "Momentum Indicators",
    "Volume Indicators",
    "Volatility Indicators",
    "Cycle Indicators",
    "Statistic Functions",
)
EXCLUDED_FUNCTIONS = {
    "MAVP": "needs a per-bar periods input",
    "MA": "with its default matype it is SMA(30), already in the set",
    "BETA": "a two-series statistic: meaningful only against a benchmark, not high vs low",
    "CORREL": "a two-series statistic: meaningful only against a benchmark, not high vs low",
    "VWAP": "cumulative from the first input bar; the named 20-bar vwap replaces it",
}
JSON_FUNCTIONS = (
    # Overlap Studies
    "ACCBANDS", "BBANDS", "DEMA", "DONCHIAN", "EMA", "HMA", "HT_TRENDLINE", "KAMA", "KC",
    "MAMA", "MIDPOINT", "MIDPRICE", "RMA", "SAR", "SAREXT", "SMA", "SUPERTREND", "T3", "TEMA",
    "TRIMA", "VWMA", "WMA", "ZLEMA",
    # Momentum Indicators
    "AC", "ADX", "ADXR", "AO", "APO", "AROON", "AROONOSC", "BOP", "CCI", "CMO", "CMOU",
    "COPPOCK", "DPO", "DX", "ER", "ERI", "FOSC", "FRACTAL", "IMI", "KDJ", "MACD", "MACDEXT",
    "MACDFIX", "MFI", "MINUS_DI", "MINUS_DM", "MOM", "PLUS_DI", "PLUS_DM", "PPO", "QSTICK",
    "ROC", "ROCP", "ROCR", "ROCR100", "RSI", "SMI", "STOCH", "STOCHF", "STOCHRSI", "TRIX", "TSI",
    "ULTOSC", "VHF", "VORTEX", "WAD", "WILLR",
    # Volume Indicators
    "AD", "ADOSC", "CMF", "EFI", "MARKETFI", "NVI", "OBV", "PVI", "PVO", "PVT", "RVOL",
    # Volatility Indicators
    "ADR", "ATR", "CVI", "MASSI", "NATR", "RVI", "TRANGE",
    # Cycle Indicators
    "HT_DCPERIOD", "HT_DCPHASE", "HT_PHASOR", "HT_SINE", "HT_TRENDMODE",
    # Statistic Functions
    "LINEARREG", "LINEARREG_ANGLE", "LINEARREG_INTERCEPT", "LINEARREG_SLOPE", "PERCENTILE",
    "PERCENTRANK", "STDDEV", "TSF", "VAR",
)  # fmt: skip
ILLIQUID_MASKED_COLUMNS = ("rsi_14", "stoch_k", "stoch_d", "mfi_14", "adx_14")
# Ratios of window quantities that are 0/0 (TA-Lib returns 0 or a stale constant) on flat or
# zero-volume windows (our design; found by running every JSON function on a flat stretch).
ILLIQUID_MASKED_FUNCTIONS = (
    "ADX", "ADXR", "DX", "PLUS_DI", "MINUS_DI", "RSI", "STOCH", "STOCHF", "STOCHRSI", "KDJ",
    "MFI", "WILLR", "ULTOSC", "CCI", "CMO", "CMOU", "AROON", "AROONOSC", "VORTEX", "IMI", "SMI",
    "TSI", "ER", "VHF", "BOP", "VWMA", "CMF", "RVOL", "PVO",
)  # fmt: skip


def _input_columns(name: str) -> tuple[str, ...]:
    """The bar columns TA-Lib's abstract API feeds to function ``name``, in call order."""
    columns: list[str] = []
    for value in abstract.Function(name).info["input_names"].values():
        columns.extend([value] if isinstance(value, str) else value)
    return tuple(columns)


def _json_specs() -> tuple[tuple[str, Callable, tuple[str, ...], tuple[str, ...]], ...]:
    """(name, function, input columns, output keys) for every JSON function."""
    missing = [name for name in JSON_FUNCTIONS if not hasattr(talib, name)]
    if missing:
        raise ImportError(f"TA-Lib >= 0.8.2 is required; missing functions: {missing}")
    specs = []
    for name in JSON_FUNCTIONS:
        outputs = tuple(abstract.Function(name).info["output_names"])
        keys = (name,) if len(outputs) == 1 else tuple(f"{name}.{o}" for o in outputs)
        specs.append((name, getattr(talib, name), _input_columns(name), keys))
    return tuple(specs)


JSON_SPECS = _json_specs()
JSON_KEYS = tuple(key for *_, keys in JSON_SPECS for key in keys)
_MASKED_KEY = np.array(
    [name in ILLIQUID_MASKED_FUNCTIONS for name, *_, keys in JSON_SPECS for _ in keys]
)


def _arrays(bars: pd.DataFrame) -> dict[str, np.ndarray]:
    """Contiguous float64 arrays of the bar columns, as TA-Lib requires."""
    return {c: np.ascontiguousarray(bars[c].to_numpy(dtype=np.float64)) for c in series.BAR_COLUMNS}


def rolling_vwap(bars: pd.DataFrame, window: int = VWAP_WINDOW) -> pd.Series:
    """Sum(typical price * volume) / sum(volume) over the last ``window`` bars (our design)."""
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    traded = (typical * bars["volume"]).rolling(window).sum()
    volume = bars["volume"].rolling(window).sum()
    return (traded / volume.where(volume > 0)).rename("vwap")


def named_indicators(bars: pd.DataFrame) -> pd.DataFrame:
    """The named indicator columns from TA-Lib over one gap-free series (docs/analytics.md)."""
    a = _arrays(bars)
    high, low, close, volume = a["high"], a["low"], a["close"], a["volume"]
    macd, macd_signal, macd_hist = talib.MACD(close, MACD_FAST, MACD_SLOW, MACD_SIGNAL)
    stoch_k, stoch_d = talib.STOCH(
        high,
        low,
        close,
        fastk_period=STOCH_FASTK,
        slowk_period=STOCH_SLOWK,
        slowk_matype=MATYPE_SMA,
        slowd_period=STOCH_SLOWD,
        slowd_matype=MATYPE_SMA,
    )
    upper, middle, lower = talib.BBANDS(
        close, BBANDS_PERIOD, BBANDS_STDDEV, BBANDS_STDDEV, MATYPE_SMA
    )
    columns = {
        "rsi_14": talib.RSI(close, RSI_PERIOD),
        "macd_line": macd,
        "macd_signal": macd_signal,
        "macd_histogram": macd_hist,
        "stoch_k": stoch_k,
        "stoch_d": stoch_d,
        "mfi_14": talib.MFI(high, low, close, volume, MFI_PERIOD),
        **{f"sma_{n}": talib.SMA(close, n) for n in SMA_PERIODS},
        **{f"ema_{n}": talib.EMA(close, n) for n in EMA_PERIODS},
        "adx_14": talib.ADX(high, low, close, ADX_PERIOD),
        "atr_14": talib.ATR(high, low, close, ATR_PERIOD),
        "bbands_upper": upper,
        "bbands_middle": middle,
        "bbands_lower": lower,
        "bbands_width": (upper - lower) / np.where(middle == 0, np.nan, middle),
        "obv": talib.OBV(close, volume),
    }
    out = pd.DataFrame(columns, index=bars.index)
    out["vwap"] = rolling_vwap(bars)
    return out


def json_indicator_matrix(bars: pd.DataFrame) -> np.ndarray:
    """Every JSON_KEYS output as one (bars x keys) float array, TA-Lib defaults."""
    a = _arrays(bars)
    columns = []
    for _name, function, inputs, _keys in JSON_SPECS:
        result = function(*(a[c] for c in inputs))
        columns.extend(result if isinstance(result, (list, tuple)) else [result])
    return np.column_stack(columns).astype(np.float64, copy=False)


def json_records(matrix: np.ndarray) -> list[dict[str, float | None]]:
    """One JSON-ready dict per row of a JSON_KEYS matrix (non-finite values become None)."""
    finite = np.isfinite(matrix)
    rows = matrix.tolist()
    for i in np.flatnonzero(~finite.all(axis=1)):  # only warm-up / masked rows hold NaN
        rows[i] = [v if ok else None for v, ok in zip(rows[i], finite[i].tolist(), strict=True)]
    return [dict(zip(JSON_KEYS, row, strict=True)) for row in rows]


def _segment_matrix(bars: pd.DataFrame) -> pd.DataFrame:
    """The JSON matrix of one segment as a frame (for series.apply_by_segment)."""
    return pd.DataFrame(json_indicator_matrix(bars), index=bars.index)


def compute_indicators(
    bars: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    sessions: pd.DatetimeIndex | None = None,
    with_json: bool = True,
) -> pd.DataFrame:
    """Named indicators (+ ``technical_indicators_json``) for one ticker's bars, rows start..end.

    ``bars`` must already be split-adjusted and hold >= MIN_HISTORY_BARS bars before ``start``.
    Output index: the prepared (gap-filled) dates within start..end (inclusive); columns: the
    named indicators, ``gap_filled``, ``illiquid`` and, if ``with_json``, the dict column.
    """
    return indicators_from_prepared(series.prepare_bars(bars, sessions), start, end, with_json)


def indicators_from_prepared(
    prepared: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    with_json: bool = True,
) -> pd.DataFrame:
    """``compute_indicators`` on bars already through ``series.prepare_bars``."""
    named = series.apply_by_segment(prepared, named_indicators)
    named = named.assign(gap_filled=prepared["gap_filled"], illiquid=prepared["illiquid"])
    rows = named.index.slice_indexer(
        pd.Timestamp(start) if start is not None else None,
        pd.Timestamp(end) if end is not None else None,
    )
    out = named.iloc[rows].copy()
    illiquid = out["illiquid"].to_numpy()
    out.loc[illiquid, list(ILLIQUID_MASKED_COLUMNS)] = np.nan
    if with_json:
        matrix = series.apply_by_segment(prepared, _segment_matrix).to_numpy()[rows]
        matrix[np.ix_(illiquid, _MASKED_KEY)] = np.nan
        out[JSON_COLUMN] = json_records(matrix)
    return out


def compute_indicators_long(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    sessions: pd.DatetimeIndex | None = None,
    with_json: bool = True,
) -> pd.DataFrame:
    """compute_indicators for every ticker of a raw long frame, split-adjusted first."""
    return series.by_ticker(
        long,
        lambda bars: compute_indicators(bars, start, end, sessions, with_json),
        splits,
    )
