"""The directional forecast p_up (docs/domain.md, "Directional forecast"; our design).

p_up = P(split-adjusted close at t+h > close at t) from an L2-regularized logistic regression
(scikit-learn) on causal features of session t, standardized except the 0/1 indicators
(BINARY_FEATURES). Training rows: sessions t whose
label is known at the fit date (t + h <= fit date), the last TRAINING_SESSIONS of them.
Out-of-sample Brier: the model refitted on the first part of the window is scored on its last
VALIDATION_SHARE, after an embargo of h sessions so no label overlaps the validation rows.
Shrinkage (our design): when the out-of-sample Brier is not better than climatology's (the
training base rate), forecasts become c + w * (p - c) with the w in [0, 1] that minimizes the
validation Brier (least squares of y - c on p - c); w = 0 is climatology itself.
A fitted model is plain numbers (means, scales, coefficients), so a stored model predicts
without scikit-learn and the same stored row always gives the same p_up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

DEFAULT_HORIZON = 20  # sessions: the recommendation horizon
TRAINING_SESSIONS = 500
VALIDATION_SHARE = 0.2
L2_C = 1.0  # inverse regularization strength (scikit-learn's default)
MIN_TRAINING_ROWS = 200
PHASES = ("A", "B", "C", "D", "E")
NUMERIC_FEATURES = (
    "composite_score", "bc_score", "spring_score", "rsi_14", "close_sma50", "close_sma200",
    "return_20", "hv_20", "rvol", "adx_14", "iv_hv_diff", "iv_hv_missing",
)  # fmt: skip
FEATURES = NUMERIC_FEATURES + tuple(f"phase_{p}" for p in PHASES)
# 0/1 indicators enter as they are (mean 0, scale 1): standardized, a phase that was rare in the
# training window (sd 0.013) turned a row in that phase into a value of ~75 and p into 0.003
BINARY_FEATURES = ("iv_hv_missing", *(f"phase_{p}" for p in PHASES))
INPUT_COLUMNS = (
    "close", "sma_50", "sma_200", "rsi_14", "hv_20", "rvol", "adx_14", "iv_hv_diff",
    "composite_score", "bc_score", "spring_score", "wyckoff_phase", "return_20",
)  # fmt: skip


def features(rows: pd.DataFrame) -> pd.DataFrame:
    """The model's features from one row per ticker-session (INPUT_COLUMNS, split-adjusted
    prices). Scores absent (no range) count as 0; IV - HV absent gets a missing indicator."""
    missing = set(INPUT_COLUMNS) - set(rows.columns)
    if missing:
        raise ValueError(f"forecast inputs are missing columns {sorted(missing)}")
    num = rows.loc[:, [c for c in INPUT_COLUMNS if c != "wyckoff_phase"]].astype(float)
    out = pd.DataFrame(index=rows.index)
    for score in ("composite_score", "bc_score", "spring_score"):
        out[score] = num[score].fillna(0.0)
    out["rsi_14"] = num["rsi_14"]
    out["close_sma50"] = num["close"] / num["sma_50"] - 1.0
    out["close_sma200"] = num["close"] / num["sma_200"] - 1.0
    out["return_20"] = num["return_20"]
    out["hv_20"] = num["hv_20"]
    out["rvol"] = num["rvol"]
    out["adx_14"] = num["adx_14"]
    out["iv_hv_missing"] = num["iv_hv_diff"].isna().astype(float)
    out["iv_hv_diff"] = num["iv_hv_diff"].fillna(0.0)
    phase = rows["wyckoff_phase"].astype("string")
    for p in PHASES:
        out[f"phase_{p}"] = (phase == p).fillna(False).astype(float)
    return out.loc[:, list(FEATURES)].replace([np.inf, -np.inf], np.nan)


def forward_labels(closes: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per (ticker, date): the split-adjusted close h sessions later, the 0/1 label and the
    session it becomes known (`label_date`). Rows must be one per stored session per ticker."""
    c = closes.sort_values(["ticker", "date"], kind="stable").reset_index(drop=True)
    grouped = c.groupby("ticker", sort=False)
    future = grouped["close"].shift(-horizon)
    out = c.loc[:, ["ticker", "date"]].copy()
    out["future_close"] = future
    out["label_date"] = grouped["date"].shift(-horizon)
    out["outcome"] = (future > c["close"]).astype(float).where(future.notna())
    return out


@dataclass(frozen=True)
class FittedModel:
    fit_date: str
    horizon: int
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    training_start: str
    training_end: str
    rows: int
    climatology: float
    brier_in_sample: float
    brier_out_of_sample: float
    brier_climatology_out_of_sample: float
    shrink_weight: float  # 1 = the model as fitted, 0 = climatology

    @property
    def beats_climatology(self) -> bool:
        return self.brier_out_of_sample < self.brier_climatology_out_of_sample

    def as_record(self) -> dict:
        return asdict(self)


