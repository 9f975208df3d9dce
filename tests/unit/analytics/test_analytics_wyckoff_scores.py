"""BC score, Spring score, composite score and signals, worked out by hand from docs/wyckoff.md."""

import numpy as np
import pandas as pd
import pytest
from helpers import wyckoff_bars as wb

from kapman_assets.analytics.wyckoff import analyze_wyckoff
from kapman_assets.analytics.wyckoff.events import detect_events
from kapman_assets.analytics.wyckoff.inputs import compute_inputs
from kapman_assets.analytics.wyckoff.scores import (
    BC_RSI_EDGES,
    BC_RV_EDGES,
    BC_SPREAD_EDGES,
    SPRING_DEPTH_EDGES,
    bar_points,
    bc_score,
    bc_score_components,
    composite_score,
    falling_points,
    rejection_points,
    rising_points,
    spring_score,
    spring_score_components,
)
from kapman_assets.analytics.wyckoff.signals import (
    SIGNAL_HOLD_BARS,
    interpret_signal,
    wyckoff_signals,
)

M = wb.MARKS
BC = wb.BC_CANDIDATE


def scored(bars: pd.DataFrame) -> tuple[dict, dict]:
    """(BC components, Spring components) per bar."""
    inputs = compute_inputs(bars)
    events, state = detect_events(inputs)
    return bc_score_components(inputs, events), spring_score_components(inputs, events, state)


# --- bucket tables (docs/wyckoff.md, "Scores") -------------------------------------------------
def test_rv_buckets_follow_the_domain_table():
    # RV (<1.5 / 1.5 / 2 / 2.5 / >=3.5): each edge belongs to the higher bucket
    rv = [1.49, 1.5, 1.99, 2.0, 2.49, 2.5, 3.49, 3.5, 9.0, np.nan]
    assert list(rising_points(np.array(rv), BC_RV_EDGES)) == [0, 1, 1, 2, 2, 3, 3, 4, 4, 0]


def test_spread_and_rsi_buckets():
    spr = [0.99, 1.0, 1.29, 1.3, 1.69, 1.7, 2.19, 2.2]
    assert list(rising_points(np.array(spr), BC_SPREAD_EDGES)) == [0, 1, 1, 2, 2, 3, 3, 4]
    rsi = [64.9, 65.0, 70.0, 74.9, 75.0, 80.0]
    assert list(rising_points(np.array(rsi), BC_RSI_EDGES)) == [0, 1, 2, 2, 3, 4]


def test_rejection_buckets_score_a_low_close():
    cp = np.array([1.0, 0.8, 0.79, 0.6, 0.59, 0.4, 0.39, 0.2, 0.19, 0.0])
    # CP >= .8 -> 0, .6 -> 1, .4 -> 2, .2 -> 3, < .2 -> 4
    assert list(rejection_points(cp)) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_spring_depth_buckets_are_right_closed():
    # 0.1-0.5 ATR -> 4 ... > 2 ATR -> 0 (shallow is best)
    depth = np.array([0.2, 0.5, 0.51, 1.0, 1.01, 1.5, 1.51, 2.0, 2.01])
    assert list(falling_points(depth, SPRING_DEPTH_EDGES)) == [4, 4, 3, 3, 2, 2, 1, 1, 0]


