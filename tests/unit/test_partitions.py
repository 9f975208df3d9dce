"""Trading-day partitions and the evening schedule."""

import datetime as dt

import dagster as dg

from kapman_assets.definitions import defs
from kapman_assets.jobs import daily_job, daily_schedule
from kapman_assets.partitions import trading_day_partitions
from kapman_resources.calendar import last_completed_session, nyse_sessions


def test_partition_keys_are_exactly_the_nyse_sessions():
    parts = trading_day_partitions(dt.date(2024, 11, 1), dt.date(2025, 2, 1))
    expected = [str(d) for d in nyse_sessions("2024-11-01", "2025-01-31")]
    assert parts.get_partition_keys() == expected
    for holiday in ("2024-11-28", "2024-12-25", "2025-01-01", "2025-01-09", "2025-01-20"):
        assert holiday not in expected


def test_a_friday_window_ends_on_saturday_not_monday():
    parts = trading_day_partitions(dt.date(2024, 7, 1), dt.date(2024, 7, 15))
    window = parts.time_window_for_partition_key("2024-07-12")
    assert (window.end - window.start) == dt.timedelta(days=1)


def test_the_evening_schedule_loads_each_session_once_the_evening_after():
    """Ticks every evening at 18:30; a session's file is published the next morning."""
    launched = {}
    day = dt.date(2024, 6, 28)
    while day <= dt.date(2024, 7, 16):
        tick = dt.datetime(day.year, day.month, day.day, 18, 30,
                           tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # fmt: skip
        context = dg.build_schedule_context(
            scheduled_execution_time=tick, repository_def=defs.get_repository_def()
        )
        for request in daily_schedule.evaluate_tick(context).run_requests or []:
            assert request.job_name == daily_job.name
            assert request.partition_key not in launched
            launched[request.partition_key] = day
        day += dt.timedelta(days=1)
    sessions = nyse_sessions("2024-06-27", "2024-07-15")
    assert list(launched) == [str(s) for s in sessions]
    for key, evening in launched.items():
        assert evening == dt.date.fromisoformat(key) + dt.timedelta(days=1)


def test_last_completed_session_waits_for_the_evening():
    import pandas as pd

    friday_noon = pd.Timestamp("2024-07-12 12:00", tz="America/New_York")
    friday_night = pd.Timestamp("2024-07-12 19:00", tz="America/New_York")
    holiday = pd.Timestamp("2024-07-04 20:00", tz="America/New_York")
    assert last_completed_session(friday_noon) == dt.date(2024, 7, 11)
    assert last_completed_session(friday_night) == dt.date(2024, 7, 12)
    assert last_completed_session(holiday) == dt.date(2024, 7, 3)