def _fit(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    binary = np.isin(FEATURES, BINARY_FEATURES)
    mean = np.where(binary, 0.0, scaler.mean_)
    scale = np.where(binary | (scaler.scale_ <= 0), 1.0, scaler.scale_)
    model = LogisticRegression(C=L2_C, max_iter=1000).fit((x - mean) / scale, y)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def _logistic(x: np.ndarray, means, scales, coefficients, intercept) -> np.ndarray:
    """1 / (1 + e^-z), z = intercept + sum_j c_j (x_j - m_j) / s_j, summed feature by feature in
    a fixed order so that each row's p depends on that row alone: a matrix product lets BLAS
    block rows differently for 3 rows than for 3,000, and a one-session rerun then differed
    from the backfill in the last bit."""
    x = np.asarray(x, dtype=float).reshape(-1, len(coefficients))
    z = np.full(x.shape[0], float(intercept))
    for j, (m, s, c) in enumerate(zip(means, scales, coefficients, strict=True)):
        z += (x[:, j] - float(m)) / float(s) * float(c)
    return 1.0 / (1.0 + np.exp(-z))


def _brier(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


def optimal_shrink(p: np.ndarray, y: np.ndarray, climatology: float) -> float:
    """w in [0, 1] minimizing mean((c + w (p - c) - y)^2): least squares, clipped."""
    d = p - climatology
    denom = float(np.dot(d, d))
    if denom == 0.0:
        return 0.0
    return float(np.clip(np.dot(d, y - climatology) / denom, 0.0, 1.0))


def training_window(
    frame: pd.DataFrame, fit_date: dt.date, horizon: int, sessions: int = TRAINING_SESSIONS
) -> pd.DataFrame:
    """Rows whose label is known on fit_date, from the last `sessions` such session dates."""
    known = frame[frame["label_date"].notna() & (pd.to_datetime(frame["label_date"])
                                                  <= pd.Timestamp(fit_date))]  # fmt: skip
    known = known.dropna(subset=["outcome", *FEATURES])
    dates = np.sort(pd.to_datetime(known["date"]).unique())
    if dates.size == 0:
        return known
    return known[pd.to_datetime(known["date"]) >= dates[-sessions:][0]]


def fit_model(
    frame: pd.DataFrame, fit_date: dt.date, horizon: int = DEFAULT_HORIZON
) -> FittedModel | None:
    """Fit on the window known at fit_date (frame: FEATURES, outcome, date, label_date).

    None when fewer than MIN_TRAINING_ROWS rows or a single outcome class are available.
    """
    train = training_window(frame, fit_date, horizon)
    order = [c for c in ("date", "ticker") if c in train.columns]
    train = train.sort_values(order, kind="stable")  # however the frame came, one row order
    y = train["outcome"].to_numpy(float)
    if len(train) < MIN_TRAINING_ROWS or y.min() == y.max():
        return None
    x = np.ascontiguousarray(train.loc[:, list(FEATURES)].to_numpy(float))
    dates = pd.to_datetime(train["date"]).to_numpy()
    sessions = np.sort(np.unique(dates))
    cut = int(len(sessions) * (1 - VALIDATION_SHARE))
    early = dates < sessions[max(cut - horizon, 1)]  # embargo: h sessions before validation
    late = dates >= sessions[cut] if cut < len(sessions) else np.zeros_like(early)
    climatology = float(y.mean())
    means, scales, coef, intercept = _fit(x, y)
    p_in = _logistic(x, means, scales, coef, intercept)
    if early.sum() >= MIN_TRAINING_ROWS // 2 and late.any() and np.ptp(y[early]) > 0:
        params = _fit(x[early], y[early])
        p_val, y_val = _logistic(x[late], *params), y[late]
        clim_val = float(y[early].mean())
    else:  # too short to hold out: in-sample figures stand in, and say so by equality
        p_val, y_val, clim_val = p_in, y, climatology
    brier_oos = _brier(p_val, y_val)
    brier_clim = _brier(np.full_like(y_val, clim_val), y_val)
    weight = 1.0 if brier_oos < brier_clim else optimal_shrink(p_val, y_val, clim_val)
    train_dates = pd.to_datetime(train["date"])
    return FittedModel(
        fit_date=str(fit_date), horizon=horizon, features=FEATURES,
        means=tuple(map(float, means)), scales=tuple(map(float, scales)),
        coefficients=tuple(map(float, coef)), intercept=intercept,
        training_start=str(train_dates.min().date()), training_end=str(train_dates.max().date()),
        rows=len(train), climatology=climatology, brier_in_sample=_brier(p_in, y),
        brier_out_of_sample=brier_oos, brier_climatology_out_of_sample=brier_clim,
        shrink_weight=weight,
    )  # fmt: skip


def predict(model: FittedModel, feature_rows: pd.DataFrame) -> np.ndarray:
    """p_up for feature rows (NaN where a feature is missing), shrunk as the model says."""
    x = feature_rows.loc[:, list(model.features)].to_numpy(float)
    p = _logistic(x, model.means, model.scales, model.coefficients, model.intercept)
    return model.climatology + model.shrink_weight * (p - model.climatology)


def refit_dates(sessions: list[dt.date]) -> list[dt.date]:
    """The first session of each month (the refit days)."""
    out, month = [], None
    for day in sorted(sessions):
        if (day.year, day.month) != month:
            out.append(day)
            month = (day.year, day.month)
    return out
