"""The walk-forward directional model: features, labels, the window, the fit and shrinkage."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from kapman_assets.analytics import forecast_model as fm


def input_rows(n=3):
    return pd.DataFrame({
        "close": [110.0, 90.0, 100.0][:n], "sma_50": [100.0] * n, "sma_200": [80.0] * n,
        "rsi_14": [60.0, 40.0, 50.0][:n], "hv_20": [0.2] * n, "rvol": [1.0] * n,
        "adx_14": [20.0] * n, "iv_hv_diff": [4.0, None, 1.0][:n],
        "composite_score": [None, 10.0, -5.0][:n], "bc_score": [None, 3.0, 2.0][:n],
        "spring_score": [None, 1.0, 0.0][:n], "wyckoff_phase": ["C", None, "A"][:n],
        "return_20": [0.05, -0.1, 0.0][:n],
    })  # fmt: skip


def test_features_follow_the_definitions():
    f = fm.features(input_rows())
    assert list(f.columns) == list(fm.FEATURES)
    assert f["close_sma50"].tolist() == pytest.approx([0.1, -0.1, 0.0])
    assert f["close_sma200"].tolist() == pytest.approx([0.375, 0.125, 0.25])
    assert f["iv_hv_missing"].tolist() == [0.0, 1.0, 0.0]
    assert f["iv_hv_diff"].tolist() == [4.0, 0.0, 1.0]
    assert f["composite_score"].tolist() == [0.0, 10.0, -5.0]
    assert f["phase_C"].tolist() == [1.0, 0.0, 0.0]
    assert f["phase_A"].tolist() == [0.0, 0.0, 1.0]


def test_features_name_missing_inputs():
    with pytest.raises(ValueError, match="rsi_14"):
        fm.features(input_rows().drop(columns="rsi_14"))


def test_labels_look_h_sessions_ahead_within_each_ticker():
    dates = pd.bdate_range("2026-01-05", periods=4)
    closes = pd.DataFrame({"ticker": ["A"] * 4 + ["B"] * 4, "date": list(dates) * 2,
                           "close": [1, 2, 1.5, 3, 5, 4, 6, 3]})  # fmt: skip
    out = fm.forward_labels(closes, horizon=2)
    a = out[out["ticker"] == "A"]
    assert a["outcome"].tolist()[:2] == [1.0, 1.0]
    assert a["label_date"].iloc[0] == dates[2]
    assert a["outcome"].iloc[2:].isna().all()
    b = out[out["ticker"] == "B"]
    assert b["outcome"].tolist()[:2] == [1.0, 0.0]  # 6 > 5, 3 < 4


def synthetic_frame(sessions=300, tickers=8, signal=1.5, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-01", periods=sessions)
    n = sessions * tickers
    f = pd.DataFrame(rng.normal(size=(n, len(fm.FEATURES))), columns=list(fm.FEATURES))
    f["date"] = np.repeat(dates, tickers)
    f["label_date"] = np.repeat(dates.shift(20), tickers)
    logit = signal * f["rsi_14"] - 0.2
    f["outcome"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return f


def test_training_window_uses_only_labels_known_at_the_fit_date():
    frame = synthetic_frame(sessions=700)
    fit_date = frame["date"].iloc[-1].date()
    window = fm.training_window(frame, fit_date, horizon=20)
    assert (window["label_date"] <= pd.Timestamp(fit_date)).all()
    assert window["date"].nunique() == fm.TRAINING_SESSIONS
    assert window["date"].max() == frame["date"].unique()[-21]


def test_an_informative_feature_beats_climatology_and_matches_scikit_learn():
    frame = synthetic_frame()
    fit_date = frame["date"].iloc[-1].date()
    model = fm.fit_model(frame, fit_date)
    assert model is not None and model.beats_climatology
    assert model.shrink_weight == 1.0
    assert model.brier_out_of_sample < model.brier_climatology_out_of_sample
    window = fm.training_window(frame, fit_date, 20)
    x, y = window[list(fm.FEATURES)].to_numpy(), window["outcome"].to_numpy()
    numeric = [fm.FEATURES.index(c) for c in fm.FEATURES if c not in fm.BINARY_FEATURES]
    x = x.copy()
    x[:, numeric] = StandardScaler().fit_transform(x[:, numeric])  # indicators stay 0/1
    reference = LogisticRegression(C=fm.L2_C, max_iter=1000).fit(x, y)
    p = fm.predict(model, window)
    assert p == pytest.approx(reference.predict_proba(x)[:, 1], abs=1e-6)
    assert model.rows == len(window)
    assert model.climatology == pytest.approx(y.mean())


def test_a_row_gets_the_same_p_alone_as_among_thousands():
    """A one-session rerun predicts 3 rows where the backfill predicted thousands: each row's
    p must be the same to the last bit (a BLAS product blocks rows by count)."""
    frame = synthetic_frame()
    model = fm.fit_model(frame, frame["date"].iloc[-1].date())
    every = fm.predict(model, frame)
    for lo, hi in [(0, 1), (5, 8), (1001, 1004), (len(frame) - 3, len(frame))]:
        assert fm.predict(model, frame.iloc[lo:hi]).tolist() == every[lo:hi].tolist()


def test_the_fit_does_not_depend_on_the_order_of_the_rows():
    frame = synthetic_frame().assign(ticker=lambda f: [f"T{i % 8}" for i in range(len(f))])
    fit_date = frame["date"].iloc[-1].date()
    shuffled = frame.sample(frac=1.0, random_state=5)
    assert fm.fit_model(shuffled, fit_date) == fm.fit_model(frame, fit_date)


def test_a_phase_rare_in_training_does_not_saturate_the_forecast():
    """Standardized, a one-hot seen on 1 training row in 5,000 became a value of ~70 and pushed
    p to 0 or 1 for every row in that phase."""
    frame = synthetic_frame(signal=0.3, seed=5)
    for p in fm.PHASES:
        frame[f"phase_{p}"] = 0.0
    frame.loc[frame.index[100], "phase_B"] = 1.0
    model = fm.fit_model(frame, frame["date"].iloc[-1].date())
    in_b = frame.iloc[-50:].assign(phase_B=1.0)
    raw = fm.FittedModel(**{**model.as_record(), "shrink_weight": 1.0})
    p = fm.predict(raw, in_b)
    assert ((p > 0.05) & (p < 0.95)).all()
    assert model.means[fm.FEATURES.index("phase_B")] == 0.0
    assert model.scales[fm.FEATURES.index("phase_B")] == 1.0


def test_noise_is_shrunk_towards_climatology():
    frame = synthetic_frame(signal=0.0, seed=3)
    model = fm.fit_model(frame, frame["date"].iloc[-1].date())
    assert model is not None
    if model.beats_climatology:  # a lucky validation split is reported as such, not hidden
        assert model.shrink_weight == 1.0
    else:
        assert 0.0 <= model.shrink_weight < 1.0
        p = fm.predict(model, frame.head(500))
        raw = fm.FittedModel(**{**model.as_record(), "shrink_weight": 1.0})
        spread = np.abs(p - model.climatology).max()
        assert spread <= np.abs(fm.predict(raw, frame.head(500)) - model.climatology).max()


def test_optimal_shrink_is_the_least_squares_weight():
    d = np.array([0.2, -0.1, 0.3, -0.25])
    assert fm.optimal_shrink(0.5 + d, 0.5 + 0.5 * d, 0.5) == pytest.approx(0.5)
    assert fm.optimal_shrink(0.5 + d, 0.5 - d, 0.5) == 0.0  # anti-informative: climatology
    assert fm.optimal_shrink(np.full(4, 0.5), np.array([0, 1, 0, 1.0]), 0.5) == 0.0


def test_too_few_rows_or_one_class_fit_nothing():
    frame = synthetic_frame(sessions=30, tickers=2)
    assert fm.fit_model(frame, frame["date"].iloc[-1].date()) is None
    frame = synthetic_frame().assign(outcome=1.0)
    assert fm.fit_model(frame, frame["date"].iloc[-1].date()) is None


def test_refit_on_the_first_session_of_each_month():
    days = [dt.date(2026, 1, 30), dt.date(2026, 2, 2), dt.date(2026, 2, 3), dt.date(2026, 3, 2),
            dt.date(2026, 1, 29)]  # fmt: skip
    assert fm.refit_dates(days) == [dt.date(2026, 1, 29), dt.date(2026, 2, 2), dt.date(2026, 3, 2)]
