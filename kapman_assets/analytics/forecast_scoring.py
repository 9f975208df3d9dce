"""Scoring of directional probability forecasts (docs/forecast_scoring.md).

Each recommendation carries ``p_up`` (probability that the close at the horizon is above the
entry close) and, once resolved, ``outcome`` y in {0, 1}. All scores are unitless.

Binning: 10 equal-width bins with edges ``np.linspace(0, 1, 11)`` (``BIN_EDGES``), right-closed
exactly as ``sklearn.calibration.calibration_curve(strategy="uniform")`` assigns them:
``bin = searchsorted(BIN_EDGES[1:-1], p, side="left")``, i.e. bin 0 is [0, 0.1] and bin k >= 1 is
(edge_k, edge_{k+1}]. p = 0 falls in bin 0, p = 1 in bin 9, p = 0.1 in bin 0, p = 0.3 in bin 2.

Murphy decomposition with within-bin terms (Stephenson, Coelho & Jolliffe 2008). For bin k with
n_k forecasts, mean forecast pbar_k and observed frequency obar_k, split each error as
``p_i - y_i = (p_i - pbar_k) - (y_i - obar_k) + (pbar_k - obar_k)``. Squaring and summing over
the bin, the cross terms with the constant ``(pbar_k - obar_k)`` vanish because deviations from a
bin mean sum to zero, leaving ``sum (p_i-pbar_k)^2 + sum (y_i-obar_k)^2
- 2 sum (p_i-pbar_k)(y_i-obar_k) + n_k (pbar_k-obar_k)^2``.
For binary y, ``sum_{i in k} (y_i - obar_k)^2 = n_k obar_k (1 - obar_k)`` and, by the law of
total variance, ``sum_k n_k/N obar_k (1 - obar_k)`` equals
``ybar (1 - ybar) - sum_k n_k/N (obar_k - ybar)^2``.
Dividing by N gives the exact identity ``BS = REL - RES + UNC + WBV - 2 WBC`` with
REL = sum n_k/N (pbar_k - obar_k)^2, RES = sum n_k/N (obar_k - ybar)^2, UNC = ybar (1 - ybar),
WBV = 1/N sum_k sum_{i in k} (p_i - pbar_k)^2 and
WBC = 1/N sum_k sum_{i in k} (p_i - pbar_k)(y_i - obar_k).
Full derivation and the bootstrap choice: docs/forecast_scoring.md.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

N_BINS = 10
BIN_EDGES = np.linspace(0.0, 1.0, N_BINS + 1)
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)  # same clip as sklearn.metrics.log_loss
DEFAULT_N_BOOT = 2000
DEFAULT_ALPHA = 0.05
DEFAULT_SEED = 0
MAX_RESAMPLE_CELLS = 250_000  # resampled forecasts per bootstrap chunk (cache-sized; fastest here)
WEEK_FREQ = "W-FRI"  # weeks run Saturday..Friday and are labelled by their Friday
P_COLUMN = "p_up"
Y_COLUMN = "outcome"
DATE_COLUMN = "date"

Metric = Callable[[np.ndarray, np.ndarray], float]


def validate_forecasts(p: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Return (p, y) as float64 1-D arrays or raise ValueError on bad input (our design)."""
    p_arr = np.asarray(p, dtype=np.float64).ravel()
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    if p_arr.size == 0 or y_arr.size == 0:
        raise ValueError("forecast scoring needs at least one forecast; got empty input")
    if p_arr.size != y_arr.size:
        raise ValueError(f"length mismatch: {p_arr.size} probabilities vs {y_arr.size} outcomes")
    if not np.all((p_arr >= 0.0) & (p_arr <= 1.0)):
        raise ValueError("probabilities must lie in [0, 1] (NaN not allowed)")
    if not np.all((y_arr == 0.0) | (y_arr == 1.0)):
        raise ValueError("outcomes must be 0 or 1 (NaN not allowed)")
    return p_arr, y_arr


def bin_indices(p: np.ndarray) -> np.ndarray:
    """Bin of each forecast in 0..9, right-closed as sklearn's calibration_curve (uniform)."""
    return np.searchsorted(BIN_EDGES[1:-1], p, side="left")


