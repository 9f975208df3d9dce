"""NYSE trading-day partitions: one partition per session, holidays and weekends excluded."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from kapman_resources.calendar import NEW_YORK, non_session_weekdays
from kapman_resources.settings import load_settings

WEEKEND_CRONS = ["0 0 * * 6", "0 0 * * 0"]
HOLIDAY_HORIZON_DAYS = 400  # exchange-calendars knows holidays about a year ahead


def trading_day_partitions(
    start: dt.date, end: dt.date | None = None
) -> dg.DailyPartitionsDefinition:
    """`DailyPartitionsDefinition` over NYSE sessions only (XNYS holidays from exchange-calendars)."""
    horizon = end or (dt.date.today() + dt.timedelta(days=HOLIDAY_HORIZON_DAYS))
    holidays = [dt.datetime(d.year, d.month, d.day) for d in non_session_weekdays(start, horizon)]
    return dg.DailyPartitionsDefinition(
        start_date=start.isoformat(),
        end_date=end.isoformat() if end else None,
        timezone=NEW_YORK,
        exclusions=[*WEEKEND_CRONS, *holidays],
    )


TRADING_DAYS = trading_day_partitions(load_settings().history_start)
