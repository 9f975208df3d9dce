"""Price and volume metrics per ticker-day: rvol, vsi, hv_20, hv_60, and iv_hv_diff.

Definitions (docs/analytics.md, "Price metrics"); every rolling window ends at bar t (causal):
- ``rvol = V_t / mean(V[t-20..t-1])``: a ratio (1.0 = an average day); the baseline is the
  20 bars before t, t excluded. NaN when that baseline is 0 or incomplete.
- ``vsi = (V_t - mean20) / std20`` (our design): a z-score over the same prior 20 bars, sample
  standard deviation (ddof=1). NaN when std20 is 0 or the baseline is incomplete.
- ``hv_n = std(ln(C_t / C_{t-1}) over the last n returns, ddof=1) * sqrt(252)``, n = 20, 60:
  annualized, in decimals (0.25 = 25%). Needs n + 1 closes.
- ``iv_hv_diff = IV30_ATM - HV20`` in vol points (percent units: 0.30 - 0.25 -> 5.0).

Inputs are split-adjusted bars (a split would otherwise look like a -50% return and a 2x volume
day); ``compute_price_metrics`` applies the same gap rule as the indicators
(``series.prepare_bars``) and restarts the windows after a long gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pandas.api.typing import Rolling

from kapman_assets.analytics import series

VOLUME_BASELINE_BARS = 20  # prior bars in the rvol / vsi baseline
VSI_DDOF = 1  # sample standard deviation of the baseline (our design)
HV_WINDOWS = (20, 60)
HV_DDOF = 1
TRADING_DAYS_PER_YEAR = 252
VOL_POINTS_PER_UNIT = 100.0  # 0.05 (decimal vol) = 5 vol points


def _prior_volume(volume: pd.Series) -> Rolling:
    """Rolling window over the VOLUME_BASELINE_BARS bars before t (t excluded)."""
    return volume.shift(1).rolling(VOLUME_BASELINE_BARS)


def rvol(volume: pd.Series) -> pd.Series:
    """V_t / mean(V[t-20..t-1]) (docs/analytics.md, "Price metrics"); NaN if the mean is 0."""
    baseline = _prior_volume(volume).mean()
    return (volume / baseline.where(baseline > 0)).rename("rvol")


def vsi(volume: pd.Series) -> pd.Series:
    """(V_t - mean20) / std20 over the prior 20 bars, ddof=1 (our design); NaN when std20 is 0."""
    prior = _prior_volume(volume)
    spread = prior.std(ddof=VSI_DDOF)
    return ((volume - prior.mean()) / spread.where(spread > 0)).rename("vsi")


def log_returns(close: np.ndarray) -> np.ndarray:
    """ln(C_t / C_{t-1}) per bar, NaN at t = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.log(close / np.roll(close, 1))
    returns[:1] = np.nan
    return returns


def historical_volatility(close: pd.Series, window: int) -> pd.Series:
    """std(ln(C_t/C_{t-1}), last ``window`` returns, ddof=1) * sqrt(252), decimal
    (docs/analytics.md, "Price metrics"): the package's one HV, the Wyckoff HV20 too.

    Log returns in numpy (a third of the cost of pandas arithmetic), the rolling sample std in
    pandas: a window holding a NaN or inf return is NaN and the next full window recovers
    (TA-Lib's running sums would stay NaN from there on).
    """
    returns = pd.Series(log_returns(close.to_numpy(dtype=float)))
    sample_std = returns.rolling(window).std(ddof=HV_DDOF).to_numpy()
    annualized = sample_std * np.sqrt(TRADING_DAYS_PER_YEAR)
    return pd.Series(annualized, index=close.index, name=f"hv_{window}")


def iv_hv_diff(iv30_atm: ArrayLike, hv20: ArrayLike) -> np.ndarray | float:
    """IV30_ATM - HV20 in vol points (docs/analytics.md, "Price metrics"); inputs decimal."""
    diff = (np.asarray(iv30_atm, dtype=float) - np.asarray(hv20, dtype=float)) * VOL_POINTS_PER_UNIT
    return float(diff) if diff.ndim == 0 else diff


def price_metric_columns(bars: pd.DataFrame) -> pd.DataFrame:
    """rvol, vsi, hv_20, hv_60 over one gap-free series of split-adjusted bars."""
    columns = [rvol(bars["volume"]), vsi(bars["volume"])]
    columns += [historical_volatility(bars["close"], n) for n in HV_WINDOWS]
    return pd.concat(columns, axis=1)


def compute_price_metrics(
    bars: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Price metrics for one ticker's split-adjusted bars, computed once, rows start..end."""
    return price_metrics_from_prepared(series.prepare_bars(bars, sessions), start, end)


def price_metrics_from_prepared(
    prepared: pd.DataFrame,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """``compute_price_metrics`` on bars already through ``series.prepare_bars``."""
    metrics = series.apply_by_segment(prepared, price_metric_columns)
    return metrics.loc[start:end]


def compute_price_metrics_long(
    long: pd.DataFrame,
    splits: pd.DataFrame | None = None,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """compute_price_metrics for every ticker of a raw long frame, split-adjusted first."""
    return series.by_ticker(
        long, lambda bars: compute_price_metrics(bars, start, end, sessions), splits
    )