def test_rsi_divergence_bonus_is_capped_at_4():
    n = 80
    inputs = {
        "close": np.full(n, 100.0),
        "sma_20": np.full(n, 100.0),
        "atr": np.full(n, 1.0),
        "rv": np.full(n, 1.0),
        "spr": np.full(n, 1.0),
        "cp": np.full(n, 0.5),
        "hv_20": np.full(n, 0.2),
        "ret_20": np.zeros(n),
        "rsi_14": np.full(n, 60.0),
        "mfi_14": np.full(n, 50.0),
    }
    inputs["rsi_14"][10] = 90.0  # an earlier RSI peak inside bars t-60..t-5 of t = 60..70
    inputs["rsi_14"][[60, 64, 65, 71]] = [85.0, 72.0, 95.0, 72.0]
    rsi = bar_points(inputs)["rsi"]
    assert rsi[60] == 4  # 4 + 1 divergence, capped
    assert rsi[64] == 3  # 72 -> 2, + 1 (72 < 90)
    assert rsi[65] == 4  # 95 > 90: no divergence, 4 on its own
    assert rsi[71] == 3  # bar 10 left the window, but 72 < 95 (bar 65, 6 bars back)
    assert rsi[61] == 1  # 60 -> 0, + 1 (60 < 90)
    assert rsi[59] == 0  # the 56-bar window t-60..t-5 is first complete at t = 60


def test_divergence_peak_must_be_at_least_5_bars_back():
    n = 80
    inputs = {k: np.full(n, 1.0) for k in ("atr", "rv", "spr", "hv_20")}
    inputs |= {"close": np.full(n, 100.0), "sma_20": np.full(n, 100.0), "cp": np.full(n, 0.5)}
    inputs |= {"ret_20": np.zeros(n), "mfi_14": np.full(n, 50.0), "rsi_14": np.full(n, 60.0)}
    inputs["rsi_14"][[70, 74, 75]] = [90.0, 72.0, 72.0]
    rsi = bar_points(inputs)["rsi"]
    assert rsi[74] == 2  # the peak is 4 bars back: outside t-60..t-5, no divergence
    assert rsi[75] == 3  # 5 bars back: divergence, + 1


# --- BC score on the hand-crafted run-up ----------------------------------------------------
@pytest.fixture(scope="module")
def bc_fixture():
    bars = wb.bars_frame(wb.bc_rows())
    return bars, scored(bars)[0]


def test_bc_candidate_components_by_hand(bc_fixture):
    bars, components = bc_fixture
    high, low, close, volume = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
    atr = 2.0  # every earlier bar has a true range of exactly 2.0
    rv = volume[BC] / volume[BC - 50 : BC].mean()
    spr = (high[BC] - low[BC]) / atr
    extension = (close[BC] - close[BC - 19 : BC + 1].mean()) / atr
    log_returns = np.log(close[BC - 19 : BC + 1] / close[BC - 20 : BC])
    runup = np.log(close[BC] / close[BC - 20]) / (np.std(log_returns, ddof=1) * np.sqrt(20))
    rsi = wb.wilder_rsi(close)
    cp = (close[BC] - low[BC]) / (high[BC] - low[BC])
    assert 2.0 <= rv < 2.5  # rv 2
    assert 1.7 <= spr < 2.2  # spread 3
    assert 1.0 <= extension < 2.0  # extension 1
    assert 1.5 <= runup < 2.0  # runup 3
    assert 70 <= rsi[BC] < 75 and rsi[BC] < np.nanmax(rsi[BC - 60 : BC - 4])  # rsi 2 + 1
    assert 0.2 <= cp < 0.4  # rejection 3
    expected = {"rv": 2, "spread": 3, "extension": 1, "runup": 3, "rsi": 3, "rejection": 3}
    for name, points in expected.items():
        assert components[name][BC] == points, name
    assert components["bc_candidate_bar"][BC] == BC


def test_bc_confirmation_grows_with_the_reaction(bc_fixture):
    _, components = bc_fixture
    # H_c 114.1, ATR_c 2.0: bar 341 low 111.7 (1.2 ATR), bar 342 low 109.5 (2.3 ATR)
    assert [components["confirmation"][t] for t in (BC, BC + 1, BC + 2, BC + 10)] == [0, 1, 2, 2]


def test_bc_score_is_the_sum_and_expires_after_20_bars(bc_fixture):
    bars, _ = bc_fixture
    inputs = compute_inputs(bars)
    score = bc_score(inputs, detect_events(inputs)[0])
    assert score[BC] == 2 + 3 + 1 + 3 + 3 + 3 + 0
    assert score[BC + 2] == 15 + 2 and score[BC + 20] == 17
    assert score[BC + 21] == 0  # no candidate within 20 bars


