"""Wyckoff inputs, event detection and phases on hand-crafted bars (see helpers.wyckoff_bars)."""

import numpy as np
import pandas as pd
import pytest
from helpers import wyckoff_bars as wb
from helpers.real_data import load_spy
from scipy.stats import percentileofscore

from kapman_assets.analytics.wyckoff import analyze_wyckoff
from kapman_assets.analytics.wyckoff.events import (
    AR_CONFIRM_MAX_BARS,
    CAUSALITY_LAG_BARS,
    PIVOT_LAG_BARS,
    detect_events,
)
from kapman_assets.analytics.wyckoff.inputs import compute_inputs, wyckoff_inputs
from kapman_assets.analytics.wyckoff.phases import wyckoff_phases

M = wb.MARKS
ACCUMULATION_EVENTS = [
    ("SC", M["sc"], M["sc"]),
    ("AR", M["ar"], M["ar_high"]),
    ("ST", M["st"], M["st"]),
    ("SPRING", M["spring"], M["spring"]),
    ("TEST", M["test"], M["test"]),
    ("SOS", M["sos"], M["sos"]),
]
DISTRIBUTION_CODES = {"SC": "BC", "SPRING": "UPTHRUST", "SOS": "SOW"}


def events_of(bars: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(code, report bar, pivot bar) of every detected event."""
    events, _ = detect_events(compute_inputs(bars))
    return [(e.code, e.bar, e.pivot) for e in events]


def state_of(bars: pd.DataFrame) -> dict:
    """The per-bar range state."""
    return detect_events(compute_inputs(bars))[1]


@pytest.fixture(scope="module")
def spy_tail() -> pd.DataFrame:
    """The last 1,200 SPY sessions (covers 2016-2021)."""
    return load_spy().iloc[-1200:]


# --- inputs ---------------------------------------------------------------------------------
def test_atr_is_wilder_atr14_of_the_previous_bar(spy_tail):
    high, low, close = (spy_tail[k].to_numpy() for k in ("high", "low", "close"))
    expected = np.r_[np.nan, wb.wilder_atr(high, low, close)[:-1]]
    got = wyckoff_inputs(spy_tail)["atr"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, equal_nan=True)
    assert np.isnan(got[14]) and np.isfinite(got[15])


def test_rv_is_volume_over_the_prior_50_bar_mean(spy_tail):
    v = spy_tail["volume"].to_numpy()
    expected = v / wb.prior_mean(v, 50)
    np.testing.assert_allclose(wyckoff_inputs(spy_tail)["rv"], expected, rtol=1e-9, equal_nan=True)


def test_vp_is_the_percentile_rank_among_the_prior_250_volumes(spy_tail):
    v = spy_tail["volume"].to_numpy()
    got = wyckoff_inputs(spy_tail)["vp"].to_numpy()
    assert np.isnan(got[:250]).all()
    for t in (250, 251, 600, 1199):
        assert got[t] == pytest.approx(percentileofscore(v[t - 250 : t], v[t], kind="mean") / 100)


def test_vp_120_is_the_percentile_rank_among_the_prior_120_volumes(spy_tail):
    v = spy_tail["volume"].to_numpy()
    got = wyckoff_inputs(spy_tail)["vp_120"].to_numpy()
    assert np.isnan(got[:120]).all()
    for t in (120, 121, 600, 1199):
        assert got[t] == pytest.approx(percentileofscore(v[t - 120 : t], v[t], kind="mean") / 100)


def test_atr_pre_decline_is_the_atr_of_the_latest_highest_close_of_60_prior_bars(spy_tail):
    inputs = wyckoff_inputs(spy_tail)
    close, atr = spy_tail["close"].to_numpy(), inputs["atr"].to_numpy()
    got = inputs["atr_pre_decline"].to_numpy()
    assert np.isnan(got[:60]).all()
    for t in (60, 300, 555, 1199):
        window = close[t - 60 : t]
        peak = t - 60 + int(np.flatnonzero(window == window.max())[-1])
        assert got[t] == atr[peak]
    spread = spy_tail["high"].to_numpy() - spy_tail["low"].to_numpy()
    np.testing.assert_allclose(inputs["spr_pre"], spread / got, equal_nan=True)


def test_vp_counts_ties_half_and_the_factory_climax_sits_on_095():
    v = wb.accumulation()["volume"].to_numpy()
    vp = wyckoff_inputs(wb.accumulation())["vp"].to_numpy()
    assert vp[M["sc"]] == pytest.approx(238 / 250)  # above 237 x 1e6-ish volumes and 1 spike
    assert v[299] == wb.BASE_VOLUME and vp[299] < 0.5  # a baseline volume among its equals
    low_vp = wyckoff_inputs(wb.accumulation(b360=(82.0, 85.2, 83.0, wb.SC_VOLUME_BELOW_VP)))
    assert low_vp["vp"].iat[M["sc"]] == pytest.approx(237 / 250)


def test_spr_and_cp_including_a_flat_bar():
    rows = wb.baseline(300) + [(99.0, 101.0, 100.5, 1e6), (100.0, 100.0, 100.0, 1e6)]
    inputs = wyckoff_inputs(wb.bars_frame(rows))
    assert inputs["spr"].iat[300] == pytest.approx(2.0 / 1.0)  # ATR of the quiet bars is 1.0
    assert inputs["cp"].iat[300] == pytest.approx(1.5 / 2.0)
    assert inputs["cp"].iat[301] == 0.5  # H = L


def test_trend_gates_match_a_hand_loop(spy_tail):
    inputs = wyckoff_inputs(spy_tail)
    close, high, low = (spy_tail[k].to_numpy() for k in ("close", "high", "low"))
    for t in (300, 555, 800, 1100, 1199):
        sma50_prev = close[t - 50 : t].mean()  # SMA50 of bar t-1
        peak, trough = close[t - 60 : t].max(), close[t - 60 : t].min()
        down = close[t - 1] < sma50_prev and (peak - low[t]) / peak >= 0.10
        up = close[t - 1] > sma50_prev and (high[t] - trough) / trough >= 0.10
        assert inputs["down"].iat[t] == down and inputs["up"].iat[t] == up
    assert inputs["down"].any() and inputs["up"].any()


def test_hv20_and_ret20(spy_tail):
    inputs = wyckoff_inputs(spy_tail)
    c = spy_tail["close"].to_numpy()
    for t in (100, 700, 1199):
        log_returns = np.log(c[t - 19 : t + 1] / c[t - 20 : t])
        assert inputs["hv_20"].iat[t] == pytest.approx(np.std(log_returns, ddof=1) * np.sqrt(252))
        assert inputs["ret_20"].iat[t] == pytest.approx(np.log(c[t] / c[t - 20]))


def test_inputs_are_causal(spy_tail):
    full = wyckoff_inputs(spy_tail)
    for cut in (260, 700, 1001):
        part = wyckoff_inputs(spy_tail.iloc[:cut])
        pd.testing.assert_frame_equal(part, full.iloc[:cut])


def test_nan_bars_are_rejected():
    bars = wb.accumulation()
    bars.iloc[100, bars.columns.get_loc("close")] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        analyze_wyckoff(bars)


def test_unsorted_or_incomplete_bars_are_rejected():
    bars = wb.accumulation()
    with pytest.raises(ValueError, match="sorted"):
        analyze_wyckoff(bars.iloc[::-1])
    with pytest.raises(ValueError, match="volume"):
        analyze_wyckoff(bars.drop(columns="volume"))


def test_short_series_yield_no_events():
    out = analyze_wyckoff(wb.accumulation().iloc[:200])
    assert out["events"].map(len).sum() == 0 and out["wyckoff_phase"].isna().all()
    assert len(analyze_wyckoff(wb.accumulation().iloc[:0])) == 0


# --- the eight events: positive and negative cases --------------------------------------------
def test_accumulation_schematic_yields_exactly_its_six_events():
    assert events_of(wb.accumulation()) == ACCUMULATION_EVENTS


def test_sc_needs_volume_percentile_095_on_the_250_or_the_120_bar_window():
    # VP 0.948 among the 250 prior volumes, but 119.5/120 among the 120 prior ones (only the
    # 3.2e6 spike of bar 240 is louder): climactic on the shorter window, so an SC (issue 9)
    below = wb.accumulation(b360=(82.0, 85.2, 83.0, wb.SC_VOLUME_BELOW_VP))
    inputs = wyckoff_inputs(below)
    assert inputs["vp"].iat[M["sc"]] < 0.95 <= inputs["vp_120"].iat[M["sc"]]
    assert events_of(below)[0] == ("SC", M["sc"], M["sc"])
    # seven loud (2.5e6) quiet-range decline bars in the last 120: below 0.95 on both windows
    loud = {f"b{t}": wb.quiet(100.0 - 0.25 * (t - 299), 2_500_000.0) for t in range(320, 327)}
    both_below = wb.accumulation(b360=(82.0, 85.2, 83.0, wb.SC_VOLUME_BELOW_VP), **loud)
    inputs = wyckoff_inputs(both_below)
    assert max(inputs["vp"].iat[M["sc"]], inputs["vp_120"].iat[M["sc"]]) < 0.95
    assert events_of(both_below) == []


def crash_rows(sc_range: float) -> dict:
    """Overrides: the last 40 decline bars 2.0 wide (ATR14 -> ~1.95, the pre-decline ATR stays
    1.0) and an SC bar of the given range from a low of 82."""
    wide = {f"b{t}": wb.wide(100.0 - 0.25 * (t - 299)) for t in range(320, 360)}
    return wide | {"b360": (82.0, 82.0 + sc_range, 82.0 + sc_range / 2, wb.SC_VOLUME)}


def test_sc_spread_against_the_atr_before_the_decline():
    bars = wb.accumulation(**crash_rows(2.2))
    inputs = wyckoff_inputs(bars)
    assert inputs["spr"].iat[M["sc"]] < 1.2  # 2.2 / ~1.95: the crash inflated ATR14
    assert inputs["atr_pre_decline"].iat[M["sc"]] == pytest.approx(1.0)  # peak close: bar 300
    assert inputs["spr_pre"].iat[M["sc"]] == pytest.approx(2.2)
    assert events_of(bars)[0] == ("SC", M["sc"], M["sc"])
    narrow = wb.accumulation(**crash_rows(1.4))  # SPR 0.72, SPR_pre 1.4 < 1.5
    assert not any(code == "SC" for code, _, _ in events_of(narrow))


def test_ar_is_reported_on_its_confirmation_bar_with_the_rally_high_as_pivot():
    state = state_of(wb.accumulation())
    assert np.isnan(state["range_resistance"][M["ar"] - 1])
    assert state["range_resistance"][M["ar"]] == wb.RESISTANCE  # H_A of bar 365
    assert state["range_support"][M["sc"]] == wb.SUPPORT


def test_ar_needs_its_high_at_least_3_bars_after_the_sc():
    # the rally's highest high on bar 363 (3 bars after the SC), a close below its low next bar
    on_time = wb.accumulation(b363=(83.9, 88.6, 84.4, 1e6), b364=wb.quiet(83.6))
    assert events_of(on_time)[:2] == [("SC", 360, 360), ("AR", 364, 363)]
    # the same one bar earlier (2 bars after the SC): no valid bar A, the range is abandoned
    early = wb.accumulation(b362=(83.4, 88.6, 83.9, 1e6), b363=wb.quiet(83.2))
    assert events_of(early) == [("SC", 360, 360)]


def test_ar_confirmation_lag_is_bounded():
    late = {f"b{t}": (87.0, 88.0, 87.5, wb.BASE_VOLUME) for t in range(366, 368)}
    codes = events_of(wb.accumulation(**late))
    assert ("AR", 368, M["ar_high"]) in codes  # close 86.2 < L_A = 87.0, 3 bars after A
    too_late = {f"b{t}": (87.0, 88.0, 87.5, wb.BASE_VOLUME) for t in range(366, 371)}
    assert AR_CONFIRM_MAX_BARS == 5  # bar 371 is 6 bars after A: too late
    assert events_of(wb.accumulation(**too_late)) == [("SC", M["sc"], M["sc"])]


def test_st_needs_lower_volume_than_the_climax():
    loud = wb.accumulation(b372=(82.4, 84.6, 83.6, 1_600_000.0))  # RV 1.57 > 0.7 * 2.05
    codes = events_of(loud)
    assert ("ST", M["st"], M["st"]) not in codes
    assert not any(code == "SPRING" for code, _, _ in codes)  # a spring needs an ST first


@pytest.mark.parametrize(
    ("low", "is_st"), [(81.3, False), (81.5, True), (83.1, True), (83.3, False)]
)
def test_st_band_is_support_minus_half_to_plus_one_atr(low, is_st):
    # ATR at bar 372 is 1.204 (hand Wilder): the band is [81.40, 83.20]
    bars = wb.accumulation(b372=(low, 84.6, 83.6, 900_000.0))
    high, low_, close = (bars[k].to_numpy() for k in ("high", "low", "close"))
    atr = wb.wilder_atr(high, low_, close)[371]
    assert (wb.SUPPORT - 0.5 * atr <= low <= wb.SUPPORT + atr) == is_st
    assert (("ST", 372, 372) in events_of(bars)) == is_st


def test_spring_needs_a_shallow_penetration():
    deep = wb.accumulation(b386=(79.6, 84.0, 83.4, 700_000.0))  # 2.4 below support: > 1.5 ATR
    assert not any(code == "SPRING" for code, _, _ in events_of(deep))


def test_spring_needs_a_close_back_above_support_within_two_bars():
    no_recovery = wb.accumulation(
        b386=(81.4, 84.0, 81.8, 700_000.0),
        b387=(81.5, 82.3, 81.9, 900_000.0),
        b388=(81.5, 82.3, 81.9, 900_000.0),
    )
    assert not any(code == "SPRING" for code, _, _ in events_of(no_recovery))
    late_recovery = wb.accumulation(
        b386=(81.4, 84.0, 81.8, 700_000.0), b387=(81.5, 82.3, 81.9, 900_000.0)
    )
    assert ("SPRING", 388, 386) in events_of(late_recovery)  # bar 388 closes at 83.3


def test_test_needs_lower_volume_than_the_spring():
    loud = wb.accumulation(b389=(82.3, 83.1, 82.9, 800_000.0))  # RV 0.85 > RV_spring 0.74
    assert not any(code == "TEST" for code, _, _ in events_of(loud))


def test_sos_needs_a_close_in_the_upper_part_of_the_bar():
    low_close = wb.accumulation(b395=(*wb.SOS_ROW[:2], wb.SOS_WEAK_CLOSE, wb.SOS_ROW[3]))
    assert events_of(low_close) == ACCUMULATION_EVENTS[:-1]


def test_distribution_mirror_yields_bc_ar_st_upthrust_test_sow():
    expected = [(DISTRIBUTION_CODES.get(code, code), b, p) for code, b, p in ACCUMULATION_EVENTS]
    assert events_of(wb.distribution()) == expected
    state = state_of(wb.distribution())
    assert state["range_resistance"][M["sc"]] == wb.MIRROR_AXIS - wb.SUPPORT
    assert state["range_support"][M["ar"]] == wb.MIRROR_AXIS - wb.RESISTANCE


def test_bc_needs_volume_percentile_095():
    below = wb.distribution(b360=(82.0, 85.2, 83.0, wb.SC_VOLUME_BELOW_VP))
    assert events_of(below) == []


def test_sow_needs_a_close_in_the_lower_part_of_the_bar():
    high_close = wb.distribution(b395=(*wb.SOS_ROW[:2], wb.SOS_WEAK_CLOSE, wb.SOS_ROW[3]))
    assert not any(code == "SOW" for code, _, _ in events_of(high_close))  # CP 0.41 > 0.4


def test_sow_after_a_failed_spring_ends_the_accumulation_range():
    failed = wb.accumulation(
        b390=(80.7, 81.7, 81.2, 900_000.0),  # close < spring low 81.4: the spring failed
        b391=(80.8, 82.4, 81.0, 1_800_000.0),  # C < 82, spread 1.6, RV 1.9, CP 0.125
    )
    codes = events_of(failed)
    assert codes[:5] == ACCUMULATION_EVENTS[:5] and ("SOW", 391, 391) in codes
    state = state_of(failed)
    assert state["phase_c_bar"][390] == -1 and state["range_kind"][391] == 0
    out = analyze_wyckoff(failed)
    assert out["wyckoff_phase"].iat[390] == "B" and out["wyckoff_phase"].iat[391] is None
    assert out["phase_confidence"].iat[391] == 0 and out["signal"].iat[391] == "REDUCE"


def test_sc_before_the_ar_is_replaced_by_a_lower_climax():
    relapse = wb.accumulation(b362=(80.5, 83.9, 81.0, 3_500_000.0))
    codes = events_of(relapse)
    assert codes[:3] == [("SC", 360, 360), ("SC", 362, 362), ("AR", 366, 365)]
    assert state_of(relapse)["range_support"][366] == 80.5


def test_breakdown_without_spring_resets_the_range():
    broken = wb.accumulation(b380=(79.0, 84.0, 79.5, 900_000.0))  # close < 82 - 1.5 ATR
    state = state_of(broken)
    assert state["range_kind"][379] == 1 and state["range_kind"][380] == 0


def test_range_resets_after_250_bars():
    rows = wb.accumulation_rows()[: M["spring"]] + [wb.quiet(85.0, 800_000.0)] * 300
    state = state_of(wb.bars_frame(rows))
    last = M["sc"] + 250
    assert state["range_kind"][last - 1] == 1 and state["range_kind"][last] == 0


def test_markup_ends_when_price_closes_back_inside_the_range():
    falling = [wb.quiet(c) for c in np.arange(93.7, 87.0, -0.5)]  # from bar 410
    rows = wb.accumulation_rows()[:410] + falling
    phase = analyze_wyckoff(wb.bars_frame(rows))["wyckoff_phase"].to_numpy()
    first_inside = 410 + int(np.argmax(np.arange(93.7, 87.0, -0.5) <= wb.RESISTANCE))
    assert phase[409] == "E" and phase[first_inside - 1] == "E"
    assert phase[first_inside] is None


# --- phases ---------------------------------------------------------------------------------
def expected_phases() -> list:
    """Hand-derived labels for bars 355-419 of the schematic (helpers.wyckoff_bars module doc)."""
    first_b = M["st"] + 10  # B starts 10 bars after the first ST
    return (
        [None] * 5
        + ["A"] * (first_b - M["sc"])
        + ["B"] * (M["spring"] - first_b)
        + ["C"] * (M["sos"] - M["spring"])
        + ["D"] * (406 - M["sos"])  # close 94.7 > 88.3 + 6.3 first at bar 406
        + ["E"] * (420 - 406)
    )


@pytest.mark.parametrize("builder", [wb.accumulation, wb.distribution])
def test_phase_progression_a_b_c_d_e(builder):
    phase = wyckoff_phases(state_of(builder()))
    assert list(phase[355:420]) == expected_phases()


def test_phase_confidence_by_hand():
    bars = wb.accumulation()
    out = analyze_wyckoff(bars)
    high, low, close = (bars[k].to_numpy() for k in ("high", "low", "close"))
    atr = np.r_[np.nan, wb.wilder_atr(high, low, close)[:-1]]
    q_sc = (min(1.0, 2.05 / 3.0) + min(1.0, (85.2 - 82.0) / atr[360] / 2.0)) / 2.0
    q_ar = min(1.0, (88.3 - 82.0) / atr[365] / 3.0)
    # phase A expects SC (.25) and AR (.15)
    assert out["phase_confidence"].iat[360] == pytest.approx(0.25 * q_sc / 0.40)
    assert out["phase_confidence"].iat[361] == pytest.approx(0.25 * q_sc / 0.40 * 0.5 ** (1 / 20))
    assert out["phase_confidence"].iat[366] == pytest.approx((0.25 * q_sc + 0.15 * q_ar) / 0.40)
    assert (out["phase_confidence"].iloc[:360] == 0).all()
    assert out["phase_confidence"].between(0, 1).all()


# --- causality ------------------------------------------------------------------------------
def test_documented_lags():
    assert CAUSALITY_LAG_BARS == 0  # events are reported on their confirming bar
    assert PIVOT_LAG_BARS == AR_CONFIRM_MAX_BARS == 5


@pytest.mark.parametrize("builder", [wb.accumulation, wb.distribution])
def test_appending_bars_changes_no_earlier_output(builder):
    bars = builder()
    full = analyze_wyckoff(bars)
    for cut in range(355, len(bars), 3):
        part = analyze_wyckoff(bars.iloc[:cut])
        pd.testing.assert_frame_equal(part, full.iloc[:cut], check_exact=True)
