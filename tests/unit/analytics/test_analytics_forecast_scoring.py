"""Tests for kapman_assets.analytics.forecast_scoring against scikit-learn and hand computation."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss

from kapman_assets.analytics import forecast_scoring as fs

TOL = 1e-12
SEEDS = [0, 1, 2, 3, 4]
SIZES = [1, 2, 3, 7, 50, 1000]
SK_EDGES = np.linspace(0.0, 1.0, 11)  # the edges calibration_curve(strategy="uniform") builds


def random_forecasts(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities uniform on [0, 1] and outcomes drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    y = (rng.random(n) < p).astype(np.int64)
    return p, y


def edge_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Named (p, y) edge cases from the brief."""
    on_edges = np.array([k / 10 for k in range(11)] * 2)
    y_alt = np.array([0, 1] * 11)
    return [
        ("one_bin", np.array([0.61, 0.62, 0.65, 0.69, 0.7]), np.array([1, 0, 1, 1, 0])),
        ("on_edges", on_edges, y_alt),
        ("zero_and_one", np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([0, 1, 1, 0, 1])),
        ("all_y0", np.array([0.05, 0.3, 0.55, 0.8, 1.0]), np.zeros(5, dtype=np.int64)),
        ("all_y1", np.array([0.0, 0.25, 0.5, 0.75, 0.95]), np.ones(5, dtype=np.int64)),
        ("single", np.array([0.3]), np.array([1])),
        ("pair", np.array([0.1, 0.2]), np.array([0, 1])),
    ]


EDGE_IDS = [name for name, _, _ in edge_cases()]


def all_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Random inputs over seeds and sizes plus the edge cases."""
    cases = [random_forecasts(seed, n) for seed in SEEDS for n in SIZES]
    return cases + [(p, y) for _, p, y in edge_cases()]


def loop_bins(p: np.ndarray) -> list[int]:
    """Right-closed bin of each p by a plain loop: first k with p <= edge_{k+1}."""
    out = []
    for value in p:
        k = 0
        while value > SK_EDGES[k + 1]:
            k += 1
        out.append(k)
    return out


def loop_murphy(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Murphy components computed by plain Python loops over bins and members."""
    bins = loop_bins(p)
    n = len(p)
    ybar = sum(float(v) for v in y) / n
    rel = res = wbv = wbc = 0.0
    for k in range(10):
        members = [i for i in range(n) if bins[i] == k]
        if not members:
            continue
        pbar = sum(float(p[i]) for i in members) / len(members)
        obar = sum(float(y[i]) for i in members) / len(members)
        rel += len(members) / n * (pbar - obar) ** 2
        res += len(members) / n * (obar - ybar) ** 2
        for i in members:
            wbv += (float(p[i]) - pbar) ** 2 / n
            wbc += (float(p[i]) - pbar) * (float(y[i]) - obar) / n
    return {
        "reliability": rel,
        "resolution": res,
        "uncertainty": ybar * (1 - ybar),
        "within_bin_variance": wbv,
        "within_bin_covariance": wbc,
    }