def test_bc_confirmation_by_upthrust_and_sow():
    components, _ = scored(wb.distribution())
    # the UPTHRUST bar (386) makes a new 60-bar high: it is the latest candidate itself
    assert components["bc_candidate_bar"][M["spring"]] == M["spring"]
    assert components["confirmation"][M["spring"]] == 3  # failed upthrust
    assert components["confirmation"][M["sos"]] == 4  # SOW 9 bars after the candidate


# --- Spring score on the accumulation schematic ---------------------------------------------
def spring_inputs(bars: pd.DataFrame, bar: int) -> tuple[float, float]:
    """(penetration in ATR, RV) of a spring bar, by hand."""
    high, low, close, volume = (bars[k].to_numpy() for k in ("high", "low", "close", "volume"))
    atr = wb.wilder_atr(high, low, close)[bar - 1]
    return (wb.SUPPORT - low[bar]) / atr, volume[bar] / volume[bar - 50 : bar].mean()


def test_spring_components_by_hand():
    bars = wb.accumulation()
    depth, rv = spring_inputs(bars, M["spring"])
    cp = (83.4 - 81.4) / (84.0 - 81.4)
    assert 0.5 < depth <= 1.0 and rv <= 0.8 and cp >= 0.7
    _, spring = scored(bars)
    s = M["spring"]
    assert (spring["depth"][s], spring["recovery"][s], spring["supply"][s]) == (3, 4, 3)
    assert spring["supply"][M["test"]] == 4  # + the lower-volume TEST of bar 389
    inputs = compute_inputs(bars)
    events, state = detect_events(inputs)
    score = spring_score(inputs, events, state)
    assert list(score[s - 1 : s + 4]) == [0, 10, 10, 10, 11]
    assert score[s + 20] == 11 and score[s + 21] == 0  # 20-bar window


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"b386": (81.8, 84.0, 83.4, 700_000.0)}, {"depth": 4}),  # 0.2 below: <= 0.5 ATR
        ({"b386": (80.6, 84.0, 83.4, 700_000.0)}, {"depth": 2}),  # 1.4 below: 1.0-1.5 ATR
        ({"b386": (81.4, 84.0, 82.4, 700_000.0)}, {"recovery": 3}),  # same bar, CP 0.38
        ({"b386": (81.4, 84.0, 81.8, 700_000.0)}, {"recovery": 2}),  # back above next bar
        # RV 1.7 (1.5-2.5), no TEST yet; a narrow bar (SPR < 1.2), else this volume makes an SC
        ({"b386": (81.4, 82.6, 82.3, 1_600_000.0)}, {"supply": 1}),
    ],
)
def test_spring_component_variants(overrides, expected):
    bars = wb.accumulation(**overrides)
    depth, rv = spring_inputs(bars, M["spring"])
    name, points = next(iter(expected.items()))
    if name == "depth":
        assert points == (4 if depth <= 0.5 else 3 if depth <= 1.0 else 2)
    if name == "supply":
        assert 1.5 < rv <= 2.5
    _, spring = scored(bars)
    report = int(np.flatnonzero(spring["spring_bar"] >= 0)[0])
    assert spring[name][report] == points


def test_spring_score_drops_when_the_spring_fails():
    failed = wb.accumulation(b390=(80.7, 81.7, 81.2, 900_000.0))  # close < spring low 81.4
    _, spring = scored(failed)
    assert spring["spring_bar"][389] == M["spring"] and spring["spring_bar"][390] == -1


# --- composite ------------------------------------------------------------------------------
def test_composite_score_identities():
    spring = np.array([12, 0, 6, 0, 12, 9])
    bc = np.array([0, 28, 14, 0, 28, 7])
    expected = [100.0, -100.0, 0.0, 0.0, 0.0, 100 * (9 / 12 - 7 / 28)]
    np.testing.assert_allclose(composite_score(spring, bc), expected)


