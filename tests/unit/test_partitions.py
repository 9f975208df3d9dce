"""Trading-day partitions, the calendar and the evening schedule, at fixed clocks.

The product runs in the evening in New York on machines set to UTC: every clock below is built
in UTC from a New York wall time, and nothing depends on when the suite runs.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from kapman_assets.definitions import defs
from kapman_assets.jobs import evening_job, evening_schedule
from kapman_assets.partitions import trading_day_partitions
from kapman_resources.calendar import last_completed_session, nyse_sessions, session_closed

NY = ZoneInfo("America/New_York")
PARTS = trading_day_partitions(dt.date(2026, 10, 1), None)


def utc(new_york: str) -> dt.datetime:
    """A New York wall time, as the UTC instant a machine set to UTC sees."""
    local = dt.datetime.fromisoformat(new_york).replace(tzinfo=NY)
    return local.astimezone(dt.UTC)


def last_key(now: dt.datetime) -> str:
    return PARTS.get_partition_keys(current_time=now)[-1]


def test_partition_keys_are_exactly_the_nyse_sessions():
    parts = trading_day_partitions(dt.date(2024, 11, 1), dt.date(2025, 2, 1))
    expected = [str(d) for d in nyse_sessions("2024-11-01", "2025-01-31")]
    assert parts.get_partition_keys() == expected
    for holiday in ("2024-11-28", "2024-12-25", "2025-01-01", "2025-01-09", "2025-01-20"):
        assert holiday not in expected


@pytest.mark.parametrize("clock", ["16:00", "16:30", "20:00", "23:59"])
def test_session_d_exists_from_its_close(clock):
    """Tuesday 2026-12-01: from 16:00 New York the evening analyses D, not D-1."""
    now = utc(f"2026-12-01 {clock}")
    assert last_key(now) == "2026-12-01"
    assert last_completed_session(now) == dt.date(2026, 12, 1)
    assert session_closed(dt.date(2026, 12, 1), now)


def test_before_the_close_the_last_partition_is_the_previous_session():
    now = utc("2026-12-01 15:59")
    assert last_key(now) == "2026-11-30"
    assert last_completed_session(now) == dt.date(2026, 11, 30)
    assert not session_closed(dt.date(2026, 12, 1), now)


@pytest.mark.parametrize(
    "clock",
    ["2026-12-04 16:30", "2026-12-04 23:59", "2026-12-05 12:00", "2026-12-06 23:59",
     "2026-12-07 15:59"],
)  # fmt: skip
def test_friday_evening_and_the_weekend_show_friday(clock):
    """Friday's window spans the weekend; Monday's partition appears Monday at 16:00."""
    now = utc(clock)
    assert last_key(now) == "2026-12-04"
    assert last_completed_session(now) == dt.date(2026, 12, 4)
    window = PARTS.time_window_for_partition_key("2026-12-04")
    assert window.end.astimezone(NY) == dt.datetime(2026, 12, 7, 16, tzinfo=NY)
    assert last_key(utc("2026-12-07 16:00")) == "2026-12-07"


def test_the_eve_of_a_holiday_and_the_holiday():
    """Wednesday 2026-11-25, before Thanksgiving; Friday 11-27 is an early close (13:00)."""
    assert last_key(utc("2026-11-25 20:00")) == "2026-11-25"
    assert last_completed_session(utc("2026-11-26 12:00")) == dt.date(2026, 11, 25)
    # Dagster lists Friday's partition from 16:00 on the holiday (it cannot skip an excluded
    # window); the calendar still says Friday has not closed, which the loaders enforce.
    assert last_key(utc("2026-11-26 23:59")) == "2026-11-27"
    assert not session_closed(dt.date(2026, 11, 27), utc("2026-11-26 23:59"))
    assert last_completed_session(utc("2026-11-27 16:30")) == dt.date(2026, 11, 27)


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        last_completed_session(dt.datetime(2026, 12, 1, 20))


def test_the_evening_schedule_loads_each_session_on_its_own_evening():
    """Ticks at 16:30 New York Monday to Friday; holidays skip; each session exactly once."""
    launched, skipped = {}, []
    day = dt.date(2026, 11, 20)
    while day <= dt.date(2026, 12, 8):
        if day.weekday() < 5:
            tick = utc(f"{day} 16:30")
            context = dg.build_schedule_context(
                scheduled_execution_time=tick, repository_def=defs.get_repository_def()
            )
            result = evening_schedule.evaluate_tick(context)
            for request in result.run_requests or []:
                assert evening_schedule.job_name == evening_job.name
                assert request.partition_key not in launched
                launched[request.partition_key] = day
            if not result.run_requests:
                skipped.append(day)
        day += dt.timedelta(days=1)
    sessions = nyse_sessions("2026-11-20", "2026-12-08")
    assert list(launched) == [str(s) for s in sessions]
    assert all(evening == dt.date.fromisoformat(key) for key, evening in launched.items())
    assert skipped == [dt.date(2026, 11, 26)]  # Thanksgiving


def test_schedule_partitions_are_in_the_partition_set_at_tick_time():
    """What the schedule requests at 16:30 is a partition Dagster already lists then."""
    for day in nyse_sessions("2026-11-20", "2026-12-08"):
        assert str(day) in PARTS.get_partition_keys(current_time=utc(f"{day} 16:30"))