def sk_calibration(p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sklearn calibration_curve with 10 uniform bins."""
    return calibration_curve(y, p, n_bins=10, strategy="uniform")


# --- Brier, BSS, log loss versus scikit-learn ---------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_brier_matches_sklearn_random(seed: int, n: int) -> None:
    p, y = random_forecasts(seed, n)
    assert fs.brier_score(p, y) == pytest.approx(brier_score_loss(y, p), abs=TOL)


@pytest.mark.parametrize(("name", "p", "y"), edge_cases(), ids=EDGE_IDS)
def test_brier_matches_sklearn_edges(name: str, p: np.ndarray, y: np.ndarray) -> None:
    assert fs.brier_score(p, y) == pytest.approx(brier_score_loss(y, p), abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_log_loss_matches_sklearn_random(seed: int, n: int) -> None:
    p, y = random_forecasts(seed, n)
    assert fs.log_loss(p, y) == pytest.approx(sk_log_loss(y, p, labels=[0, 1]), abs=TOL)


@pytest.mark.parametrize(("name", "p", "y"), edge_cases(), ids=EDGE_IDS)
def test_log_loss_matches_sklearn_edges(name: str, p: np.ndarray, y: np.ndarray) -> None:
    # Same eps as sklearn (float64 machine eps), so even p = 0 and p = 1 agree.
    assert fs.log_loss(p, y) == pytest.approx(sk_log_loss(y, p, labels=[0, 1]), abs=TOL)


def test_log_loss_clips_at_documented_eps() -> None:
    eps = np.finfo(np.float64).eps
    assert fs.LOG_LOSS_EPS == eps
    assert fs.log_loss([0.0], [1]) == pytest.approx(-math.log(eps), abs=TOL)
    assert fs.log_loss([1.0], [0]) == pytest.approx(-math.log(eps), abs=TOL)
    assert math.isfinite(fs.log_loss([0.0, 1.0], [1, 0]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", [2, 3, 50, 1000])
def test_brier_skill_score_against_sklearn_climatology(seed: int, n: int) -> None:
    p, y = random_forecasts(seed, n)
    if y.min() == y.max():
        y = y.copy()
        y[0] = 1 - y[0]
    expected = 1.0 - brier_score_loss(y, p) / np.var(y)
    assert fs.brier_skill_score(p, y) == pytest.approx(expected, abs=TOL)


def test_brier_skill_score_hand_example() -> None:
    # ybar = 0.5, UNC = 0.25; Brier = (0.04 + 0.04 + 0.09 + 0.16) / 4 = 0.0825.
    p, y = [0.2, 0.8, 0.3, 0.6], [0, 1, 0, 1]
    assert fs.brier_skill_score(p, y) == pytest.approx(1 - 0.0825 / 0.25, abs=TOL)


@pytest.mark.parametrize("outcome", [0, 1])
def test_brier_skill_score_is_nan_without_outcome_variance(outcome: int) -> None:
    assert math.isnan(fs.brier_skill_score([0.2, 0.7, 0.4], [outcome] * 3))
    assert math.isnan(fs.brier_skill_score([0.5], [outcome]))


# --- Binning, reliability table and ECE versus calibration_curve ------------------------------


def test_bin_edges_are_sklearns() -> None:
    np.testing.assert_array_equal(fs.BIN_EDGES, SK_EDGES)


def test_bin_indices_right_closed_on_every_edge() -> None:
    p = np.array([k / 10 for k in range(11)])
    assert fs.bin_indices(p).tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert fs.bin_indices(p).tolist() == loop_bins(p)


def _check_reliability(p: np.ndarray, y: np.ndarray) -> None:
    """Reliability table and ECE agree with calibration_curve and loop-counted bins."""
    prob_true, prob_pred = sk_calibration(p, y)
    table = fs.reliability_table(p, y)
    counts = np.bincount(loop_bins(p), minlength=10)
    occupied = [k for k in range(10) if counts[k] > 0]
    assert table["bin"].tolist() == occupied
    assert table["n"].tolist() == [int(counts[k]) for k in occupied]
    np.testing.assert_allclose(table["mean_forecast"], prob_pred, rtol=0, atol=TOL)
    np.testing.assert_allclose(table["observed_frequency"], prob_true, rtol=0, atol=TOL)
    np.testing.assert_array_equal(table["bin_lower"], SK_EDGES[occupied])
    np.testing.assert_array_equal(table["bin_upper"], SK_EDGES[np.array(occupied) + 1])
    weights = np.array([counts[k] for k in occupied]) / len(p)
    expected_ece = float(np.sum(weights * np.abs(prob_true - prob_pred)))
    assert fs.expected_calibration_error(p, y) == pytest.approx(expected_ece, abs=TOL)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_reliability_and_ece_match_calibration_curve_random(seed: int, n: int) -> None:
    _check_reliability(*random_forecasts(seed, n))


@pytest.mark.parametrize(("name", "p", "y"), edge_cases(), ids=EDGE_IDS)
def test_reliability_and_ece_match_calibration_curve_edges(
    name: str, p: np.ndarray, y: np.ndarray
) -> None:
    _check_reliability(p, y)


def test_reliability_table_drops_empty_bins_and_keeps_columns() -> None:
    table = fs.reliability_table([0.61, 0.65, 0.7], [1, 0, 1])
    assert list(table.columns) == [
        "bin",
        "bin_lower",
        "bin_upper",
        "n",
        "mean_forecast",
        "observed_frequency",
    ]
    assert table["bin"].tolist() == [6]
    assert table["n"].tolist() == [3]
    assert table["observed_frequency"].iloc[0] == pytest.approx(2 / 3, abs=TOL)


def test_ece_hand_example() -> None:
    # bin 1: p 0.15, 0.15 / y 0, 1 -> |0.5 - 0.15| = 0.35, weight 2/4
    # bin 8: p 0.9 (on the edge, right-closed), 0.85 / y 1, 1 -> |1 - 0.875| = 0.125, weight 2/4
    p, y = [0.15, 0.15, 0.9, 0.85], [0, 1, 1, 1]
    assert fs.expected_calibration_error(p, y) == pytest.approx(0.5 * 0.35 + 0.5 * 0.125, abs=TOL)


def test_ece_zero_for_perfectly_calibrated_bins() -> None:
    p = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75]
    y = [1, 0, 0, 0, 1, 1, 1, 0]
    assert fs.expected_calibration_error(p, y) == pytest.approx(0.0, abs=TOL)


# --- Murphy decomposition ----------------------------------------------------------------------


def _identity_residual(d: dict[str, float]) -> float:
    """BS - (REL - RES + UNC + WBV - 2 WBC)."""
    rebuilt = (
        d["reliability"]
        - d["resolution"]
        + d["uncertainty"]
        + d["within_bin_variance"]
        - 2.0 * d["within_bin_covariance"]
    )
    return d["brier"] - rebuilt


@pytest.mark.parametrize("case", range(len(all_cases())))
def test_murphy_identity_holds_exactly(case: int) -> None:
    p, y = all_cases()[case]
    d = fs.murphy_decomposition(p, y)
    assert abs(_identity_residual(d)) <= TOL
    assert d["brier"] == pytest.approx(brier_score_loss(y, p), abs=TOL)


@pytest.mark.parametrize("case", range(len(all_cases())))
def test_murphy_components_match_loop_computation(case: int) -> None:
    p, y = all_cases()[case]
    d = fs.murphy_decomposition(p, y)
    for name, value in loop_murphy(p, y).items():
        assert d[name] == pytest.approx(value, abs=TOL), name


def test_murphy_hand_worked_six_forecasts() -> None:
    p = np.array([0.12, 0.18, 0.62, 0.68, 0.64, 0.95])
    y = np.array([0, 1, 1, 0, 1, 1])
    d = fs.murphy_decomposition(p, y)
    expected = loop_murphy(p, y)
    for name, value in expected.items():
        assert d[name] == pytest.approx(value, abs=TOL), name
    # By hand: bins {0.12, 0.18} (bin 1), {0.62, 0.68, 0.64} (bin 6), {0.95} (bin 9).
    # ybar = 4/6; UNC = 2/9.
    # pbar = 0.15, 0.64667, 0.95; obar = 0.5, 2/3, 1.
    # REL = 2/6 (0.35)^2 + 3/6 (0.64667 - 0.66667)^2 + 1/6 (0.05)^2
    # RES = 2/6 (0.5 - 2/3)^2 + 0 + 1/6 (1/3)^2 = 1/108 + 1/54 = 1/36
    # WBV = (0.03^2 * 2 + (-0.02667)^2 + 0.03333^2 + (-0.00667)^2) / 6
    # WBC = ((-0.03)(-0.5) + 0.03(0.5) + (-0.02667)(1/3) + 0.03333(-2/3) + (-0.00667)(1/3)) / 6
    pbar6 = (0.62 + 0.68 + 0.64) / 3
    assert d["uncertainty"] == pytest.approx(2 / 9, abs=TOL)
    assert d["resolution"] == pytest.approx(1 / 36, abs=TOL)
    rel = (2 / 6) * 0.35**2 + (3 / 6) * (pbar6 - 2 / 3) ** 2 + (1 / 6) * 0.05**2
    assert d["reliability"] == pytest.approx(rel, abs=TOL)
    wbv = (2 * 0.03**2 + (0.62 - pbar6) ** 2 + (0.68 - pbar6) ** 2 + (0.64 - pbar6) ** 2) / 6
    assert d["within_bin_variance"] == pytest.approx(wbv, abs=TOL)
    wbc = (
        0.03 * 0.5 + 0.03 * 0.5 + (0.62 - pbar6) / 3 - (0.68 - pbar6) * 2 / 3 + (0.64 - pbar6) / 3
    ) / 6
    assert d["within_bin_covariance"] == pytest.approx(wbc, abs=TOL)
    brier = (0.12**2 + 0.82**2 + 0.38**2 + 0.68**2 + 0.36**2 + 0.05**2) / 6
    assert d["brier"] == pytest.approx(brier, abs=TOL)
    assert abs(_identity_residual(d)) <= TOL


def test_murphy_within_bin_terms_vanish_when_bins_hold_one_value() -> None:
    p = [0.25, 0.25, 0.75, 0.75]
    d = fs.murphy_decomposition(p, [0, 1, 1, 1])
    assert d["within_bin_variance"] == 0.0
    assert d["within_bin_covariance"] == 0.0


# --- Moving-block bootstrap --------------------------------------------------------------------


def persistent_forecasts(n: int, seed: int, persistence: float) -> tuple[np.ndarray, np.ndarray]:
    """Constant p = 0.7 against outcomes in long runs, so squared errors come in long runs."""
    rng = np.random.default_rng(seed)
    y = np.empty(n, dtype=np.int64)
    y[0] = 1
    for t in range(1, n):
        y[t] = y[t - 1] if rng.random() < persistence else 1 - y[t - 1]
    return np.full(n, 0.7), y


def test_bootstrap_indices_are_contiguous_circular_blocks() -> None:
    n, block = 23, 5
    idx = fs.block_bootstrap_indices(n, block, n_boot=200, seed=7)
    assert idx.shape == (200, n)
    assert idx.min() >= 0 and idx.max() < n
    for row in idx:
        for start in range(0, n, block):
            segment = row[start : start + block]
            for i in range(1, len(segment)):
                assert segment[i] == (segment[0] + i) % n
    # Block starts are not confined to one place: wrapping blocks occur.
    starts = idx[:, ::block]
    assert len(np.unique(starts)) == n


def test_bootstrap_indices_block_length_one_is_iid_and_n_is_rotation() -> None:
    idx1 = fs.block_bootstrap_indices(10, 1, n_boot=500, seed=3)
    assert len(np.unique(idx1)) == 10
    full = fs.block_bootstrap_indices(10, 10, n_boot=50, seed=3)
    for row in full:
        assert row.tolist() == [(row[0] + i) % 10 for i in range(10)]


def test_bootstrap_is_deterministic_given_seed() -> None:
    p, y = random_forecasts(11, 400)
    a = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, block_length=5, n_boot=300, seed=42)
    b = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, block_length=5, n_boot=300, seed=42)
    c = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, block_length=5, n_boot=300, seed=43)
    assert a == b
    assert a != c


def test_bootstrap_ci_equals_quantiles_over_exposed_indices() -> None:
    p, y = random_forecasts(5, 97)
    idx = fs.block_bootstrap_indices(97, 4, n_boot=250, seed=9)
    stats = [float(np.mean((p[row] - y[row]) ** 2)) for row in idx]
    expected = np.quantile(stats, [0.05, 0.95])
    lo, hi = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, 4, n_boot=250, alpha=0.1, seed=9)
    assert lo == pytest.approx(expected[0], abs=TOL)
    assert hi == pytest.approx(expected[1], abs=TOL)


@pytest.mark.parametrize(
    "metric",
    [fs.brier_score, fs.brier_skill_score, fs.log_loss, fs.expected_calibration_error],
)
def test_bootstrap_vectorized_metrics_match_generic_path(metric) -> None:
    p, y = random_forecasts(2, 150)
    fast = fs.moving_block_bootstrap_ci(p, y, metric, 6, n_boot=200, seed=1)
    slow = fs.moving_block_bootstrap_ci(p, y, lambda a, b: metric(a, b), 6, n_boot=200, seed=1)
    assert fast == pytest.approx(slow, abs=TOL)


def test_bootstrap_chunking_does_not_change_result(monkeypatch: pytest.MonkeyPatch) -> None:
    p, y = random_forecasts(8, 120)
    whole = fs.moving_block_bootstrap_ci(p, y, fs.log_loss, 7, n_boot=300, seed=5)
    monkeypatch.setattr(fs, "MAX_RESAMPLE_CELLS", 1000)
    chunked = fs.moving_block_bootstrap_ci(p, y, fs.log_loss, 7, n_boot=300, seed=5)
    assert whole == chunked


def test_bootstrap_ci_contains_point_estimate_on_large_sample() -> None:
    p, y = random_forecasts(21, 5000)
    for metric in (fs.brier_score, fs.log_loss, fs.brier_skill_score):
        lo, hi = fs.moving_block_bootstrap_ci(p, y, metric, block_length=10, n_boot=500, seed=0)
        point = metric(p, y)
        assert lo < point < hi
        assert hi - lo < 0.1 * abs(point) + 0.05


def test_block_bootstrap_widens_ci_on_autocorrelated_outcomes() -> None:
    p, y = persistent_forecasts(1200, seed=4, persistence=0.97)
    iid = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, 1, n_boot=1000, seed=0)
    blocks = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, 60, n_boot=1000, seed=0)
    # Lag-1 autocorrelation of y is 0.94: the variance of a mean is ~30x the i.i.d. one, and only
    # blocks longer than the runs (mean run length 33) keep that dependence in the resamples.
    assert (blocks[1] - blocks[0]) > 3.0 * (iid[1] - iid[0])


def test_bootstrap_ignores_nan_resamples_and_all_nan_gives_nan() -> None:
    p = np.array([0.2, 0.3, 0.8, 0.9])
    lo, hi = fs.moving_block_bootstrap_ci(p, [0, 0, 0, 0], fs.brier_skill_score, 1, n_boot=50)
    assert math.isnan(lo) and math.isnan(hi)
    lo, hi = fs.moving_block_bootstrap_ci(p, [0, 0, 1, 1], fs.brier_skill_score, 1, n_boot=200)
    assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi


def test_bootstrap_single_forecast() -> None:
    assert fs.moving_block_bootstrap_ci([0.3], [1], fs.brier_score, 1, n_boot=10) == (
        pytest.approx(0.49, abs=TOL),
        pytest.approx(0.49, abs=TOL),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_length": 0}, "block_length"),
        ({"block_length": -3}, "block_length"),
        ({"block_length": 11}, "block_length"),
        ({"block_length": 2.5}, "block_length"),
        ({"block_length": True}, "block_length"),
        ({"block_length": 2, "n_boot": 0}, "n_boot"),
        ({"block_length": 2, "alpha": 0.0}, "alpha"),
        ({"block_length": 2, "alpha": 1.0}, "alpha"),
    ],
)
def test_bootstrap_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    p, y = random_forecasts(0, 10)
    with pytest.raises(ValueError, match=message):
        fs.moving_block_bootstrap_ci(p, y, fs.brier_score, **kwargs)


def test_bootstrap_indices_reject_bad_block_length() -> None:
    with pytest.raises(ValueError, match="block_length"):
        fs.block_bootstrap_indices(5, 6, n_boot=3, seed=0)


# --- Input validation --------------------------------------------------------------------------

SCORERS = [
    fs.brier_score,
    fs.brier_skill_score,
    fs.log_loss,
    fs.expected_calibration_error,
    fs.murphy_decomposition,
    fs.reliability_table,
    lambda p, y: fs.moving_block_bootstrap_ci(p, y, fs.brier_score, 1, n_boot=5),
]


@pytest.mark.parametrize("scorer", SCORERS)
@pytest.mark.parametrize(
    ("p", "y", "message"),
    [
        ([0.5, 1.2], [0, 1], r"\[0, 1\]"),
        ([-0.01, 0.5], [0, 1], r"\[0, 1\]"),
        ([np.nan, 0.5], [0, 1], r"\[0, 1\]"),
        ([0.5, 0.5], [0, 2], "0 or 1"),
        ([0.5, 0.5], [0, 0.5], "0 or 1"),
        ([0.5, 0.5], [0, np.nan], "0 or 1"),
        ([0.5, 0.5, 0.5], [0, 1], "length mismatch"),
        ([], [], "empty"),
    ],
)
def test_validation_errors(scorer, p: list, y: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scorer(p, y)


def test_boolean_outcomes_accepted() -> None:
    p, y = random_forecasts(3, 40)
    assert fs.brier_score(p, y.astype(bool)) == fs.brier_score(p, y)


# --- Frame helpers -----------------------------------------------------------------------------


def forecast_frame(n: int, seed: int, start: str = "2024-01-01") -> pd.DataFrame:
    """Daily business-day forecasts with outcomes."""
    p, y = random_forecasts(seed, n)
    return pd.DataFrame({"date": pd.bdate_range(start, periods=n), "p_up": p, "outcome": y})


def test_score_forecasts_matches_references() -> None:
    frame = forecast_frame(300, 6)
    p, y = frame["p_up"].to_numpy(), frame["outcome"].to_numpy()
    scores = fs.score_forecasts(frame)
    assert scores["n"] == 300
    assert scores["base_rate"] == pytest.approx(y.mean(), abs=TOL)
    assert scores["brier"] == pytest.approx(brier_score_loss(y, p), abs=TOL)
    assert scores["brier_skill_score"] == pytest.approx(
        1 - brier_score_loss(y, p) / np.var(y), abs=TOL
    )
    assert scores["log_loss"] == pytest.approx(sk_log_loss(y, p), abs=TOL)
    for name, value in loop_murphy(p, y).items():
        assert scores[name] == pytest.approx(value, abs=TOL)
    assert "brier_ci_lo" not in scores.index


def test_score_forecasts_ci_uses_date_order() -> None:
    frame = forecast_frame(200, 7)
    ordered = fs.moving_block_bootstrap_ci(frame["p_up"], frame["outcome"], fs.brier_score, 5)
    shuffled = frame.sample(frac=1.0, random_state=1)
    scores = fs.score_forecasts(shuffled, block_length=5)
    assert (scores["brier_ci_lo"], scores["brier_ci_hi"]) == ordered
    assert scores["brier_ci_lo"] < scores["brier"] < scores["brier_ci_hi"]


def test_score_forecasts_rejects_missing_columns_and_bad_values() -> None:
    with pytest.raises(ValueError, match="missing columns"):
        fs.score_forecasts(pd.DataFrame({"p_up": [0.5]}))
    with pytest.raises(ValueError, match="0 or 1"):
        fs.score_forecasts(pd.DataFrame({"p_up": [0.5], "outcome": [np.nan]}))


def test_weekly_scores_group_by_week_ending_friday() -> None:
    dates = pd.to_datetime(
        [
            "2024-01-01",  # Mon -> week ending Fri 2024-01-05
            "2024-01-05",  # Fri -> 2024-01-05
            "2024-01-06",  # Sat -> 2024-01-12
            "2024-01-07",  # Sun -> 2024-01-12
            "2024-01-12",  # Fri -> 2024-01-12
            "2024-01-22",  # Mon -> 2024-01-26 (week ending 2024-01-19 is empty)
        ]
    )
    p = [0.9, 0.2, 0.6, 0.4, 0.7, 0.1]
    y = [1, 0, 0, 1, 1, 0]
    weekly = fs.weekly_scores(pd.DataFrame({"date": dates, "p_up": p, "outcome": y}))
    expected_weeks = pd.to_datetime(["2024-01-05", "2024-01-12", "2024-01-26"])
    assert list(weekly.index) == list(expected_weeks)
    assert (weekly.index.dayofweek == 4).all()
    assert weekly["n"].tolist() == [2, 3, 1]
    groups = [([0.9, 0.2], [1, 0]), ([0.6, 0.4, 0.7], [0, 1, 1]), ([0.1], [0])]
    for week, (gp, gy) in zip(expected_weeks, groups, strict=True):
        assert weekly.loc[week, "brier"] == pytest.approx(brier_score_loss(gy, gp), abs=TOL)
    # Week ending 2024-01-12: (0.36 + 0.36 + 0.09) / 3 = 0.27.
    assert weekly.loc[expected_weeks[1], "brier"] == pytest.approx(0.27, abs=TOL)


def test_weekly_scores_accept_python_dates() -> None:
    frame = forecast_frame(30, 2)
    as_dates = frame.assign(date=frame["date"].dt.date)
    pd.testing.assert_frame_equal(fs.weekly_scores(as_dates), fs.weekly_scores(frame))


def test_weekly_scores_causal_when_future_weeks_appended() -> None:
    past = forecast_frame(60, 3)  # ends Friday 2024-03-22
    assert past["date"].iloc[-1].dayofweek == 4
    future = forecast_frame(40, 4, start="2024-03-25")
    extended = pd.concat([past, future], ignore_index=True)
    before = fs.weekly_scores(past)
    after = fs.weekly_scores(extended)
    pd.testing.assert_frame_equal(after.loc[before.index], before)
    assert len(after) > len(before)


def test_weekly_scores_only_open_week_changes_within_a_week() -> None:
    frame = forecast_frame(58, 3)  # ends Wednesday 2024-03-20
    extra = forecast_frame(2, 9, start="2024-03-21")  # Thu, Fri of the same week
    before = fs.weekly_scores(frame)
    after = fs.weekly_scores(pd.concat([frame, extra], ignore_index=True))
    pd.testing.assert_frame_equal(after.iloc[:-1], before.iloc[:-1])
    assert after["n"].iloc[-1] == before["n"].iloc[-1] + 2


def test_weekly_scores_require_dates() -> None:
    with pytest.raises(ValueError, match="date"):
        fs.weekly_scores(pd.DataFrame({"p_up": [0.5], "outcome": [1]}))
    bad = pd.DataFrame({"date": [pd.NaT, pd.Timestamp("2024-01-02")], "p_up": [0.5, 0.5]})
    with pytest.raises(ValueError, match="missing dates"):
        fs.weekly_scores(bad.assign(outcome=[0, 1]))


def test_block_resample_sums_are_the_sums_over_the_bootstrap_indices():
    x = np.random.default_rng(4).normal(size=(3, 53))
    for block in (1, 5, 10, 53):
        idx = fs.block_bootstrap_indices(53, block, 40, 11)
        assert fs.block_resample_sums(x, block, 40, 11) == pytest.approx(x[:, idx].sum(axis=-1))


def test_the_brier_ci_resamples_whole_sessions():
    """Each resample draws sessions (all of a session's forecasts together), by block."""
    rng = np.random.default_rng(9)
    dates = np.repeat(pd.bdate_range("2025-01-01", periods=60), rng.integers(5, 30, 60))
    shock = dict(zip(np.unique(dates), rng.normal(0, 0.3, 60), strict=True))
    p = np.clip(0.5 + rng.normal(0, 0.1, dates.size), 0.01, 0.99)
    y = (rng.random(dates.size) < np.clip(p + [shock[d] for d in dates], 0, 1)).astype(float)
    lo, hi = fs.session_block_brier_ci(dates, p, y, block_sessions=5, n_boot=300, seed=2)
    sessions = np.unique(dates)
    idx = fs.block_bootstrap_indices(len(sessions), 5, 300, 2)
    stats = []
    for draw in idx:  # brute force: the rows of the drawn sessions, in the drawn multiplicity
        rows = np.concatenate([np.flatnonzero(dates == sessions[i]) for i in draw])
        stats.append(fs.brier_score(p[rows], y[rows]))
    assert (lo, hi) == pytest.approx(tuple(np.quantile(stats, [0.025, 0.975])))
    rows_lo, rows_hi = fs.moving_block_bootstrap_ci(p, y, fs.brier_score, 5, 300, seed=2)
    assert hi - lo > rows_hi - rows_lo  # same-day forecasts share a shock: rows understate it


def test_no_brier_ci_from_fewer_than_two_blocks_of_sessions():
    """One block covering every session makes every resample the same: no interval at all."""
    dates = np.repeat(pd.bdate_range("2025-01-01", periods=39), 10)
    p = np.full(dates.size, 0.6)
    y = (np.arange(dates.size) % 3 == 0).astype(float)
    assert np.isnan(fs.session_block_brier_ci(dates, p, y, block_sessions=20)).all()
    dates = np.repeat(pd.bdate_range("2025-01-01", periods=40), 10)
    lo, hi = fs.session_block_brier_ci(dates, np.full(400, 0.6), np.arange(400) % 3 == 0, 20)
    assert lo <= hi
