"""NYSE trading sessions (XNYS from exchange-calendars): the one calendar every layer uses."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = "America/New_York"


@lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    return xcals.get_calendar("XNYS", start="2000-01-01")


def nyse_sessions(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """NYSE sessions between start and end inclusive, as dates."""
    cal = _xnys()
    lo = max(pd.Timestamp(start), cal.first_session)
    hi = min(pd.Timestamp(end), cal.last_session)
    if lo > hi:
        return []
    return [ts.date() for ts in cal.sessions_in_range(lo, hi)]


def is_session(day: dt.date | str) -> bool:
    """Whether NYSE was open on that date."""
    return _xnys().is_session(pd.Timestamp(day))


def previous_session(day: dt.date | str) -> dt.date:
    """The last NYSE session strictly before `day`."""
    return _xnys().date_to_session(pd.Timestamp(day) - pd.Timedelta(days=1), "previous").date()


def last_completed_session(now: pd.Timestamp | None = None) -> dt.date:
    """The latest session whose close (16:00 New York) has passed; flat files follow that night."""
    now = (now or pd.Timestamp.now(tz=NEW_YORK)).tz_convert(NEW_YORK)
    today = now.date()
    if is_session(today) and now.hour >= 18:
        return today
    return previous_session(today)


def non_session_weekdays(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Weekdays in [start, end] on which NYSE was closed (holidays)."""
    days = pd.bdate_range(start, end).date
    sessions = set(nyse_sessions(start, end))
    return [d for d in days if d not in sessions]