def test_output_scores_are_consistent():
    out = analyze_wyckoff(wb.accumulation())
    np.testing.assert_allclose(
        out["composite_score"], 100 * (out["spring_score"] / 12 - out["bc_score"] / 28)
    )
    assert out["bc_score"].between(0, 28).all() and out["spring_score"].between(0, 12).all()


# --- signals --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spring", "bc", "sos", "sow", "expected"),
    [
        (0, 0, False, False, None),
        (12, 0, True, False, "STRONG_ENTRY"),
        (0, 0, True, False, "STRONG_ENTRY"),
        (9, 11, False, False, "ENTRY_SETUP"),
        (8, 0, False, False, None),
        (9, 12, False, False, None),  # BC must be < 12
        (0, 24, False, False, "EXIT_NOW"),
        (0, 23, False, False, "PREPARE_EXIT"),
        (0, 20, False, False, "PREPARE_EXIT"),
        (0, 19, False, False, None),
        (0, 0, False, True, "REDUCE"),
        (12, 28, True, True, "EXIT_NOW"),  # precedence: EXIT_NOW first
        (12, 20, True, True, "REDUCE"),  # REDUCE before PREPARE_EXIT
        (0, 21, True, False, "PREPARE_EXIT"),  # exits before entries
        (10, 5, True, False, "STRONG_ENTRY"),  # STRONG_ENTRY before ENTRY_SETUP
    ],
)
def test_signal_mapping_table(spring, bc, sos, sow, expected):
    assert interpret_signal(spring, bc, sos, sow) == expected


def test_vectorized_signals_match_the_scalar_rule_and_hold_5_bars():
    n = 30
    spring = np.array([0, 9, 12, 10, 0, 9] * 5)
    bc = np.array([0, 5, 20, 24, 11, 12] * 5)
    sos_bars, sow_bars = np.array([3]), np.array([20])
    got = wyckoff_signals(spring, bc, sos_bars, sow_bars)
    for t in range(n):
        sos = 3 <= t < 3 + SIGNAL_HOLD_BARS
        sow = 20 <= t < 20 + SIGNAL_HOLD_BARS
        assert got[t] == interpret_signal(spring[t], bc[t], sos, sow), t


def test_schematic_signals():
    signal = analyze_wyckoff(wb.accumulation())["signal"].to_numpy()
    assert signal[M["spring"]] == "ENTRY_SETUP"  # Spring 10, BC 0
    assert list(signal[M["sos"] : M["sos"] + 5]) == ["STRONG_ENTRY"] * 5
    dist = analyze_wyckoff(wb.distribution())["signal"].to_numpy()
    assert dist[M["sos"]] == "REDUCE"


# --- causality ------------------------------------------------------------------------------
@pytest.mark.parametrize("bars", [wb.bars_frame(wb.bc_rows()), wb.distribution()])
def test_score_components_are_causal(bars):
    full_bc, full_spring = scored(bars)
    for cut in range(300, len(bars), 7):
        part_bc, part_spring = scored(bars.iloc[:cut])
        for name, values in {**part_bc, **part_spring}.items():
            reference = full_bc[name] if name in full_bc else full_spring[name]
            np.testing.assert_array_equal(values, reference[:cut], err_msg=name)


@pytest.mark.parametrize("n", [1, 2, 4, 5, 6, 12])
def test_a_just_listed_ticker_with_few_bars_is_analyzed_without_error(n):
    """The universe holds IPOs with a handful of sessions; nothing may crash on them."""
    from kapman_assets.analytics.wyckoff import analyze_wyckoff

    index = pd.bdate_range("2024-01-02", periods=n, name="date")
    bars = pd.DataFrame({"open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5,
                         "volume": 1e6}, index=index)  # fmt: skip
    out = analyze_wyckoff(bars)
    assert len(out) == n
    assert (out["bc_score"] == 0).all() and out["signal"].isna().all()
