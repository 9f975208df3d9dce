"""Loaders for the vendored real market data in tests/fixtures (see its README.md).

Shared by the unit tests and scripts/wyckoff_event_study.py: bars frames follow the project
convention (a sorted ``DatetimeIndex`` named ``date``; float64 ``series.BAR_COLUMNS``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from kapman_assets.analytics.series import BAR_COLUMNS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPY_FILE = FIXTURES / "spy_1993_2021.csv.gz"
BOKEH_FILE = FIXTURES / "bokeh_stocks_2000_2013.csv.gz"
BOKEH_TICKERS = ("AAPL", "MSFT", "IBM", "GOOG")

# AAPL's two 2-for-1 splits inside the bokeh range, in Massive's convention. AAPL's -52% close on
# 2000-09-29 is a real crash (a profit warning), not a split: a negative case for split logic.
AAPL_SPLITS = pd.DataFrame(
    {
        "ticker": ["AAPL", "AAPL"],
        "execution_date": pd.to_datetime(["2000-06-21", "2005-02-28"]),
        "split_from": [1.0, 1.0],
        "split_to": [2.0, 2.0],
    }
)
AAPL_CRASH_DATE = pd.Timestamp("2000-09-29")

# docs/domain.md, "Wyckoff": the months of SPY's true climax lows 1993-2021 (the SC rule fires
# within 5 sessions of each), and two lows that are classic tests, not climaxes.
SPY_CLIMAX_MONTHS = (
    "1998-08",
    "2001-09",
    "2002-07",
    "2002-10",
    "2008-10",
    "2008-11",
    "2011-08",
    "2015-08",
    "2018-12",
    "2020-03",
)
SPY_TEST_LOWS = ("2003-03-11", "2009-03-06")


@cache
def _spy() -> pd.DataFrame:
    """The SPY file as a bars frame (cached; callers get copies)."""
    raw = pd.read_csv(SPY_FILE, parse_dates=["date"])
    return raw.set_index("date").loc[:, list(BAR_COLUMNS)].astype(float).sort_index()


@cache
def _bokeh() -> pd.DataFrame:
    """The bokeh file with snake_case columns (cached; callers get copies)."""
    raw = pd.read_csv(BOKEH_FILE, parse_dates=["Date"])
    raw.columns = [c.lower().replace(" ", "_") for c in raw.columns]
    raw[list(BAR_COLUMNS)] = raw[list(BAR_COLUMNS)].astype(float)
    return raw.sort_values(["ticker", "date"]).reset_index(drop=True)


def load_spy() -> pd.DataFrame:
    """SPY 1993-2021 daily bars (dividend-adjusted prints, no splits)."""
    return _spy().copy()


def load_bokeh_long() -> pd.DataFrame:
    """AAPL, MSFT, IBM, GOOG 2000-2013 as a long frame of unadjusted bars (no adj_close)."""
    return _bokeh().loc[:, ["ticker", "date", *BAR_COLUMNS]].copy()


def load_bokeh(ticker: str) -> pd.DataFrame:
    """One bokeh ticker's unadjusted daily bars."""
    rows = _bokeh().loc[_bokeh()["ticker"] == ticker]
    return rows.set_index("date").loc[:, list(BAR_COLUMNS)].copy()


def load_bokeh_adj_close(ticker: str) -> pd.Series:
    """The vendor's split- and dividend-adjusted close of one bokeh ticker."""
    rows = _bokeh().loc[_bokeh()["ticker"] == ticker]
    return rows.set_index("date")["adj_close"].copy()


# --- More real series (issue 9): see tests/fixtures/README.md for provenance and licences. ---

# Name -> vendored file (columns date,open,high,low,close,volume). "SPY" is the file above.
SERIES_FILES = {
    "SPY": SPY_FILE,
    "SP500": FIXTURES / "sp500_index_1999_2018.csv.gz",
    "NASDAQ": FIXTURES / "nasdaq_composite_1999_2018.csv.gz",
    "MSFT": FIXTURES / "msft_1986_2017.csv.gz",
    "AMZN": FIXTURES / "amzn_1997_2020.csv.gz",
    "NVDA": FIXTURES / "nvda_1999_2025.csv.gz",
}
SERIES_NAMES = tuple(SERIES_FILES)

