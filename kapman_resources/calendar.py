"""NYSE trading sessions (XNYS from exchange-calendars): the one calendar every layer uses."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

NEW_YORK = "America/New_York"
CALENDAR_YEARS_AHEAD = 3
SESSION_READY = dt.time(16, 0)  # New York: the regular close; a session's partition exists from it


@lru_cache(maxsize=1)
def _xnys() -> xcals.ExchangeCalendar:
    # three years ahead: LEAPS expirations are listed about two years out
    end = pd.Timestamp.today().normalize() + pd.DateOffset(years=CALENDAR_YEARS_AHEAD)
    return xcals.get_calendar("XNYS", start="2000-01-01", end=end)


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


def _new_york(now: pd.Timestamp | dt.datetime | None) -> pd.Timestamp:
    now = pd.Timestamp.now(tz=NEW_YORK) if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        raise ValueError(f"{now} has no time zone: pass an aware time")
    return now.tz_convert(NEW_YORK)


def last_completed_session(now: pd.Timestamp | dt.datetime | None = None) -> dt.date:
    """The latest session whose day is done at SESSION_READY (16:00 New York); early closes
    (13:00) count from 16:00 too. The partitions end at this session."""
    now = _new_york(now)
    today = now.date()
    if is_session(today) and now.time() >= SESSION_READY:
        return today
    return previous_session(today)


def session_closed(day: dt.date, now: pd.Timestamp | dt.datetime | None = None) -> bool:
    """Whether `day` is a session whose close has passed (16:00 New York on that day)."""
    return is_session(day) and day <= last_completed_session(now)


def snapshot_window(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """When a live snapshot shows session `day`: from SESSION_READY that day to the next open."""
    if not is_session(day):
        raise ValueError(f"{day} is not an NYSE session")
    cal = _xnys()
    start = pd.Timestamp(dt.datetime.combine(day, SESSION_READY), tz=NEW_YORK)
    nxt = cal.next_session(pd.Timestamp(day))
    return start.tz_convert("UTC"), cal.session_open(nxt).tz_convert("UTC")


def non_session_weekdays(start: dt.date | str, end: dt.date | str) -> list[dt.date]:
    """Weekdays in [start, end] on which NYSE was closed (holidays)."""
    days = pd.bdate_range(start, end).date
    sessions = set(nyse_sessions(start, end))
    return [d for d in days if d not in sessions]