def _brier_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Brier = mean((p - y)^2) per row (Brier 1950)."""
    return np.mean((p - y) ** 2, axis=-1)


def _brier_skill_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """BSS = 1 - Brier / (ybar (1 - ybar)) per row; NaN where ybar is 0 or 1
    (docs/forecast_scoring.md, "Definitions")."""
    ybar = np.mean(y, axis=-1)
    unc = ybar * (1.0 - ybar)
    safe_unc = np.where(unc > 0.0, unc, 1.0)
    return np.where(unc > 0.0, 1.0 - _brier_rows(p, y) / safe_unc, np.nan)


def _log_loss_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean -(y ln p + (1-y) ln(1-p)) with p and 1-p clipped to [eps, 1-eps] (sklearn)."""
    log_p = np.log(np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS))
    log_q = np.log(np.clip(1.0 - p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS))
    return -np.mean(y * log_p + (1.0 - y) * log_q, axis=-1)


def _ece_rows(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ECE = sum_k n_k/N |obar_k - pbar_k| = 1/N sum_k |sum_{i in k} (y_i - p_i)| per row."""
    n_rows, n = p.shape
    flat_bins = (np.arange(n_rows)[:, np.newaxis] * N_BINS + bin_indices(p)).ravel()
    residual_sums = np.bincount(flat_bins, weights=(y - p).ravel(), minlength=n_rows * N_BINS)
    return np.abs(residual_sums.reshape(n_rows, N_BINS)).sum(axis=1) / n


def brier_score(p: object, y: object) -> float:
    """Brier score mean((p - y)^2) (Brier 1950; equals sklearn.metrics.brier_score_loss)."""
    p_arr, y_arr = validate_forecasts(p, y)
    return float(_brier_rows(p_arr, y_arr))


def brier_skill_score(p: object, y: object) -> float:
    """BSS = 1 - Brier / (ybar(1 - ybar)) against in-sample climatology; NaN if ybar in {0, 1}."""
    p_arr, y_arr = validate_forecasts(p, y)
    return float(_brier_skill_rows(p_arr, y_arr))


def log_loss(p: object, y: object) -> float:
    """Mean log loss, natural log, p clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] (as sklearn)."""
    p_arr, y_arr = validate_forecasts(p, y)
    return float(_log_loss_rows(p_arr, y_arr))


def expected_calibration_error(p: object, y: object) -> float:
    """ECE = sum_k (n_k/N)|obar_k - pbar_k| over the 10 right-closed uniform bins
    (docs/forecast_scoring.md, "Definitions")."""
    p_arr, y_arr = validate_forecasts(p, y)
    return float(_ece_rows(p_arr[np.newaxis, :], y_arr[np.newaxis, :])[0])


def _bin_means(values: np.ndarray, bins: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-bin mean of values (NaN for empty bins)."""
    sums = np.bincount(bins, weights=values, minlength=N_BINS)
    return np.divide(sums, counts, out=np.full(N_BINS, np.nan), where=counts > 0)


def murphy_decomposition(p: object, y: object) -> dict[str, float]:
    """Brier = REL - RES + UNC + WBV - 2 WBC over 10 bins (Stephenson et al. 2008; module doc)."""
    p_arr, y_arr = validate_forecasts(p, y)
    bins = bin_indices(p_arr)
    counts = np.bincount(bins, minlength=N_BINS).astype(np.float64)
    pbar_of = _bin_means(p_arr, bins, counts)[bins]
    obar_of = _bin_means(y_arr, bins, counts)[bins]
    ybar = float(np.mean(y_arr))
    return {
        "brier": float(np.mean((p_arr - y_arr) ** 2)),
        "reliability": float(np.mean((pbar_of - obar_of) ** 2)),
        "resolution": float(np.mean((obar_of - ybar) ** 2)),
        "uncertainty": ybar * (1.0 - ybar),
        "within_bin_variance": float(np.mean((p_arr - pbar_of) ** 2)),
        "within_bin_covariance": float(np.mean((p_arr - pbar_of) * (y_arr - obar_of))),
    }


