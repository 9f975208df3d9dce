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