# Documented data exceptions (the vendors' own rows, kept as shipped). Every series is on the
# XNYS calendar and has low <= min(open, close) and max(open, close) <= high on every bar, exactly
# except for SPY: on 11 bars its dividend-adjusted close equals the low or high only up to the last
# float digit, so its OHLC check takes this relative tolerance (fraction of the close).
OHLC_REL_TOLERANCE = {"SPY": 1e-9}
MISSING_SESSIONS = {"MSFT": ("1998-10-29", "1999-11-16")}  # XNYS sessions absent from the file
ZERO_VOLUME_DAYS = {
    "NASDAQ": ("2015-05-12", "2018-01-09"),
    "MSFT": ("2010-04-26",),
}

# Market-wide selling-climax lows (the episodes of docs/domain.md, "Wyckoff", plus 2022-10),
# each given as the bar of the series' own intraday low in that episode: the bar's low is the
# minimum low within +-5 sessions. Episodes where a series made no such low are left out
# (tests/fixtures/README.md, "Climax dates tested against", lists them).
CLIMAX_LOWS = {
    "SPY": (
        "1998-09-01",
        "2001-09-21",
        "2002-07-24",
        "2002-10-10",
        "2008-10-10",
        "2008-11-21",
        "2011-08-09",
        "2015-08-24",
        "2018-12-26",
        "2020-03-23",
    ),
    "SP500": (
        "2001-09-21",
        "2002-07-24",
        "2002-10-10",
        "2008-10-10",
        "2008-11-21",
        "2011-08-09",
        "2015-08-24",
        "2018-12-26",
    ),
    "NASDAQ": (
        "2001-09-21",
        "2002-07-24",
        "2002-10-10",
        "2008-10-10",
        "2008-11-21",
        "2011-08-09",
        "2015-08-24",
        "2018-12-24",
    ),
    "MSFT": (
        "1998-09-01",
        "2001-09-21",
        "2002-07-24",
        "2002-10-10",
        "2008-10-10",
        "2008-11-20",
        "2011-08-09",
        "2015-08-24",
    ),
    "AMZN": (
        "1998-09-01",
        "2002-07-24",
        "2008-11-20",
        "2011-08-08",
        "2015-08-24",
        "2018-12-24",
    ),
    "NVDA": (
        "2008-10-10",
        "2008-11-21",
        "2011-08-08",
        "2015-08-24",
        "2018-12-26",
        "2022-10-13",
    ),
}

# The 2003-03 and 2009-03 bear-market lows: widely documented lows that docs/domain.md classes
# as tests, not climaxes (cf. SPY_TEST_LOWS, which gives closing-low dates). Same +-5 rule.
TEST_LOWS = {
    "SPY": ("2003-03-12", "2009-03-06"),
    "SP500": ("2003-03-12", "2009-03-06"),
    "NASDAQ": ("2003-03-12", "2009-03-09"),
    "MSFT": ("2003-03-12", "2009-03-06"),
    "AMZN": ("2009-03-06",),
    "NVDA": (),
}

# Market-wide major tops (buying-climax candidates), each the bar of the series' own intraday
# high in that episode: the bar's high is the maximum high within +-5 sessions.
TOPS = {
    "SPY": ("2000-03-24", "2007-10-11", "2018-01-26", "2018-09-21", "2020-02-19"),
    "SP500": ("2000-03-24", "2007-10-11", "2018-01-26", "2018-09-21"),
    "NASDAQ": ("2000-03-10", "2007-10-31", "2018-01-26", "2018-08-30"),
    "MSFT": ("2000-03-24",),
    "AMZN": ("2000-03-24", "2007-10-09"),
    "NVDA": ("2021-11-22",),
}


@cache
def _series(name: str) -> pd.DataFrame:
    """One vendored series as a bars frame (cached; callers get copies)."""
    if name == "SPY":
        return _spy()
    raw = pd.read_csv(SERIES_FILES[name], parse_dates=["date"])
    return raw.set_index("date").loc[:, list(BAR_COLUMNS)].astype(float).sort_index()


def load_series(name: str) -> pd.DataFrame:
    """Daily bars of one of ``SERIES_NAMES``: a ``DatetimeIndex`` named ``date``, float OHLCV."""
    if name not in SERIES_FILES:
        raise KeyError(f"unknown series {name!r}; expected one of {SERIES_NAMES}")
    return _series(name).copy()