def reliability_table(p: object, y: object) -> pd.DataFrame:
    """Per non-empty bin: edges, n, mean forecast, observed frequency (as calibration_curve)."""
    p_arr, y_arr = validate_forecasts(p, y)
    bins = bin_indices(p_arr)
    counts = np.bincount(bins, minlength=N_BINS).astype(np.float64)
    occupied = np.flatnonzero(counts > 0)
    return pd.DataFrame(
        {
            "bin": occupied,
            "bin_lower": BIN_EDGES[occupied],
            "bin_upper": BIN_EDGES[occupied + 1],
            "n": counts[occupied].astype(np.int64),
            "mean_forecast": _bin_means(p_arr, bins, counts)[occupied],
            "observed_frequency": _bin_means(y_arr, bins, counts)[occupied],
        }
    )


def _validate_blocks(n: int, block_length: int, n_boot: int) -> None:
    """Raise ValueError on an unusable block length or resample count (our design)."""
    if isinstance(block_length, bool) or not isinstance(block_length, int | np.integer):
        raise ValueError(f"block_length must be an integer, got {block_length!r}")
    if block_length < 1 or block_length > n:
        raise ValueError(f"block_length must be in [1, N={n}], got {block_length}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")


def _block_starts(n: int, block_length: int, n_boot: int, seed: int) -> np.ndarray:
    """Uniform random block starts in 0..N-1, shape (n_boot, ceil(N / block_length))."""
    n_blocks = -(-n // block_length)
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n_blocks))


def _expand_blocks(starts: np.ndarray, block_length: int, n: int) -> np.ndarray:
    """Circular blocks start, start+1, ..., start+L-1 (mod N), concatenated and cut to N."""
    offsets = np.arange(block_length)
    blocks = (starts[:, :, np.newaxis] + offsets) % n
    return blocks.reshape(starts.shape[0], -1)[:, :n]


def block_bootstrap_indices(n: int, block_length: int, n_boot: int, seed: int) -> np.ndarray:
    """Circular moving-block resample indices, shape (n_boot, N) (Politis & Romano 1992)."""
    _validate_blocks(n, block_length, n_boot)
    return _expand_blocks(_block_starts(n, block_length, n_boot, seed), block_length, n)


