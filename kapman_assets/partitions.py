"""NYSE trading-day partitions: one per session, each existing from that session's close.

A partition's window runs from 16:00 New York on its session to 16:00 on the next weekday
(cron `0 16 * * 1-5`), and `end_offset=1` adds the window in progress: session D's partition
appears at 16:00 on D, so the evening of D can analyse D. Friday's window spans the weekend
(Monday's partition appears Monday at 16:00, not on Sunday, which a 7-day calendar with weekend
exclusions would do); NYSE holidays are excluded windows. Dagster cannot skip an excluded
window when it counts "the window in progress", so on a holiday the next session's partition
appears at 16:00 of the holiday: the evening schedule skips non-session days and the loaders
refuse a session that has not closed (`calendar.session_closed`). Keys stay `YYYY-MM-DD`.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
from pandas.tseries.offsets import BDay

from kapman_resources.calendar import (
    NEW_YORK,
    SESSION_READY,
    last_completed_session,
    non_session_weekdays,
    nyse_sessions,
    session_closed,
)
from kapman_resources.settings import load_settings

SESSION_CRON = f"{SESSION_READY.minute} {SESSION_READY.hour} * * 1-5"
HOLIDAY_HORIZON_DAYS = 400  # exchange-calendars knows holidays about a year ahead


def trading_day_partitions(
    start: dt.date, end: dt.date | None = None
) -> dg.TimeWindowPartitionsDefinition:
    """NYSE sessions from `start` (through `end` exclusive, else through the running session)."""
    horizon = end or (dt.date.today() + dt.timedelta(days=HOLIDAY_HORIZON_DAYS))
    holidays = [dt.datetime.combine(d, SESSION_READY) for d in non_session_weekdays(start, horizon)]
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=SESSION_CRON,
        fmt="%Y-%m-%d",
        start=dt.datetime.combine(start, SESSION_READY),
        # the window of the last session before `end` closes when the next session's opens
        end=dt.datetime.combine(pd.Timestamp(end) + BDay(0), SESSION_READY) if end else None,
        timezone=NEW_YORK,
        end_offset=1,
        exclusions=holidays,
    )


TRADING_DAYS = trading_day_partitions(load_settings().history_start)
"""NYSE trading sessions (XNYS from exchange-calendars): the one calendar every layer uses."""


def closed_partition_keys(partitions: dg.TimeWindowPartitionsDefinition) -> list[str]:
    """The partition keys of sessions that have closed (on a holiday Dagster already lists the
    next session; it is left out until its own close)."""
    last = str(last_completed_session())
    return [k for k in partitions.get_partition_keys() if k <= last]


def sessions_in_window(window: dg.TimeWindow) -> list[dt.date]:
    """The NYSE sessions inside a partition time window [start, end)."""
    return nyse_sessions(window.start.date(), window.end.date() - dt.timedelta(days=1))


def refuse_open_sessions(days: list[dt.date]) -> None:
    """Fail with a clear message when a requested session has not closed yet."""
    still_open = [d for d in days if not session_closed(d)]
    if still_open:
        raise dg.Failure(
            f"session {still_open[0]} has not closed yet (its bars exist from 16:00 New York that"
            f" day; the last closed session is {last_completed_session()}): nothing was loaded"
        )


def window_bounds(context) -> tuple[dt.date, dt.date]:
    """The partition (range) of an asset or check context as local dates [start, end)."""
    window = context.partition_time_window
    return window.start.date(), window.end.date()