def block_resample_sums(
    x: np.ndarray, block: int, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Sums of each circular moving-block resample of the columns of `x` (rows: series), the
    resamples of `block_bootstrap_indices(n, block, n_boot, seed)`: x[:, idx].sum(axis=-1),
    from block sums (a resample is ceil(n / block) blocks, the last cut to fit n)."""
    m, n = x.shape
    k = -(-n // block)
    starts = np.random.default_rng(seed).integers(0, n, size=(n_boot, k))
    cs = np.concatenate([np.zeros((m, 1)), np.cumsum(np.concatenate([x, x], axis=1), axis=1)],
                        axis=1)  # fmt: skip
    last = n - (k - 1) * block
    full = cs[:, starts[:, :-1] + block] - cs[:, starts[:, :-1]]
    tail = cs[:, starts[:, -1] + last] - cs[:, starts[:, -1]]
    return full.sum(axis=-1) + tail


def session_block_brier_ci(
    dates: object,
    p: object,
    y: object,
    block_sessions: int,
    n_boot: int = DEFAULT_N_BOOT,
    alpha: float = DEFAULT_ALPHA,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile CI of the Brier score resampling whole sessions in circular moving blocks of
    `block_sessions` (our design): all forecasts of a session share the market's move, so a
    block of rows (a fraction of one session's forecasts) would understate the uncertainty.
    NaN with fewer than two blocks of sessions (a week's forecasts have no such CI)."""
    p_arr, y_arr = validate_forecasts(p, y)
    per_session = pd.DataFrame({"date": pd.to_datetime(np.asarray(dates)),
                                "se": (p_arr - y_arr) ** 2}).groupby("date")["se"]  # fmt: skip
    sums = np.vstack([per_session.sum().to_numpy(float), per_session.count().to_numpy(float)])
    n = sums.shape[1]
    if n < 2 * block_sessions:  # one block would cover every session: each resample the same
        return (float("nan"), float("nan"))
    resampled = block_resample_sums(sums, block_sessions, n_boot, seed)
    lo, hi = np.quantile(resampled[0] / resampled[1], [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


_ROW_METRICS: dict[Callable[..., float], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    brier_score: _brier_rows,
    brier_skill_score: _brier_skill_rows,
    log_loss: _log_loss_rows,
    expected_calibration_error: _ece_rows,
}


def _resample_statistics(
    p: np.ndarray, y: np.ndarray, metric: Metric, starts: np.ndarray, block_length: int
) -> np.ndarray:
    """Metric on every resample; this module's metrics run on whole chunks of resamples."""
    n = p.size
    row_metric = _ROW_METRICS.get(metric)
    chunk = max(1, MAX_RESAMPLE_CELLS // n)
    stats = np.empty(starts.shape[0])
    for first in range(0, starts.shape[0], chunk):
        idx = _expand_blocks(starts[first : first + chunk], block_length, n)
        if row_metric is not None:
            stats[first : first + chunk] = row_metric(p[idx], y[idx])
        else:
            stats[first : first + chunk] = [metric(p[row], y[row]) for row in idx]
    return stats


def moving_block_bootstrap_ci(
    p: object,
    y: object,
    metric: Metric,
    block_length: int,
    n_boot: int = DEFAULT_N_BOOT,
    alpha: float = DEFAULT_ALPHA,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile (alpha/2, 1-alpha/2) CI of metric(p, y) by circular moving-block bootstrap.

    Rows must be in time order; block_length (rows) should be >= the forecast horizon.
    Resamples whose metric is NaN (e.g. BSS with one outcome class) are ignored.
    """
    p_arr, y_arr = validate_forecasts(p, y)
    _validate_blocks(p_arr.size, block_length, n_boot)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    starts = _block_starts(p_arr.size, block_length, n_boot, seed)
    stats = _resample_statistics(p_arr, y_arr, metric, starts, block_length)
    if np.all(np.isnan(stats)):
        return (float("nan"), float("nan"))
    lo, hi = np.nanquantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


def _frame_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The p_up and outcome columns of a forecast frame as validated arrays."""
    missing = {P_COLUMN, Y_COLUMN} - set(frame.columns)
    if missing:
        raise ValueError(f"forecast frame is missing columns {sorted(missing)}")
    return validate_forecasts(frame[P_COLUMN].to_numpy(), frame[Y_COLUMN].to_numpy())


def score_forecasts(frame: pd.DataFrame, block_length: int | None = None) -> pd.Series:
    """All scores of a frame with columns p_up, outcome (0/1) (docs/forecast_scoring.md,
    "Frame helpers").

    Returns n, base_rate (ybar), brier, brier_skill_score, log_loss, ece and the Murphy terms;
    with block_length, also brier_ci_lo / brier_ci_hi (95% circular moving-block bootstrap,
    rows taken in `date` order when a date column is present).
    """
    if block_length is not None and DATE_COLUMN in frame.columns:
        frame = frame.sort_values(DATE_COLUMN, kind="stable")
    p_arr, y_arr = _frame_arrays(frame)
    scores = {
        "n": float(p_arr.size),
        "base_rate": float(np.mean(y_arr)),
        "brier": brier_score(p_arr, y_arr),
        "brier_skill_score": brier_skill_score(p_arr, y_arr),
        "log_loss": log_loss(p_arr, y_arr),
        "ece": expected_calibration_error(p_arr, y_arr),
    }
    decomposition = murphy_decomposition(p_arr, y_arr)
    scores.update({k: v for k, v in decomposition.items() if k != "brier"})
    if block_length is not None:
        lo, hi = moving_block_bootstrap_ci(p_arr, y_arr, brier_score, block_length)
        scores.update({"brier_ci_lo": lo, "brier_ci_hi": hi})
    return pd.Series(scores, dtype=np.float64)


def week_ending_friday(dates: pd.Series) -> pd.Series:
    """Friday closing the Saturday..Friday week of each date (weekend dates roll forward)."""
    return pd.to_datetime(dates).dt.to_period(WEEK_FREQ).dt.end_time.dt.normalize()


def weekly_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """score_forecasts per week ending Friday, indexed by week_end; weeks without rows omitted.

    A week's row uses only that week's forecasts, so it is final once its Friday has passed.
    """
    if DATE_COLUMN not in frame.columns:
        raise ValueError(f"weekly_scores needs a '{DATE_COLUMN}' column")
    _frame_arrays(frame)
    week_end = week_ending_friday(frame[DATE_COLUMN]).rename("week_end")
    if week_end.isna().any():
        raise ValueError(f"'{DATE_COLUMN}' column contains missing dates")
    weekly = frame.groupby(week_end, sort=True)[[P_COLUMN, Y_COLUMN]].apply(score_forecasts)
    return weekly.astype({"n": np.int64})
